"""The hand-made evaluation suite (``kinetix/environment/levels``): index, files, solvability.

Every level of a size is replayed in one vmapped, jitted rollout (the levels of a size share
static sizes), once with the no-op policy and once with its scripted solution.
"""

from __future__ import annotations

import json
from functools import cache

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.environment import (
    ActionType,
    EnvParams,
    HandmadeLevel,
    handmade_level_names,
    load_evaluation_levels,
    load_from_json_file,
    load_handmade_suite,
    make_kinetix_env,
    static_env_params_from_size,
)
from kinetix.environment.levels import HANDMADE_SUITE_INDEX

SIZES = ("s", "m", "l")
MIN_PER_SIZE = 8


def test_suite_has_enough_levels_per_size_with_all_fields():
    suite = load_handmade_suite()
    for size in SIZES:
        levels = [lvl for lvl in suite if lvl.size == size]
        assert len(levels) >= MIN_PER_SIZE, (size, len(levels))
    assert len({lvl.level_name for lvl in suite}) == len(suite)
    for lvl in suite:
        assert isinstance(lvl, HandmadeLevel)
        assert lvl.name and lvl.skill and lvl.description
        assert "\n" not in lvl.description
        assert lvl.path.is_file(), lvl.path
        assert lvl.path.parent.name == lvl.size
        assert lvl.solution, lvl.level_name
    assert len({lvl.skill for lvl in suite}) >= 8  # a varied suite, not one skill many times


def test_size_filter_and_names():
    for size in SIZES:
        names = handmade_level_names(size)
        assert names == [f"{size}/{lvl.name}" for lvl in load_handmade_suite(size)]
        assert all(n.startswith(f"{size}/") for n in names)
    assert len(handmade_level_names()) == len(load_handmade_suite())
    with pytest.raises(ValueError, match="unknown level size 'xl'"):
        load_handmade_suite("xl")


@pytest.mark.parametrize("size", SIZES)
def test_every_level_loads_at_its_size_and_by_name(size):
    static = static_env_params_from_size(size)
    for lvl in load_handmade_suite(size):
        state, level_static, _ = load_from_json_file(lvl.level_name)
        assert level_static.num_polygons == static.num_polygons
        assert level_static.num_circles == static.num_circles
        assert level_static.num_joints == static.num_joints
        assert level_static.num_thrusters == static.num_thrusters
        roles = np.concatenate([state.polygon_shape_roles, state.circle_shape_roles])
        active = np.concatenate([state.polygon.active, state.circle.active])
        assert np.any((roles == 1) & active), f"{lvl.level_name} has no green shape"
        assert np.any((roles == 2) & active), f"{lvl.level_name} has no blue shape"
    states, _ = load_evaluation_levels(handmade_level_names(size))
    assert states.timestep.shape == (len(load_handmade_suite(size)),)


def test_solution_actions_expands_the_program():
    lvl = HandmadeLevel(
        name="x", size="s", description="d", skill="k", path=HANDMADE_SUITE_INDEX,
        solution=(((0, 0, 0, 0, 1, 0), 2), ((1, 0, 0, 0, 0, 0), 1)),
    )  # fmt: skip
    a = lvl.solution_actions(5)
    np.testing.assert_array_equal(
        a, [[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0], [1, 0, 0, 0, 0, 0], [0] * 6, [0] * 6]
    )
    assert a.dtype == np.int32
    assert lvl.solution_actions(1).tolist() == [[0, 0, 0, 0, 1, 0]]


def _write_index(tmp_path, entry):
    path = tmp_path / "suite.json"
    path.write_text(json.dumps({"levels": [entry]}))
    return path


def test_malformed_index_names_file_and_field(tmp_path):
    good = {
        "name": "a", "size": "s", "file": "s/a.json", "description": "d", "skill": "k",
        "solution": {"action_type": "multi_discrete", "program": [[[0, 0, 0, 0, 1, 0], 3]]},
    }  # fmt: skip
    assert load_handmade_suite(index_path=_write_index(tmp_path, good))[0].solution == (
        ((0, 0, 0, 0, 1, 0), 3),
    )
    bad_size = {**good, "size": "xl"}
    with pytest.raises(ValueError, match=r"suite.json: levels\[0\]/size"):
        load_handmade_suite(index_path=_write_index(tmp_path, bad_size))
    no_skill = {k: v for k, v in good.items() if k != "skill"}
    with pytest.raises(ValueError, match=r"levels\[0\]/skill"):
        load_handmade_suite(index_path=_write_index(tmp_path, no_skill))
    bad_prog = {**good, "solution": {"action_type": "multi_discrete", "program": [[[0, -1], 3]]}}
    with pytest.raises(ValueError, match=r"program\[0\]"):
        load_handmade_suite(index_path=_write_index(tmp_path, bad_prog))
    bad_type = {**good, "solution": {"action_type": "continuous", "program": []}}
    with pytest.raises(ValueError, match="multi_discrete"):
        load_handmade_suite(index_path=_write_index(tmp_path, bad_type))


@cache
def _replay(size: str):
    """(no-op, solution) outcomes of every level of ``size``: (terminal reward, GoalR, step)."""
    levels = load_handmade_suite(size)
    states, static = load_evaluation_levels([lvl.level_name for lvl in levels])
    params = EnvParams()
    steps = int(params.max_timesteps)
    env = make_kinetix_env(
        ActionType.MULTI_DISCRETE, "blind", None, params, static, auto_reset=False
    )

    def rollout(state, actions):
        def step(carry, action):
            st, done, reward, goal, when = carry
            _, st, r, d, info = env.step_env(jax.random.PRNGKey(0), st, action, params)
            first = d & ~done
            reward = jnp.where(first, r, reward)
            goal = jnp.where(first, info["GoalR"], goal)
            when = jnp.where(first, st.timestep, when)
            return (st, done | d, reward, goal, when), None

        init = (state, jnp.array(False), jnp.array(0.0), jnp.array(False), jnp.array(-1))
        (_, _, reward, goal, when), _ = jax.lax.scan(step, init, actions)
        return reward, goal, when

    solutions = np.stack([lvl.solution_actions(steps) for lvl in levels])
    noops = np.zeros_like(solutions)
    # One compile per size: both policies of all levels in one batch.
    batch_states = jax.tree.map(lambda x: jnp.concatenate([x, x]), states)
    reward, goal, when = jax.jit(jax.vmap(rollout))(
        batch_states, jnp.asarray(np.concatenate([noops, solutions]))
    )
    n = len(levels)
    out = [np.asarray(x) for x in (reward, goal, when)]
    return levels, [x[:n] for x in out], [x[n:] for x in out]


def _check_replay(size):
    levels, (noop_r, noop_goal, _), (sol_r, sol_goal, sol_when) = _replay(size)
    for i, lvl in enumerate(levels):
        assert not noop_goal[i] and noop_r[i] <= 0.5, f"{lvl.level_name} is solved by no-op"
        assert sol_goal[i] and sol_r[i] > 0, (
            f"{lvl.level_name}: scripted solution did not solve (reward {sol_r[i]})"
        )
        assert 0 < sol_when[i] <= EnvParams().max_timesteps


def test_small_levels_noop_fails_and_solution_solves():
    _check_replay("s")


def test_medium_levels_noop_fails_and_solution_solves():
    _check_replay("m")


def test_large_levels_noop_fails_and_solution_solves():
    _check_replay("l")
