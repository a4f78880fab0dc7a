"""ACCEL's level edits: remove, swap, toggle, resize, move and rotate shapes; thrusters; gravity.

Every mutator has the signature ``(rng, state, env_params, static_env_params, ued_params) ->
EnvState`` (the last two static), is pure and jit/vmap-able, and returns the state unchanged
when it has nothing to act on (e.g. no active joint to remove). Shapes are picked uniformly among
the active non-arena ones. They are re-exported by :mod:`kinetix.environment.ued.mutators`;
:func:`~kinetix.environment.ued.ued.make_mutate_env` mixes them.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp

from jax2d.engine import PhysicsEngine, calculate_collision_matrix, recalculate_mass_and_inertia
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.ued.sampling import non_arena_mask, sample_dimensions, weighted_choice
from kinetix.environment.ued.ued_state import UEDParams

__all__ = [
    "mutate_remove_shape",
    "mutate_remove_joint",
    "mutate_swap_role",
    "mutate_toggle_fixture",
    "mutate_remove_thruster",
    "mutate_change_gravity",
    "mutate_change_shape_size",
    "mutate_change_shape_location",
    "mutate_change_shape_rotation",
    "make_mutate_change_shape_size",
    "make_mutate_change_shape_rotation",
    "settle",
    "resize_shape_without_settling",
    "rotate_shape_without_settling",
]

# The bounding box that moved shapes are pushed back into (x in [0, 5], y above the floor).
ARENA_LOW = (0.0, 0.4)
N_SETTLE_STEPS = 5


def _pick(key: jax.Array, mask: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(uniform index among True entries, whether there is one)``."""
    return weighted_choice(key, mask.astype(jnp.float32)), jnp.any(mask)


def _select(pred: jnp.ndarray, a, b):
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)


def _set_body(state: EnvState, idx: jnp.ndarray, static: StaticEnvParams, **fields) -> EnvState:
    """Set per-body fields of global body ``idx`` (polygons first, then circles)."""
    p_n = static.num_polygons
    is_poly = idx < p_n
    p_i, c_i = jnp.minimum(idx, p_n - 1), jnp.clip(idx - p_n, 0, static.num_circles - 1)

    def put(bodies, i, on):
        new = {k: jnp.where(on, getattr(bodies, k).at[i].set(v), getattr(bodies, k))
               for k, v in fields.items()}  # fmt: skip
        return bodies.replace(**new)

    return state.replace(polygon=put(state.polygon, p_i, is_poly),
                         circle=put(state.circle, c_i, ~is_poly))  # fmt: skip


def _bodies_field(state: EnvState, name: str) -> jnp.ndarray:
    """A per-body field over all bodies, polygons then circles."""
    return jnp.concatenate([getattr(state.polygon, name), getattr(state.circle, name)])


