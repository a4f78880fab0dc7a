"""PPO on ``s/h0_weak_thrust``: doing nothing drops the green shape onto the red one, firing
thruster channel 0 pushes it onto the blue one. A tiny MLP learns it in 20 updates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import FlatObsFn

from kinetix.agents.models import ModelConfig, make_network
from kinetix.agents.ppo import PPOConfig, derive_num_updates, make_lr_schedule, make_train
from kinetix.environment import make_kinetix_env

SMALL = ModelConfig(actor_depth=1, critic_depth=1, actor_width=32, critic_width=32)
CONFIG = PPOConfig(
    num_train_envs=16,
    num_steps=32,
    num_minibatches=2,
    update_epochs=4,
    lr=3e-3,
    gamma=0.99,
    ent_coef=0.0,
    total_timesteps=16 * 32 * 20,
)


@pytest.fixture(scope="module")
def setup(weak_thrust):
    state, static, params = weak_thrust
    obs = FlatObsFn(params, static)
    env = make_kinetix_env("multi_discrete", obs, None, params, static)
    net = make_network(SMALL, obs, "multi_discrete", params, static, key=jax.random.PRNGKey(0))
    levels = jax.tree.map(lambda x: x[None], state)
    return env, params, static, net, levels


def test_ppo_learns_trivial_level_and_resumes_bitwise(setup):
    env, params, static, net, levels = setup
    seen = []
    trainer = make_train(
        CONFIG, env, params, static, net, train_levels=levels, callback=seen.append
    )
    assert CONFIG.num_updates == 20

    state = trainer.init(jax.random.PRNGKey(0))
    state, m1 = trainer.update(state, 10)
    state, m2 = trainer.update(state, 10)
    full_state, full = trainer.train(jax.random.PRNGKey(0))

    solved = np.asarray(full["episode_solved"])
    assert solved[:3].max() < 0.15, solved
    assert solved[-3:].min() > 0.9, solved
    assert np.asarray(full["episode_return"])[-1] > 1.0  # +1 goal plus dense shaping

    # chunked updates give bitwise the same run as one call
    for k in full:
        np.testing.assert_array_equal(
            np.concatenate([m1[k], m2[k]]), np.asarray(full[k]), err_msg=k
        )
    for a, b in zip(jax.tree.leaves(state.network), jax.tree.leaves(full_state.network)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(full_state.update_step) == 20

    # the logging callback saw every update, in order, with the returned values
    jax.effects_barrier()
    assert len(seen) == 40
    steps = [int(m["update_step"]) for m in seen[20:]]
    assert steps == list(range(1, 21))
    np.testing.assert_allclose([float(m["episode_solved"]) for m in seen[20:]], solved)


def test_init_accepts_given_network(setup):
    env, params, static, net, levels = setup
    trainer = make_train(CONFIG, env, params, static, net, train_levels=levels)
    other = make_network(
        SMALL,
        FlatObsFn(params, static),
        "multi_discrete",
        params,
        static,
        key=jax.random.PRNGKey(5),
    )
    s = trainer.init(jax.random.PRNGKey(0), other)
    np.testing.assert_array_equal(
        np.asarray(s.network.trunk.actor.layers[0].kernel),
        np.asarray(other.trunk.actor.layers[0].kernel),
    )
    assert s.obs.shape[0] == 16 and s.done.shape == (16,)


def test_num_updates_and_schedules():
    assert derive_num_updates(10 * 2**30, 64, 2048) == 81_920
    assert PPOConfig().num_updates == 81_920
    cfg = PPOConfig(
        num_train_envs=4,
        num_minibatches=2,
        update_epochs=2,
        num_steps=1,
        total_timesteps=40,
        anneal_lr=True,
        lr=1.0,
    )
    sched = make_lr_schedule(cfg)  # 10 updates, 4 optimizer steps per update
    np.testing.assert_allclose(
        [float(sched(c)) for c in (0, 3, 4, 20)], [1.0, 1.0, 0.9, 0.5], rtol=1e-6
    )
    warm = make_lr_schedule(
        PPOConfig(
            num_train_envs=4,
            num_minibatches=2,
            update_epochs=2,
            num_steps=1,
            total_timesteps=40,
            warmup_lr=True,
            warmup_frac=0.2,
            initial_lr=0.0,
            peak_lr=1.0,
        )
    )
    np.testing.assert_allclose(
        [float(warm(c)) for c in (0, 4, 8, 24)], [0.0, 0.5, 1.0, 0.5], atol=1e-6
    )


def test_config_errors(setup):
    env, params, static, net, levels = setup
    with pytest.raises(ValueError, match="divisible by num_minibatches"):
        PPOConfig(num_train_envs=10, num_minibatches=4)
    with pytest.raises(ValueError, match="no reset function"):
        make_train(CONFIG, env, params, static, net)
    assert jnp.asarray(0).dtype == jnp.int32


def test_data_parallel_on_two_devices_equals_one_device(tmp_path):
    """Same global batch on 1 and 2 (forced host) devices: same metrics and parameters up to
    float reduction order; the 2-device run keeps envs sharded and parameters replicated."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).resolve().parent
    out = tmp_path / "dp.npz"
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(tests), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        [sys.executable, str(tests / "_ppo_data_parallel_script.py"), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    a = dict(np.load(out))
    assert int(a["one_obs_devices"]) == 1
    assert int(a["two_obs_devices"]) == 2 and not bool(a["two_obs_replicated"])
    assert bool(a["two_params_replicated"])
    keys = sorted(
        k[len("one_") :] for k in a if k.startswith("one_metric_") or k.startswith("one_param_")
    )
    assert any(k.startswith("param_") for k in keys) and "metric_total_loss" in keys
    for k in keys:
        np.testing.assert_allclose(a[f"two_{k}"], a[f"one_{k}"], rtol=1e-4, atol=1e-6, err_msg=k)
    # not vacuous: the run trained (the parameters moved from their initial values)
    assert float(np.abs(a["one_metric_grad_norm"]).min()) > 0
