"""``KinetixEnv``: the gymnax-style environment (reset, step, auto-reset, frame skip, rewards).

One env step (``step``):

1. the raw action becomes a ``(J + T,)`` engine command (:mod:`kinetix.environment.actions`);
2. ``frame_skip`` physics substeps run (all of them, even after a terminal contact), each scored by
   :func:`kinetix.environment.reward.compute_reward_info`;
3. ``timestep += 1``; the reward is the first terminal substep's (±1) or else 0, and ``info`` is
   that substep's (or the last one's);
4. ``done`` = terminal contact, or a NaN anywhere in the state, or ``timestep >= max_timesteps``;
5. dense shaping ``dense_reward_scale * (last_distance - distance)`` is added unless this is the
   episode's first step (``last_distance == -1``); ``last_distance`` becomes ``distance``, or -1
   when done;
6. with ``auto_reset`` a done episode is replaced by the reset state (``override_reset_state`` if
   given, else ``reset_fn(key)``) and its observation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from jax2d.engine import PhysicsEngine
from kinetix.environment.actions import ActionType, KinetixAction, action_class
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.observations import (
    KinetixObservation,
    ObservationFactory,
    ObservationType,
    resolve_observation,
)
from kinetix.environment.reward import compute_reward_info
from kinetix.environment.utils import create_empty_env

__all__ = ["KinetixEnv", "KinetixDummyEnv", "make_kinetix_env", "state_has_nan"]

ResetFn = Callable[[jax.Array], EnvState]


def state_has_nan(state: Any) -> jnp.ndarray:
    """Scalar bool: whether any floating leaf of ``state`` contains a NaN."""
    flags = [
        jnp.isnan(x).any()
        for x in jax.tree.leaves(state)
        if jnp.issubdtype(jnp.result_type(x), jnp.floating)
    ]
    return jnp.any(jnp.stack(flags)) if flags else jnp.asarray(False)


def _engine_key(engine: Any) -> Any:
    """Identity of a physics engine for jit caching: its ``hash_key()`` if it has one, else its
    type (engines built from the same static params are interchangeable)."""
    key = getattr(engine, "hash_key", None)
    return key() if callable(key) else type(engine).__qualname__


def _cast_like(tree: Any, like: Any) -> Any:
    """``tree`` with every leaf cast to the dtype of the matching leaf of ``like``."""
    return jax.tree.map(lambda a, b: jnp.asarray(a, dtype=jnp.result_type(b)), tree, like)


class KinetixEnv:
    """The Kinetix environment.

    Args:
        action_type: a :class:`~kinetix.environment.actions.KinetixAction` instance.
        observation_type: a :class:`~kinetix.environment.observations.KinetixObservation`.
        static_env_params: static sizes (shared with the physics engine).
        reset_function: ``rng -> EnvState`` giving the start of each episode, or None (then every
            ``reset``/auto-reset needs ``override_reset_state``).
        physics_engine: defaults to ``PhysicsEngine(static_env_params)``.
        auto_reset: replace finished episodes by a reset state inside ``step``.

    The env is a static argument of its jitted methods: it hashes and compares by static params,
    action class, observation ``hash_key()``, reset function, ``auto_reset`` and the engine's
    ``hash_key()`` (or its type).
    """

    def __init__(
        self,
        action_type: KinetixAction,
        observation_type: KinetixObservation,
        static_env_params: StaticEnvParams,
        reset_function: ResetFn | None = None,
        physics_engine: PhysicsEngine | None = None,
        auto_reset: bool = True,
    ):
        self.static_env_params = static_env_params
        self.action_type = action_type
        self.observation_type = observation_type
        self.physics_engine = physics_engine or PhysicsEngine(static_env_params)
        self.reset_function = reset_function
        self.auto_reset = auto_reset

    # ------------------------------------------------------------------ identity (jit static)

    def _identity(self) -> tuple:
        return (
            type(self).__name__,
            self.static_env_params,
            type(self.action_type).__name__,
            self.observation_type.hash_key(),
            self.reset_function,
            self.auto_reset,
            _engine_key(self.physics_engine),
        )

    def __hash__(self) -> int:
        return hash(self._identity())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KinetixEnv) and self._identity() == other._identity()

    # ------------------------------------------------------------------ gymnax API

    @property
    def name(self) -> str:
        return "Kinetix"

    @property
    def default_params(self) -> EnvParams:
        """``EnvParams()`` (class defaults), used when a method gets ``env_params=None``."""
        return EnvParams()

    @staticmethod
    def default_static_params() -> StaticEnvParams:
        return StaticEnvParams()

    def action_space(self, env_params: EnvParams | None = None) -> Any:
        return self.action_type.action_space(env_params)

    def observation_space(self, env_params: EnvParams | None = None) -> Any:
        return self.observation_type.observation_space(env_params or self.default_params)

    def get_obs(self, state: EnvState) -> Any:
        return self.observation_type.get_obs(state)

    def valid_action_mask(self, state: EnvState) -> jnp.ndarray:
        """The action type's mask of actions that can affect ``state`` (see ``actions``)."""
        return self.action_type.valid_action_mask(state)

    @partial(jax.jit, static_argnums=(0,))
    def reset(
        self,
        key: jax.Array,
        env_params: EnvParams | None = None,
        override_reset_state: EnvState | None = None,
    ) -> tuple[Any, EnvState]:
        """Start an episode: ``override_reset_state`` if given, else ``reset_fn(key)``.

        The state is returned as is (normally ``timestep`` 0 and ``last_distance`` -1).
        """
        if env_params is None:
            env_params = self.default_params
        return self.reset_env(key, env_params, override_reset_state)

    @partial(jax.jit, static_argnums=(0,))
    def step(
        self,
        key: jax.Array,
        state: EnvState,
        action: Any,
        env_params: EnvParams | None = None,
        override_reset_state: EnvState | None = None,
    ) -> tuple[Any, EnvState, jnp.ndarray, jnp.ndarray, dict[str, jnp.ndarray]]:
        """One env step with auto-reset: ``(obs, state, reward, done, info)``.

        ``info`` is ``{"GoalR": bool, "distance": float32}``. When ``done`` and ``auto_reset``,
        ``obs``/``state`` are those of the reset state, while reward and info are the final step's.
        """
        if env_params is None:
            env_params = self.default_params
        key, key_reset = jax.random.split(key)
        obs, state, reward, done, info = self.step_env(key, state, action, env_params)
        if self.auto_reset:

            def _reset(_):
                obs_r, state_r = self.reset_env(key_reset, env_params, override_reset_state)
                return _cast_like((obs_r, state_r), (obs, state))

            obs, state = jax.lax.cond(done, _reset, lambda _: (obs, state), None)
        return obs, state, reward, done, info

    def step_env(
        self, key: jax.Array, state: EnvState, action: Any, env_params: EnvParams
    ) -> tuple[Any, EnvState, jnp.ndarray, jnp.ndarray, dict[str, jnp.ndarray]]:
        """One env step without auto-reset."""
        command = self.action_type.process_action(action, state, self.static_env_params)
        return self.engine_step(state, command, env_params)

    def reset_env(
        self, key: jax.Array, env_params: EnvParams, override_reset_state: EnvState | None
    ) -> tuple[Any, EnvState]:
        """The reset state and its observation (not jitted)."""
        _, key_reset = jax.random.split(key)
        if override_reset_state is not None:
            state = override_reset_state
        elif self.reset_function is not None:
            state = self.reset_function(key_reset)
        else:
            raise ValueError(
                "KinetixEnv has no reset function: pass reset_fn to make_kinetix_env or "
                "override_reset_state to reset/step"
            )
        return self.get_obs(state), state

    @partial(jax.jit, static_argnums=(0,))
    def engine_step(
        self, env_state: EnvState, action_to_perform: jnp.ndarray, env_params: EnvParams
    ) -> tuple[Any, EnvState, jnp.ndarray, jnp.ndarray, dict[str, jnp.ndarray]]:
        """Run ``frame_skip`` physics substeps with an engine command; score and finish the step."""
        engine = self.physics_engine

        def substep(s, _):
            s, manifolds = engine.step(s, env_params, action_to_perform)
            reward, info = self.compute_reward_info(s, manifolds)
            return s, (reward, reward != 0, info)

        env_state, (rewards, dones, infos) = jax.lax.scan(
            substep, env_state, xs=None, length=self.static_env_params.frame_skip
        )
        env_state = env_state.replace(timestep=env_state.timestep + 1)

        any_done = jnp.any(dones)
        first = jnp.argmax(dones)
        reward = jnp.where(any_done, rewards[first], rewards.sum())
        info = jax.tree.map(lambda x: jnp.where(any_done, x[first], x[-1]), infos)

        done = any_done | state_has_nan(env_state)
        done = done | (env_state.timestep >= env_params.max_timesteps)

        # Dense shaping: positive when green and blue got closer; none on the first step.
        last = env_state.last_distance
        delta = -(info["distance"] - last) * env_params.dense_reward_scale
        delta = jnp.nan_to_num(delta, nan=0.0, posinf=0.0, neginf=0.0)
        no_shaping = (last == -1) | (env_params.dense_reward_scale == 0.0)
        reward = (reward + jnp.where(no_shaping, 0.0, delta)).astype(jnp.float32)

        new_last = jnp.where(done, -1.0, info["distance"]).astype(jnp.result_type(last))
        env_state = env_state.replace(last_distance=new_last)
        return (
            jax.lax.stop_gradient(self.get_obs(env_state)),
            jax.lax.stop_gradient(env_state),
            reward,
            done,
            info,
        )

    def compute_reward_info(
        self, state: EnvState, manifolds: tuple[Any, Any, Any]
    ) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
        """Reward and info of one substep (see :mod:`kinetix.environment.reward`)."""
        e = self.physics_engine
        return compute_reward_info(
            state, manifolds, e.poly_poly_pairs, e.circle_poly_pairs, e.circle_circle_pairs
        )


