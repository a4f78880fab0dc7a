"""Writing shards in the released zarr v2 record layout (for ``convert`` back to it and for tests)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Literal

import numpy as np

from kinetix.data._raw_store import SUPPORTED_COMPRESSORS, RawOpener, default_context, local_path

__all__ = ["write_released_shard"]


def _zarr_json(meta: dict) -> bytes:
    # zarr-python 2.x's own encoding (indent 4, sorted keys), so files match byte for byte.
    return json.dumps(meta, indent=4, sort_keys=True, ensure_ascii=True, separators=(",", ": "))


def _dtype_entries(dtype: np.dtype) -> list:
    out = []
    for name in dtype.names:
        sub = dtype.fields[name][0]
        entry = [name, sub.base.str]
        if sub.shape:
            entry.append(list(sub.shape))
        out.append(entry)
    return out


_DEFAULT_COMPRESSOR = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}


def write_released_shard(
    path: str | os.PathLike,
    fields: Mapping[str, np.ndarray],
    layout: Literal["trajectory", "flat"],
    *,
    chunks: tuple[int, ...] | None = None,
    compressor: dict | None = _DEFAULT_COMPRESSOR,
) -> None:
    """Write one shard in the released zarr v2 record layout (with tensorstore).

    Fields are stored in sorted name order; the trajectory layout stores ``(N, T, 1)``.
    ``<path>/..`` gets a ``.zgroup`` if it has none. Reading the shard back with
    :func:`open_released` returns exactly ``fields``.

    Args:
        path: the shard directory, ``<dataset_dir>/<shard name>``.
        fields: ``{name: array}`` with the record axis first: ``(N, T, *sub)`` for
            ``"trajectory"``, ``(N, *sub)`` for ``"flat"``.
        layout: ``"trajectory"`` or ``"flat"``.
        chunks: chunk shape (default ``(1, T, 1)``: one trajectory per chunk; flat ``(1024,)``).
        compressor: zarr v2 compressor (default Blosc-lz4 level 5 with byte shuffle, zarr's
            default); ``None`` stores raw bytes.

    Raises:
        ValueError: unknown layout, inconsistent leading shapes, or an unsupported compressor.

    Example:
        >>> import numpy as np
        >>> write_released_shard("/tmp/ds/shard_0", {"action": np.zeros((2, 256, 6), np.int32),
        ...     "done": np.zeros((2, 256), bool)}, "trajectory")  # doctest: +SKIP
    """
    if layout not in ("trajectory", "flat"):
        raise ValueError(f"layout must be 'trajectory' or 'flat', got {layout!r}")
    if not fields:
        raise ValueError("no fields to write")
    if compressor is not None and compressor.get("id") not in SUPPORTED_COMPRESSORS:
        raise ValueError(f"compressor {compressor!r} not supported; use {SUPPORTED_COMPRESSORS}")
    nlead = 2 if layout == "trajectory" else 1
    names = sorted(fields)
    arrays = {k: np.asarray(fields[k]) for k in names}
    lead = arrays[names[0]].shape[:nlead]
    for k in names:
        if arrays[k].ndim < nlead or arrays[k].shape[:nlead] != lead:
            raise ValueError(
                f"field {k!r} has shape {arrays[k].shape}; expected leading shape {lead} like "
                f"{names[0]!r} ({layout} layout)"
            )
    dtype = np.dtype([(k, arrays[k].dtype, arrays[k].shape[nlead:]) for k in names])
    rec = np.empty(lead, dtype)
    for k in names:
        rec[k] = arrays[k]
    shape = lead + (1,) if layout == "trajectory" else lead
    if chunks is None:
        chunks = (1, lead[1], 1) if layout == "trajectory" else (min(1024, max(1, lead[0])),)
    meta = {
        "chunks": [int(c) for c in chunks],
        "compressor": compressor,
        "dtype": _dtype_entries(dtype),
        "fill_value": base64.standard_b64encode(bytes(dtype.itemsize)).decode("ascii"),
        "filters": None,
        "order": "C",
        "shape": [int(s) for s in shape],
        "zarr_format": 2,
    }
    path = local_path(path).rstrip("/")
    os.makedirs(path, exist_ok=True)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.exists(os.path.join(parent, ".zgroup")):
        with open(os.path.join(parent, ".zgroup"), "w") as f:
            f.write(_zarr_json({"zarr_format": 2}))
    with open(os.path.join(path, ".zarray"), "w") as f:
        f.write(_zarr_json(meta))
    if rec.size == 0:
        return
    opener = RawOpener(default_context(0))
    store = opener.open(path, meta, dtype.itemsize, write=True)
    store.write(rec.reshape(shape).view(np.uint8).reshape(shape + (dtype.itemsize,))).result()
