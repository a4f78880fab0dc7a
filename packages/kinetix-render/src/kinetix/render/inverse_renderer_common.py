"""Feature rows back to simulator entities (the inverse of :mod:`renderer_symbolic_common`).

Used by ``make_inverse_render_symbolic`` and ``make_inverse_render_entity`` to rebuild a
simulatable ``EnvState`` from an observation (tests, offline data, model-based experiments).
The column indices are those of the forward renderer (``R`` shape roles, ``V`` polygon vertices,
``NMB``/``NTB`` motor/thruster bindings). Rotations come back in ``[0, 2*pi)``; joint limits come
back from ``atan2`` of their limit-masked sin/cos (so ``0`` when a joint has no limits).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jax2d.engine import select_shape
from jax2d.maths import rmat
from jax2d.sim_state import Joint, RigidBody, Thruster
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams

__all__ = ["features_to_rigidbody", "features_to_joint", "features_to_thruster"]


def _angle_from_sin_cos(sin: jnp.ndarray, cos: jnp.ndarray) -> jnp.ndarray:
    angle = jnp.arctan2(sin, cos)
    return jnp.where(angle < 0, angle + 2 * jnp.pi, angle)


def _world_anchor(
    env_state: EnvState,
    body_index: jnp.ndarray,
    relative_pos: jnp.ndarray,
    active: jnp.ndarray,
    static_env_params: StaticEnvParams,
) -> jnp.ndarray:
    """World position of ``relative_pos`` on each body (zero where inactive)."""
    bodies = jax.vmap(select_shape, in_axes=(None, 0, None))(
        env_state, body_index, static_env_params
    )
    world = bodies.position + jax.vmap(jnp.matmul)(jax.vmap(rmat)(bodies.rotation), relative_pos)
    return jnp.where(active[:, None], world, jnp.zeros_like(world))


def features_to_rigidbody(
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    features: jnp.ndarray,
    nshapes: int,
    is_circle: bool,
) -> tuple[RigidBody, jnp.ndarray, jnp.ndarray]:
    """``(nshapes, K)`` polygon or circle rows to ``(RigidBody, roles, densities)``.

    Circles are active iff their radius is positive; polygons iff any vertex coordinate is
    non-zero (callers with masks overwrite ``active``). Collision mode is 1, except 2 for the
    first polygon row (the floor). ``n_vertices`` is 3 if the triangle flag is set, else 4.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> from kinetix.render.renderer_symbolic_common import make_circle_features
        >>> static = static_env_params_from_size("s")
        >>> rows, _ = make_circle_features(create_empty_env(static), EnvParams(), static)
        >>> body, roles, dens = features_to_rigidbody(EnvParams(), static, rows, 2, is_circle=True)
        >>> body.active.tolist()
        [False, False]
    """
    nr = env_params.num_shape_roles
    v = static_env_params.max_polygon_vertices
    f = features
    body = RigidBody(
        position=f[:, 0:2],
        rotation=_angle_from_sin_cos(f[:, 8 + nr], f[:, 9 + nr]),
        velocity=f[:, 2:4],
        angular_velocity=jnp.arctanh(f[:, 7]) * 10.0,
        inverse_mass=f[:, 4],
        inverse_inertia=f[:, 5],
        friction=f[:, 10 + nr],
        restitution=f[:, 11 + nr],
        collision_mode=jnp.ones(nshapes, dtype=jnp.int32),
        active=jnp.zeros(nshapes, dtype=bool),
        n_vertices=jnp.zeros(nshapes, dtype=jnp.int32),
        vertices=jnp.zeros((nshapes, v, 2), dtype=jnp.float32),
        radius=jnp.zeros(nshapes, dtype=jnp.float32),
    )
    if is_circle:
        radius = f[:, 12 + nr]
        body = body.replace(radius=radius, active=radius > 0.0)
    else:
        vertices = f[:, 13 + nr : 13 + nr + 2 * v].reshape((-1, v, 2))
        is_triangle = f[:, 13 + nr + 2 * v] != 0
        body = body.replace(
            vertices=vertices,
            n_vertices=jnp.where(is_triangle, 3, 4).astype(jnp.int32),
            collision_mode=body.collision_mode.at[0].set(2),
            active=jnp.abs(vertices.reshape((vertices.shape[0], -1))).sum(axis=1) > 0.0,
        )
    roles = jnp.argmax(f[:, 8 : 8 + nr], axis=1)
    return body, roles, f[:, 6]


def features_to_thruster(
    static_env_params: StaticEnvParams,
    env_state: EnvState,
    thruster_features: jnp.ndarray,
    nshapes: int,
    thruster_idxs_override: jnp.ndarray | None = None,
) -> tuple[Thruster, jnp.ndarray]:
    """``(T, 6 + NTB [+ N])`` thruster rows to ``(Thruster, thruster_bindings)``.

    The parent is the argmax of the one-hot after the features (flat rows) or
    ``thruster_idxs_override`` (entity rows); ``global_position`` is recomputed from the parent
    in ``env_state``.
    """
    ntb = static_env_params.num_thruster_bindings
    f = thruster_features
    if thruster_idxs_override is None:
        parent = jnp.argmax(f[:, 6 + ntb : 6 + ntb + nshapes], axis=1)
    else:
        parent = thruster_idxs_override
    active = f[:, 0] > 0.0
    relative = f[:, 1:3]
    thruster = Thruster(
        object_index=parent,
        relative_position=relative,
        rotation=_angle_from_sin_cos(f[:, 3 + ntb], f[:, 4 + ntb]),
        power=f[:, 5 + ntb],
        global_position=_world_anchor(env_state, parent, relative, active, static_env_params),
        active=active,
    )
    return thruster, jnp.argmax(f[:, 3 : 3 + ntb], axis=1)


def features_to_joint(
    static_env_params: StaticEnvParams,
    env_state: EnvState,
    joint_features: jnp.ndarray,
    nshapes: int,
    joint_idxs_override: jnp.ndarray | None = None,
) -> tuple[Joint, jnp.ndarray]:
    """``(J, 18 + NMB [+ 2N])`` b->a joint rows to ``(Joint, motor_bindings)``.

    ``(b_index, a_index)`` come from the two one-hots after the features (flat rows) or from
    ``joint_idxs_override`` (entity ``joint_indexes``, one ``(b, a)`` row per joint);
    ``global_position`` is recomputed from body a; accumulated impulses are zero.
    """
    nmb = static_env_params.num_motor_bindings
    j = static_env_params.num_joints
    f = joint_features
    if joint_idxs_override is None:
        b_index = jnp.argmax(f[:, 18 + nmb : 18 + nmb + nshapes], axis=1)
        a_index = jnp.argmax(f[:, 18 + nmb + nshapes : 18 + nmb + 2 * nshapes], axis=1)
    else:
        b_index, a_index = joint_idxs_override[:, 0], joint_idxs_override[:, 1]
    active = f[:, 0] > 0.0
    a_relative = f[:, 4:6]
    joint = Joint(
        a_index=a_index,
        b_index=b_index,
        a_relative_pos=a_relative,
        b_relative_pos=f[:, 2:4],
        global_position=_world_anchor(env_state, a_index, a_relative, active, static_env_params),
        active=active,
        acc_impulse=jnp.zeros((j, 2), dtype=jnp.float32),
        acc_r_impulse=jnp.zeros((j,), dtype=jnp.float32),
        motor_speed=f[:, 8],
        motor_power=f[:, 9],
        motor_on=f[:, 10] > 0.0,
        motor_has_joint_limits=f[:, 11] > 0.0,
        min_rotation=jnp.arctan2(f[:, 12 + nmb], f[:, 13 + nmb]),
        max_rotation=jnp.arctan2(f[:, 14 + nmb], f[:, 15 + nmb]),
        is_fixed_joint=f[:, 1] > 0.0,
        rotation=_angle_from_sin_cos(f[:, 6], f[:, 7]),
    )
    return joint, jnp.argmax(f[:, 12 : 12 + nmb], axis=1)
