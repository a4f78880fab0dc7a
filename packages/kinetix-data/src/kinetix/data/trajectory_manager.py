"""Whole-trajectory batches ``(B, T, ...)`` from the released trajectory layout."""

from __future__ import annotations

import os

from kinetix.data.manager_base import DatasetManagerBase
from kinetix.environment import StaticEnvParams

__all__ = ["TrajectoryDatasetManager"]


class TrajectoryDatasetManager(DatasetManagerBase):
    """Shuffled batches of whole trajectories, with the reference's constructor and attributes.

    Args:
        dataset_dir: a released-format zarr v2 group (one split, e.g. ``./data/1M/m``) or a
            dataset in our format (a directory or URL with ``dataset.json``, as written by
            :class:`~kinetix.data.DatasetWriter`); relative paths are fine. A list
            mixes several datasets of either format (``dataset_proportions`` of each batch; sizes may differ, every
            part is padded to the largest, or to ``static_env_params`` when expanding).
        batch_size: trajectories per batch, per process.
        static_env_params: target sizes when ``should_expand_static_env_params``; otherwise, if
            given, checked against the dataset's sizes.
        seed: fixes the shard split and the order of every epoch.
        maximum_number_of_shards: keep only this many shards (after the seeded shuffle); -1: all.
        n_val_shards: hold out this many whole shards for validation (single directory only);
            in our format a "shard" is a block of ``block_trajectories`` trajectories.
        val_batch_size: trajectories in ``validation_batch`` (None: every validation row).
        shard_index: this process's index (None: ``jax.process_index()``).
        total_shard_count: number of processes (None: ``jax.process_count()``).
        should_expand_static_env_params: pad states to ``static_env_params`` (works on
            ``(B, T, ...)`` batches, unlike upstream).
        dataset_proportions: per-directory share of each batch when mixing.
        prefetch: finished batches prepared ahead in a background thread.
        shuffle_window: trajectories per shuffle window (default ``4 * batch_size``); rows are
            re-mixed within a window every epoch, and read-ahead memory is about two windows.
        block_trajectories: our format only: trajectories per block, the unit of the
            train/validation split and of per-process sharding (default the stored chunk size,
            32 for :class:`~kinetix.data.DatasetWriter`'s default).

    Attributes:
        length: training batches in the whole dataset (``rows // batch_size``, as upstream).
        batches_per_epoch: batches this process serves per epoch.
        validation_batch: an ``ActionEnvStateMask`` of validation rows, or None.
        static_env_params: sizes of the served states.

    Example:
        >>> m = TrajectoryDatasetManager(dataset_dir="data/1M/m", batch_size=256,
        ...                              val_batch_size=256, seed=0)   # doctest: +SKIP
        >>> b = m.load_next_batch()                                     # doctest: +SKIP
        >>> b.action.shape, b.done.shape                                # doctest: +SKIP
        ((256, 256, 6), (256, 256))
    """

    layout = "trajectory"

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
        super().__init__(
            dataset_dir,
            batch_size,
            static_env_params=static_env_params,
            seed=seed,
            maximum_number_of_shards=maximum_number_of_shards,
            n_val_shards=n_val_shards,
            val_batch_size=val_batch_size,
            shard_index=shard_index,
            total_shard_count=total_shard_count,
            should_expand_static_env_params=should_expand_static_env_params,
            dataset_proportions=dataset_proportions,
            prefetch=prefetch,
            shuffle_window=shuffle_window,
            block_trajectories=block_trajectories,
        )
