"""Kinetix offline datasets: the released Kinetix-Offline zarr shards, our own sharded zarr v3
format, trajectory loaders, the episode API and Hugging Face Hub downloads.

Example (the dataset card's snippet)::

    from kinetix.data import TrajectoryDatasetManager

    manager = TrajectoryDatasetManager(dataset_dir="./data/1M/m", batch_size=256,
                                       val_batch_size=256, seed=0)
    batch = manager.load_next_batch()   # action (B, T, 6), env_state leaves (B, T, ...)

Episode API (our format or a released split)::

    from kinetix.data import open_dataset

    ds = open_dataset("./ours/10M/s")   # also gs://, s3://, http(s):// for our format
    print(ds.describe())
    for episode in ds.filter(max_length=128).iterate_episodes():
        episode.env_state, episode.action, episode.length
"""

from kinetix.data.action_mask import get_valid_action_mask, valid_action_mask_np
from kinetix.data.batch import ActionEnvStateMask, TrainAndValData
from kinetix.data.convert import ours_to_released, released_to_ours
from kinetix.data.episodes import Episode, TrajectoryDataset, episode_lengths, open_dataset
from kinetix.data.fields import (
    FieldError,
    env_state_to_fields,
    expected_fields,
    fields_to_env_state,
    infer_static_env_params,
)
from kinetix.data.format import DatasetFormatError, FieldSpec, Manifest, read_manifest
from kinetix.data.hub import REPO_ID, SPLITS, download, hub_resolve_url
from kinetix.data.reader import FormatReader
from kinetix.data.released import (
    ReleasedDataset,
    ReleasedFormatError,
    ShardInfo,
    open_released,
    write_released_shard,
)
from kinetix.data.shuffled_manager import ShuffledDatasetManager
from kinetix.data.trajectory_manager import TrajectoryDatasetManager
from kinetix.data.verify import VerifyReport, replay_trajectories, verify_dataset
from kinetix.data.writer import DatasetWriter

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
    # our format
    "DatasetWriter",
    "DatasetFormatError",
    "FieldSpec",
    "FormatReader",
    "Manifest",
    "read_manifest",
    # episode API
    "open_dataset",
    "TrajectoryDataset",
    "Episode",
    "episode_lengths",
    # conversion and checks
    "released_to_ours",
    "ours_to_released",
    "verify_dataset",
    "VerifyReport",
    "replay_trajectories",
    # Hugging Face Hub
    "download",
    "hub_resolve_url",
    "REPO_ID",
    "SPLITS",
]
