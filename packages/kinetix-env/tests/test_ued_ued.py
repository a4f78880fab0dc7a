import jax
import numpy as np
import pytest
from conftest import LEVELS_DIR, ScriptedEngine, flatten_state, scripted_scene

from kinetix.environment import (
    BlindObservations,
    ContinuousActions,
    EnvParams,
    KinetixEnv,
    load_from_json_file,
    static_env_params_from_size,
)
from kinetix.environment.ued import (
    make_reset_fn_from_config,
    make_reset_fn_list_of_levels,
    make_vmapped_filtered_level_sampler,
)

S = static_env_params_from_size("s")


def test_list_reset_picks_each_level():
    names = [str(LEVELS_DIR / "s/h6_unicycle_right"), str(LEVELS_DIR / "s/h0_weak_thrust")]
    reset = make_reset_fn_list_of_levels(names, S)
    picks = set()
    for i in range(12):
        level = reset(jax.random.PRNGKey(i))
        picks.add(float(level.polygon.position[4, 0]))
    assert len(picks) == 2
    want, _, _ = load_from_json_file(names[0])
    got = jax.jit(reset)(jax.random.PRNGKey(0))
    assert flatten_state(got).keys() == flatten_state(want).keys()


def test_reset_fn_from_config():
    empty = make_reset_fn_from_config({"train_level_mode": "dummy"}, EnvParams(), S)
    assert int(empty(jax.random.PRNGKey(0)).polygon.active.sum()) == 4
    with pytest.raises(ValueError, match="train_level_mode"):
        make_reset_fn_from_config({"train_level_mode": "nope"}, EnvParams(), S)


def test_filtered_sampler_avoids_levels_solved_by_doing_nothing():
    # Levels: the scripted scene, whose engine reports a green-blue contact at once; a level is
    # solved by doing nothing iff polygon 4 is green (else the contact carries no reward).
    params = EnvParams()
    engine = ScriptedEngine(S, [1, 1], [0, 0], [1.0, 1.0])
    env = KinetixEnv(ContinuousActions(params, S), BlindObservations(params, S), S,
                     physics_engine=engine)  # fmt: skip
    base = scripted_scene(S)

    def level_sampler(rng):
        solvable = jax.random.uniform(rng) < 0.5
        return base.replace(polygon_shape_roles=base.polygon_shape_roles.at[4].set(
            jax.numpy.where(solvable, 1, 0)))  # fmt: skip

    config = dict(filter_levels=True, level_filter_n_steps=2, level_filter_sample_ratio=2)
    sampler = make_vmapped_filtered_level_sampler(level_sampler, params, S, config, env)
    levels = sampler(jax.random.PRNGKey(0), 8)
    # Of 16 candidates about half are solved at once; the 8 drawn avoid them when possible.
    assert int(np.sum(np.asarray(levels.polygon_shape_roles[:, 4]) == 1)) <= 1
    plain = make_vmapped_filtered_level_sampler(level_sampler, params, S,
                                                dict(filter_levels=False), env, return_rngs=True)  # fmt: skip
    levels, rngs = plain(jax.random.PRNGKey(0), 8)
    assert rngs.shape[0] == 8 and levels.timestep.shape == (8,)
