"""Read a dataset in our format: rows of every field array, checked against the manifest.

One tensorstore ``Context`` (with a small cache pool) is shared by all field arrays, and every
field of a row range is read concurrently. Rows past the manifest's ``num_trajectories`` are never
read: they may hold an interrupted writer's uncommitted data.

Example:
    >>> from kinetix.data.reader import FormatReader       # doctest: +SKIP
    >>> r = FormatReader("/data/my_dataset")                # doctest: +SKIP
    >>> r.read(0, 32, ["action", "done"])["action"].shape   # doctest: +SKIP
    (32, 256, 6)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorstore as ts

from kinetix.data.format import (
    MANIFEST_NAME,
    DatasetFormatError,
    FieldSpec,
    Manifest,
    _describe,
    _join,
    dataset_context,
    kvstore_spec,
    read_manifest,
    shard_keys,
)

__all__ = ["FormatReader", "LISTABLE_DRIVERS"]

#: kvstore drivers that can list keys (so missing shard files are found when opening).
LISTABLE_DRIVERS = frozenset({"file", "memory", "gcs", "s3"})


class FormatReader:
    """Random-access reader of a dataset in our format.

    Args:
        location: local path or URL (``file://``, ``gs://``, ``s3://``, ``http(s)://``).
        check_files: check at open time that every shard file holding committed rows exists (a
            missing shard would otherwise read as zeros): one listing where the store can list,
            else a 1-byte ranged read per shard file (HTTP).
        cache_bytes: tensorstore cache pool shared by all fields (decoded chunks).

    Raises:
        DatasetFormatError: missing/invalid manifest, a field array missing or not matching the
            manifest (dtype, shape, static sizes), or a missing shard file; the message names the
            field and the file.
    """

    def __init__(
        self,
        location: str | os.PathLike | Mapping[str, Any],
        check_files: bool = True,
        cache_bytes: int = 256 << 20,
    ):
        self.location = dict(location) if isinstance(location, Mapping) else kvstore_spec(location)
        self.where = _describe(self.location)
        self.manifest: Manifest = read_manifest(self.location)
        self._context = dataset_context(cache_bytes)
        self.arrays: dict[str, ts.TensorStore] = self._open_arrays()
        if check_files:
            self.check_shard_files()

    # ------------------------------------------------------------------ properties

    @property
    def num_trajectories(self) -> int:
        return self.manifest.num_trajectories

    @property
    def trajectory_length(self) -> int:
        return self.manifest.trajectory_length

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return self.manifest.fields

    # ------------------------------------------------------------------ opening / checks

    def _open_arrays(self) -> dict[str, ts.TensorStore]:
        m = self.manifest
        futures = {}
        for name in m.fields:
            spec = {
                "driver": "zarr3",
                "kvstore": _join(self.location, name + "/"),
                "recheck_cached_data": "open",
                "recheck_cached_metadata": "open",
            }
            futures[name] = ts.open(spec, open=True, read=True, context=self._context)
        arrays = {}
        for name, fut in futures.items():
            try:
                arr = fut.result()
            except Exception as err:
                raise DatasetFormatError(
                    f"field {name!r}: cannot open its zarr array {self.where}{name}/zarr.json "
                    f"(listed in {MANIFEST_NAME}): {err}"
                ) from err
            self._check_array(name, arr)
            arrays[name] = arr
        return arrays

    def _check_array(self, name: str, arr: ts.TensorStore) -> None:
        field = self.manifest.fields[name]
        want = field.array_shape(self.manifest.num_trajectories, self.manifest.trajectory_length)
        got = tuple(int(x) for x in arr.shape)
        if arr.dtype.numpy_dtype != np.dtype(field.dtype):
            raise DatasetFormatError(
                f"field {name!r}: array {self.where}{name}/zarr.json has dtype "
                f"{arr.dtype.numpy_dtype}, manifest says {field.dtype}"
            )
        if got[1:] != want[1:] or got[0] < want[0]:
            raise DatasetFormatError(
                f"field {name!r}: array {self.where}{name}/zarr.json has shape {got}, expected "
                f"({want[0]} or more, {', '.join(str(x) for x in want[1:])}) from {MANIFEST_NAME}"
            )

    def check_shard_files(self) -> None:
        """Raise :class:`DatasetFormatError` naming the first missing shard file, if any."""
        kv = ts.KvStore.open(self.location, context=self._context).result()
        expected = [
            (name, key)
            for name, field in self.manifest.fields.items()
            for key in shard_keys(field, self.manifest.num_trajectories)
        ]
        if self.location.get("driver") in LISTABLE_DRIVERS:
            present = {k.decode() for k in kv.list().result()}
        else:
            futures = [(key, kv.read(key, byte_range=slice(0, 1))) for _, key in expected]
            present = set()
            for key, fut in futures:
                try:
                    if fut.result().state == "value":
                        present.add(key)
                except Exception as err:
                    raise DatasetFormatError(
                        f"cannot read shard file {self.where}{key}: {err}"
                    ) from err
        for name, key in expected:
            if key not in present:
                raise DatasetFormatError(
                    f"field {name!r}: shard file {self.where}{key} is missing (expected "
                    f"{self.manifest.num_trajectories} committed trajectories, "
                    f"{self.manifest.fields[name].shard_trajectories} per shard)"
                )

    # ------------------------------------------------------------------ reading

    def read(
        self, start: int, stop: int, names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Rows ``[start, stop)`` of the given fields (all by default), read concurrently.

        Raises:
            IndexError: the range is outside ``[0, num_trajectories]``.
            DatasetFormatError: a field is unknown, or a shard is truncated/corrupt (the message
                names the field and the shard files of that range).
        """
        n = self.manifest.num_trajectories
        if not 0 <= start <= stop <= n:
            raise IndexError(f"rows [{start}, {stop}) out of range for {n} trajectories")
        names = list(self.manifest.fields) if names is None else list(names)
        for name in names:
            if name not in self.arrays:
                raise DatasetFormatError(
                    f"field {name!r} is not in {self.where}{MANIFEST_NAME} "
                    f"(fields: {sorted(self.arrays)[:8]}...)"
                )
        futures = {name: self.arrays[name][start:stop].read() for name in names}
        return {name: self._result(name, fut, start, stop) for name, fut in futures.items()}

    def read_rows(
        self, rows: Sequence[int] | np.ndarray, names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Arbitrary rows (in the given order), read concurrently per field."""
        rows = np.asarray(rows, dtype=np.int64)
        n = self.manifest.num_trajectories
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"row indices out of range for {n} trajectories")
        names = list(self.manifest.fields) if names is None else list(names)
        if rows.size == 0:
            return self.read(0, 0, names)
        futures = {name: self.arrays[name].oindex[rows].read() for name in names}
        lo, hi = int(rows.min()), int(rows.max()) + 1
        return {name: self._result(name, fut, lo, hi) for name, fut in futures.items()}

    def _result(self, name: str, fut: Any, start: int, stop: int) -> np.ndarray:
        try:
            return fut.result()
        except Exception as err:
            field = self.manifest.fields[name]
            keys = shard_keys(field, stop)[start // field.shard_trajectories :]
            raise DatasetFormatError(
                f"field {name!r}: reading trajectories [{start}, {stop}) failed; shard file(s) "
                f"{', '.join(self.where + k for k in keys)} may be truncated or corrupt: {err}"
            ) from err

    def stored_bytes(self) -> int | None:
        """Total bytes of all keys under the dataset root (None if the store cannot list)."""
        if self.location.get("driver") not in ("file",):
            return None
        total = 0
        root = self.location["path"]
        for dirpath, _, files in os.walk(root):
            for f in files:
                total += os.path.getsize(os.path.join(dirpath, f))
        return total
