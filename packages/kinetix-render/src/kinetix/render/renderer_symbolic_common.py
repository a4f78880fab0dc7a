"""Per-entity feature rows shared by the symbolic-flat and symbolic-entity observations.

Every function takes one (unbatched) ``EnvState`` and returns float32 feature rows in the
reference's column order (``kinetix-env==3.0.2``), so policies trained on either implementation
read the same numbers. The arithmetic is kept in the reference's order (for example
``sin(limit) * has_limits`` rather than a ``where``) so that NaN/inf inputs give the same values
bit for bit.

Column layouts (``R = env_params.num_shape_roles``, 4 by default):

* shape base (16 with R = 4): position x, y; velocity x, y; inverse mass; inverse inertia;
  density; ``tanh(angular_velocity / 10)``; one-hot(role, R); sin, cos of rotation; friction;
  restitution.
* polygon (26): base, 0 ("not a circle"), the 4 local vertices (x0, y0, ..., x3, y3; vertices
  ``>= n_vertices`` are -1), ``n_vertices <= 3``.
* circle (18): base, radius, 1 ("circle").
* joint (22 with 4 motor bindings), one row per direction: active, is_fixed, anchor on the
  "from" body, anchor on the "to" body, sin, cos of the joint rotation, then (zeroed for fixed
  joints) motor speed, power, on, has_limits, one-hot(motor binding), sin/cos of min and max
  rotation (times has_limits), (min - rotation) and (max - rotation) (times has_limits).
* thruster (8 with 2 thruster bindings): active, relative position, one-hot(binding), sin, cos
  of rotation, power.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jax2d.sim_state import RigidBody
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams

__all__ = [
    "SHAPE_BASE_FEATURES",
    "POLYGON_FEATURES",
    "CIRCLE_FEATURES",
    "joint_feature_width",
    "thruster_feature_width",
    "make_polygon_features",
    "make_circle_features",
    "make_unified_shape_features",
    "make_joint_features",
    "make_thruster_features",
]

#: Feature widths with the default 4 shape roles (the reference hard-codes these in its spaces).
SHAPE_BASE_FEATURES = 16
POLYGON_FEATURES = 26
CIRCLE_FEATURES = 18


def joint_feature_width(static_env_params: StaticEnvParams) -> int:
    """Columns of one joint row: ``18 + num_motor_bindings`` (22 for the presets)."""
    return 18 + static_env_params.num_motor_bindings


def thruster_feature_width(static_env_params: StaticEnvParams) -> int:
    """Columns of one thruster row: ``6 + num_thruster_bindings`` (8 for the presets)."""
    return 6 + static_env_params.num_thruster_bindings


def _column(x: jnp.ndarray) -> jnp.ndarray:
    return jnp.expand_dims(x, axis=1)


def _get_base_shape_features(
    density: jnp.ndarray, roles: jnp.ndarray, shapes: RigidBody, env_params: EnvParams
) -> jnp.ndarray:
    """``(n, 12 + R)`` base rows of ``n`` polygons or circles."""
    return jnp.concatenate(
        [
            shapes.position,
            shapes.velocity,
            _column(shapes.inverse_mass),
            _column(shapes.inverse_inertia),
            _column(density),
            _column(jnp.tanh(shapes.angular_velocity / 10)),
            jax.nn.one_hot(roles, env_params.num_shape_roles),
            _column(jnp.sin(shapes.rotation)),
            _column(jnp.cos(shapes.rotation)),
            _column(shapes.friction),
            _column(shapes.restitution),
        ],
        axis=1,
    )


def add_polygon_features(
    base_features: jnp.ndarray,
    shapes: RigidBody,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
) -> jnp.ndarray:
    """Append the polygon columns: type flag 0, local vertices (-1 past ``n_vertices``), triangle flag."""
    n, v = shapes.vertices.shape[0], static_env_params.max_polygon_vertices
    used = jnp.arange(v)[None, :, None] < shapes.n_vertices[:, None, None]
    vertices = jnp.where(used, shapes.vertices, jnp.zeros_like(shapes.vertices) - 1)
    return jnp.concatenate(
        [
            base_features,
            jnp.zeros_like(base_features[:, :1]),
            vertices.reshape((n, -1)),
            _column(shapes.n_vertices <= 3),
        ],
        axis=1,
    )


def add_circle_features(
    base_features: jnp.ndarray,
    shapes: RigidBody,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
) -> jnp.ndarray:
    """Append the circle columns: radius, type flag 1."""
    return jnp.concatenate(
        [base_features, shapes.radius[:, None], jnp.ones_like(base_features[:, :1])], axis=1
    )


def make_polygon_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(P, 26)`` polygon rows (every slot, arena included) and the ``(P,)`` active mask.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> rows, mask = make_polygon_features(create_empty_env(static), EnvParams(), static)
        >>> rows.shape, mask.tolist()
        ((5, 26), [True, True, True, True, False])
    """
    base = _get_base_shape_features(
        state.polygon_densities, state.polygon_shape_roles, state.polygon, env_params
    )
    return add_polygon_features(base, state.polygon, env_params, static_env_params), (
        state.polygon.active
    )


