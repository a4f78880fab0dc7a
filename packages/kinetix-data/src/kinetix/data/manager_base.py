"""What both dataset managers share: opening sources, splits, validation, iteration state."""

from __future__ import annotations

import os
from typing import Any

from kinetix.data.batch import ActionEnvStateMask, expand_batch, records_to_batch
from kinetix.data.fields import FieldError
from kinetix.data.format import is_our_format
from kinetix.data.loader import Prefetcher, SourceStream, read_units
from kinetix.data.ours_source import OursDataset
from kinetix.data.released import ReleasedDataset, open_released
from kinetix.data.sampling import EpochPlan, Unit, make_units, split_shards
from kinetix.environment import StaticEnvParams
from kinetix.environment.expansion import max_static_env_params

__all__ = ["DatasetManagerBase"]

_STATE_VERSION = 1


def open_source(
    dataset_dir: str | os.PathLike, layout: str, block_trajectories: int | None = None
) -> ReleasedDataset | OursDataset:
    """Open one dataset for a manager: our format if ``dataset.json`` is there, else released.

    Args:
        dataset_dir: a directory (relative is fine) or URL; URLs must hold our format.
        layout: the manager's layout, ``"trajectory"`` or ``"flat"`` (our format serves both).
        block_trajectories: trajectories per block ("shard") of our format.
    """
    if is_our_format(dataset_dir):
        return OursDataset(dataset_dir, layout=layout, block_trajectories=block_trajectories)
    return open_released(dataset_dir)


def _process_defaults(shard_index: int | None, total_shard_count: int | None) -> tuple[int, int]:
    if shard_index is None or total_shard_count is None:
        import jax

        shard_index = jax.process_index() if shard_index is None else shard_index
        total_shard_count = jax.process_count() if total_shard_count is None else total_shard_count
    return int(shard_index), int(total_shard_count)


