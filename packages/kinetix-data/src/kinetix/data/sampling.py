"""Deterministic data order: shard split, per-epoch shuffles, per-process sharding.

Everything here is a pure function of ``(seed, epoch, shard_index)`` and the shard sizes, so every
process of a multi-host job computes the same global plan without talking to the others, and an
iterator resumes exactly from ``(epoch, step)``.

Order within an epoch:

1. The training rows are cut into *units*: runs of consecutive rows aligned to the stored chunks
   (one trajectory per unit for the released chunking), so reading a unit decodes whole chunks
   once.
2. The units are permuted with ``default_rng([seed, epoch])``; process ``p`` of ``P`` takes units
   ``p, p + P, ...`` of that permutation, so processes read disjoint data and the split changes
   every epoch.
3. A process groups its units, in order, into *windows* of at least ``window_rows`` rows, and
   permutes the rows of each window with ``default_rng([seed, epoch, p, window])``. Batches are
   consecutive ``batch_size`` rows of the concatenated windows, so trajectories are re-mixed
   across batches every epoch (upstream served fixed blocks), and read-ahead memory is bounded by
   about two windows.
4. Every process serves the same number of batches per epoch,
   ``floor((rows / P - largest unit) / batch_size)`` (``rows // batch_size`` for one process), so
   multi-host training stays in lock-step whatever the epoch's split; rows left over are dropped
   for that epoch only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

__all__ = ["split_shards", "Unit", "make_units", "EpochPlan"]


def split_shards(
    names: list[str], seed: int, maximum_number_of_shards: int = -1, n_val_shards: int = 0
) -> tuple[list[str], list[str]]:
    """Shuffle shard names with ``seed``, cap them, split ``(train, val)`` (upstream's rule).

    The names are sorted, shuffled with Python's ``random.Random(seed)`` (the same sequence
    upstream gets from ``random.seed(seed); random.shuffle``, without touching the global RNG),
    cut to ``maximum_number_of_shards`` if positive, and the first ``n_val_shards`` become the
    validation shards, so a seed picks the same validation shards as upstream.

    Raises:
        ValueError: ``n_val_shards`` leaves no training shard.

    Example:
        >>> split_shards(["a", "b", "c"], seed=0, n_val_shards=1)
        (['c', 'b'], ['a'])
    """
    names = sorted(names)
    random.Random(seed).shuffle(names)
    if maximum_number_of_shards > 0:
        names = names[:maximum_number_of_shards]
    if n_val_shards < 0:
        raise ValueError(f"n_val_shards must be >= 0, got {n_val_shards}")
    if n_val_shards and n_val_shards >= len(names):
        raise ValueError(
            f"n_val_shards={n_val_shards} must be less than the number of shards ({len(names)})"
        )
    return names[n_val_shards:], names[:n_val_shards]


@dataclass(frozen=True)
class Unit:
    """Rows ``start:stop`` of shard ``shard`` (an index into the dataset's shard list)."""

    shard: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def make_units(shards: list[int], num_records: list[int], rows_per_unit: list[int]) -> list[Unit]:
    """Cut each shard into chunk-aligned runs of ``rows_per_unit`` rows (the last may be short)."""
    units = []
    for shard, n, k in zip(shards, num_records, rows_per_unit):
        k = max(1, int(k))
        units.extend(Unit(shard, a, min(a + k, n)) for a in range(0, n, k))
    return units


class EpochPlan:
    """The order of one process's batches for any epoch (see the module docstring).

    Args:
        units: all training units (same list on every process).
        batch_size: rows per batch served by this process.
        seed: data-order seed.
        shard_index: this process (``0 <= shard_index < shard_count``).
        shard_count: number of processes sharing the data.
        window_rows: rows per shuffle window (at least ``batch_size``).

    Raises:
        ValueError: the data is too small for one batch per process.
    """

    def __init__(
        self,
        units: list[Unit],
        batch_size: int,
        seed: int,
        shard_index: int = 0,
        shard_count: int = 1,
        window_rows: int | None = None,
    ):
        if not 0 <= shard_index < shard_count:
            raise ValueError(f"shard_index={shard_index} must be in [0, {shard_count})")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.units = units
        self.sizes = np.array([u.size for u in units], np.int64)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shard_index = shard_index
        self.shard_count = shard_count
        self.window_rows = max(int(window_rows or 4 * batch_size), self.batch_size)
        total = int(self.sizes.sum())
        # Rows per process differ by at most one unit whatever the permutation, so the bound
        # below is the same every epoch; computing it from the worst case keeps it epoch-free.
        per_proc = total // shard_count - (int(self.sizes.max(initial=0)) if shard_count > 1 else 0)
        self.steps_per_epoch = max(per_proc, 0) // self.batch_size
        if self.steps_per_epoch == 0:
            raise ValueError(
                f"{total} rows cannot fill one batch of {batch_size} per process "
                f"({shard_count} processes); lower batch_size or add shards"
            )

    def windows(self, epoch: int) -> list[list[Unit]]:
        """This process's units for ``epoch``, grouped into shuffle windows."""
        perm = np.random.default_rng([self.seed, epoch]).permutation(len(self.units))
        mine = perm[self.shard_index :: self.shard_count]
        out, cur, rows = [], [], 0
        for i in mine:
            cur.append(self.units[i])
            rows += int(self.sizes[i])
            if rows >= self.window_rows:
                out.append(cur)
                cur, rows = [], 0
        if cur:
            out.append(cur)
        return out

    def window_permutation(self, epoch: int, window: int, n: int) -> np.ndarray:
        """Row permutation inside window ``window`` of ``epoch`` (``n`` rows)."""
        rng = np.random.default_rng([self.seed, epoch, self.shard_index, window])
        return rng.permutation(n)
