"""The demo pipeline on tiny sizes: expert trajectories (the hand-made levels' scripted
solutions) -> DatasetWriter -> load -> BC -> fine-tune -> evaluate, with checks that can fail:
the data round-trips bitwise, BC fits the expert, fine-tuning starts from BC's parameters, and
evaluation agrees with single rollouts."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.agents.demo import load_bc_dataset, train_bc
from kinetix.agents.evaluation import evaluate, rollout_episode
from kinetix.agents.models import ModelConfig, make_network
from kinetix.agents.ppo import PPOConfig, make_train
from kinetix.data import DatasetWriter, open_dataset, valid_action_mask_np
from kinetix.environment import (
    EnvParams,
    load_evaluation_levels,
    load_handmade_suite,
    make_kinetix_env,
    static_env_params_from_size,
)

T = 64
# Hand-made s levels whose scripted solution ends well within T steps.
LEVELS = ["rocket_up", "aim_the_burst", "topple_tower", "leap_over_lava"]
MODEL = ModelConfig(actor_depth=2, critic_depth=2, actor_width=32, critic_width=32)


def _play_scripted(env, params, levels, actions):
    """Roll out fixed action sequences; returns states before each step, the reset-convention
    done flags (``done[t]``: state ``t`` starts a new episode) and whether the first episode
    reached the goal."""

    def play(level, acts):
        key = jax.random.PRNGKey(0)
        _, s0 = env.reset(key, params, level)

        def step(carry, a):
            s, prev_done, seen, solved = carry
            _, nxt, _, done, info = env.step(key, s, a, params, level)
            solved = solved | (~seen & done & info["GoalR"].astype(bool))
            return (nxt, done, seen | done, solved), (s, prev_done)

        false = jnp.zeros((), bool)
        (_, _, _, solved), (states, dones) = jax.lax.scan(step, (s0, false, false, false), acts)
        return states, dones, solved

    return jax.jit(jax.vmap(play))(levels, actions)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    static = static_env_params_from_size("s")
    params = EnvParams(max_timesteps=T)
    suite = {lvl.name: lvl for lvl in load_handmade_suite("s")}
    levels, _ = load_evaluation_levels([suite[n].level_name for n in LEVELS], static)
    env = make_kinetix_env("multi_discrete", "symbolic_flat", None, params, static)
    actions = np.stack([suite[n].solution_actions(T) for n in LEVELS])
    states, dones, solved = _play_scripted(env, params, levels, jnp.asarray(actions))
    assert np.asarray(solved).all(), "the scripted solutions must solve their levels"
    states = jax.tree.map(np.asarray, states)
    path = tmp_path_factory.mktemp("pipeline") / "experts"
    first_reset = np.argmax(np.asarray(dones)[:, 1:], axis=1) + 1
    first_episode = np.arange(T)[None, :] < first_reset[:, None]
    with DatasetWriter(path, static, action_type="multi_discrete", dedup_key="level_id") as w:
        added = w.append(
            {
                "action": actions,
                "action_mask": valid_action_mask_np(states, static),
                "done": np.asarray(dones),
                # Expert weight only on the first (solving) episode: after the reset the
                # script's leftover actions are not expert behaviour.
                "mask": first_episode,
                "env_state": states,
                "level_id": np.arange(len(LEVELS)),
            }
        )
    assert added == len(LEVELS)
    net0 = make_network(
        MODEL, env.observation_type, "multi_discrete", params, static, key=jax.random.PRNGKey(1)
    )
    return dict(
        static=static, params=params, env=env, levels=levels, actions=actions,
        states=states, dones=np.asarray(dones), path=path, net0=net0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def bc(world):
    data = load_bc_dataset(world["path"])
    net, curve = train_bc(
        world["net0"], data, world["env"].observation_type.get_obs, num_updates=100,
        batch_trajectories=len(LEVELS), lr=3e-3, key=jax.random.PRNGKey(2), log_every=5,
    )  # fmt: skip
    return data, net, curve


def test_dataset_round_trips(world):
    data = load_bc_dataset(world["path"])
    np.testing.assert_array_equal(data["action"], world["actions"])
    np.testing.assert_array_equal(data["done"], world["dones"])
    for a, b in zip(jax.tree.leaves(data["env_state"]), jax.tree.leaves(world["states"])):
        np.testing.assert_array_equal(np.asarray(a), b)
    np.testing.assert_array_equal(
        data["action_mask"], valid_action_mask_np(world["states"], world["static"])
    )
    # Episode lengths seen by the episode API end where the scripted play first reset.
    lengths = open_dataset(world["path"]).episode_lengths()
    first_reset = np.argmax(world["dones"][:, 1:], axis=1) + 1
    np.testing.assert_array_equal(lengths, first_reset)


def test_bc_fits_the_expert(world, bc):
    data, net, curve = bc
    assert curve["step"][0] == 1 and curve["step"][-1] == 100
    assert curve["loss"][-1] < 0.5 * curve["loss"][0], curve["loss"]
    # The clone's greedy action equals the expert's on the controlled channels of most steps.
    obs = jax.vmap(jax.vmap(world["env"].observation_type.get_obs))(
        jax.tree.map(jnp.asarray, data["env_state"])
    )
    to_tm = lambda x: jnp.swapaxes(x, 0, 1)
    _, dist, _ = net(net.initialize_carry(len(LEVELS)), (to_tm(obs), to_tm(data["done"])))
    mode = np.asarray(to_tm(dist.mode()))
    agree = ((mode == data["action"]) | ~data["action_mask"]).all(-1)
    expert = data["mask"] > 0
    assert expert.sum() < expert.size  # the weights select the first episodes only
    assert agree[expert].mean() > 0.9


def test_finetune_starts_from_bc_and_moves(world, bc):
    _, bc_net, _ = bc
    cfg = PPOConfig(
        num_train_envs=8, num_steps=16, total_timesteps=8 * 16 * 2, num_minibatches=2,
        update_epochs=1, lr=3e-4,
    )  # fmt: skip
    trainer = make_train(
        cfg, world["env"], world["params"], world["static"], world["net0"],
        train_levels=world["levels"],
    )  # fmt: skip
    state = trainer.init(jax.random.PRNGKey(3), bc_net)
    params = lambda n: jax.tree.leaves(eqx.filter(n, eqx.is_inexact_array))
    for a, b in zip(params(state.network), params(bc_net)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    state, metrics = trainer.update(state, 2)
    np.testing.assert_array_equal(np.asarray(metrics["timesteps"]), [128, 256])
    assert np.isfinite(np.asarray(metrics["total_loss"])).all()
    moved = [not np.array_equal(np.asarray(a), np.asarray(b))
             for a, b in zip(params(state.network), params(bc_net))]  # fmt: skip
    assert any(moved)


def test_evaluation_agrees_with_rollouts(world, bc):
    _, bc_net, _ = bc
    env, params, static, levels = world["env"], world["params"], world["static"], world["levels"]
    res = evaluate(
        bc_net, levels, env, params, static, num_attempts=2, key=jax.random.PRNGKey(4),
        deterministic=True,
    )  # fmt: skip
    assert res["solved"].shape == (len(LEVELS), 2)
    assert 0.0 <= res["mean_solve_rate"] <= 1.0
    np.testing.assert_allclose(res["solve_rate"], res["solved"].mean(1))
    # A greedy policy on a deterministic env: both attempts play the same episode.
    np.testing.assert_array_equal(res["solved"][:, 0], res["solved"][:, 1])
    for i in range(len(LEVELS)):
        level = jax.tree.map(lambda x, i=i: x[i], levels)
        ep = rollout_episode(bc_net, level, env, params, key=jax.random.PRNGKey(5),
                             deterministic=True)  # fmt: skip
        assert ep["solved"] == bool(res["solved"][i, 0])
        assert ep["length"] == int(res["lengths"][i, 0])
        np.testing.assert_allclose(ep["return"], res["returns"][i, 0], rtol=1e-5, atol=1e-5)
    # The clone of a scripted expert solves most of its training levels.
    assert res["mean_solve_rate"] >= 0.75
