"""Building blocks on ``EnvState``: the empty arena, size presets, entity permutation.

Action conversion helpers (``convert_*_actions``) live in :mod:`kinetix.environment.actions` and
are re-exported here under their reference names.
"""

from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from jax2d.engine import calculate_collision_matrix, create_empty_sim
from kinetix.environment.actions import (
    convert_continuous_actions,
    convert_discrete_actions,
    convert_multi_discrete_actions,
)
from kinetix.environment.env_state import EnvState, StaticEnvParams

__all__ = [
    "SIZE_PRESETS",
    "create_empty_env",
    "static_env_params_from_size",
    "permute_state",
    "state_fields",
    "convert_continuous_actions",
    "convert_discrete_actions",
    "convert_multi_discrete_actions",
]

#: Entity counts and frame skip of the ``s``/``m``/``l`` presets (``num_polygons`` includes the
#: four arena slots). Every other static field keeps its class default.
SIZE_PRESETS: dict[str, dict[str, int]] = {
    "s": dict(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1),
    "m": dict(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2),
    "l": dict(num_polygons=12, num_circles=4, num_joints=6, num_thrusters=2),
}
_PRESET_COMMON = dict(num_motor_bindings=4, num_thruster_bindings=2, frame_skip=2)


def state_fields(state: Any) -> dict[str, Any]:
    """The dataclass fields of ``state`` as a ``{name: value}`` dict (shallow, in field order)."""
    return {f.name: getattr(state, f.name) for f in dataclasses.fields(state)}


@partial(jax.jit, static_argnums=(0,))
def create_empty_env(static_env_params: StaticEnvParams) -> EnvState:
    """The empty arena of the given size.

    Slots 0..3 are the active static floor, walls and ceiling; every other entity is inactive.
    Roles 0, densities 1, bindings 0, ``motor_auto`` False, ``timestep`` 0, ``last_distance`` -1.
    """
    s = static_env_params
    sim = create_empty_sim(s)
    return EnvState(
        **state_fields(sim),
        thruster_bindings=jnp.zeros(s.num_thrusters, dtype=jnp.int32),
        motor_bindings=jnp.zeros(s.num_joints, dtype=jnp.int32),
        motor_auto=jnp.zeros(s.num_joints, dtype=bool),
        polygon_shape_roles=jnp.zeros(s.num_polygons, dtype=jnp.int32),
        circle_shape_roles=jnp.zeros(s.num_circles, dtype=jnp.int32),
        polygon_highlighted=jnp.zeros(s.num_polygons, dtype=bool),
        circle_highlighted=jnp.zeros(s.num_circles, dtype=bool),
        polygon_densities=jnp.ones(s.num_polygons, dtype=jnp.float32),
        circle_densities=jnp.ones(s.num_circles, dtype=jnp.float32),
        timestep=jnp.asarray(0, dtype=jnp.int32),
        last_distance=jnp.asarray(-1.0, dtype=jnp.float32),
    )


def static_env_params_from_size(
    size: str, return_dict: bool = False
) -> StaticEnvParams | tuple[StaticEnvParams, dict[str, int]]:
    """The static parameters of a size preset.

    Args:
        size: ``"s"`` (5 polygons incl. the arena, 2 circles, 1 joint, 1 thruster), ``"m"``
            (6, 3, 2, 2) or ``"l"`` (12, 4, 6, 2). All presets use 4 motor and 2 thruster bindings,
            ``frame_skip=2`` and ``downscale=4``.
        return_dict: also return the preset's overrides as a dict (as the reference does).

    Raises:
        ValueError: for an unknown size name.
    """
    if size not in SIZE_PRESETS:
        raise ValueError(f"unknown env size {size!r}; expected one of {sorted(SIZE_PRESETS)}")
    config = {**SIZE_PRESETS[size], **_PRESET_COMMON}
    static = StaticEnvParams(**config, downscale=4)
    if return_dict:
        return static, dict(config)
    return static


def _take(tree: Any, idx: jnp.ndarray) -> Any:
    return jax.tree.map(lambda x: x[idx], tree)


@partial(jax.jit, static_argnums=(2,))
def permute_state(
    rng: jax.Array, env_state: EnvState, static_env_params: StaticEnvParams
) -> EnvState:
    """Randomly reorder circles, non-arena polygons, joints and thrusters.

    Every per-entity array moves with its entity; joint ``a_index``/``b_index`` and thruster
    ``object_index`` are remapped so they still name the same bodies, and the collision matrix is
    recomputed. The random draws match the reference, so the same key gives the same permutation.
    """
    s = static_env_params
    nsf = s.num_static_fixated_polys
    _, k_circ, k_poly, k_joint, k_thr = jax.random.split(rng, 5)
    circ = jax.random.permutation(k_circ, jnp.arange(s.num_circles), independent=True)
    poly = jnp.arange(s.num_polygons)
    poly = poly.at[nsf:].set(jax.random.permutation(k_poly, poly[nsf:], independent=True))
    joint = jax.random.permutation(k_joint, jnp.arange(s.num_joints), independent=True)
    thr = jax.random.permutation(k_thr, jnp.arange(s.num_thrusters), independent=True)

    # new_global[old_global]: where each body ends up.
    old_of_new = jnp.concatenate([poly, circ + s.num_polygons])
    new_of_old = jnp.argsort(old_of_new)

    j = _take(env_state.joint, joint)
    j = j.replace(a_index=new_of_old[j.a_index], b_index=new_of_old[j.b_index])
    t = _take(env_state.thruster, thr)
    t = t.replace(object_index=new_of_old[t.object_index])
    return env_state.replace(
        polygon=_take(env_state.polygon, poly),
        circle=_take(env_state.circle, circ),
        polygon_shape_roles=env_state.polygon_shape_roles[poly],
        circle_shape_roles=env_state.circle_shape_roles[circ],
        polygon_highlighted=env_state.polygon_highlighted[poly],
        circle_highlighted=env_state.circle_highlighted[circ],
        polygon_densities=env_state.polygon_densities[poly],
        circle_densities=env_state.circle_densities[circ],
        joint=j,
        thruster=t,
        motor_bindings=env_state.motor_bindings[joint],
        motor_auto=env_state.motor_auto[joint],
        thruster_bindings=env_state.thruster_bindings[thr],
        collision_matrix=calculate_collision_matrix(s, j),
    )
