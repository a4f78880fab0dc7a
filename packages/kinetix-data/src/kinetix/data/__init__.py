"""Kinetix offline datasets: the released Kinetix-Offline zarr shards and trajectory loaders.

Example (the dataset card's snippet)::

    from kinetix.data import TrajectoryDatasetManager

    manager = TrajectoryDatasetManager(dataset_dir="./data/1M/m", batch_size=256,
                                       val_batch_size=256, seed=0)
    batch = manager.load_next_batch()   # action (B, T, 6), env_state leaves (B, T, ...)
"""

from kinetix.data.action_mask import get_valid_action_mask, valid_action_mask_np
from kinetix.data.batch import ActionEnvStateMask, TrainAndValData
from kinetix.data.fields import (
    FieldError,
    env_state_to_fields,
    expected_fields,
    fields_to_env_state,
    infer_static_env_params,
)
from kinetix.data.released import (
    ReleasedDataset,
    ReleasedFormatError,
    ShardInfo,
    open_released,
    write_released_shard,
)
from kinetix.data.shuffled_manager import ShuffledDatasetManager
from kinetix.data.trajectory_manager import TrajectoryDatasetManager

__all__ = [
    "ActionEnvStateMask",
    "TrainAndValData",
    "TrajectoryDatasetManager",
    "ShuffledDatasetManager",
    "open_released",
    "ReleasedDataset",
    "ReleasedFormatError",
    "ShardInfo",
    "write_released_shard",
    "fields_to_env_state",
    "env_state_to_fields",
    "expected_fields",
    "infer_static_env_params",
    "FieldError",
    "get_valid_action_mask",
    "valid_action_mask_np",
]
