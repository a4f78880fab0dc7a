"""The procedural level distribution (``sample_kinetix_level``) and ACCEL's starting levels.

A level is built on the empty arena: a floor role; a green and a blue body (never both fixed);
a forced control (a motorised jointed shape, a thruster, or both); up to ``P + C - 7`` further
plain or jointed shapes; up to ``T - 1`` further thrusters; a 50% swap of green and blue (grey
floor only); a random permutation of the entity slots. Shapes are added by best-of-k proposals:
the proposal with the fewest active contacts wins (invisible jointed shapes are penalised).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jax2d.engine import PhysicsEngine
from kinetix.environment.env_state import (
    ROLE_BLUE,
    ROLE_GREEN,
    EnvParams,
    EnvState,
    StaticEnvParams,
)
from kinetix.environment.ued.mutators import (
    mutate_add_connected_shape,
    mutate_add_shape,
    mutate_add_thruster,
)
from kinetix.environment.ued.sampling import weighted_choice
from kinetix.environment.ued.ued_state import UEDParams
from kinetix.environment.utils import create_empty_env, permute_state

__all__ = ["sample_kinetix_level", "create_random_starting_distribution", "count_contacts"]

# Small scenes (the s preset) use one proposal per addition and never fix shapes.
SMALL_SCENE_BODIES = 7


def count_contacts(engine: PhysicsEngine, state: EnvState) -> jnp.ndarray:
    """Number of active contact points (polygon pairs count both points)."""
    rr, cr, cc = engine.calculate_collision_manifolds(state)
    return rr.active.sum() + cr.active.sum() + cc.active.sum()


def _best_of(engine: PhysicsEngine, proposals: EnvState, penalty: jnp.ndarray) -> EnvState:
    if penalty.shape[0] == 1:  # a single proposal: nothing to compare (saves compile time)
        return jax.tree.map(lambda x: x[0], proposals)
    contacts = jax.vmap(partial(count_contacts, engine))(proposals) + penalty
    best = jnp.argmin(contacts)
    return jax.tree.map(lambda x: x[best], proposals)


@partial(jax.jit, static_argnums=(1, 3, 4))
def sample_kinetix_level(
    rng: jax.Array,
    engine: PhysicsEngine,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
) -> EnvState:
    """Sample one procedural level (``timestep`` 0, ``last_distance`` -1).

    Args:
        rng: PRNG key.
        engine: a ``PhysicsEngine(static_env_params)`` (static; used to count contacts).
        env_params: environment parameters (world size from ``pixels_per_unit``).
        static_env_params: static sizes (static).
        ued_params: distribution knobs (static).
    """
    s, ued = static_env_params, ued_params
    small = s.num_polygons + s.num_circles <= SMALL_SCENE_BODIES
    n_proposals = 1 if small else ued.add_shape_n_proposals
    k = jax.random.split(rng, 12)

    def add_shape(key, state, force_no_fixate=False):
        keys = jax.random.split(key, n_proposals)
        no_fix = jnp.logical_or(force_no_fixate, small)
        proposals = jax.vmap(mutate_add_shape, in_axes=(0, None, None, None, None, None))(
            keys, state, env_params, s, ued, no_fix
        )
        return _best_of(engine, proposals, jnp.zeros(n_proposals))

    def add_connected(key, state, force_rjoint=False):
        keys = jax.random.split(key, n_proposals)
        proposals, valid = jax.vmap(
            mutate_add_connected_shape, in_axes=(0, None, None, None, None, None)
        )(keys, state, env_params, s, ued, force_rjoint)
        penalty = jnp.where(valid, 0.0, ued.connect_no_visibility_bias)
        return _best_of(engine, proposals, penalty)

    state = create_empty_env(s)
    floor_p = jnp.array(
        [ued.floor_prob_normal, ued.floor_prob_green, ued.floor_prob_blue, ued.floor_prob_red]
    )
    floor = weighted_choice(k[0], floor_p)
    state = state.replace(polygon_shape_roles=state.polygon_shape_roles.at[0].set(floor))

    # The two goal bodies: one of them is never fixed.
    first_no_fix = (jax.random.uniform(k[1]) < 0.5) | (floor == ROLE_BLUE)
    state, _ = jax.lax.scan(  # a scan, not two calls: one compiled copy of the addition
        lambda st, x: (add_shape(x[0], st, x[1]), None),
        state,
        (jnp.stack([k[2], k[3]]), jnp.stack([first_no_fix, ~first_no_fix])),
    )

    # Forced control: thruster only, motor only, or both.
    control = jax.random.randint(k[4], (), 0, 3)
    force_thruster, force_motor = control != 1, control != 0
    state = jax.lax.cond(
        force_motor,
        lambda st: add_connected(k[5], st, True),
        lambda st: add_shape(k[6], st),
        state,
    )
    state = jax.lax.cond(
        force_thruster,
        lambda st: mutate_add_thruster(k[7], st, env_params, s, ued),
        lambda st: st,
        state,
    )

    n_extra = s.num_polygons + s.num_circles - 3 - s.num_static_fixated_polys
    if n_extra > 0:
        add_p = jnp.array(
            [ued.add_connected_shape_chance, ued.add_shape_chance, ued.add_no_shape_chance]
        )

        def extra_shape(st, key):
            k_kind, k_conn, k_plain = jax.random.split(key, 3)
            kind = weighted_choice(k_kind, add_p)
            st = jax.lax.switch(
                kind,
                [
                    lambda x: add_connected(k_conn, x),
                    lambda x: add_shape(k_plain, x),
                    lambda x: x,
                ],
                st,
            )
            return st, None

        state, _ = jax.lax.scan(extra_shape, state, jax.random.split(k[8], n_extra))

    if s.num_thrusters > 1:

        def extra_thruster(st, key):
            k_do, k_add = jax.random.split(key)
            st = jax.lax.cond(
                jax.random.uniform(k_do) < ued.add_thruster_chance,
                lambda x: mutate_add_thruster(k_add, x, env_params, s, ued),
                lambda x: x,
                st,
            )
            return st, None

        keys = jax.random.split(k[9], s.num_thrusters - 1)
        state, _ = jax.lax.scan(extra_thruster, state, keys)

    # Swap green and blue half of the time (grey floor only) to undo the side bias.
    swap = (jax.random.uniform(k[10]) < 0.5) & (state.polygon_shape_roles[0] == 0)

    def swapped(roles):
        out = jnp.where(
            roles == ROLE_GREEN, ROLE_BLUE, jnp.where(roles == ROLE_BLUE, ROLE_GREEN, roles)
        )
        return jnp.where(swap, out, roles)

    state = state.replace(
        polygon_shape_roles=swapped(state.polygon_shape_roles),
        circle_shape_roles=swapped(state.circle_shape_roles),
    )
    return permute_state(k[11], state, s)


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def create_random_starting_distribution(
    rng: jax.Array,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams,
    env_size_name: str = "",
    controllable: bool = True,
) -> EnvState:
    """ACCEL's near-empty starting level: a green and a blue body and (if ``controllable``) the
    same forced control as :func:`sample_kinetix_level`, with small shapes
    (``max_shape_size=0.5``, goal bodies twice as large; each shape uses the static
    ``max_shape_size`` with probability 0.05).

    The reference's version of this function crashes (it passes an extra argument to
    ``create_empty_env``); this is its evident intent. ``env_size_name`` is unused.
    """
    s = static_env_params
    small = ued_params.replace(
        goal_body_size_factor=2.0, thruster_power_multiplier=2.0, max_shape_size=0.5
    )
    large = small.replace(max_shape_size=float(s.max_shape_size), goal_body_size_factor=1.0)
    k = jax.random.split(rng, 8)

    def add_shape(key, state):
        k_big, k_add = jax.random.split(key)
        big = jax.random.uniform(k_big) < 0.05
        return jax.lax.cond(
            big,
            lambda st: mutate_add_shape(k_add, st, env_params, s, large),
            lambda st: mutate_add_shape(k_add, st, env_params, s, small),
            state,
        )

    def add_connected(key, state):
        k_big, k_add = jax.random.split(key)
        big = jax.random.uniform(k_big) < 0.05
        return jax.lax.cond(
            big,
            lambda st: mutate_add_connected_shape(k_add, st, env_params, s, large, True)[0],
            lambda st: mutate_add_connected_shape(k_add, st, env_params, s, small, True)[0],
            state,
        )

    state = create_empty_env(s)
    state = add_shape(k[0], state)
    state = add_shape(k[1], state)
    if controllable:
        control = jax.random.randint(k[2], (), 0, 3)
        force_thruster, force_motor = control != 1, control != 0
        state = jax.lax.cond(force_motor, lambda st: add_connected(k[3], st), lambda st: st, state)
        state = jax.lax.cond(
            force_thruster,
            lambda st: mutate_add_thruster(k[4], st, env_params, s, small),
            lambda st: st,
            state,
        )
    return permute_state(k[7], state, s)
