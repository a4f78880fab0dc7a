"""Evaluation semantics with scripted policies: a no-op policy never solves ``h0_weak_thrust``
(its first episode ends on red), always solves a copy whose red floor is made blue, and a
'fire thruster 0' policy solves the original; lengths/returns match a plain env loop."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import FlatObsFn

from kinetix.agents.evaluation import evaluate, rollout_episode
from kinetix.agents.models import ModelConfig, make_network
from kinetix.environment import make_kinetix_env

SMALL = ModelConfig(actor_depth=1, critic_depth=1, actor_width=8, critic_width=8)


def _scripted(net, choice_per_dim):
    """Make the multi-discrete head (near-)deterministic: logit 50 on the given choices."""
    bias = []
    for size, c in zip((3, 3, 3, 3, 2, 2), choice_per_dim):
        b = [0.0] * size
        b[c] = 50.0
        bias += b
    net = eqx.tree_at(
        lambda n: n.trunk.action_head.dense.kernel,
        net,
        jnp.zeros_like(net.trunk.action_head.dense.kernel),
    )
    return eqx.tree_at(lambda n: n.trunk.action_head.dense.bias, net, jnp.asarray(bias))


def _first_episode(env, params, level, action, n=40):
    """Plain Python-level reference of the first-episode statistics."""
    _, s = env.reset(jax.random.PRNGKey(0), params, level)
    step = jax.jit(env.step)
    ret = 0.0
    for t in range(n):
        _, s, r, d, info = step(jax.random.PRNGKey(t), s, action, params, level)
        ret += float(r)
        if bool(d):
            return t + 1, ret, bool(info["GoalR"])
    return n, ret, False


@pytest.fixture(scope="module")
def setup(weak_thrust):
    state, static, params = weak_thrust
    obs = FlatObsFn(params, static)
    env = make_kinetix_env("multi_discrete", obs, None, params, static)
    net = make_network(SMALL, obs, "multi_discrete", params, static, key=jax.random.PRNGKey(0))
    blue_floor = state.replace(polygon_shape_roles=state.polygon_shape_roles.at[0].set(2))
    levels = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, blue_floor)
    return env, params, static, net, levels


def test_solve_rate_semantics(setup):
    env, params, static, net, levels = setup
    noop, thrust = _scripted(net, [0] * 6), _scripted(net, [0, 0, 0, 0, 1, 0])
    res = evaluate(
        noop, levels, env, params, static, num_attempts=3, key=jax.random.PRNGKey(0), max_steps=40
    )
    np.testing.assert_array_equal(res["solve_rate"], [0.0, 1.0])
    assert res["solved"].shape == (2, 3)
    assert res["best_of_k_solve_rate"] == 0.5 and res["mean_solve_rate"] == 0.5
    level0 = jax.tree.map(lambda x: x[0], levels)
    level1 = jax.tree.map(lambda x: x[1], levels)
    zero = jnp.zeros(6, jnp.int32)
    for i, lvl in enumerate((level0, level1)):
        length, ret, solved = _first_episode(env, params, lvl, zero)
        np.testing.assert_array_equal(res["lengths"][i], length)
        np.testing.assert_allclose(res["returns"][i], ret, rtol=1e-5)
        assert solved == bool(i == 1)

    res_t = evaluate(
        thrust, levels, env, params, static, num_attempts=3, key=jax.random.PRNGKey(1), max_steps=40
    )
    length, ret, solved = _first_episode(env, params, level0, zero.at[4].set(1))
    assert solved and res_t["solve_rate"][0] == 1.0
    np.testing.assert_array_equal(res_t["lengths"][0], length)
    np.testing.assert_allclose(res_t["returns"][0], ret, rtol=1e-5)


def test_rollout_episode_stops_at_first_done(setup):
    env, params, static, net, levels = setup
    thrust = _scripted(net, [0, 0, 0, 0, 1, 0])
    level0 = jax.tree.map(lambda x: x[0], levels)
    ep = rollout_episode(thrust, level0, env, params, key=jax.random.PRNGKey(0), max_steps=40)
    length, ret, solved = _first_episode(env, params, level0, jnp.zeros(6, jnp.int32).at[4].set(1))
    assert ep["length"] == length and ep["solved"] == solved
    assert ep["states"].polygon.position.shape[0] == length
    assert int(ep["states"].timestep[0]) == 0 and int(ep["states"].timestep[-1]) == length - 1
    np.testing.assert_allclose(ep["return"], ret, rtol=1e-5)
    assert ep["dones"][-1] and not ep["dones"][:-1].any()


def test_evaluate_errors(setup):
    env, params, static, net, levels = setup
    with pytest.raises(ValueError, match="num_attempts"):
        evaluate(net, levels, env, params, static, num_attempts=0, key=jax.random.PRNGKey(0))
    from kinetix.environment import static_env_params_from_size

    with pytest.raises(ValueError, match="polygon slots"):
        evaluate(
            net,
            levels,
            env,
            params,
            static_env_params_from_size("m"),
            num_attempts=1,
            key=jax.random.PRNGKey(0),
        )
