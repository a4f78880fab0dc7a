import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import FlatObsFn

from kinetix.agents.curriculum import (
    ACCELConfig,
    PLRConfig,
    plr_init,
    plr_insert,
    plr_probabilities,
    plr_sample,
    plr_update_scores,
    positive_value_loss,
)


def _levels(values):
    return {"x": jnp.asarray(values, jnp.float32)}


def test_insert_fills_then_replaces_lowest_only_if_better():
    buf = plr_init({"x": jnp.zeros(())}, 3)
    buf = plr_insert(buf, _levels([1.0, 2.0, 3.0]), jnp.array([0.5, 0.1, 0.9]))
    assert bool(buf.filled.all())
    buf = plr_insert(buf, _levels([4.0, 5.0]), jnp.array([0.05, 0.7]))
    # 4.0 (score 0.05) is worse than everything; 5.0 replaces 2.0 (score 0.1)
    assert sorted(np.asarray(buf.levels["x"]).tolist()) == [1.0, 3.0, 5.0]
    np.testing.assert_allclose(sorted(np.asarray(buf.scores).tolist()), [0.5, 0.7, 0.9])


def test_probabilities_rank_and_staleness():
    cfg = PLRConfig(buffer_size=4, staleness_coef=0.0, temperature=1.0)
    buf = plr_init({"x": jnp.zeros(())}, 4)
    buf = plr_insert(buf, _levels([1.0, 2.0, 3.0]), jnp.array([0.2, 0.9, 0.5]))
    p = np.asarray(plr_probabilities(buf, cfg))
    slot = {float(v): i for i, v in enumerate(np.asarray(buf.levels["x"])) if buf.filled[i]}
    h = np.array([1 / 1, 1 / 2, 1 / 3])  # ranks of scores 0.9, 0.5, 0.2
    np.testing.assert_allclose(p[[slot[2.0], slot[3.0], slot[1.0]]], h / h.sum(), rtol=1e-6)
    assert p[~np.asarray(buf.filled)].sum() == 0
    # staleness only: after sampling, never-resampled slots are preferred
    cfg_s = PLRConfig(buffer_size=4, staleness_coef=1.0)
    buf2 = plr_update_scores(buf, jnp.array([slot[2.0]]), jnp.array([0.9]))
    buf2, idx, lv = plr_sample(buf2, cfg_s, jax.random.PRNGKey(0), 2)
    np.testing.assert_array_equal(
        np.asarray(lv["x"]), np.asarray(buf2.levels["x"])[np.asarray(idx)]
    )
    assert int(buf2.step) == 1
    p2 = np.asarray(plr_probabilities(buf2, cfg_s))
    assert np.all(p2[np.asarray(idx)] == 0.0)


def test_positive_value_loss():
    adv = jnp.array([[1.0, -1.0], [-2.0, 3.0]])
    np.testing.assert_allclose(np.asarray(positive_value_loss(adv)), [0.5, 1.5])


def test_plr_config_errors():
    with pytest.raises(ValueError, match="replay_prob"):
        PLRConfig(replay_prob=1.5)
    with pytest.raises(ValueError, match="buffer_size"):
        PLRConfig(buffer_size=0)
    with pytest.raises(ValueError, match="num_edits"):
        ACCELConfig(num_edits=0)


def _plr_setup(weak_thrust):
    from kinetix.agents.models import ModelConfig, make_network
    from kinetix.environment import make_kinetix_env

    state, static, params = weak_thrust
    obs = FlatObsFn(params, static)
    # the no-op dummy env: the curriculum logic does not need physics, and it compiles fast
    env = make_kinetix_env("multi_discrete", obs, None, params, static, create_dummy_env=True)
    cfg_m = ModelConfig(actor_depth=1, critic_depth=1, actor_width=8, critic_width=8)
    net = make_network(cfg_m, obs, "multi_discrete", params, static, key=jax.random.PRNGKey(0))
    blue = state.replace(polygon_shape_roles=state.polygon_shape_roles.at[0].set(2))
    pool = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, blue)

    def sampler(rng, n):
        idx = jax.random.randint(rng, (n,), 0, 2)
        return jax.tree.map(lambda x: x[idx], pool)

    return env, params, static, net, pool, sampler


def test_ppo_with_plr_fills_buffer_and_replays(weak_thrust):
    from kinetix.agents.ppo import PPOConfig, make_train

    env, params, static, net, _, sampler = _plr_setup(weak_thrust)
    ppo = PPOConfig(
        num_train_envs=4, num_steps=8, num_minibatches=1, update_epochs=1, total_timesteps=4 * 8 * 6
    )
    plr = PLRConfig(buffer_size=4, replay_prob=0.5, min_fill=0.5)
    trainer = make_train(ppo, env, params, static, net, level_sampler=sampler, curriculum=plr)
    final, metrics = trainer.train(jax.random.PRNGKey(0))
    assert bool(final.plr_buffer.filled.all())
    replay = np.asarray(metrics["plr_replay"])
    assert replay.any() and not replay[0]  # nothing to replay at the start
    assert not np.asarray(metrics["plr_mutate"]).any()  # PLR never edits
    assert np.isfinite(np.asarray(final.plr_buffer.scores)).all()
    assert (np.asarray(final.plr_buffer.scores) >= 0).all()


def _level_key(level, i):
    """Hashable summary of buffer slot ``i`` (roles, activity and rounded positions)."""
    pick = lambda x: np.asarray(x)[i]
    return (
        pick(level.polygon_shape_roles).tobytes(),
        pick(level.circle_shape_roles).tobytes(),
        pick(level.polygon.active).tobytes(),
        pick(level.circle.active).tobytes(),
        pick(level.thruster.active).tobytes(),
        np.round(pick(level.polygon.position), 4).tobytes(),
        np.round(pick(level.circle.position), 4).tobytes(),
        np.round(pick(level.polygon.rotation), 4).tobytes(),
        np.round(pick(level.gravity), 4).tobytes(),
    )


def test_ppo_with_accel_inserts_mutated_levels(weak_thrust):
    from kinetix.agents.curriculum import ACCELBuffer
    from kinetix.agents.ppo import PPOConfig, make_train

    env, params, static, net, pool, sampler = _plr_setup(weak_thrust)
    ppo = PPOConfig(
        num_train_envs=2, num_steps=4, num_minibatches=1, update_epochs=1, total_timesteps=2 * 4 * 5
    )
    # replay_prob=1: update 1 plays fresh levels (buffer empty), then replay / edit alternate
    accel = ACCELConfig(buffer_size=8, replay_prob=1.0, min_fill=0.2, num_edits=2)
    trainer = make_train(ppo, env, params, static, net, level_sampler=sampler, curriculum=accel)
    final, metrics = trainer.train(jax.random.PRNGKey(0))
    replay = np.asarray(metrics["plr_replay"]).tolist()
    mutate = np.asarray(metrics["plr_mutate"]).tolist()
    assert replay == [False, True, False, True, False]
    assert mutate == [False, False, True, False, True]
    buf = final.plr_buffer
    assert isinstance(buf, ACCELBuffer)
    filled = np.asarray(buf.plr.filled)
    # 2 fresh levels, then 2 edited children per edit update fill empty slots
    assert filled.sum() == 6
    originals = {_level_key(pool, i) for i in range(2)}
    in_buffer = [_level_key(buf.plr.levels, i) for i in np.flatnonzero(filled)]
    edited = [k for k in in_buffer if k not in originals]
    assert len(edited) >= 3, "ACCEL inserted no (or too few) edited levels"
    assert np.isfinite(np.asarray(buf.plr.scores)).all()
