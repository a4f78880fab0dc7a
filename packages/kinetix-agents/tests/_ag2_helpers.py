"""Small shared fixtures for the BC / checkpoint / distributed / CLI tests: a tiny network on the
built-in ``blind`` observation (one-hot of the timestep, needs no renderer), synthetic expert
batches and an in-memory data loader with the kinetix-data loader interface."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from kinetix.agents.models import ModelConfig, make_network
from kinetix.environment import (
    BlindObservations,
    EnvParams,
    create_empty_env,
    static_env_params_from_size,
)

TINY_MODEL = ModelConfig(actor_depth=1, critic_depth=1, actor_width=8, critic_width=8)
TINY_MODEL_OVERRIDES = [
    "model.actor_depth=1",
    "model.critic_depth=1",
    "model.actor_width=8",
    "model.critic_width=8",
]
ENV_PARAMS = EnvParams(max_timesteps=16)
STATIC = static_env_params_from_size("s")
NUM_ACTION_DIMS = STATIC.num_motor_bindings + STATIC.num_thruster_bindings


def blind_get_obs(state: Any) -> Any:
    """The built-in blind observation of ``ENV_PARAMS`` (one-hot timestep)."""
    return jax.nn.one_hot(state.timestep, ENV_PARAMS.max_timesteps + 1)


def tiny_network(seed: int = 0) -> Any:
    return make_network(
        TINY_MODEL,
        BlindObservations(ENV_PARAMS, STATIC),
        "multi_discrete",
        ENV_PARAMS,
        STATIC,
        key=jax.random.PRNGKey(seed),
    )


def synthetic_batch(seed: int, b: int, t: int) -> dict[str, Any]:
    """A trajectory batch (B, T): timesteps 0..T-1 (+ a per-trajectory offset), actions that
    depend on the timestep (learnable), random valid-dim masks that differ per trajectory."""
    rng = np.random.default_rng(seed)
    empty = create_empty_env(STATIC)
    env_state = jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (b, t, *np.shape(x))), empty)
    timestep = (np.arange(t)[None, :] + rng.integers(0, 3, size=(b, 1))).astype(np.int32)
    env_state = env_state.replace(timestep=np.minimum(timestep, ENV_PARAMS.max_timesteps))
    action = np.stack(
        [(timestep + d) % (3 if d < 4 else 2) for d in range(NUM_ACTION_DIMS)], axis=-1
    ).astype(np.int32)
    action_mask = rng.random((b, t, NUM_ACTION_DIMS)) < 0.6
    action_mask[0, :, :] = False  # one trajectory with no valid dims at all
    mask = np.ones((b, t), dtype=bool)
    done = np.zeros((b, t), dtype=bool)
    done[:, 0] = True
    return {
        "action": action,
        "action_mask": action_mask,
        "mask": mask,
        "done": done,
        "env_state": env_state,
    }


class SyntheticLoader:
    """In-memory stand-in for ``TrajectoryDatasetManager``: batch ``k`` is
    ``synthetic_batch(seed + k)`` restricted to this shard's rows."""

    def __init__(
        self,
        batch_size: int,
        t: int = 4,
        seed: int = 0,
        shard_index: int = 0,
        total_shard_count: int = 1,
    ):
        self.global_batch = batch_size * total_shard_count
        self.batch_size, self.t, self.seed = batch_size, t, seed
        self.shard_index = shard_index
        self.cursor = 0

    def _rows(self, batch: dict[str, Any]) -> dict[str, Any]:
        lo = self.shard_index * self.batch_size
        return jax.tree.map(lambda x: np.asarray(x)[lo : lo + self.batch_size], batch)

    def load_next_batch(self) -> dict[str, Any]:
        batch = synthetic_batch(self.seed + self.cursor, self.global_batch, self.t)
        self.cursor += 1
        return self._rows(batch)

    @property
    def validation_batch(self) -> dict[str, Any]:
        return self._rows(synthetic_batch(10_000 + self.seed, self.global_batch, self.t))

    def state_dict(self) -> dict[str, Any]:
        return {"cursor": self.cursor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cursor = int(state["cursor"])
