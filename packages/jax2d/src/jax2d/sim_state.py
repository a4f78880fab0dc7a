"""State, parameter and static-size containers of the physics engine.

Field names, order, shapes and dtypes follow ``jax2d==1.0.1`` so states recorded by the reference
(the Kinetix-Offline dataset stores them) load directly. ``P, C, J, T`` below are
``num_polygons, num_circles, num_joints, num_thrusters`` of :class:`StaticSimParams`; ``V`` is
``max_polygon_vertices``. Polygons use global indices ``0..P-1`` and circle ``c`` is ``P + c``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jax2d._pytree import pytree_dataclass, static_dataclass

__all__ = [
    "RigidBody",
    "CollisionManifold",
    "Joint",
    "Thruster",
    "SimState",
    "SimParams",
    "StaticSimParams",
]


@pytree_dataclass
class RigidBody:
    """A batch of ``N`` polygons (``N = P``) or circles (``N = C``).

    Attributes:
        position: ``(N, 2)`` world position (vertex mean for API-built polygons, centre for circles).
        rotation: ``(N,)`` angle in radians, never wrapped.
        velocity: ``(N, 2)`` linear velocity.
        angular_velocity: ``(N,)`` rad/s.
        inverse_mass: ``(N,)``; 0 means fixated (immovable).
        inverse_inertia: ``(N,)``; 0 means the body cannot rotate under impulses.
        friction: ``(N,)`` per-body friction, scaled by ``SimParams.base_friction``.
        restitution: ``(N,)`` bounciness.
        collision_mode: ``(N,)`` int32 in {0, 1, 2}: 0 collides only with 2, 1 with 1 and 2, 2 with all.
        active: ``(N,)`` bool, slot in use.
        n_vertices: ``(N,)`` int32 vertex count (3 or 4) for polygons.
        vertices: ``(N, V, 2)`` local-frame vertices, clockwise.
        radius: ``(N,)`` circle radius.
    """

    position: jnp.ndarray
    rotation: jnp.ndarray
    velocity: jnp.ndarray
    angular_velocity: jnp.ndarray
    inverse_mass: jnp.ndarray
    inverse_inertia: jnp.ndarray
    friction: jnp.ndarray
    restitution: jnp.ndarray
    collision_mode: jnp.ndarray
    active: jnp.ndarray
    n_vertices: jnp.ndarray
    vertices: jnp.ndarray
    radius: jnp.ndarray


@pytree_dataclass
class CollisionManifold:
    """Contacts of one pair family (leading shape ``(n,)``, or ``(n, 2)`` for polygon pairs).

    ``normal`` points from the pair's first body to its second. ``active`` reflects geometry,
    body activity and collision modes, never the collision matrix.
    """

    normal: jnp.ndarray
    penetration: jnp.ndarray
    collision_point: jnp.ndarray
    active: jnp.ndarray
    acc_impulse_normal: jnp.ndarray
    acc_impulse_tangent: jnp.ndarray
    restitution_velocity_target: jnp.ndarray


@pytree_dataclass
class Joint:
    """``J`` revolute or fixed joints between bodies given by global index."""

    a_index: jnp.ndarray
    b_index: jnp.ndarray
    a_relative_pos: jnp.ndarray
    b_relative_pos: jnp.ndarray
    global_position: jnp.ndarray
    active: jnp.ndarray
    acc_impulse: jnp.ndarray
    acc_r_impulse: jnp.ndarray
    motor_speed: jnp.ndarray
    motor_power: jnp.ndarray
    motor_on: jnp.ndarray
    motor_has_joint_limits: jnp.ndarray
    min_rotation: jnp.ndarray
    max_rotation: jnp.ndarray
    is_fixed_joint: jnp.ndarray
    rotation: jnp.ndarray


@pytree_dataclass
class Thruster:
    """``T`` thrusters, each attached to a body by global index."""

    object_index: jnp.ndarray
    relative_position: jnp.ndarray
    rotation: jnp.ndarray
    power: jnp.ndarray
    global_position: jnp.ndarray
    active: jnp.ndarray


@pytree_dataclass
class SimState:
    """The whole physics state. Subclass it (decorated with ``pytree_dataclass``) to add fields."""

    polygon: RigidBody
    circle: RigidBody
    joint: Joint
    thruster: Thruster
    collision_matrix: jnp.ndarray
    acc_rr_manifolds: CollisionManifold
    acc_cr_manifolds: CollisionManifold
    acc_cc_manifolds: CollisionManifold
    gravity: jnp.ndarray


@pytree_dataclass
class SimParams:
    """Dynamic physics constants (pytree leaves, so they can vary without recompiling)."""

    dt: float = 1 / 60
    slop: float = 0.01
    baumgarte_coefficient_joints_v: float = 2.0
    baumgarte_coefficient_joints_p: float = 0.7
    baumgarte_coefficient_fjoint_av: float = 2.0
    baumgarte_coefficient_rjoint_limit_av: float = 5.0
    baumgarte_coefficient_collision: float = 0.2
    joint_stiffness: float = 0.6
    clip_position: float = 15
    clip_velocity: float = 100
    clip_angular_velocity: float = 50
    base_motor_speed: float = 6.0
    base_motor_power: float = 900.0
    base_thruster_power: float = 10.0
    motor_decay_coefficient: float = 0.1
    motor_joint_limit: float = 0.1
    base_friction: float = 0.4


@static_dataclass
class StaticSimParams:
    """Static sizes and solver settings. Hashable: use it as a static jit argument.

    ``num_polygons`` includes the ``num_static_fixated_polys`` scenery slots (floor, walls,
    ceiling); no pair between two scenery slots is ever generated.
    """

    num_polygons: int = 12
    num_circles: int = 12
    num_joints: int = 12
    num_thrusters: int = 12
    max_polygon_vertices: int = 4
    num_solver_iterations: int = 10
    solver_batch_size: int = 16
    do_warm_starting: bool = True
    num_static_fixated_polys: int = 4