class DatasetManagerBase:
    """Opens one or more datasets and serves shuffled, prefetched batches forever.

    Subclasses fix the layout (``"trajectory"`` or ``"flat"``). See
    :class:`~kinetix.data.TrajectoryDatasetManager` for the arguments.
    """

    layout: str = "trajectory"

    def __init__(
        self,
        dataset_dir: str | os.PathLike | list,
        batch_size: int,
        static_env_params: StaticEnvParams | None = None,
        seed: int = 42,
        maximum_number_of_shards: int = -1,
        n_val_shards: int = 0,
        val_batch_size: int | None = None,
        shard_index: int | None = None,
        total_shard_count: int | None = None,
        should_expand_static_env_params: bool = False,
        dataset_proportions: list[float] | None = None,
        prefetch: int = 2,
        shuffle_window: int | None = None,
        block_trajectories: int | None = None,
    ):
        self._prefetcher: Prefetcher | None = None
        if should_expand_static_env_params and static_env_params is None:
            raise ValueError(
                "static_env_params is required when should_expand_static_env_params=True"
            )
        dirs = list(dataset_dir) if isinstance(dataset_dir, (list, tuple)) else [dataset_dir]
        if not dirs:
            raise ValueError("dataset_dir is an empty list")
        if dataset_proportions is None or not isinstance(dataset_proportions, (list, tuple)):
            dataset_proportions = [1.0 / len(dirs)] * len(dirs)
        if len(dataset_proportions) != len(dirs):
            raise ValueError(
                f"{len(dirs)} dataset directories but {len(dataset_proportions)} proportions"
            )
        sub_batch = [int(batch_size * p) for p in dataset_proportions]
        if len(dirs) == 1:
            sub_batch = [batch_size]
        if sum(sub_batch) != batch_size or min(sub_batch) <= 0:
            raise ValueError(
                f"dataset_proportions {list(dataset_proportions)} split batch_size={batch_size} "
                f"into {sub_batch}; the parts must be positive and sum to batch_size"
            )
        self.dataset_dir = dataset_dir
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.maximum_number_of_shards = maximum_number_of_shards
        self.shard_index, self.total_shard_count = _process_defaults(shard_index, total_shard_count)
        self.should_expand_static_env_params = should_expand_static_env_params
        self.dataset_proportions = list(dataset_proportions)
        self.prefetch = prefetch

        self.datasets: list[ReleasedDataset | OursDataset] = []
        self._plans: list[EpochPlan] = []
        self._val_units: list[Unit] = []
        self.shard_names: list[str] = []
        self.all_shard_names: list[str] = []
        n_val = n_val_shards if len(dirs) == 1 else 0
        if n_val_shards and len(dirs) > 1:
            raise ValueError("n_val_shards is only supported with a single dataset_dir")
        for i, d in enumerate(dirs):
            ds = open_source(d, self.layout, block_trajectories)
            if ds.layout != self.layout:
                raise ValueError(
                    f"{d}: shards have the {ds.layout} layout (shape {list(ds.shard_info(0).shape)}), "
                    f"{type(self).__name__} needs the {self.layout} layout"
                )
            src_seed = self.seed if len(dirs) == 1 else self.seed * 1000 + i
            train, val = split_shards(ds.shards, src_seed, maximum_number_of_shards, n_val)
            index = {name: k for k, name in enumerate(ds.shards)}
            train_idx = [index[n] for n in train]
            units = make_units(
                train_idx,
                [ds.num_records(k) for k in train_idx],
                [ds.shard_info(k).chunks[0] for k in train_idx],
            )
            window = (
                None
                if shuffle_window is None
                else max(1, int(shuffle_window * sub_batch[i] / batch_size))
            )
            self._plans.append(
                EpochPlan(
                    units, sub_batch[i], src_seed, self.shard_index, self.total_shard_count, window
                )
            )
            if val:
                self._val_units = [Unit(index[n], 0, ds.num_records(index[n])) for n in val]
            self.datasets.append(ds)
            self.shard_names += train
            self.all_shard_names += ds.shards + ds.empty_shards

        steps = {ds.num_steps for ds in self.datasets}
        if len(steps) > 1:
            raise ValueError(
                f"the datasets have different trajectory lengths {sorted(steps)} "
                f"({[str(d) for d in dirs]}); mixed trajectory batches need one T"
            )
        statics = [ds.static_env_params for ds in self.datasets]
        if should_expand_static_env_params:
            self.target_static = static_env_params
        elif len(set(statics)) > 1:
            # Mixing sizes: pad everything to the largest (upstream failed on concatenation).
            self.target_static = max_static_env_params(*statics)
        else:
            self.target_static = None
            if static_env_params is not None and not _same_sizes(static_env_params, statics[0]):
                raise FieldError(
                    f"{dirs[0]}: dataset static sizes {_sizes(statics[0])} do not match "
                    f"static_env_params {_sizes(static_env_params)}; pass "
                    "should_expand_static_env_params=True to pad to larger sizes"
                )
        self.static_env_params = self.target_static or statics[0]
        rows = [int(p.sizes.sum()) for p in self._plans]
        if len(dirs) == 1:
            self.length = rows[0] // self.batch_size
        else:
            self.length = sum(r // b for r, b in zip(rows, sub_batch)) // len(dirs)
        self.batches_per_epoch = min(p.steps_per_epoch for p in self._plans)

        self.validation_batch: ActionEnvStateMask | None = None
        if self._val_units:
            self.validation_batch = self._load_validation(val_batch_size)
        self._positions = [(0, 0)] * len(self._plans)
        self.batches_served = 0

    # ------------------------------------------------------------------ batches
    def _load_validation(self, val_batch_size: int | None) -> ActionEnvStateMask:
        ds = self.datasets[0]
        units, remaining = [], val_batch_size
        for u in self._val_units:
            take = u.size if remaining is None else min(u.size, remaining)
            units.append(Unit(u.shard, 0, take))
            if remaining is not None:
                remaining -= take
                if remaining <= 0:
                    break
        batch = records_to_batch(read_units(ds, units), ds.static_env_params, ds.layout)
        if self.target_static is not None and self.target_static != ds.static_env_params:
            batch = expand_batch(batch, self.target_static)
        return batch

    def _start(self) -> Prefetcher:
        if self._prefetcher is None:
            streams = [
                SourceStream(ds, plan, e, s)
                for ds, plan, (e, s) in zip(self.datasets, self._plans, self._positions)
            ]
            self._prefetcher = Prefetcher(
                streams,
                [ds.static_env_params for ds in self.datasets],
                self.target_static,
                self.prefetch,
            )
        return self._prefetcher

    def load_next_batch(self) -> ActionEnvStateMask:
        """The next training batch (the stream never ends: epochs follow each other)."""
        batch, positions = self._start().get()
        self._positions = positions
        self.batches_served += 1
        return batch

    def __iter__(self):
        return self

    def __next__(self) -> ActionEnvStateMask:
        return self.load_next_batch()

    @property
    def epoch(self) -> int:
        """Epoch of the next batch (of the first dataset when mixing)."""
        return self._positions[0][0]

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Iterator state after the last served batch (JSON-serialisable).

        Restoring it with :meth:`load_state_dict` on a manager built with the same arguments
        continues with exactly the batches this one would have served next.
        """
        return {
            "version": _STATE_VERSION,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "shard_index": self.shard_index,
            "total_shard_count": self.total_shard_count,
            "positions": [list(p) for p in self._positions],
            "batches_served": self.batches_served,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict` (mid-epoch is fine).

        Raises:
            ValueError: the state was saved with another seed, batch size or process layout.
        """
        for key in ("version", "seed", "batch_size", "shard_index", "total_shard_count"):
            mine = _STATE_VERSION if key == "version" else getattr(self, key)
            if state.get(key) != mine:
                raise ValueError(
                    f"iterator state has {key}={state.get(key)!r}, this manager has {mine!r}"
                )
        positions = [tuple(int(v) for v in p) for p in state["positions"]]
        if len(positions) != len(self._plans):
            raise ValueError(f"state has {len(positions)} sources, manager has {len(self._plans)}")
        for (e, s), plan in zip(positions, self._plans):
            if e < 0 or not 0 <= s < plan.steps_per_epoch:
                raise ValueError(f"position (epoch={e}, step={s}) out of range")
        self.close()
        self._positions = positions
        self.batches_served = int(state.get("batches_served", 0))

    def close(self) -> None:
        """Stop background reading (a later :meth:`load_next_batch` restarts it)."""
        prefetcher = getattr(self, "_prefetcher", None)  # None if __init__ raised early
        if prefetcher is not None:
            self._prefetcher = None
            prefetcher.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # At interpreter exit module globals (contextlib, queue, threading...) may already be
        # None, so nothing here may raise; the producer thread is a daemon and never blocks exit.
        try:  # noqa: SIM105 - contextlib itself may be gone at exit
            self.close()
        except BaseException:  # noqa: BLE001 - a finaliser must never raise
            pass


def _sizes(s: StaticEnvParams) -> dict[str, int]:
    return {
        "num_polygons": s.num_polygons,
        "num_circles": s.num_circles,
        "num_joints": s.num_joints,
        "num_thrusters": s.num_thrusters,
    }


def _same_sizes(a: StaticEnvParams, b: StaticEnvParams) -> bool:
    return _sizes(a) == _sizes(b) and a.max_polygon_vertices == b.max_polygon_vertices
