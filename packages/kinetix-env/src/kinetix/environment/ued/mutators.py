"""Level mutators: adding random shapes, jointed shapes and thrusters (procedural generation and
ACCEL), plus ACCEL's editing mutators (re-exported from
:mod:`kinetix.environment.ued.edit_mutators`).

All functions are pure and jit/vmap-able (static arguments: ``static_env_params``,
``ued_params``). When there is no room for the addition the state is returned unchanged.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from jax2d.engine import (
    calc_inverse_inertia_circle,
    calc_inverse_inertia_polygon,
    calc_inverse_mass_circle,
    calc_inverse_mass_polygon,
    calculate_collision_matrix,
    recalculate_mass_and_inertia,
)
from jax2d.sim_state import RigidBody
from kinetix.environment.env_state import (
    ROLE_BLUE,
    ROLE_GREEN,
    ROLE_NEUTRAL,
    ROLE_RED,
    EnvParams,
    EnvState,
    StaticEnvParams,
)
from kinetix.environment.ued.edit_mutators import (
    make_mutate_change_shape_rotation,
    make_mutate_change_shape_size,
    mutate_change_gravity,
    mutate_change_shape_location,
    mutate_change_shape_rotation,
    mutate_change_shape_size,
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_remove_thruster,
    mutate_swap_role,
    mutate_toggle_fixture,
)
from kinetix.environment.ued.sampling import (
    free_slot,
    non_arena_mask,
    random_point_in_circle,
    random_point_in_polygon,
    sample_dimensions,
    sample_role,
    weighted_choice,
    write_body,
)
from kinetix.environment.ued.ued_state import UEDParams

__all__ = [
    "make_mutate_change_shape_rotation",
    "make_mutate_change_shape_size",
    "mutate_add_connected_shape",
    "mutate_add_connected_shape_proper",
    "mutate_add_shape",
    "mutate_add_thruster",
    "mutate_change_gravity",
    "mutate_change_shape_location",
    "mutate_change_shape_rotation",
    "mutate_change_shape_size",
    "mutate_remove_joint",
    "mutate_remove_shape",
    "mutate_remove_thruster",
    "mutate_swap_role",
    "mutate_toggle_fixture",
]

ARENA_FLOOR_TOP = 0.4


def _rot(angle: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _select(pred: jnp.ndarray, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _n_vertices(key: jax.Array, ued: UEDParams) -> jnp.ndarray:
    if ued.generate_triangles:
        return jnp.where(jax.random.uniform(key) < 0.5, 3, 4).astype(jnp.int32)
    return jnp.asarray(4, jnp.int32)


def _geometry_inverse_mass(verts, n_vertices, radius, is_rect, static):
    """Inverse mass and inertia at density 1 (rectangle or circle)."""
    im_p, _ = calc_inverse_mass_polygon(verts, n_vertices, static, 1.0)
    ii_p = calc_inverse_inertia_polygon(verts, n_vertices, static, 1.0)
    im_c = calc_inverse_mass_circle(radius, 1.0)
    ii_c = calc_inverse_inertia_circle(radius, 1.0)
    return jnp.where(is_rect, im_p, im_c), jnp.where(is_rect, ii_p, ii_c)


def _new_body(position, rotation, verts, n_vertices, radius, inv_mass, inv_inertia) -> RigidBody:
    f = jnp.float32
    return RigidBody(
        position=position,
        rotation=rotation,
        velocity=jnp.zeros(2, f),
        angular_velocity=jnp.zeros((), f),
        inverse_mass=inv_mass,
        inverse_inertia=inv_inertia,
        friction=jnp.ones((), f),
        restitution=jnp.zeros((), f),
        collision_mode=jnp.asarray(1, jnp.int32),
        active=jnp.asarray(True),
        n_vertices=n_vertices,
        vertices=verts,
        radius=radius,
    )


def _finish(state: EnvState, static: StaticEnvParams, is_rect, slot) -> EnvState:
    """Density 1 for the new body, collision matrix from joints, masses from geometry."""
    state = state.replace(
        polygon_densities=jnp.where(
            is_rect, state.polygon_densities.at[slot].set(1.0), state.polygon_densities
        ),
        circle_densities=jnp.where(
            is_rect, state.circle_densities, state.circle_densities.at[slot].set(1.0)
        ),
        collision_matrix=calculate_collision_matrix(static, state.joint),
    )
    return recalculate_mass_and_inertia(
        state, static, state.polygon_densities, state.circle_densities
    )


@partial(jax.jit, static_argnums=(3, 4))
def mutate_add_shape(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
    force_no_fixate: bool | jnp.ndarray = False,
) -> EnvState:
    """Add a random rectangle or circle (not attached to anything).

    Type in proportion to free polygon/circle slots; role from
    :func:`~kinetix.environment.ued.sampling.sample_role` (green and blue goal bodies use a size
    cap ``max_shape_size * goal_body_size_factor``); position uniform inside the arena (green on
    the left half, blue on the right half with probability ``goal_body_opposide_side_chance``);
    random rotation; fixed with probability ``min(fixate_chance_min + mass *
    fixate_chance_scale, fixate_chance_max)`` unless ``force_no_fixate``; a fixed shape with a
    role is moved down by half the arena height with probability
    ``fixate_shape_bottom_bias_special_role`` if it starts in the upper half.
    """
    s, ued = static_env_params, ued_params
    k = jax.random.split(rng, 9)
    poly_free, circ_free = ~jnp.all(state.polygon.active), ~jnp.all(state.circle.active)
    is_rect = weighted_choice(k[0], jnp.stack([poly_free, circ_free])) == 0
    role = sample_role(k[1], state)
    is_goal_body = (role == ROLE_GREEN) | (role == ROLE_BLUE)
    cap = ued.max_shape_size * jnp.where(is_goal_body, ued.goal_body_size_factor, 1.0)
    verts, half, radius = sample_dimensions(k[2], is_rect, ued, cap)
    n_vertices = _n_vertices(k[3], ued)

    width = s.screen_dim[0] / env_params.pixels_per_unit
    height = s.screen_dim[1] / env_params.pixels_per_unit
    extent = jnp.max(jnp.stack([half[0] * math.sqrt(2), half[1] * math.sqrt(2), radius]))
    lo = jnp.stack([extent, extent + ARENA_FLOOR_TOP])
    hi = jnp.stack([width - extent, height - extent])
    opposite = jax.random.uniform(k[4]) < ued.goal_body_opposide_side_chance
    hi = hi.at[0].add(jnp.where(opposite & (role == ROLE_GREEN), -width / 2, 0.0))
    lo = lo.at[0].add(jnp.where(opposite & (role == ROLE_BLUE), width / 2, 0.0))
    position = jax.random.uniform(k[5], (2,)) * (hi - lo) + lo
    rotation = jax.random.uniform(k[6]) * 2 * math.pi

    inv_mass, inv_inertia = _geometry_inverse_mass(verts, n_vertices, radius, is_rect, s)
    p_fix = jnp.minimum(
        ued.fixate_chance_min + (1.0 / inv_mass) * ued.fixate_chance_scale, ued.fixate_chance_max
    )
    fixed = (jax.random.uniform(k[7]) < p_fix) & ~jnp.asarray(force_no_fixate)
    inv_mass = jnp.where(fixed, 0.0, inv_mass)
    inv_inertia = jnp.where(fixed, 0.0, inv_inertia)
    bottom_bias = ued.fixate_shape_bottom_bias + ued.fixate_shape_bottom_bias_special_role * (
        role != ROLE_NEUTRAL
    )
    to_bottom = fixed & (jax.random.uniform(k[8]) < bottom_bias) & (position[1] >= height / 2)
    position = position.at[1].add(jnp.where(to_bottom, -height / 2, 0.0))

    body = _new_body(position, rotation, verts, n_vertices, radius, inv_mass, inv_inertia)
    new, slot = write_body(state, is_rect, body, role)
    new = _finish(new, s, is_rect, slot)
    return _select(poly_free | circ_free, new, state)


def _rect_half_extents(verts: jnp.ndarray) -> jnp.ndarray:
    return (verts.max(axis=0) - verts.min(axis=0)) / 2.0


def _min_dist_rect(half: jnp.ndarray, anchor: jnp.ndarray) -> jnp.ndarray:
    """Distance from the anchor to the nearest side of the (local, axis-aligned) rectangle."""
    return jnp.min(half - jnp.abs(anchor))


def _max_dist_rect(half: jnp.ndarray, anchor: jnp.ndarray) -> jnp.ndarray:
    """Distance from the anchor to the farthest corner."""
    far = jnp.maximum(jnp.abs(half - anchor), jnp.abs(-half - anchor))
    return jnp.sqrt(jnp.sum(far * far))


def _shows_beside(
    small_rect, small_half, small_r, small_anchor, big_rect, big_half, big_r, big_anchor, margin
) -> jnp.ndarray:
    """Whether the small body, spun about the joint, can stick out of the big one."""
    rr = _max_dist_rect(small_half, small_anchor) > _min_dist_rect(big_half, big_anchor) + margin
    rc = _max_dist_rect(small_half, small_anchor) > big_r + margin
    cr = _min_dist_rect(big_half, big_anchor) + margin < small_r
    return jnp.where(small_rect, jnp.where(big_rect, rr, rc), jnp.where(big_rect, cr, False))


def _connection_counts(state: EnvState, n_bodies: int) -> jnp.ndarray:
    act = state.joint.active.astype(jnp.float32)
    counts = jnp.zeros(n_bodies).at[state.joint.a_index].add(act, mode="drop")
    return counts.at[state.joint.b_index].add(act, mode="drop")


@partial(jax.jit, static_argnums=(3, 4))
def mutate_add_connected_shape(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
    force_rjoint: bool | jnp.ndarray = False,
) -> tuple[EnvState, jnp.ndarray]:
    """Add a random shape jointed to an existing non-arena shape; returns ``(state, valid)``.

    Target: polygons (at most 2 joints each) or circles (no joint yet), fixed ones with weight
    ``connect_to_fixated_prob_coeff``. A circle target gets a rectangle when a polygon slot is
    free. Anchors: uniform in a rectangle's bounding box, a circle's centre; the new shape is
    placed so both anchors coincide. Revolute joint (always if ``force_rjoint`` or fewer than
    ``min_rjoints_bias`` revolute joints exist, else with probability 1/2) with a motor
    (probability ``motor_on_chance``, random binding, speed and power) and, between two
    rectangles, joint limits with probability ``joint_limit_chance``; otherwise a fixed joint.
    ``valid`` says whether both shapes can be seen when spun about the joint (neither hides
    inside the other); the generator penalises invalid proposals.
    """
    s, ued = static_env_params, ued_params
    p_n = s.num_polygons
    k = jax.random.split(rng, 21)
    poly_free, circ_free = ~jnp.all(state.polygon.active), ~jnp.all(state.circle.active)
    present = non_arena_mask(state, s)
    joint_slot, joint_free = free_slot(state.joint.active)
    possible = (poly_free | circ_free) & jnp.any(present) & joint_free

    counts = _connection_counts(state, p_n + s.num_circles)
    fix_w = jnp.where(
        jnp.concatenate([state.polygon.inverse_mass, state.circle.inverse_mass]) == 0,
        ued.connect_to_fixated_prob_coeff,
        1.0,
    )
    w = present * fix_w
    w_poly = w[:p_n] * jnp.maximum((2.0 - counts[:p_n]) / 2.0, 0.0)
    w_circ = w[p_n:] * (counts[p_n:] == 0)
    any_poly = jnp.any(present[:p_n])
    any_circ = jnp.any(state.circle.active) & (w_circ.sum() > 0)
    target_rect = weighted_choice(k[0], jnp.stack([any_poly, any_circ])) == 0
    target_rect = target_rect | ~poly_free
    is_rect = weighted_choice(k[1], jnp.stack([poly_free, circ_free])) == 0
    is_rect = is_rect | (~target_rect & poly_free)

    w_poly = jnp.where(w_poly.sum() == 0, state.polygon.active.astype(jnp.float32), w_poly)
    w_circ = jnp.where(w_circ.sum() == 0, state.circle.active.astype(jnp.float32), w_circ)
    target = jnp.where(target_rect, weighted_choice(k[8], w_poly), weighted_choice(k[9], w_circ))
    t_body = _select(
        target_rect,
        jax.tree.map(lambda x: x[target], state.polygon),
        jax.tree.map(lambda x: x[jnp.minimum(target, s.num_circles - 1)], state.circle),
    )
    t_anchor = jnp.where(
        target_rect,
        random_point_in_polygon(k[10], t_body.vertices, t_body.n_vertices),
        jnp.zeros(2),
    )
    t_global = target + jnp.where(target_rect, 0, p_n)
    t_role = jnp.where(
        target_rect,
        state.polygon_shape_roles[target],
        state.circle_shape_roles[jnp.minimum(target, s.num_circles - 1)],
    )

    verts, _, radius = sample_dimensions(k[2], is_rect, ued, ued.max_shape_size)
    n_vertices = _n_vertices(k[3], ued)
    rotation = jax.random.uniform(k[4]) * 2 * math.pi
    anchor = jnp.where(is_rect, random_point_in_polygon(k[6], verts, n_vertices), jnp.zeros(2))
    world_anchor = t_body.position + _rot(t_body.rotation, t_anchor)
    position = world_anchor - _rot(rotation, anchor)
    _, centre = calc_inverse_mass_polygon(verts, n_vertices, s, 1.0)
    centre = jnp.where(is_rect, centre, 0.0)
    position, anchor, verts = position + centre, anchor - centre, verts - centre
    inv_mass, inv_inertia = _geometry_inverse_mass(verts, n_vertices, radius, is_rect, s)

    # Attached to green: no blue or red; to blue: no green or red; to red: neither green nor blue.
    allowed = jnp.ones(4)
    allowed = jnp.where(
        (t_role == ROLE_GREEN) | (t_role == ROLE_BLUE),
        allowed.at[3 - t_role].set(0.0).at[ROLE_RED].set(0.0),
        allowed,
    )
    allowed = jnp.where(t_role == ROLE_RED, allowed.at[ROLE_GREEN].set(0.0).at[ROLE_BLUE].set(0.0),
                        allowed)  # fmt: skip
    role = sample_role(k[12], state, allowed)

    body = _new_body(position, rotation, verts, n_vertices, radius, inv_mass, inv_inertia)
    new, slot = write_body(state, is_rect, body, role)
    new_global = slot + jnp.where(is_rect, 0, p_n)

    # Joint between the two, ordered so that a_index < b_index.
    swap = new_global > t_global
    a_idx, b_idx = jnp.where(swap, t_global, new_global), jnp.where(swap, new_global, t_global)
    a_pos, b_pos = jnp.where(swap, t_anchor, anchor), jnp.where(swap, anchor, t_anchor)
    a_rot, b_rot = (
        jnp.where(swap, t_body.rotation, rotation),
        jnp.where(swap, rotation, t_body.rotation),
    )

    n_rjoints = jnp.sum(state.joint.active & ~state.joint.is_fixed_joint)
    revolute = (
        (jax.random.uniform(k[5]) < 0.5)
        | jnp.asarray(force_rjoint)
        | (n_rjoints < ued.min_rjoints_bias)
    )
    rect_rect = is_rect & target_rect
    motor_on = jax.random.uniform(k[13]) < ued.motor_on_chance
    binding = jax.random.randint(k[14], (), 0, s.num_motor_bindings)
    speed = jax.random.uniform(k[15], minval=ued.motor_min_speed, maxval=ued.motor_max_speed)
    power = jnp.where(
        rect_rect,
        jax.random.uniform(k[16], minval=ued.motor_min_power, maxval=ued.motor_max_power),
        jax.random.uniform(k[20], minval=ued.motor_min_power, maxval=ued.wheel_max_power),
    )
    limits = (jax.random.uniform(k[17]) < ued.joint_limit_chance) & rect_rect
    lim_min = jax.random.uniform(k[18], minval=-ued.joint_limit_max, maxval=0.0) * limits
    lim_max = jax.random.uniform(k[19], minval=0.0, maxval=ued.joint_limit_max) * limits
    values = dict(
        a_index=a_idx,
        b_index=b_idx,
        a_relative_pos=a_pos,
        b_relative_pos=b_pos,
        global_position=world_anchor,
        active=True,
        acc_impulse=jnp.zeros(2),
        acc_r_impulse=0.0,
        motor_speed=jnp.where(revolute, speed, 0.0),
        motor_power=jnp.where(revolute, power, 0.0),
        motor_on=revolute & motor_on,
        motor_has_joint_limits=revolute & limits,
        min_rotation=jnp.where(revolute, lim_min, 0.0),
        max_rotation=jnp.where(revolute, lim_max, 0.0),
        is_fixed_joint=~revolute,
        rotation=jnp.where(revolute, 0.0, b_rot - a_rot),
    )
    joint = new.joint.replace(
        **{
            name: getattr(new.joint, name)
            .at[joint_slot]
            .set(jnp.asarray(v, getattr(new.joint, name).dtype))
            for name, v in values.items()
        }
    )
    new = new.replace(joint=joint, motor_bindings=new.motor_bindings.at[joint_slot].set(binding))
    new = _finish(new, s, is_rect, slot)

    # Visibility of both shapes (using the centred geometry of the new shape).
    new_half = _rect_half_extents(jnp.where(is_rect, new.polygon.vertices[slot], verts))
    t_half = _rect_half_extents(t_body.vertices)
    margin = ued.connect_visibility_min
    valid = _shows_beside(
        is_rect, new_half, radius, anchor, target_rect, t_half, t_body.radius, t_anchor, margin
    ) & _shows_beside(
        target_rect, t_half, t_body.radius, t_anchor, is_rect, new_half, radius, anchor, margin
    )
    return _select(possible, new, state), possible & valid


@partial(jax.jit, static_argnums=(3, 4))
def mutate_add_connected_shape_proper(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
    force_rjoint: bool | jnp.ndarray = False,
) -> EnvState:
    """:func:`mutate_add_connected_shape` without the validity flag."""
    return mutate_add_connected_shape(
        rng, state, env_params, static_env_params, ued_params, force_rjoint
    )[0]


@partial(jax.jit, static_argnums=(3, 4))
def mutate_add_thruster(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Add a thruster to a random active, non-fixed body.

    Mount point uniform in a rectangle's bounding box, or at a random angle and distance
    (``U[0, r]``) from a circle's centre. Direction: with probability ``thruster_align_com_prob``
    along plus or minus the mount point (through or away from the centre), else uniform.
    Power ``mass * thruster_power_multiplier * U[0.5, 2]``; random thruster binding.
    """
    s, ued = static_env_params, ued_params
    p_n = s.num_polygons
    k = jax.random.split(rng, 8)
    inv_mass = jnp.concatenate([state.polygon.inverse_mass, state.circle.inverse_mass])
    movable = jnp.concatenate([state.polygon.active, state.circle.active]) & (inv_mass != 0)
    slot, slot_free = free_slot(state.thruster.active)
    possible = jnp.any(movable) & slot_free

    parent = weighted_choice(k[0], movable.astype(jnp.float32))
    is_poly = parent < p_n
    c_idx = jnp.clip(parent - p_n, 0, s.num_circles - 1)
    p_idx = jnp.minimum(parent, p_n - 1)
    body = _select(
        is_poly,
        jax.tree.map(lambda x: x[p_idx], state.polygon),
        jax.tree.map(lambda x: x[c_idx], state.circle),
    )
    mount = jnp.where(
        is_poly,
        random_point_in_polygon(k[1], body.vertices, body.n_vertices),
        random_point_in_circle(k[2], body.radius),
    )
    sign = jnp.where(jax.random.uniform(k[3]) > 0.5, 1.0, -1.0)
    direction = sign * mount
    direction = jnp.where(jnp.linalg.norm(direction) == 0.0, jnp.array([1.0, 0.0]), direction)
    angle = jnp.where(
        jax.random.uniform(k[4]) < ued.thruster_align_com_prob,
        jnp.arctan2(direction[1], direction[0]),
        jax.random.uniform(k[5]) * 2 * jnp.pi,
    )
    mass = 1.0 / jnp.where(body.inverse_mass == 0, 1.0, body.inverse_mass)
    power = mass * ued.thruster_power_multiplier * (jax.random.uniform(k[6]) * 1.5 + 0.5)
    values = dict(
        object_index=parent,
        relative_position=mount,
        rotation=angle,
        power=power,
        global_position=body.position + _rot(body.rotation, mount),
        active=True,
    )
    thr = state.thruster
    thr = thr.replace(
        **{
            name: getattr(thr, name).at[slot].set(jnp.asarray(v, getattr(thr, name).dtype))
            for name, v in values.items()
        }
    )
    binding = jax.random.randint(k[7], (), 0, s.num_thruster_bindings)
    new = state.replace(
        thruster=thr, thruster_bindings=state.thruster_bindings.at[slot].set(binding)
    )
    return _select(possible, new, state)
