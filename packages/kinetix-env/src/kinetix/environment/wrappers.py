"""Gymnax-style wrappers: ``LogWrapper`` records episode returns and lengths."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from jax2d._pytree import pytree_dataclass

__all__ = ["GymnaxWrapper", "LogEnvState", "LogWrapper"]


class GymnaxWrapper:
    """Base wrapper: unknown attributes are looked up on the wrapped env."""

    def __init__(self, env: Any):
        self._env = env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


@pytree_dataclass
class LogEnvState:
    """Env state plus running and finished-episode statistics.

    Attributes:
        env_state: the wrapped env's state.
        episode_returns, episode_lengths: running sums of the current episode.
        returned_episode_returns, returned_episode_lengths: those of the last finished episode.
        timestep: total steps taken through this wrapper.
    """

    env_state: Any
    episode_returns: jnp.ndarray
    episode_lengths: jnp.ndarray
    returned_episode_returns: jnp.ndarray
    returned_episode_lengths: jnp.ndarray
    timestep: jnp.ndarray


class LogWrapper(GymnaxWrapper):
    """Accumulate episode return/length; adds ``returned_episode_*``, ``returned_episode_solved``
    (the final step's ``GoalR``), ``timestep`` and ``returned_episode`` (= done) to ``info``."""

    @partial(jax.jit, static_argnums=(0,))
    def reset(
        self, key: jax.Array, env_params: Any = None, override_reset_state: Any = None
    ) -> tuple[Any, LogEnvState]:
        if isinstance(override_reset_state, LogEnvState):
            override_reset_state = override_reset_state.env_state
        obs, env_state = self._env.reset(key, env_params, override_reset_state)
        zf, zi = jnp.asarray(0.0, jnp.float32), jnp.asarray(0, jnp.int32)
        return obs, LogEnvState(env_state, zf, zi, zf, zi, zi)

    @partial(jax.jit, static_argnums=(0,))
    def step(
        self,
        key: jax.Array,
        state: LogEnvState,
        action: Any,
        env_params: Any = None,
        override_reset_state: Any = None,
    ) -> tuple[Any, LogEnvState, jnp.ndarray, jnp.ndarray, dict[str, Any]]:
        if isinstance(override_reset_state, LogEnvState):
            override_reset_state = override_reset_state.env_state
        obs, env_state, reward, done, info = self._env.step(
            key, state.env_state, action, env_params, override_reset_state
        )
        ret = state.episode_returns + reward
        length = state.episode_lengths + 1
        state = LogEnvState(
            env_state=env_state,
            episode_returns=jnp.where(done, 0.0, ret).astype(jnp.float32),
            episode_lengths=jnp.where(done, 0, length).astype(jnp.int32),
            returned_episode_returns=jnp.where(done, ret, state.returned_episode_returns).astype(
                jnp.float32
            ),
            returned_episode_lengths=jnp.where(done, length, state.returned_episode_lengths).astype(
                jnp.int32
            ),
            timestep=state.timestep + 1,
        )
        info = dict(info)
        info["returned_episode_returns"] = state.returned_episode_returns
        info["returned_episode_lengths"] = state.returned_episode_lengths
        info["returned_episode_solved"] = info["GoalR"]
        info["timestep"] = state.timestep
        info["returned_episode"] = done
        return obs, state, reward, done, info

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._env))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LogWrapper) and self._env == other._env
