"""Which multi-discrete action dimensions can affect a level (the stored ``action_mask``).

For joints ``i`` (bound to motor channel ``motor_bindings[i]``) and thrusters ``k`` (bound to
thruster channel ``thruster_bindings[k]``):

* motor channel ``m`` is valid iff some joint with ``motor_bindings[i] == m`` is active and not a
  fixed joint (``motor_auto`` joints still count);
* thruster channel ``h`` is valid iff some active thruster has ``thruster_bindings[k] == h``.

The numpy version here works on any leading shape (``(B, T)`` trajectory batches included) without
compiling anything; the JAX version with the reference's signature is
:func:`kinetix.environment.get_valid_action_mask`, re-exported for convenience.
"""

from __future__ import annotations

import numpy as np

from kinetix.environment import StaticEnvParams, get_valid_action_mask

__all__ = ["valid_action_mask_np", "get_valid_action_mask"]


def valid_action_mask_np(env_state, static_env_params: StaticEnvParams) -> np.ndarray:
    """``(*lead, num_motor_bindings + num_thruster_bindings)`` bool mask of a batch of states.

    Args:
        env_state: an ``EnvState`` whose leaves have any leading shape ``lead``.
        static_env_params: gives the number of motor and thruster channels.

    Example:
        >>> from kinetix.environment import create_empty_env, static_env_params_from_size
        >>> s = static_env_params_from_size("s")
        >>> valid_action_mask_np(create_empty_env(s), s).tolist()   # no active joints/thrusters
        [False, False, False, False, False, False]
    """
    nmb = static_env_params.num_motor_bindings
    ntb = static_env_params.num_thruster_bindings
    joint_ok = np.logical_and(
        np.asarray(env_state.joint.active),
        np.logical_not(np.asarray(env_state.joint.is_fixed_joint)),
    )
    motor_bind = np.asarray(env_state.motor_bindings)[..., :, None] == np.arange(nmb)
    motor = np.any(motor_bind & joint_ok[..., :, None], axis=-2)
    thr_bind = np.asarray(env_state.thruster_bindings)[..., :, None] == np.arange(ntb)
    thrust = np.any(thr_bind & np.asarray(env_state.thruster.active)[..., :, None], axis=-2)
    return np.concatenate([motor, thrust], axis=-1)
