"""Our format (``dataset.json`` + one zarr v3 array per field) as a source for the dataset managers.

The managers' batch engine (:mod:`kinetix.data.loader`) works on *rows of bytes*: a shuffle window
is one ``(n, row_bytes)`` uint8 buffer, batches are slices of it, and a structured dtype views a
slice as records without a copy. :class:`OursDataset` gives our per-field arrays that shape:

* a row's bytes hold each field at a fixed, aligned offset; every field of a window is read by
  ONE tensorstore copy whose destination is a strided ``ts.array`` view of its slot in the
  window buffer, with index arrays on both sides, so decoding, the record gather and the
  shuffle happen in tensorstore's threads with one copy in total and no per-field numpy work;
* trajectory layout (:class:`~kinetix.data.TrajectoryDatasetManager`): one row per trajectory,
  each field stored *field-major* (a trajectory's ``T`` steps of a field are contiguous), so the
  batch's ``(B, T, ...)`` field views are contiguous per trajectory;
* flat layout (:class:`~kinetix.data.ShuffledDatasetManager`): rows are transitions; a row holds
  one step of every field (step-major), trajectories are read whole and their transitions are
  scattered to their shuffled places.

Our format has one logical array of ``N`` trajectories, so the managers' "shards" (the unit of
the train/validation split, ``maximum_number_of_shards`` and per-process sharding) are *blocks*
of consecutive trajectories, ``block_trajectories`` each (default: the stored chunk size, so a
block decodes whole chunks).

Example:
    >>> ds = OursDataset("/data/ours/s", layout="trajectory")   # doctest: +SKIP
    >>> ds.shards[:2], ds.num_records(0)                        # doctest: +SKIP
    (['block_000000', 'block_000001'], 32)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorstore as ts

from kinetix.data.fields import ENV_STATE_PREFIX
from kinetix.data.format import DatasetFormatError
from kinetix.data.reader import FormatReader
from kinetix.data.released import ShardInfo
from kinetix.data.sampling import Unit

__all__ = ["OursDataset"]

_ALIGN = 8  # every field slot starts 8-byte aligned, so numpy views never need unaligned access


def _round_up(x: int, k: int = _ALIGN) -> int:
    return -(-x // k) * k


class OursDataset:
    """A dataset in our format, opened for the dataset managers.

    Args:
        location: local path (relative paths are fine) or URL of a dataset in our format.
        layout: ``"trajectory"`` (rows are trajectories) or ``"flat"`` (rows are transitions).
        block_trajectories: trajectories per block ("shard"); default the largest stored chunk
            size of the loaded fields.
        cache_bytes: tensorstore cache pool (0: the loader reads every chunk once per epoch).

    Attributes:
        shards: block names ``block_000000``, ...; ``empty_shards`` is always empty.
        layout, static_env_params, num_steps (``T``), field_names, step_dtype, row_bytes.

    Raises:
        DatasetFormatError: no/invalid manifest, a missing field (``action``, ``action_mask``,
            ``done`` for trajectories), or an empty dataset.
    """

    def __init__(
        self,
        location: str | os.PathLike | Mapping[str, Any],
        layout: str = "trajectory",
        block_trajectories: int | None = None,
        cache_bytes: int = 0,
    ):
        if layout not in ("trajectory", "flat"):
            raise ValueError(f"layout {layout!r}; expected 'trajectory' or 'flat'")
        self.reader = FormatReader(location, check_files=True, cache_bytes=cache_bytes)
        m = self.reader.manifest
        self.where = self.reader.where
        self.root = self.where
        self.layout = layout
        self.manifest = m
        self.static_env_params = m.static_env_params
        self.num_steps = m.trajectory_length if layout == "trajectory" else None
        self.done_convention = m.done_convention
        required = ["action", "action_mask"] + (["done"] if layout == "trajectory" else [])
        for name in required:
            if name not in m.fields:
                raise DatasetFormatError(
                    f"{self.where}dataset.json: field {name!r} is missing; the dataset managers "
                    f"need {required} and the env_state/* fields"
                )
        wanted = ["action", "action_mask", "done", "mask"]
        names = [n for n in wanted if n in m.fields and m.fields[n].per_step]
        names += [n for n in m.fields if n.startswith(ENV_STATE_PREFIX)]
        self.field_names = names
        if m.num_trajectories == 0:
            raise DatasetFormatError(f"{self.where}: dataset is empty (0 committed trajectories)")
        self.context = self.reader._context
        self._arrays = {n: self.reader.arrays[n] for n in names}

        T = m.trajectory_length
        fmt, offsets, off = [], [], 0
        self._slots: list[tuple[str, np.dtype, tuple[int, ...], int]] = []
        step_major = layout == "flat"
        for n in names:
            f = m.fields[n]
            dt = np.dtype(f.dtype)
            nbytes = dt.itemsize * int(np.prod(f.shape, dtype=np.int64))
            off = _round_up(off, max(dt.itemsize, 1))
            self._slots.append((n, dt, tuple(f.shape), off))
            shape = tuple(f.shape) if step_major else (T, *f.shape)
            fmt.append((dt, shape) if shape else dt)
            offsets.append(off)
            off += nbytes if step_major else nbytes * T
        itemsize = _round_up(off)
        self._record_bytes = itemsize
        self.step_dtype = np.dtype(
            {"names": names, "formats": fmt, "offsets": offsets, "itemsize": itemsize}
        )
        self.row_bytes = itemsize

        chunk = max(m.fields[n].chunk_trajectories for n in names)
        self.block = int(block_trajectories or chunk)
        if self.block <= 0:
            raise ValueError(f"block_trajectories must be positive, got {self.block}")
        N = m.num_trajectories
        self._starts = list(range(0, N, self.block))
        self.shards = [f"block_{i:06d}" for i in range(len(self._starts))]
        self.empty_shards: list[str] = []
        self._infos = []
        for i, s in enumerate(self._starts):
            n = min(self.block, N - s)
            shape = (n, T, 1) if layout == "trajectory" else (n * T,)
            chunks = (self.block, T, 1) if layout == "trajectory" else (self.block * T,)
            self._infos.append(
                ShardInfo(
                    self.shards[i],
                    f"{self.where}[{s}:{s + n}]",
                    shape,
                    chunks,
                    self.step_dtype,
                    self.step_dtype,
                    {},
                )
            )

    # ------------------------------------------------------------------ metadata
    def shard_info(self, shard_idx: int) -> ShardInfo:
        """Block ``shard_idx`` described like a released shard (shape, chunk = the block)."""
        return self._infos[shard_idx]

    def num_records(self, shard_idx: int) -> int:
        """Rows of block ``shard_idx`` (trajectories, or transitions for the flat layout)."""
        return int(self._infos[shard_idx].shape[0])

    @property
    def total_records(self) -> int:
        return sum(self.num_records(k) for k in range(len(self.shards)))

    def rows_to_records(self, rows: np.ndarray) -> np.ndarray:
        """``(n, row_bytes)`` uint8 rows as ``(n,)`` records (a view when contiguous)."""
        rows = np.ascontiguousarray(rows)
        return rows.view(self.step_dtype).reshape(rows.shape[0])

    # ------------------------------------------------------------------ reading
    def start_window(
        self, units: list[Unit], dest: np.ndarray, pool: Any = None
    ) -> _OursWindowRead:
        """Start reading ``units``; row ``k`` of the read order lands at row ``dest[k]``.

        ``pool`` (a :class:`~kinetix.data.loader.BufferPool`) recycles window buffers.
        """
        return _OursWindowRead(self, units, np.asarray(dest, np.int64), pool)

    def _field_views(self, buf: np.ndarray, n_traj: int) -> list[tuple[str, np.ndarray]]:
        """Strided numpy views of every field's slot in ``buf`` as ``(n_traj, T, *shape)``."""
        T = self.manifest.trajectory_length
        views = []
        for name, dt, shape, off in self._slots:
            if 0 in shape:
                continue
            if self.layout == "flat":  # buf (n_traj * T, row_bytes): step-major
                strides = (T * self.row_bytes, self.row_bytes)
            else:  # buf (n_traj, row_bytes): field-major
                strides = (self.row_bytes, int(np.prod(shape, dtype=np.int64)) * dt.itemsize)
            inner = tuple(
                int(np.prod(shape[i + 1 :], dtype=np.int64)) * dt.itemsize
                for i in range(len(shape))
            )
            view = np.ndarray(
                (n_traj, T, *shape), dt, buffer=buf, offset=off, strides=strides + inner
            )
            views.append((name, view))
        return views


