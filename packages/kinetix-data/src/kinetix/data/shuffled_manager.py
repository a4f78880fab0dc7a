"""Shuffled batches of single transitions ``(B, ...)`` from the flat layout."""

from __future__ import annotations

import os

from kinetix.data.manager_base import DatasetManagerBase
from kinetix.environment import StaticEnvParams

__all__ = ["ShuffledDatasetManager"]


class ShuffledDatasetManager(DatasetManagerBase):
    """Shuffled batches of transitions (flat layout), with the reference's constructor.

    Arguments are those of :class:`~kinetix.data.TrajectoryDatasetManager` with ``batch_size``
    and ``val_batch_size`` counting transitions. ``dataset_dir`` may be a list; each directory
    supplies ``int(batch_size * p)`` transitions of every batch (the parts must sum to
    ``batch_size``) and uses seed ``seed * 1000 + i``. Datasets of different static sizes are
    padded to the largest before concatenation (upstream raised). ``done`` is None; ``mask``
    is the stored per-transition weight (all True when our format stores no ``mask``).
    ``dataset_dir`` may also be a dataset in our format (``dataset.json``): its trajectories
    are served as transitions, shuffled within each window.

    Example:
        >>> m = ShuffledDatasetManager(["data/s_flat", "data/m_flat"], batch_size=1024,
        ...                            dataset_proportions=[0.5, 0.5])   # doctest: +SKIP
        >>> m.load_next_batch().env_state.polygon.position.shape          # doctest: +SKIP
        (1024, 6, 2)
    """

    layout = "flat"

    def __init__(
        self,
        dataset_dir: str | os.PathLike | list,
        batch_size: int,
        static_env_params: StaticEnvParams | None = None,
        seed: int = 42,
        maximum_number_of_shards: int = -1,
        dataset_proportions: list[float] | None = None,
        shard_index: int | None = None,
        total_shard_count: int | None = None,
        should_expand_static_env_params: bool = False,
        n_val_shards: int = 0,
        val_batch_size: int | None = None,
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