@partial(jax.jit, static_argnums=(3, 4))
def mutate_remove_joint(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Deactivate a random active joint (and let its two bodies collide again)."""
    idx, ok = _pick(rng, state.joint.active)
    joint = state.joint.replace(active=state.joint.active.at[idx].set(False))
    new = state.replace(
        joint=joint, collision_matrix=calculate_collision_matrix(static_env_params, joint)
    )
    return _select(ok, new, state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_remove_shape(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Deactivate a random non-arena shape with its joints and thrusters; the role is cleared."""
    s = static_env_params
    idx, ok = _pick(rng, non_arena_mask(state, s))
    state_off = _set_body(state, idx, s, active=False)
    j = state.joint
    joint = j.replace(active=j.active & (j.a_index != idx) & (j.b_index != idx))
    thr = state.thruster.replace(
        active=state.thruster.active & (state.thruster.object_index != idx)
    )
    roles = jnp.concatenate([state.polygon_shape_roles, state.circle_shape_roles]).at[idx].set(0)
    new = state_off.replace(
        joint=joint,
        thruster=thr,
        collision_matrix=calculate_collision_matrix(s, joint),
        polygon_shape_roles=roles[: s.num_polygons],
        circle_shape_roles=roles[s.num_polygons :],
    )
    return _select(ok, new, state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_swap_role(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Exchange the roles of two non-arena shapes with different roles (A uniform, then B
    uniform among those whose role differs from A's). Unchanged if all roles are equal."""
    s = static_env_params
    k_a, k_b = jax.random.split(rng)
    present = non_arena_mask(state, s)
    roles = jnp.concatenate([state.polygon_shape_roles, state.circle_shape_roles])
    first = roles[jnp.argmax(present)]
    ok = jnp.any(present & (roles != first))
    a, _ = _pick(k_a, present)
    b, _ = _pick(k_b, present & (roles != roles[a]))
    swapped = roles.at[a].set(roles[b]).at[b].set(roles[a])
    swapped = jnp.where(ok, swapped, roles)
    return state.replace(
        polygon_shape_roles=swapped[: s.num_polygons], circle_shape_roles=swapped[s.num_polygons :]
    )


@partial(jax.jit, static_argnums=(3, 4))
def mutate_toggle_fixture(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Fix a random dynamic non-arena shape, or free a fixed one (mass from its density)."""
    s = static_env_params
    idx, ok = _pick(rng, non_arena_mask(state, s))
    fixed = _bodies_field(state, "inverse_mass")[idx] == 0
    # Freeing: any nonzero placeholder marks the body movable; the recomputation sets the value.
    value = jnp.where(fixed, 1.0, 0.0)
    new = _set_body(state, idx, s, inverse_mass=value, inverse_inertia=value,
                    velocity=jnp.zeros(2), angular_velocity=0.0)  # fmt: skip
    new = recalculate_mass_and_inertia(new, s, new.polygon_densities, new.circle_densities)
    return _select(ok, new, state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_remove_thruster(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Deactivate a random active thruster."""
    idx, ok = _pick(rng, state.thruster.active)
    thr = state.thruster.replace(active=state.thruster.active.at[idx].set(False))
    return _select(ok, state.replace(thruster=thr), state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_change_gravity(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Gravity ``(0, -9.8)`` with probability 1/2, else ``(0, U[-9.8, 0])`` (not in the ACCEL
    mix)."""
    k_coin, k_g = jax.random.split(rng)
    g = jnp.where(
        jax.random.uniform(k_coin) < 0.5, -9.8, jax.random.uniform(k_g, minval=-9.8, maxval=0.0)
    )
    return state.replace(gravity=jnp.stack([jnp.zeros(()), g]).astype(state.gravity.dtype))


def settle(
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    n_steps: int = N_SETTLE_STEPS,
) -> EnvState:
    """``n_steps`` physics steps without gravity, actions or collisions, each followed by zeroing
    all velocities: joints pull displaced bodies back together. Gravity and the collision matrix
    are restored afterwards."""
    engine = PhysicsEngine(static_env_params)
    n_act = static_env_params.num_joints + static_env_params.num_thrusters

    def at_rest(bodies):
        return bodies.replace(velocity=jnp.zeros_like(bodies.velocity),
                              angular_velocity=jnp.zeros_like(bodies.angular_velocity))  # fmt: skip

    def one(st, _):
        st, _ = engine.step(st, env_params, jnp.zeros(n_act))
        return st.replace(polygon=at_rest(st.polygon), circle=at_rest(st.circle)), None

    quiet = state.replace(gravity=jnp.zeros_like(state.gravity),
                          collision_matrix=jnp.zeros_like(state.collision_matrix))  # fmt: skip
    out, _ = jax.lax.scan(one, quiet, None, length=n_steps)
    return out.replace(gravity=state.gravity, collision_matrix=state.collision_matrix)


def _rescale_anchors(state: EnvState, idx: jnp.ndarray, scale: jnp.ndarray) -> EnvState:
    """Scale (per axis) the joint anchors and thruster mounts that sit on body ``idx``."""
    j, t = state.joint, state.thruster
    on_a = (j.a_index == idx)[:, None]
    on_b = (j.b_index == idx)[:, None]
    on_t = (t.object_index == idx)[:, None]
    j = j.replace(a_relative_pos=jnp.where(on_a, j.a_relative_pos * scale, j.a_relative_pos),
                  b_relative_pos=jnp.where(on_b, j.b_relative_pos * scale, j.b_relative_pos))  # fmt: skip
    t = t.replace(relative_position=jnp.where(on_t, t.relative_position * scale,
                                              t.relative_position))  # fmt: skip
    return state.replace(joint=j, thruster=t)


def resize_shape_without_settling(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """:func:`mutate_change_shape_size` before its :func:`settle` steps."""
    s = static_env_params
    k_pick, k_dim = jax.random.split(rng)
    idx, ok = _pick(k_pick, non_arena_mask(state, s))
    is_rect = idx < s.num_polygons
    p_i = jnp.minimum(idx, s.num_polygons - 1)
    c_i = jnp.clip(idx - s.num_polygons, 0, s.num_circles - 1)
    _, new_half, new_r = sample_dimensions(k_dim, is_rect, ued_params, ued_params.max_shape_size)

    old_v = state.polygon.vertices[p_i]
    n_v = state.polygon.n_vertices[p_i]
    used = (jnp.arange(old_v.shape[0]) < n_v)[:, None]
    old_half = (jnp.max(jnp.where(used, old_v, -jnp.inf), 0)
                - jnp.min(jnp.where(used, old_v, jnp.inf), 0)) / 2  # fmt: skip
    rect_scale = new_half / jnp.maximum(old_half, 1e-6)
    old_r = state.circle.radius[c_i]
    circ_scale = jnp.full(2, new_r / jnp.maximum(old_r, 1e-6))
    scale = jnp.where(is_rect, rect_scale, circ_scale)

    polygon = state.polygon.replace(
        vertices=jnp.where(is_rect, state.polygon.vertices.at[p_i].multiply(scale),
                           state.polygon.vertices))  # fmt: skip
    circle = state.circle.replace(
        radius=jnp.where(is_rect, state.circle.radius, state.circle.radius.at[c_i].set(new_r))
    )
    new = _rescale_anchors(state.replace(polygon=polygon, circle=circle), idx, scale)
    new = recalculate_mass_and_inertia(new, s, new.polygon_densities, new.circle_densities)
    return _select(ok, new, state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_change_shape_size(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """New dimensions for a random non-arena shape (the generator's size distribution, cap
    ``max_shape_size``): rectangles rescaled per axis, circles by the radius ratio; joint anchors
    and thruster mounts on it scale alike; masses from densities; then :func:`settle`."""
    new = resize_shape_without_settling(rng, state, env_params, static_env_params, ued_params)
    return settle(new, env_params, static_env_params)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_change_shape_location(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Move a random non-arena shape and everything jointed to it by ``U[-0.5, 0.5]^2``, then
    shift that group back so the bounding box of all non-arena shapes (unrotated local extents)
    stays inside x in [0, 5], y in [0.4, 5]."""
    s = static_env_params
    k_pick, k_delta = jax.random.split(rng)
    present = non_arena_mask(state, s)
    idx, ok = _pick(k_pick, present)
    group = ~state.collision_matrix[idx] & present  # its joint component (incl. itself)
    delta = jax.random.uniform(k_delta, (2,), minval=-0.5, maxval=0.5)

    pos = _bodies_field(state, "position") + group[:, None] * delta
    n_v = state.polygon.n_vertices
    used = (jnp.arange(state.polygon.vertices.shape[1])[None, :] < n_v[:, None])[..., None]
    v = state.polygon.vertices
    p_lo = jnp.min(jnp.where(used, v, jnp.inf), axis=1)
    p_hi = jnp.max(jnp.where(used, v, -jnp.inf), axis=1)
    r = state.circle.radius[:, None]
    lo = pos + jnp.concatenate([p_lo, -jnp.broadcast_to(r, (s.num_circles, 2))])
    hi = pos + jnp.concatenate([p_hi, jnp.broadcast_to(r, (s.num_circles, 2))])
    lo = jnp.min(jnp.where(present[:, None], lo, jnp.inf), axis=0)
    hi = jnp.max(jnp.where(present[:, None], hi, -jnp.inf), axis=0)
    world = jnp.array(s.screen_dim, jnp.float32) / env_params.pixels_per_unit
    shift = jnp.maximum(jnp.array(ARENA_LOW) - lo, 0.0) - jnp.maximum(hi - world, 0.0)
    pos = pos + group[:, None] * shift

    p_n = s.num_polygons
    new = state.replace(
        polygon=state.polygon.replace(position=pos[:p_n]),
        circle=state.circle.replace(position=pos[p_n:]),
    )
    moved_joint = (group[state.joint.a_index] | group[state.joint.b_index])[:, None]
    moved_thr = group[state.thruster.object_index][:, None]
    new = new.replace(
        joint=new.joint.replace(global_position=new.joint.global_position
                                + moved_joint * (delta + shift)),
        thruster=new.thruster.replace(global_position=new.thruster.global_position
                                      + moved_thr * (delta + shift)),
    )  # fmt: skip
    return _select(ok, new, state)


def rotate_shape_without_settling(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """:func:`mutate_change_shape_rotation` before its :func:`settle` steps."""
    s = static_env_params
    k_pick, k_rot = jax.random.split(rng)
    idx, ok = _pick(k_pick, non_arena_mask(state, s))
    delta = jax.random.uniform(k_rot) * (math.pi / 2)
    rot = _bodies_field(state, "rotation").at[idx].add(delta)
    p_n = s.num_polygons
    j = state.joint
    target = (
        j.rotation
        - delta * (j.is_fixed_joint & (j.a_index == idx))
        + delta * (j.is_fixed_joint & (j.b_index == idx))
    )
    new = state.replace(
        polygon=state.polygon.replace(rotation=rot[:p_n]),
        circle=state.circle.replace(rotation=rot[p_n:]),
        joint=j.replace(rotation=target),
    )
    new = recalculate_mass_and_inertia(new, s, new.polygon_densities, new.circle_densities)
    return _select(ok, new, state)


@partial(jax.jit, static_argnums=(3, 4))
def mutate_change_shape_rotation(
    rng: jax.Array,
    state: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Rotate a random non-arena shape by ``U[0, pi/2)``; fixed joints on it keep their relative
    pose target consistent (``-delta`` on side a, ``+delta`` on side b); then :func:`settle`."""
    new = rotate_shape_without_settling(rng, state, env_params, static_env_params, ued_params)
    return settle(new, env_params, static_env_params)


def make_mutate_change_shape_size(env_params: EnvParams, static_env_params: StaticEnvParams):
    """The reference's factory form of :func:`mutate_change_shape_size`."""
    return mutate_change_shape_size


def make_mutate_change_shape_rotation(env_params: EnvParams, static_env_params: StaticEnvParams):
    """The reference's factory form of :func:`mutate_change_shape_rotation`."""
    return mutate_change_shape_rotation