class _OursWindowRead:
    """One window of our format being read by tensorstore, then put in its shuffled order.

    Every unit (a run of consecutive trajectories) of every field is copied by a slice-to-slice
    tensorstore write into the window's read-order buffer: contiguous block copies, all in one
    ``ts.Batch`` so the reads of a shard file are coalesced. Index-array copies (``oindex`` on
    both sides) were slower: tensorstore copies them element by element (``perf``: 30% of the
    loader's samples in ``GetBlock``/``CopyAssign`` vs 6% in the zstd decode), about 15 vs 9
    CPU ms per 32 size-``s`` trajectories. The shuffle is then one numpy row gather.
    """

    def __init__(self, ds: OursDataset, units: list[Unit], dest: np.ndarray, pool: Any = None):
        self.ds = ds
        self.units = units
        self.pool = pool
        T = ds.manifest.trajectory_length
        spans = []  # (first global trajectory, count) per unit, in read order
        for u in units:
            base = ds._starts[u.shard]
            if ds.layout == "flat":
                a, b = u.start // T, -(-u.stop // T)
            else:
                a, b = u.start, u.stop
            spans.append((base + a, b - a))
        n_traj = sum(c for _, c in spans)
        n_rows = sum(u.size for u in units)
        self.n_rows = n_rows
        self.dest = dest
        per_traj = T if ds.layout == "flat" else 1
        self.tmp = self._buffer(n_traj * per_traj)
        self.lo = min((a for a, _ in spans), default=0)
        self.hi = max((a + c for a, c in spans), default=0)
        self.futures = []
        with ts.Batch() as batch:
            for name, view in ds._field_views(self.tmp, n_traj):
                dst = ts.array(view, copy=False, write=True, context=ds.context)
                src = ds._arrays[name]
                k = 0
                for a, c in spans:
                    fut = dst[k : k + c].write(src[a : a + c], batch=batch)
                    self.futures.append((name, fut))
                    k += c

    def _buffer(self, rows: int) -> np.ndarray:
        if self.pool is not None:
            return self.pool.get(rows, self.ds.row_bytes)
        return np.empty((rows, self.ds.row_bytes), np.uint8)

    def result(self) -> np.ndarray:
        for name, fut in self.futures:
            self.ds.reader._result(name, fut, self.lo, self.hi)
        self.futures = []
        ds = self.ds
        tmp, self.tmp = self.tmp, None
        if ds.layout == "trajectory" and ds.done_convention == "terminal":
            # Serve the loaders' convention (done[t]: state t starts a new episode).
            done = dict(ds._field_views(tmp, len(tmp)))["done"]
            shifted = np.zeros_like(done)
            shifted[:, 1:] = done[:, :-1]
            done[...] = shifted
        # Units are whole trajectories (blocks are trajectory-aligned), so read-order row k of
        # the window is row k of ``tmp``; it goes to ``dest[k]``.
        perm = np.empty_like(self.dest)
        perm[self.dest] = np.arange(len(self.dest))
        out = self._buffer(self.n_rows)
        np.take(tmp[: self.n_rows], perm, axis=0, out=out)
        return out
