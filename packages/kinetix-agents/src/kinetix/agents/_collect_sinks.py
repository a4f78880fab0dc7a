"""Where expert collection writes kept trajectories: the per-step fields of a chunk and the two
output sinks, kinetix-data's format (``_OursSink``) and the released zarr v2 record shards
(``_ReleasedSink``, one shard per chunk, renamed into place atomically).

Part of :mod:`kinetix.agents.collect`.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from kinetix.agents._collect_config import CollectConfig


def _trajectory_fields(
    config: CollectConfig, ids: np.ndarray, keys: np.ndarray, states, actions, dones
) -> dict[str, Any]:
    from kinetix.data import valid_action_mask_np

    static = config.static_env_params()
    n, T = dones.shape
    return {
        "action": actions,
        "action_mask": valid_action_mask_np(states, static),
        "done": dones,
        "mask": np.ones((n, T), bool),
        "level_rngs": np.broadcast_to(keys[:, None, :], (n, T, keys.shape[-1])).copy(),
        "env_state": states,
        "level_id": ids.astype(np.int64),
    }


class _OursSink:
    def __init__(self, config: CollectConfig):
        from kinetix.data.writer import DatasetWriter

        env_params = config.env_params()
        self.writer = DatasetWriter(
            config.out,
            config.static_env_params(),
            env_size=config.env_size,
            provenance={"collector": "kinetix.agents.collect", "settings": config.pinned()},
            action_type=config.action_type,
            done_convention="reset",
            env_params={
                "max_timesteps": env_params.max_timesteps,
                "dense_reward_scale": env_params.dense_reward_scale,
            },
            dedup_key="level_id",
        )

    def write(self, first_id: int, fields: dict[str, Any]) -> int:
        return self.writer.append(fields)

    def close(self) -> None:
        self.writer.close()


class _ReleasedSink:
    def __init__(self, config: CollectConfig):
        self.root = config.out
        group = os.path.join(self.root, ".zgroup")
        if not os.path.exists(group):
            tmp = f"{group}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(json.dumps({"zarr_format": 2}, indent=4))
            os.replace(tmp, group)

    def write(self, first_id: int, fields: dict[str, Any]) -> int:
        import shutil

        from kinetix.data import env_state_to_fields, write_released_shard

        name = f"shard_{first_id:012d}"
        final = os.path.join(self.root, name)
        if os.path.exists(os.path.join(final, ".zarray")):
            return 0  # committed by an interrupted run (renames are atomic)
        flat = {k: v for k, v in fields.items() if k not in ("env_state", "level_id")}
        flat.update(env_state_to_fields(fields["env_state"]))
        # Staged under a hidden directory (readers skip it), then renamed into place.
        staging = os.path.join(self.root, ".staging", name)
        shutil.rmtree(staging, ignore_errors=True)
        write_released_shard(staging, flat, "trajectory")
        os.replace(staging, final)
        return int(fields["done"].shape[0])

    def close(self) -> None:
        pass
