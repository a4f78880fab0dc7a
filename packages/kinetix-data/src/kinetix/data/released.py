"""The released Kinetix-Offline format: a zarr v2 group of record-dtype shards, read with tensorstore.

Layout (spec section 1): ``<dataset_dir>/.zgroup`` and one zarr v2 array per shard directly under
it (``<dataset_dir>/<shard>/.zarray`` plus chunk files). Each shard's element type is a numpy
record dtype with one named field per stored quantity. Two record layouts exist:

* **trajectory** (the released data): shard shape ``(N, T, 1)``, ``T = 256``; a field reads as
  ``(n, T, *sub)``. A shard stored as ``(N, T)`` whose field sub-shapes all start with ``1``
  reads the same.
* **flat** (transitions): shard shape ``(N,)``; a field reads as ``(n, *sub)``.

Reading. TensorStore's zarr driver can open one record field at a time, but then every field
decodes the chunks again. We instead open each shard through a ``kvstack`` kvstore whose
``.zarray`` key is overlaid (in memory) by the same metadata with the record dtype replaced by a
single ``uint8`` field of the record's byte size. One tensorstore read then decodes each chunk once
and returns the raw record bytes, which numpy views as the stored record dtype with no copy.
Chunk files, codecs and the chunk grid are exactly the stored ones.

Example:
    >>> ds = open_released("tests/data/released/traj_s")  # doctest: +SKIP
    >>> ds.layout, ds.shards[:2]                            # doctest: +SKIP
    ('trajectory', ['shard_000', 'shard_001'])
    >>> f = ds.read_shard(0, 0, 2)                          # doctest: +SKIP
    >>> f["env_state/polygon/position"].shape               # doctest: +SKIP
    (2, 256, 5, 2)
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import tensorstore as ts

from kinetix.data._raw_store import (
    SUPPORTED_COMPRESSORS,
    RawOpener,
    default_context,
    local_path,
)
from kinetix.data.fields import (
    FieldError,
    fields_to_env_state,
    infer_static_env_params,
)
from kinetix.data.released_writer import write_released_shard
from kinetix.environment import StaticEnvParams

__all__ = [
    "ReleasedFormatError",
    "ReleasedDataset",
    "ShardInfo",
    "open_released",
    "write_released_shard",
    "fields_to_env_state",
    "SUPPORTED_COMPRESSORS",
]

Layout = Literal["trajectory", "flat"]


class ReleasedFormatError(ValueError):
    """The directory is not a readable released-format dataset (names the file and the problem)."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard's metadata, parsed from its ``.zarray``.

    Attributes:
        name: array name inside the group (the directory name).
        path: directory of the shard.
        shape: stored array shape (``(N, T, 1)``, ``(N, T)`` or ``(N,)``).
        chunks: stored chunk shape.
        stored_dtype: the record dtype as stored (sub-shapes as in ``.zarray``).
        step_dtype: the per-step record dtype (same bytes; for ``(N, T)`` shards the leading
            ``1`` of every sub-shape is dropped).
        metadata: the parsed ``.zarray``.
    """

    name: str
    path: str
    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    stored_dtype: np.dtype
    step_dtype: np.dtype
    metadata: dict

    @property
    def num_records(self) -> int:
        return int(self.shape[0])

    def chunk_keys(self) -> list[str]:
        """Every chunk key of the grid (``"i.j.k"``, or ``"i/j/k"`` with ``/`` separators)."""
        sep = self.metadata.get("dimension_separator", ".") or "."
        grid = [range(math.ceil(s / c)) for s, c in zip(self.shape, self.chunks)]
        return [sep.join(map(str, idx)) for idx in itertools.product(*grid)]


def _parse_record_dtype(entries: Any, where: str) -> np.dtype:
    if not isinstance(entries, list):
        raise ReleasedFormatError(
            f"{where}: dtype is {entries!r}; expected a record dtype (a list of "
            "[name, typestr] / [name, typestr, shape] entries) as in the released data"
        )
    spec = []
    for e in entries:
        if not isinstance(e, list) or len(e) not in (2, 3) or not isinstance(e[1], str):
            raise ReleasedFormatError(f"{where}: unsupported dtype entry {e!r} (nested records?)")
        spec.append((e[0], e[1], tuple(e[2])) if len(e) == 3 else (e[0], e[1]))
    try:
        return np.dtype(spec)
    except (TypeError, ValueError) as err:
        raise ReleasedFormatError(f"{where}: cannot parse record dtype: {err}") from err


def _strip_leading_one(dtype: np.dtype, where: str) -> np.dtype:
    formats = []
    for name in dtype.names:
        sub = dtype.fields[name][0]
        base, shape = sub.base, sub.shape
        if not shape or shape[0] != 1:
            raise ReleasedFormatError(
                f"{where}: shard shape is (N, T) but field {name!r} has sub-shape {shape}; "
                "expected every field's sub-shape to start with 1 (or a shard shape (N, T, 1))"
            )
        formats.append((base, shape[1:]) if shape[1:] else base)
    return np.dtype(
        {
            "names": list(dtype.names),
            "formats": formats,
            "offsets": [dtype.fields[n][1] for n in dtype.names],
            "itemsize": dtype.itemsize,
        }
    )


def _read_shard_info(root: str, name: str) -> ShardInfo:
    path = os.path.join(root, name)
    zarray = os.path.join(path, ".zarray")
    try:
        with open(zarray, "rb") as f:
            meta = json.loads(f.read())
    except json.JSONDecodeError as err:
        raise ReleasedFormatError(f"{zarray}: not valid JSON ({err})") from err
    if meta.get("zarr_format") != 2:
        raise ReleasedFormatError(
            f"{zarray}: zarr_format is {meta.get('zarr_format')!r}, expected 2 (zarr v2)"
        )
    for key in ("shape", "chunks", "dtype"):
        if key not in meta:
            raise ReleasedFormatError(f"{zarray}: missing {key!r}")
    if meta.get("order", "C") != "C":
        raise ReleasedFormatError(f"{zarray}: order {meta['order']!r}, expected 'C'")
    if meta.get("filters"):
        raise ReleasedFormatError(f"{zarray}: filters {meta['filters']!r} are not supported")
    comp = meta.get("compressor")
    if comp is not None and comp.get("id") not in SUPPORTED_COMPRESSORS:
        raise ReleasedFormatError(
            f"{zarray}: compressor {comp.get('id')!r} not supported; expected one of "
            f"{SUPPORTED_COMPRESSORS} or null"
        )
    stored = _parse_record_dtype(meta["dtype"], zarray)
    shape, chunks = tuple(meta["shape"]), tuple(meta["chunks"])
    if len(shape) == 3 and shape[2] == 1 or len(shape) == 1:
        step = stored
    elif len(shape) == 2:
        step = _strip_leading_one(stored, zarray)
    else:
        raise ReleasedFormatError(
            f"{zarray}: shard shape {list(shape)}; expected (N, T, 1) for trajectories or (N,) "
            "for flat transitions"
        )
    return ShardInfo(name, path, shape, chunks, stored, step, meta)


def _layout_of(shape: tuple[int, ...]) -> Layout:
    return "flat" if len(shape) == 1 else "trajectory"


class ReleasedDataset:
    """A released-format zarr v2 group opened for reading (use :func:`open_released`).

    Attributes:
        root: the group directory.
        shards: names of the non-empty shards, sorted by name.
        empty_shards: names of shards with zero records (loaders skip them).
        layout: ``"trajectory"`` or ``"flat"``.
        field_names: stored field names, in record order.
        step_dtype: per-step record dtype (fields with their per-step sub-shapes).
        num_steps: ``T`` for the trajectory layout, ``None`` for flat.
        static_env_params: static sizes inferred from the ``env_state/*`` field shapes.
    """

    def __init__(self, root: str, infos: list[ShardInfo], empty: list[str], cache_bytes: int = 0):
        self.root = root
        self._infos = infos
        self.shards = [i.name for i in infos]
        self.empty_shards = empty
        first = infos[0]
        self.layout: Layout = _layout_of(first.shape)
        self.step_dtype = first.step_dtype
        self.field_names = list(first.step_dtype.names)
        self.num_steps = None if self.layout == "flat" else int(first.shape[1])
        for info in infos[1:]:
            self._check_same(first, info)
        shapes = {n: first.step_dtype.fields[n][0].shape for n in self.field_names}
        self.static_env_params: StaticEnvParams = infer_static_env_params(
            shapes, f"{first.path}/.zarray"
        )
        required = ["action", "action_mask"] + (
            ["done"] if self.layout == "trajectory" else ["mask"]
        )
        for name in required:
            if name not in shapes:
                raise FieldError(
                    f"{first.path}/.zarray: field {name!r} is missing; the {self.layout} layout "
                    f"needs {required} (fields present: {self.field_names[:6]}...)"
                )
        self.context = default_context(cache_bytes)
        self._opener = RawOpener(self.context)
        self._stores: OrderedDict[int, ts.TensorStore] = OrderedDict()
        self.max_open_shards = 2048
        self._checked: set[int] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _check_same(first: ShardInfo, info: ShardInfo) -> None:
        where = f"{info.path}/.zarray"
        if _layout_of(info.shape) != _layout_of(first.shape):
            raise ReleasedFormatError(
                f"{where}: shard shape {list(info.shape)} is a different layout from "
                f"{first.name} {list(first.shape)}"
            )
        if info.shape[1:2] != first.shape[1:2]:
            raise ReleasedFormatError(
                f"{where}: shard shape {list(info.shape)}, expected T={first.shape[1]} steps per "
                f"trajectory like {first.name} {list(first.shape)}"
            )
        if info.step_dtype != first.step_dtype:
            a, b = first.step_dtype, info.step_dtype
            for n in a.names:
                if n not in b.names:
                    raise FieldError(f"{where}: field {n!r} is missing (present in {first.name})")
                if a.fields[n][0] != b.fields[n][0]:
                    raise FieldError(
                        f"{where}: field {n!r} is {b.fields[n][0]}, expected {a.fields[n][0]} "
                        f"as in {first.name} (static sizes do not match)"
                    )
            extra = [n for n in b.names if n not in a.names]
            raise FieldError(f"{where}: fields differ from {first.name}: extra {extra}")

    # ------------------------------------------------------------------ metadata
    def shard_info(self, shard_idx: int) -> ShardInfo:
        """The parsed ``.zarray`` of shard ``shard_idx``."""
        return self._infos[shard_idx]

    def num_records(self, shard_idx: int) -> int:
        """Records (trajectories, or transitions for the flat layout) in shard ``shard_idx``."""
        return self._infos[shard_idx].num_records

    @property
    def total_records(self) -> int:
        return sum(i.num_records for i in self._infos)

    @property
    def record_bytes(self) -> int:
        """Bytes of one record (one time step)."""
        return int(self.step_dtype.itemsize)

    # ------------------------------------------------------------------ reading
    def check_chunks(self, shard_idx: int) -> None:
        """Raise if any chunk file of shard ``shard_idx`` is missing.

        TensorStore (like zarr) silently reads a missing chunk as the fill value (zeros), which
        would turn a partial download into all-zero trajectories.

        Raises:
            ReleasedFormatError: names the shard, the first missing chunk files and their rows.
        """
        if shard_idx in self._checked:
            return
        info = self._infos[shard_idx]
        keys = info.chunk_keys()
        try:
            present = set(os.listdir(info.path))
        except OSError as err:
            raise ReleasedFormatError(f"{info.path}: cannot list shard directory: {err}") from err
        if "/" in (info.metadata.get("dimension_separator") or "."):
            missing = [k for k in keys if not os.path.exists(os.path.join(info.path, k))]
        else:
            missing = [k for k in keys if k not in present]
        if missing:
            c0 = info.chunks[0]
            first = int(missing[0].replace("/", ".").split(".")[0])
            raise ReleasedFormatError(
                f"shard {info.name!r} ({info.path}): {len(missing)} of {len(keys)} chunk files "
                f"missing, e.g. {missing[:3]} (rows {first * c0}:{(first + 1) * c0}); "
                "the download is incomplete"
            )
        self._checked.add(shard_idx)

    def _store(self, shard_idx: int) -> ts.TensorStore:
        with self._lock:
            store = self._stores.get(shard_idx)
            if store is not None:
                self._stores.move_to_end(shard_idx)
                return store
            info = self._infos[shard_idx]
            self.check_chunks(shard_idx)
            store = self._opener.open(info.path, info.metadata, info.stored_dtype.itemsize)
            self._stores[shard_idx] = store
            # A split can have ~10^5 shards: keep only recently used ones open.
            while len(self._stores) > self.max_open_shards:
                self._stores.popitem(last=False)
            return store

    def raw_store(self, shard_idx: int) -> ts.TensorStore:
        """Shard ``shard_idx`` as a ``uint8`` tensorstore of record bytes (shape ``(*shape, itemsize)``)."""
        return self._store(shard_idx)

    def read_records_async(
        self, shard_idx: int, start: int = 0, stop: int | None = None
    ) -> ts.Future:
        """Start reading rows ``start:stop`` of a shard; the future yields raw record bytes.

        Pass the result to :meth:`as_records`. Use this to overlap many reads.
        """
        n = self.num_records(shard_idx)
        stop = n if stop is None else stop
        if not 0 <= start <= stop <= n:
            raise IndexError(
                f"shard {self.shards[shard_idx]!r}: rows {start}:{stop} out of range 0:{n}"
            )
        return self._store(shard_idx)[start:stop].read()

    @property
    def row_bytes(self) -> int:
        """Bytes of one row (one trajectory, or one transition for the flat layout)."""
        return self.record_bytes * (self.num_steps or 1)

    def as_rows(self, raw: np.ndarray) -> np.ndarray:
        """Raw bytes from :meth:`read_records_async` as a ``(n, row_bytes)`` uint8 array (no copy).

        Shuffling and concatenating rows as plain bytes is much faster than on record arrays
        (numpy copies record dtypes field by field).
        """
        return np.ascontiguousarray(raw).reshape(raw.shape[0], self.row_bytes)

    def rows_to_records(self, rows: np.ndarray) -> np.ndarray:
        """``(n, row_bytes)`` uint8 rows as ``(n, T)`` / ``(n,)`` records (a view when contiguous)."""
        rows = np.ascontiguousarray(rows)
        rec = rows.view(self.step_dtype)
        return rec.reshape((rows.shape[0], self.num_steps) if self.num_steps else (rows.shape[0],))

    def as_records(self, raw: np.ndarray) -> np.ndarray:
        """View raw record bytes from :meth:`read_records_async` as ``(n, T)`` / ``(n,)`` records."""
        return self.rows_to_records(self.as_rows(raw))

    def read_records(self, shard_idx: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Rows ``start:stop`` of a shard as a structured array, ``(n, T)`` or ``(n,)``.

        Raises:
            ReleasedFormatError: a chunk file is missing, truncated or corrupt (names the shard
                and the rows).
        """
        stop = self.num_records(shard_idx) if stop is None else stop
        fut = self.read_records_async(shard_idx, start, stop)
        try:
            raw = fut.result()
        except (ValueError, RuntimeError) as err:
            info = self._infos[shard_idx]
            raise ReleasedFormatError(
                f"shard {info.name!r} ({info.path}): reading rows {start}:{stop} failed; a chunk "
                f"file is truncated or corrupt: {err}"
            ) from err
        return self.as_records(raw)

    def read_shard(
        self, shard_idx: int, start: int = 0, stop: int | None = None
    ) -> dict[str, np.ndarray]:
        """``{field: array}`` for rows ``start:stop``; record axis first (``(n, T, ...)`` or ``(n, ...)``).

        The arrays are views into one decoded buffer.

        Example:
            >>> ds = open_released("tests/data/released/flat_s")      # doctest: +SKIP
            >>> ds.read_shard(0, 0, 10)["action"].shape               # doctest: +SKIP
            (10, 6)
        """
        rec = self.read_records(shard_idx, start, stop)
        return {name: rec[name] for name in self.field_names}

    def env_state(self, fields: Mapping[str, np.ndarray]):
        """``EnvState`` of fields read from this dataset (see :func:`fields_to_env_state`)."""
        return fields_to_env_state(fields, self.static_env_params)

    def __repr__(self) -> str:
        s = self.static_env_params
        return (
            f"ReleasedDataset({self.root!r}, layout={self.layout!r}, shards={len(self.shards)}, "
            f"records={self.total_records}, T={self.num_steps}, sizes=(P={s.num_polygons}, "
            f"C={s.num_circles}, J={s.num_joints}, H={s.num_thrusters}))"
        )


def open_released(dataset_dir: str | os.PathLike, *, cache_bytes: int = 0) -> ReleasedDataset:
    """Open a released-format zarr v2 group (one split, e.g. ``./data/1M/m``).

    Args:
        dataset_dir: the group directory (holding ``.zgroup`` and one subdirectory per shard).
        cache_bytes: tensorstore chunk cache size; worth setting when chunks hold several
            records and you read them piecemeal.

    Raises:
        FileNotFoundError: ``dataset_dir`` does not exist.
        ReleasedFormatError: not a zarr v2 group, no shards, a shard without ``.zarray``, an
            unsupported codec or shape, shards that disagree.
        FieldError: a required field is missing or static sizes do not match.

    Example:
        >>> ds = open_released("packages/kinetix-data/tests/data/released/traj_s")  # doctest: +SKIP
    """
    root = local_path(dataset_dir).rstrip("/") or "/"
    if not os.path.exists(root):
        raise FileNotFoundError(f"dataset directory {root!r} does not exist")
    if not os.path.isdir(root):
        raise ReleasedFormatError(f"{root}: not a directory (expected a zarr v2 group)")
    entries = sorted(os.listdir(root))
    if ".zgroup" not in entries:
        nested = [e for e in entries if os.path.isfile(os.path.join(root, e, ".zgroup"))]
        hint = f"; did you mean {os.path.join(root, nested[0])!r}?" if nested else ""
        raise ReleasedFormatError(f"{root}: missing .zgroup, not a zarr v2 group{hint}")
    infos, empty = [], []
    for name in entries:
        path = os.path.join(root, name)
        if name.startswith(".") or not os.path.isdir(path):
            continue
        if os.path.exists(os.path.join(path, ".zarray")):
            info = _read_shard_info(root, name)
            (infos if info.num_records > 0 else empty).append(info)
        elif os.path.exists(os.path.join(path, ".zgroup")):
            continue  # sub-groups are not shards (as upstream: group.array_keys())
        elif os.listdir(path):
            raise ReleasedFormatError(
                f"shard {name!r}: {path}/.zarray is missing (the directory holds "
                f"{len(os.listdir(path))} files); expected the zarr v2 array metadata"
            )
    if not infos:
        raise ReleasedFormatError(
            f"{root}: empty group: no non-empty shards (arrays with a .zarray) found"
            + (f"; empty shards: {[i.name for i in empty]}" if empty else "")
        )
    return ReleasedDataset(root, infos, [i.name for i in empty], cache_bytes=cache_bytes)
