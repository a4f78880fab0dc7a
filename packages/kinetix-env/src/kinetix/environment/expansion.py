"""Padding a level (or a batch of states) to larger static sizes.

Missing polygons, circles, joints and thrusters are appended as all-zero entries (inactive,
density 0, role 0, ``n_vertices`` 0, ``collision_mode`` 0), together with their per-entity extras.
Because circles follow polygons in the unified body index, joint ``a_index``/``b_index`` and
thruster ``object_index`` values that point at circles are shifted by the number of added
polygons. Contact manifolds are replaced by empty ones of the new size and the collision matrix is
recomputed from the joints. This matches the reference's ``expand_env_state``; in addition a level
with too many thrusters is rejected (the reference leaves them and produces a broken state) and
leading batch axes are supported.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2d.engine import calculate_collision_matrix, get_empty_collision_manifolds
from kinetix.environment.env_state import EnvState, StaticEnvParams

__all__ = ["LevelTooLargeError", "expand_env_state", "env_state_sizes", "max_static_env_params"]


class LevelTooLargeError(ValueError):
    """A state has more entities of some kind than the target static sizes allow."""


def env_state_sizes(env_state: EnvState) -> dict[str, int]:
    """``{"num_polygons", "num_circles", "num_joints", "num_thrusters"}`` of a (batched) state."""
    return {
        "num_polygons": int(np.shape(env_state.polygon_shape_roles)[-1]),
        "num_circles": int(np.shape(env_state.circle_shape_roles)[-1]),
        "num_joints": int(np.shape(env_state.motor_bindings)[-1]),
        "num_thrusters": int(np.shape(env_state.thruster_bindings)[-1]),
    }


def max_static_env_params(*statics: StaticEnvParams) -> StaticEnvParams:
    """Field-wise maximum of several static parameter sets (tuples compared element-wise)."""
    if not statics:
        raise ValueError("max_static_env_params needs at least one StaticEnvParams")

    def fmax(values: list[Any]) -> Any:
        if isinstance(values[0], tuple):
            return tuple(fmax(list(v)) for v in zip(*values, strict=True))
        return max(values)

    fields = dataclasses.fields(statics[0])
    return type(statics[0])(**{f.name: fmax([getattr(s, f.name) for s in statics]) for f in fields})


def _pad(tree: Any, n: int, axis: int) -> Any:
    if n == 0:
        return tree

    def pad_leaf(x: Any) -> jnp.ndarray:
        x = jnp.asarray(x)
        shape = x.shape[:axis] + (n,) + x.shape[axis + 1 :]
        return jnp.concatenate([x, jnp.zeros(shape, dtype=x.dtype)], axis=axis)

    return jax.tree.map(pad_leaf, tree)


def _collision_matrix(static: StaticEnvParams, joints: Any, batch: tuple[int, ...]) -> jnp.ndarray:
    if not batch:
        return calculate_collision_matrix(static, joints)
    flat = jax.tree.map(lambda x: jnp.reshape(x, (-1,) + x.shape[len(batch) :]), joints)
    cm = jax.vmap(partial(calculate_collision_matrix, static))(flat)
    return cm.reshape(batch + cm.shape[1:])


def _remap_collision_matrix(old: jnp.ndarray, p_old: int, p_new: int, n_new: int) -> jnp.ndarray:
    n_old = old.shape[-1]
    where = np.concatenate([np.arange(p_old), p_new + np.arange(n_old - p_old)])
    new = jnp.broadcast_to(~jnp.eye(n_new, dtype=bool), old.shape[:-2] + (n_new, n_new))
    return new.at[..., where[:, None], where[None, :]].set(old)


def expand_env_state(
    env_state: EnvState,
    static_env_params: StaticEnvParams,
    ignore_collision_matrix: bool = False,
) -> EnvState:
    """Pad ``env_state`` (optionally with leading batch axes) to ``static_env_params``' sizes.

    Args:
        env_state: a state whose entity counts are at most the target's.
        static_env_params: the target sizes.
        ignore_collision_matrix: keep the state's collision matrix (re-indexed for the added
            polygons, new bodies colliding with everything) instead of recomputing it.

    Raises:
        LevelTooLargeError: some entity count exceeds the target.
    """
    s = static_env_params
    have = env_state_sizes(env_state)
    too_big = [k for k, n in have.items() if n > getattr(s, k)]
    if too_big:
        detail = ", ".join(
            f"{k}: level has {have[k]}, target allows {getattr(s, k)}" for k in too_big
        )
        raise LevelTooLargeError(f"level does not fit the target static_env_params ({detail})")
    batch = tuple(np.shape(env_state.polygon_shape_roles)[:-1])
    ax = len(batch)
    dp = s.num_polygons - have["num_polygons"]
    dc = s.num_circles - have["num_circles"]
    dj = s.num_joints - have["num_joints"]
    dt = s.num_thrusters - have["num_thrusters"]

    joint = _pad(env_state.joint, dj, ax)
    thruster = _pad(env_state.thruster, dt, ax)
    p_old = have["num_polygons"]

    def shift(idx: jnp.ndarray) -> jnp.ndarray:
        return jnp.where(idx >= p_old, idx + dp, idx)

    if dp:
        joint = joint.replace(a_index=shift(joint.a_index), b_index=shift(joint.b_index))
        thruster = thruster.replace(object_index=shift(thruster.object_index))

    rr, cr, cc = jax.tree.map(
        lambda x: jnp.broadcast_to(x, batch + x.shape), get_empty_collision_manifolds(s)
    )
    if ignore_collision_matrix:
        cm = _remap_collision_matrix(
            jnp.asarray(env_state.collision_matrix),
            p_old,
            s.num_polygons,
            s.num_polygons + s.num_circles,
        )
    else:
        cm = _collision_matrix(s, joint, batch)

    return env_state.replace(
        polygon=_pad(env_state.polygon, dp, ax),
        polygon_shape_roles=_pad(env_state.polygon_shape_roles, dp, ax),
        polygon_highlighted=_pad(env_state.polygon_highlighted, dp, ax),
        polygon_densities=_pad(env_state.polygon_densities, dp, ax),
        circle=_pad(env_state.circle, dc, ax),
        circle_shape_roles=_pad(env_state.circle_shape_roles, dc, ax),
        circle_highlighted=_pad(env_state.circle_highlighted, dc, ax),
        circle_densities=_pad(env_state.circle_densities, dc, ax),
        joint=joint,
        motor_bindings=_pad(env_state.motor_bindings, dj, ax),
        motor_auto=_pad(env_state.motor_auto, dj, ax),
        thruster=thruster,
        thruster_bindings=_pad(env_state.thruster_bindings, dt, ax),
        collision_matrix=cm,
        acc_rr_manifolds=rr,
        acc_cr_manifolds=cr,
        acc_cc_manifolds=cc,
    )
