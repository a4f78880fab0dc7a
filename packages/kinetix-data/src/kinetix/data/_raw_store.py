"""Low-level tensorstore access to zarr v2 record-dtype arrays as raw record bytes.

TensorStore's zarr driver opens one record field at a time, and every field would decode the
chunks again. Instead each array is opened through a ``kvstack`` kvstore whose ``.zarray`` key is
overlaid (in an in-memory kvstore) by the same metadata with the record dtype replaced by a single
``uint8`` field of the record's byte size. A read then decodes each chunk once and returns the
record bytes, which numpy views as the stored dtype without a copy. Chunk files, codecs and the
chunk grid stay exactly the stored ones, so the same trick writes byte-compatible arrays.
"""

from __future__ import annotations

import json
import os
import threading

import tensorstore as ts

__all__ = ["SUPPORTED_COMPRESSORS", "RawOpener", "default_context", "local_path"]

#: zarr v2 compressor ids tensorstore decodes.
SUPPORTED_COMPRESSORS = ("blosc", "zlib", "gzip", "bz2", "zstd")
_RAW_FIELD = "__record_bytes__"


def _raw_metadata(meta: dict, itemsize: int) -> dict:
    raw = dict(meta)
    raw["dtype"] = [[_RAW_FIELD, "|u1", [itemsize]]]
    raw["fill_value"] = None
    return raw


class RawOpener:
    """Opens shards as ``uint8`` record-byte arrays through a kvstack ``.zarray`` overlay."""

    def __init__(self, context: ts.Context):
        self.context = context
        self._mem = ts.KvStore.open({"driver": "memory"}, context=context).result()
        self._lock = threading.Lock()
        self._keys: dict[str, str] = {}

    def spec(self, path: str, meta: dict, itemsize: int, *, write: bool = False) -> dict:
        text = json.dumps(_raw_metadata(meta, itemsize), sort_keys=True)
        with self._lock:
            # Shards of a split share their metadata except for N: one in-memory copy per
            # distinct text keeps memory flat for hundreds of thousands of shards.
            key = self._keys.get(text)
            if key is None:
                key = f"meta{len(self._keys)}/.zarray"
                self._mem.write(key, text.encode()).result()
                self._keys[text] = key
        spec = {
            "driver": "zarr",
            "field": _RAW_FIELD,
            "kvstore": {
                "driver": "kvstack",
                "layers": [
                    {"base": {"driver": "file", "path": path.rstrip("/") + "/"}, "prefix": ""},
                    {"base": {"driver": "memory", "path": key}, "exact": ".zarray"},
                ],
            },
            "recheck_cached_metadata": False,
            "recheck_cached_data": False,
        }
        if write:
            spec["store_data_equal_to_fill_value"] = True
        return spec

    def open(self, path: str, meta: dict, itemsize: int, *, write: bool = False) -> ts.TensorStore:
        spec = self.spec(path, meta, itemsize, write=write)
        return ts.open(spec, context=self.context, open=True, read=True, write=write).result()


def default_context(cache_bytes: int) -> ts.Context:
    """One tensorstore context per dataset: chunk cache of ``cache_bytes``, decode on all cores."""
    return ts.Context(
        {
            "cache_pool": {"total_bytes_limit": int(cache_bytes)},
            "data_copy_concurrency": {"limit": max(1, os.cpu_count() or 1)},
            "file_io_concurrency": {"limit": 32},
        }
    )


def local_path(dataset_dir: str | os.PathLike) -> str:
    """A local filesystem path from a path or ``file://`` URL (other URLs are rejected)."""
    path = os.fspath(dataset_dir)
    if path.startswith("file://"):
        path = path[len("file://") :]
    elif "://" in path:
        raise ValueError(
            f"{path}: only local directories are supported for the released format; download "
            "the split first (kinetix-data download)"
        )
    # tensorstore's file driver rejects relative paths ("Invalid file path").
    return os.path.abspath(path)
