import dataclasses

import jax
import jax.numpy as jnp

from jax2d.sim_state import SimParams, SimState, StaticSimParams
from kinetix.environment import EnvParams, EnvState, StaticEnvParams, create_empty_env

EXTRAS = [
    "thruster_bindings",
    "motor_bindings",
    "motor_auto",
    "polygon_shape_roles",
    "circle_shape_roles",
    "polygon_highlighted",
    "circle_highlighted",
    "polygon_densities",
    "circle_densities",
    "timestep",
    "last_distance",
]


def test_env_state_extends_sim_state_in_reference_order():
    names = [f.name for f in dataclasses.fields(EnvState)]
    sim = [f.name for f in dataclasses.fields(SimState)]
    assert issubclass(EnvState, SimState)
    assert names == sim + EXTRAS


def test_env_state_has_82_leaves_and_replace(static_s):
    state = create_empty_env(static_s)
    assert len(jax.tree.leaves(state)) == 82
    new = state.replace(timestep=jnp.asarray(3, jnp.int32))
    assert int(new.timestep) == 3 and int(state.timestep) == 0
    assert isinstance(new, EnvState)


def test_env_params_defaults_and_hash():
    p = EnvParams()
    assert isinstance(p, SimParams)
    assert (p.max_timesteps, p.pixels_per_unit, p.dense_reward_scale, p.num_shape_roles) == (
        256,
        100,
        0.1,
        4,
    )
    assert p.dt == 1 / 60 and p.base_motor_power == 900.0
    assert hash(p) == hash(EnvParams()) and p == EnvParams()
    assert p.replace(dense_reward_scale=0.2) != p
    assert len(jax.tree.leaves(p)) == 21


def test_static_env_params_defaults_hashable_static_arg():
    s = StaticEnvParams()
    assert isinstance(s, StaticSimParams)
    assert (s.num_polygons, s.num_circles, s.num_joints, s.num_thrusters) == (12, 12, 12, 12)
    assert (s.screen_dim, s.downscale, s.frame_skip, s.max_shape_size) == ((500, 500), 4, 1, 2)
    assert (s.num_motor_bindings, s.num_thruster_bindings) == (4, 2)
    assert hash(s) == hash(StaticEnvParams()) and s != s.replace(frame_skip=2)
    assert jax.tree.leaves(s) == []

    @jax.jit
    def f(x, static):  # a leafless pytree argument
        return x + static.num_polygons

    assert int(f(1, s)) == 13
