"""Symbolic-flat observations: one float32 vector (or one padded matrix) per state.

Layout (the reference's, ``kinetix-env==3.0.2``; ``N = P + C`` shapes):

1. polygon rows of slots ``[0, 4, 5, ..., P-1]`` (floor kept, walls and ceiling dropped), 26 each;
2. circle rows, 18 each;
3. joint rows seen from body b (one per joint), each followed by one-hot(b_index, N) and
   one-hot(a_index, N): ``22 + 2N`` each;
4. thruster rows followed by one-hot(parent, N): ``8 + N`` each;
5. gravity_y / 10.

Rows of inactive entities are all zeros. The result is clipped to [-10, 10] (``clip=True``) and
NaNs become 0 (after the clip, so +-inf become +-10).

The padded variant keeps the rows: each is right-padded with zeros to the widest block, followed
by one-hot(entity type: polygon, circle, joint, thruster) and gravity_y / 10.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jax2d.engine import calculate_collision_matrix
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.utils import create_empty_env
from kinetix.render.batching import vmap_leading_dims
from kinetix.render.inverse_renderer_common import (
    features_to_joint,
    features_to_rigidbody,
    features_to_thruster,
)
from kinetix.render.renderer_symbolic_common import (
    make_circle_features,
    make_joint_features,
    make_polygon_features,
    make_thruster_features,
)

__all__ = [
    "make_render_symbolic",
    "symbolic_flat_size",
    "symbolic_padded_shape",
    "kept_polygon_slots",
    "make_inverse_render_symbolic",
]

NUM_ENTITY_TYPES = 4  # polygon, circle, joint, thruster


def kept_polygon_slots(static_env_params: StaticEnvParams) -> np.ndarray:
    """Polygon slots in the flat observation: all but the walls and ceiling (slots
    ``1 .. num_static_fixated_polys - 1``); the floor (slot 0) is kept."""
    s = static_env_params
    slots = [i for i in range(s.num_polygons) if not 1 <= i < s.num_static_fixated_polys]
    return np.asarray(slots, dtype=np.int32)


def _block_widths(env_params: EnvParams, static_env_params: StaticEnvParams) -> list[int]:
    s = static_env_params
    n = s.num_polygons + s.num_circles
    roles = env_params.num_shape_roles
    polygon = 12 + roles + 2 + 2 * s.max_polygon_vertices
    circle = 12 + roles + 2
    joint = 18 + s.num_motor_bindings + 2 * n
    thruster = 6 + s.num_thruster_bindings + n
    return [polygon, circle, joint, thruster]


def _block_rows(static_env_params: StaticEnvParams) -> list[int]:
    s = static_env_params
    return [len(kept_polygon_slots(s)), s.num_circles, s.num_joints, s.num_thrusters]


def symbolic_flat_size(env_params: EnvParams, static_env_params: StaticEnvParams) -> int:
    """Length ``D`` of the flat observation (140 / 247 / 679 for the s / m / l presets).

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> symbolic_flat_size(EnvParams(), static_env_params_from_size("m"))
        247
    """
    widths = _block_widths(env_params, static_env_params)
    rows = _block_rows(static_env_params)
    return sum(r * w for r, w in zip(rows, widths)) + 1


def symbolic_padded_shape(
    env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[int, int]:
    """``(rows, width)`` of the padded observation ((6, 41) / (10, 45) / (21, 59) for s / m / l).

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> symbolic_padded_shape(EnvParams(), static_env_params_from_size("l"))
        (21, 59)
    """
    rows = sum(_block_rows(static_env_params))
    return rows, max(_block_widths(env_params, static_env_params)) + NUM_ENTITY_TYPES + 1


def _get_symbolic_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[int, jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """The four masked row blocks of one state: ``(N, polygons, circles, joints, thrusters,
    joint_indexes, thruster_indexes)`` (index arrays as in ``make_joint_features``)."""
    s = static_env_params
    n = s.num_polygons + s.num_circles
    polygons, polygon_mask = make_polygon_features(state, env_params, s)
    keep = kept_polygon_slots(s)
    polygons, polygon_mask = polygons[keep], polygon_mask[keep]
    circles, circle_mask = make_circle_features(state, env_params, s)
    joints, joint_idxs, joint_mask = make_joint_features(state, env_params, s)
    thrusters, thruster_idxs, thruster_mask = make_thruster_features(state, env_params, s)

    num_joints = s.num_joints  # only the b -> a direction
    joints = jnp.concatenate(
        [
            joints[:num_joints],
            jax.nn.one_hot(joint_idxs[:num_joints, 0], n),
            jax.nn.one_hot(joint_idxs[:num_joints, 1], n),
        ],
        axis=1,
    )
    thrusters = jnp.concatenate([thrusters, jax.nn.one_hot(thruster_idxs, n)], axis=1)

    polygons = jnp.where(polygon_mask[:, None], polygons, 0.0)
    circles = jnp.where(circle_mask[:, None], circles, 0.0)
    joints = jnp.where(joint_mask[:num_joints, None], joints, 0.0)
    thrusters = jnp.where(thruster_mask[:, None], thrusters, 0.0)
    return n, polygons, circles, joints, thrusters, joint_idxs, thruster_idxs


def make_render_symbolic(
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    padded: bool = False,
    clip: bool = True,
) -> Callable[[EnvState], jnp.ndarray]:
    """Build the symbolic-flat renderer (the reference's ``make_render_symbolic``).

    Args:
        env_params: environment parameters (``num_shape_roles`` sets the role one-hot width).
        static_env_params: static sizes the states have.
        padded: return ``(rows, width)`` rows (see :func:`symbolic_padded_shape`) instead of one
            ``(D,)`` vector (see :func:`symbolic_flat_size`).
        clip: clip values to [-10, 10].

    Returns:
        ``render(state)``: float32 ``(..., D)`` or ``(..., rows, width)``. ``state`` may be one
        state or carry any leading batch dimensions (for example ``(B, T, ...)``), rendered in
        one call with nested ``vmap``. Pure JAX: jit- and vmap-able.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> render = make_render_symbolic(EnvParams(), static)
        >>> obs = render(create_empty_env(static))
        >>> obs.shape, float(obs[-1])
        ((140,), -0.9810000658035278)
    """

    def render_flat(state: EnvState) -> jnp.ndarray:
        _, polygons, circles, joints, thrusters, _, _ = _get_symbolic_features(
            state, env_params, static_env_params
        )
        obs = jnp.concatenate(
            [
                polygons.flatten(),
                circles.flatten(),
                joints.flatten(),
                thrusters.flatten(),
                jnp.array([state.gravity[1]]) / 10,
            ],
            axis=0,
        )
        if clip:
            obs = jnp.clip(obs, -10.0, 10.0)
        return jnp.nan_to_num(obs)

    def render_padded(state: EnvState) -> jnp.ndarray:
        _, *blocks, _, _ = _get_symbolic_features(state, env_params, static_env_params)
        width = max(b.shape[-1] for b in blocks)
        rows = jnp.concatenate(
            [jnp.pad(b, ((0, 0), (0, width - b.shape[-1]))) for b in blocks], axis=0
        )
        types = np.concatenate([np.full(b.shape[0], k) for k, b in enumerate(blocks)])
        gravity = jnp.full((rows.shape[0], 1), state.gravity[1] / 10)
        obs = jnp.concatenate(
            [rows, jax.nn.one_hot(jnp.asarray(types), NUM_ENTITY_TYPES), gravity], axis=-1
        )
        if clip:
            obs = jnp.clip(obs, -10.0, 10.0)
        return jnp.nan_to_num(obs)

    return vmap_leading_dims(render_padded if padded else render_flat, static_env_params)


def make_inverse_render_symbolic(
    env_state: EnvState | None, env_params: EnvParams, static_env_params: StaticEnvParams
) -> Callable[[jnp.ndarray], EnvState]:
    """Build ``obs -> EnvState``, the inverse of the (unpadded) flat renderer.

    Lossy where the observation is: values clipped to +-10 (inverse inertias of small bodies,
    far positions), saturated ``tanh`` angular velocities, joint limits of joints without
    ``motor_has_joint_limits`` (come back as 0). Walls and ceiling (not in the observation),
    gravity, manifolds, timestep and the other bookkeeping fields take the empty arena's values;
    the collision matrix is recomputed from the joints.

    Args:
        env_state: unused (the reference takes a dummy state for the shapes); may be None.
        env_params: environment parameters the observation was rendered with.
        static_env_params: static sizes the observation was rendered with.

    Returns:
        ``inverse(obs)`` for one ``(D,)`` observation or a batch ``(..., D)``.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> obs = make_render_symbolic(EnvParams(), static)(create_empty_env(static))
        >>> state = make_inverse_render_symbolic(None, EnvParams(), static)(obs)
        >>> state.polygon.active.tolist()
        [True, True, True, True, False]
    """
    s = static_env_params
    n = s.num_polygons + s.num_circles
    widths = _block_widths(env_params, s)
    rows = _block_rows(s)
    size = symbolic_flat_size(env_params, s)

    def inverse_one(obs: jnp.ndarray) -> EnvState:
        blocks, start = [], 0
        for r, w in zip(rows, widths):
            blocks.append(obs[start : start + r * w].reshape((r, w)))
            start += r * w
        polygon_rows, circle_rows, joint_rows, thruster_rows = blocks
        empty = create_empty_env(s)
        circle, circle_roles, circle_densities = features_to_rigidbody(
            env_params, s, circle_rows, s.num_circles, is_circle=True
        )
        polygon, polygon_roles, polygon_densities = features_to_rigidbody(
            env_params, s, polygon_rows, rows[0], is_circle=False
        )

        def with_arena(kept, full):
            # Slot 0 (floor) is in the observation; walls and ceiling come from the empty arena.
            return jnp.concatenate(
                [kept[:1], full[1 : s.num_static_fixated_polys], kept[1:]], axis=0
            )

        polygon, polygon_roles, polygon_densities = jax.tree.map(
            with_arena,
            (polygon, polygon_roles, polygon_densities),
            (empty.polygon, empty.polygon_shape_roles, empty.polygon_densities),
        )
        state = empty.replace(
            polygon=polygon,
            circle=circle,
            polygon_shape_roles=polygon_roles,
            circle_shape_roles=circle_roles,
            polygon_densities=polygon_densities,
            circle_densities=circle_densities,
        )
        thruster, thruster_bindings = features_to_thruster(s, state, thruster_rows, n)
        state = state.replace(thruster=thruster, thruster_bindings=thruster_bindings)
        joint, motor_bindings = features_to_joint(s, state, joint_rows, n)
        return state.replace(
            joint=joint,
            motor_bindings=motor_bindings,
            collision_matrix=calculate_collision_matrix(s, joint),
        )

    def inverse(obs: jnp.ndarray) -> EnvState:
        if obs.shape[-1:] != (size,):
            raise ValueError(
                f"flat observation has shape {tuple(obs.shape)}; expected (..., {size}) for "
                "these static sizes (padded observations cannot be inverted)"
            )
        fn = inverse_one
        for _ in obs.shape[:-1]:
            fn = jax.vmap(fn)
        return fn(obs)

    return inverse