class KinetixDummyEnv(KinetixEnv):
    """A no-op env that compiles fast: ``step`` keeps the state, reward 0, never done."""

    def step_env(self, key, state, action, env_params):
        info = {"GoalR": jnp.asarray(False), "distance": jnp.asarray(0.0, jnp.float32)}
        return (
            jax.lax.stop_gradient(self.get_obs(state)),
            jax.lax.stop_gradient(state),
            jnp.asarray(0.0, jnp.float32),
            jnp.asarray(False),
            info,
        )

    def reset_env(self, key, env_params, override_reset_state):
        if override_reset_state is not None:
            state = override_reset_state
        elif self.reset_function is not None:
            state = create_empty_env(self.static_env_params)
        else:
            raise ValueError("KinetixDummyEnv has no reset function and no override_reset_state")
        return self.get_obs(state), state


def make_kinetix_env(
    action_type: ActionType | str,
    observation_type: ObservationType | str | KinetixObservation | ObservationFactory,
    reset_fn: ResetFn | None,
    env_params: EnvParams | None = None,
    static_env_params: StaticEnvParams | None = None,
    auto_reset: bool = True,
    create_dummy_env: bool = False,
    physics_numerics: str = "exact",
) -> KinetixEnv:
    """Build a :class:`KinetixEnv`.

    Args:
        action_type: ``ActionType`` (or ``"continuous"``, ``"discrete"``, ``"multi_discrete"``).
        observation_type: an ``ObservationType`` or registered name, resolved through the
            ``kinetix.observations`` entry points (``"blind"`` is built in; the others come with
            ``pip install kinetix-render``), or an observation object or factory.
        reset_fn: ``rng -> EnvState`` giving each episode's start, or None.
        env_params: passed to the action and observation constructors; defaults to
            ``EnvParams()``. Note that ``step``/``reset`` still default to ``EnvParams()`` when
            called without ``env_params``, as in the reference.
        static_env_params: defaults to ``StaticEnvParams()`` (not a size preset).
        auto_reset: reset finished episodes inside ``step``.
        create_dummy_env: build a :class:`KinetixDummyEnv` instead.
        physics_numerics: the engine's ``numerics``: ``"exact"`` (default) reproduces the
            reference's trajectories (replaying recorded states and data); ``"fast"`` is
            1.4-1.6x faster physics on jax 0.10 (default compile options) that differs from the
            reference in the last bits (see :class:`jax2d.engine.PhysicsEngine`).

    Raises:
        KeyError: the observation type is not registered.
        ValueError: unknown action type or ``physics_numerics``.
    """
    env_params = EnvParams() if env_params is None else env_params
    static_env_params = StaticEnvParams() if static_env_params is None else static_env_params
    actions = action_class(action_type)(env_params, static_env_params)
    obs = resolve_observation(observation_type, env_params, static_env_params)
    env_cls = KinetixDummyEnv if create_dummy_env else KinetixEnv
    return env_cls(
        action_type=actions,
        observation_type=obs,
        static_env_params=static_env_params,
        reset_function=reset_fn,
        physics_engine=PhysicsEngine(static_env_params, numerics=physics_numerics),
        auto_reset=auto_reset,
    )
