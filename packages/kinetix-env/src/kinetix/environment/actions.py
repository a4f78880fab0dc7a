"""Action spaces and their conversion to engine commands.

Every action type first builds a per-binding vector ``a`` of length ``NMB + NTB`` (motor channels,
then thruster channels) and then expands it to the engine's per-entity command of length
``J + T``: ``motor_j = clip(a[motor_bindings[j]], -1, 1)`` (forced to +1 where ``motor_auto``)
and ``thrust_t = clip(a[NMB + thruster_bindings[t]], 0, 1)``.

* continuous: ``a`` is the action itself, shape ``(NMB + NTB,)``.
* discrete: one integer in ``[0, 2 NMB + 1 + NTB)``: ``2m`` sets motor channel ``m`` to -1,
  ``2m + 1`` to +1, ``2 NMB`` is the no-op, ``2 NMB + 1 + t`` fires thruster channel ``t``.
* multi-discrete: one integer per channel; motors ``0 -> 0, 1 -> +1, 2 -> -1``, thrusters
  ``0 -> 0, 1 -> 1``.
"""

from __future__ import annotations

from enum import Enum
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.spaces import Box, Discrete, MultiDiscrete

__all__ = [
    "ActionType",
    "KinetixAction",
    "ContinuousActions",
    "DiscreteActions",
    "MultiDiscreteActions",
    "action_class",
    "expand_binding_actions",
    "convert_continuous_actions",
    "convert_discrete_actions",
    "convert_multi_discrete_actions",
    "valid_binding_mask",
    "get_valid_action_mask",
]


class ActionType(Enum):
    """The three action spaces."""

    CONTINUOUS = 0
    DISCRETE = 1
    MULTI_DISCRETE = 2

    @staticmethod
    def from_string(s: str) -> ActionType:
        """``"continuous"``, ``"discrete"`` or ``"multi_discrete"`` to the enum."""
        table = {
            "continuous": ActionType.CONTINUOUS,
            "discrete": ActionType.DISCRETE,
            "multi_discrete": ActionType.MULTI_DISCRETE,
        }
        if s not in table:
            raise ValueError(f"unknown action type {s!r}; expected one of {sorted(table)}")
        return table[s]


def expand_binding_actions(
    binding_actions: jnp.ndarray, state: EnvState, static_env_params: StaticEnvParams
) -> jnp.ndarray:
    """Per-binding ``(NMB + NTB,)`` actions to the engine's per-entity ``(J + T,)`` command."""
    nmb = static_env_params.num_motor_bindings
    a = jnp.asarray(binding_actions, dtype=jnp.float32)
    motor = jnp.clip(a[:nmb][state.motor_bindings], -1.0, 1.0)
    motor = jnp.where(state.motor_auto, 1.0, motor)
    thrust = jnp.clip(a[nmb:][state.thruster_bindings], 0.0, 1.0)
    return jnp.concatenate([motor, thrust], axis=0)