def make_circle_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(C, 18)`` circle rows and the ``(C,)`` active mask.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> make_circle_features(create_empty_env(static), EnvParams(), static)[0].shape
        (2, 18)
    """
    base = _get_base_shape_features(
        state.circle_densities, state.circle_shape_roles, state.circle, env_params
    )
    return add_circle_features(base, state.circle, env_params, static_env_params), (
        state.circle.active
    )


def make_unified_shape_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(P + C, 28)`` rows with both the polygon and the circle columns for every shape
    (base, polygon columns, circle columns), and the ``(P + C,)`` active mask."""

    def rows(density, roles, shapes):
        base = _get_base_shape_features(density, roles, shapes, env_params)
        base = add_polygon_features(base, shapes, env_params, static_env_params)
        return add_circle_features(base, shapes, env_params, static_env_params)

    polys = rows(state.polygon_densities, state.polygon_shape_roles, state.polygon)
    circles = rows(state.circle_densities, state.circle_shape_roles, state.circle)
    mask = jnp.concatenate([state.polygon.active, state.circle.active], axis=0)
    return jnp.concatenate([polys, circles], axis=0), mask


def _one_way_joint_features(
    state: EnvState, static_env_params: StaticEnvParams, from_a: bool
) -> jnp.ndarray:
    """``(J, 18 + NMB)`` joint rows seen from body b (``from_a=False``) or body a."""
    j = state.joint
    from_pos, to_pos = (
        (j.a_relative_pos, j.b_relative_pos) if from_a else (j.b_relative_pos, j.a_relative_pos)
    )
    limits = j.motor_has_joint_limits
    base = jnp.concatenate(
        [
            (j.active * 1.0)[:, None],
            (j.is_fixed_joint * 1.0)[:, None],
            from_pos,
            to_pos,
            jnp.sin(j.rotation)[:, None],
            jnp.cos(j.rotation)[:, None],
        ],
        axis=1,
    )
    motor = jnp.concatenate(
        [
            j.motor_speed[:, None],
            j.motor_power[:, None],
            (j.motor_on * 1.0)[:, None],
            (limits * 1.0)[:, None],
            jax.nn.one_hot(state.motor_bindings, num_classes=static_env_params.num_motor_bindings),
            (jnp.sin(j.min_rotation) * limits)[:, None],
            (jnp.cos(j.min_rotation) * limits)[:, None],
            (jnp.sin(j.max_rotation) * limits)[:, None],
            (jnp.cos(j.max_rotation) * limits)[:, None],
            ((j.min_rotation - j.rotation) * limits)[:, None],
            ((j.max_rotation - j.rotation) * limits)[:, None],
        ],
        axis=1,
    )
    # A product, not a `where`: NaN/inf motor fields of fixed joints stay NaN, as in the reference.
    motor = motor * (1.0 - (j.is_fixed_joint * 1.0))[:, None]
    return jnp.concatenate([base, motor], axis=1)


def make_joint_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Two rows per joint: ``(2J, 18 + NMB)`` features, ``(2J, 2)`` int32 (from, to) shape indices
    and the ``(2J,)`` mask.

    Rows ``0..J-1`` look from body b to body a (indices ``(b_index, a_index)``), rows ``J..2J-1``
    from a to b. Indices of inactive joints are ``(0, 0)``.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("m")
        >>> feats, idx, mask = make_joint_features(create_empty_env(static), EnvParams(), static)
        >>> feats.shape, idx.shape, mask.shape
        ((4, 22), (4, 2), (4,))
    """
    j = state.joint
    features = jnp.concatenate(
        [
            _one_way_joint_features(state, static_env_params, from_a=False),
            _one_way_joint_features(state, static_env_params, from_a=True),
        ],
        axis=0,
    )
    b_to_a = jnp.stack([j.b_index, j.a_index], axis=1)
    a_to_b = jnp.stack([j.a_index, j.b_index], axis=1)
    indexes = jnp.concatenate([b_to_a, a_to_b], axis=0)
    mask = jnp.concatenate([j.active, j.active], axis=0)
    indexes = jnp.where(mask[:, None], indexes, jnp.zeros_like(indexes))
    return features, indexes, mask


def make_thruster_features(
    state: EnvState, env_params: EnvParams, static_env_params: StaticEnvParams
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """``(T, 6 + NTB)`` thruster rows, ``(T,)`` parent shape indices (``object_index``, not
    masked) and the ``(T,)`` active mask.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> make_thruster_features(create_empty_env(static), EnvParams(), static)[0].shape
        (1, 8)
    """
    t = state.thruster
    features = jnp.concatenate(
        [
            (t.active * 1.0)[:, None],
            t.relative_position,
            jax.nn.one_hot(
                state.thruster_bindings, num_classes=static_env_params.num_thruster_bindings
            ),
            jnp.sin(t.rotation)[:, None],
            jnp.cos(t.rotation)[:, None],
            t.power[:, None],
        ],
        axis=1,
    )
    return features, t.object_index, t.active