def _discrete_to_bindings(action: jnp.ndarray, static_env_params: StaticEnvParams) -> jnp.ndarray:
    nmb, ntb = static_env_params.num_motor_bindings, static_env_params.num_thruster_bindings
    action = jnp.asarray(action, dtype=jnp.int32)
    sign = ((action % 2) * 2 - 1).astype(jnp.float32)
    a = jnp.zeros(nmb + ntb, dtype=jnp.float32).at[action // 2].set(sign)
    a = a * (action < 2 * nmb)
    fired = a.at[action - 2 * nmb - 1 + nmb].set(1.0)
    return jnp.where(action > 2 * nmb, fired, a)


def _multi_discrete_to_bindings(
    action: jnp.ndarray, static_env_params: StaticEnvParams
) -> jnp.ndarray:
    nmb = static_env_params.num_motor_bindings
    action = jnp.asarray(action, dtype=jnp.int32)
    code = jnp.clip(action[:nmb], 0, 2)
    motor = jnp.where(code == 1, 1.0, jnp.where(code == 2, -1.0, 0.0))
    thrust = jnp.where(action[nmb:] == 0, 0.0, 1.0)
    return jnp.concatenate([motor, thrust]).astype(jnp.float32)


@partial(jax.jit, static_argnums=(2,))
def convert_continuous_actions(
    action: jnp.ndarray,
    state: EnvState,
    static_env_params: StaticEnvParams,
    env_params: EnvParams | None = None,
) -> jnp.ndarray:
    """Continuous ``(NMB + NTB,)`` action to the ``(J + T,)`` engine command."""
    return expand_binding_actions(action, state, static_env_params)


@partial(jax.jit, static_argnums=(2,))
def convert_discrete_actions(
    action: jnp.ndarray,
    state: EnvState,
    static_env_params: StaticEnvParams,
    env_params: EnvParams | None = None,
) -> jnp.ndarray:
    """Discrete (scalar int) action to the ``(J + T,)`` engine command."""
    binding = _discrete_to_bindings(action, static_env_params)
    return expand_binding_actions(binding, state, static_env_params)


@partial(jax.jit, static_argnums=(2,))
def convert_multi_discrete_actions(
    action: jnp.ndarray,
    state: EnvState,
    static_env_params: StaticEnvParams,
    env_params: EnvParams | None = None,
) -> jnp.ndarray:
    """Multi-discrete ``(NMB + NTB,)`` int action to the ``(J + T,)`` engine command."""
    binding = _multi_discrete_to_bindings(action, static_env_params)
    return expand_binding_actions(binding, state, static_env_params)


def valid_binding_mask(state: EnvState, static_env_params: StaticEnvParams) -> jnp.ndarray:
    """``(NMB + NTB,)`` bool: which action channels can affect the scene.

    Motor channel ``m`` is valid iff some active, non-fixed joint is bound to it (``motor_on`` is
    not checked, as in the reference); thruster channel ``t`` iff some active thruster is bound to
    it. Works on one state; ``jax.vmap`` it for batches.
    """
    nmb, ntb = static_env_params.num_motor_bindings, static_env_params.num_thruster_bindings
    motor_ok = jnp.logical_and(state.joint.active, jnp.logical_not(state.joint.is_fixed_joint))
    motor = jnp.zeros(nmb, bool).at[state.motor_bindings].max(motor_ok, mode="drop")
    thrust = (
        jnp.zeros(ntb, bool).at[state.thruster_bindings].max(state.thruster.active, mode="drop")
    )
    return jnp.concatenate([motor, thrust])


@partial(jax.jit, static_argnums=(1,))
def get_valid_action_mask(
    env_state: Any, static_env_params: StaticEnvParams, action: jnp.ndarray
) -> jnp.ndarray:
    """Batched per-channel mask with the reference's signature (``kinetix.data.bc_utils``).

    Args:
        env_state: a batch of states (leading axis B), or a wrapper with an ``env_state`` field.
        static_env_params: static sizes.
        action: ``(B, NMB + NTB)`` actions; only the shape is used.

    Returns:
        ``(B, NMB + NTB)`` bool.
    """
    if hasattr(env_state, "env_state"):
        env_state = env_state.env_state
    if action.ndim != 2:
        raise ValueError(f"action must be (batch, {action.shape[-1]}), got shape {action.shape}")
    return jax.vmap(valid_binding_mask, in_axes=(0, None))(env_state, static_env_params)


class KinetixAction:
    """Base class of the action types.

    Args:
        env_params: environment parameters (kept for the reference's interface).
        static_env_params: static sizes (binding counts define the action shape).
    """

    def __init__(self, env_params: EnvParams, static_env_params: StaticEnvParams):
        self.env_params = env_params
        self.static_env_params = static_env_params
        self.unified_action_space_size = (
            static_env_params.num_motor_bindings + static_env_params.num_thruster_bindings
        )

    def action_space(self, env_params: EnvParams | None = None) -> Any:
        """The gymnax-style space of raw actions."""
        raise NotImplementedError

    def process_action(
        self, action: jnp.ndarray, state: EnvState, static_env_params: StaticEnvParams
    ) -> jnp.ndarray:
        """Raw action to the ``(J + T,)`` engine command."""
        raise NotImplementedError

    def noop_action(self) -> Any:
        """The action that does nothing."""
        raise NotImplementedError

    def random_action(self, rng: jax.Array) -> jnp.ndarray:
        """A uniformly random valid action."""
        raise NotImplementedError

    def valid_action_mask(self, state: EnvState) -> jnp.ndarray:
        """Bool mask, in this action type's layout, of the actions that can affect the scene."""
        raise NotImplementedError


class ContinuousActions(KinetixAction):
    """``Box(-1, 1, (NMB + NTB,))``; thruster entries are clipped to ``[0, 1]``."""

    def action_space(self, env_params: EnvParams | None = None) -> Box:
        n = self.unified_action_space_size
        return Box(low=jnp.ones(n) * -1.0, high=jnp.ones(n) * 1.0, shape=(n,))

    def process_action(self, action, state, static_env_params):
        return convert_continuous_actions(action, state, static_env_params, self.env_params)

    def noop_action(self) -> jnp.ndarray:
        return jnp.zeros(self.unified_action_space_size, dtype=jnp.float32)

    def random_action(self, rng: jax.Array) -> jnp.ndarray:
        nmb = self.static_env_params.num_motor_bindings
        a = jax.random.uniform(rng, (self.unified_action_space_size,), minval=-1.0, maxval=1.0)
        return a.at[nmb:].set(jnp.abs(a[nmb:]))

    def valid_action_mask(self, state: EnvState) -> jnp.ndarray:
        return valid_binding_mask(state, self.static_env_params)


class DiscreteActions(KinetixAction):
    """``Discrete(2 NMB + 1 + NTB)``: one motor direction, the no-op, or one thruster."""

    def __init__(self, env_params: EnvParams, static_env_params: StaticEnvParams):
        super().__init__(env_params, static_env_params)
        nmb, ntb = static_env_params.num_motor_bindings, static_env_params.num_thruster_bindings
        self._n_actions = 2 * nmb + 1 + ntb

    def action_space(self, env_params: EnvParams | None = None) -> Discrete:
        return Discrete(self._n_actions)

    def process_action(self, action, state, static_env_params):
        return convert_discrete_actions(action, state, static_env_params, self.env_params)

    def noop_action(self) -> int:
        return 2 * self.static_env_params.num_motor_bindings

    def random_action(self, rng: jax.Array) -> jnp.ndarray:
        return jax.random.randint(rng, shape=(), minval=0, maxval=self._n_actions)

    def valid_action_mask(self, state: EnvState) -> jnp.ndarray:
        """``(2 NMB + 1 + NTB,)``: both directions of a valid motor channel, the no-op (always),
        each valid thruster channel."""
        nmb = self.static_env_params.num_motor_bindings
        channels = valid_binding_mask(state, self.static_env_params)
        motors = jnp.repeat(channels[:nmb], 2)
        return jnp.concatenate([motors, jnp.ones(1, bool), channels[nmb:]])


class MultiDiscreteActions(KinetixAction):
    """One categorical per channel: 3 choices per motor, 2 per thruster."""

    def __init__(self, env_params: EnvParams, static_env_params: StaticEnvParams):
        super().__init__(env_params, static_env_params)
        nmb, ntb = static_env_params.num_motor_bindings, static_env_params.num_thruster_bindings
        self.n_hot_action_space_size = 3 * nmb + 2 * ntb
        self.number_of_dims_per_distribution = jnp.asarray(
            np.array([3] * nmb + [2] * ntb, dtype=np.int32)
        )

    def action_space(self, env_params: EnvParams | None = None) -> MultiDiscrete:
        return MultiDiscrete(self.n_hot_action_space_size, self.number_of_dims_per_distribution)

    def process_action(self, action, state, static_env_params):
        return convert_multi_discrete_actions(action, state, static_env_params, self.env_params)

    def noop_action(self) -> jnp.ndarray:
        return jnp.zeros(self.unified_action_space_size, dtype=jnp.int32)

    def random_action(self, rng: jax.Array) -> jnp.ndarray:
        return jax.random.randint(
            rng,
            shape=(self.unified_action_space_size,),
            minval=jnp.zeros(self.unified_action_space_size, jnp.int32),
            maxval=self.number_of_dims_per_distribution,
        )

    def valid_action_mask(self, state: EnvState) -> jnp.ndarray:
        return valid_binding_mask(state, self.static_env_params)


_ACTION_CLASSES: dict[ActionType, type[KinetixAction]] = {
    ActionType.CONTINUOUS: ContinuousActions,
    ActionType.DISCRETE: DiscreteActions,
    ActionType.MULTI_DISCRETE: MultiDiscreteActions,
}


def action_class(action_type: ActionType | str) -> type[KinetixAction]:
    """The :class:`KinetixAction` subclass of an :class:`ActionType` (or its string name)."""
    if isinstance(action_type, str):
        action_type = ActionType.from_string(action_type)
    if action_type not in _ACTION_CLASSES:
        raise ValueError(
            f"invalid action_type {action_type!r}; expected one of "
            "ActionType.CONTINUOUS, ActionType.DISCRETE, ActionType.MULTI_DISCRETE"
        )
    return _ACTION_CLASSES[action_type]
