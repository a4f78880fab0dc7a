"""Run by ``test_ppo.py`` in a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``:
the same PPO run (global batch of 4 envs) on one device and data parallel on two; writes both
runs' metrics and parameters to the ``.npz`` given as argv[1]."""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
from conftest import WEAK_THRUST, FlatObsFn

from kinetix.agents.models import ModelConfig, make_network
from kinetix.agents.ppo import PPOConfig, make_train
from kinetix.environment import load_from_json_file, make_kinetix_env


def main(out: str) -> None:
    assert len(jax.devices()) == 2, jax.devices()
    state, static, params = load_from_json_file(WEAK_THRUST)
    obs = FlatObsFn(params, static)
    # the no-op env keeps the compile small; envs still differ by level and sampled actions
    env = make_kinetix_env("multi_discrete", obs, None, params, static, create_dummy_env=True)
    cfg = ModelConfig(actor_depth=1, critic_depth=1, actor_width=8, critic_width=8)
    net = make_network(cfg, obs, "multi_discrete", params, static, key=jax.random.PRNGKey(0))
    blue = state.replace(polygon_shape_roles=state.polygon_shape_roles.at[0].set(2))
    levels = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, blue)
    ppo = PPOConfig(
        num_train_envs=4, num_steps=4, num_minibatches=2, update_epochs=2, lr=1e-2,
        total_timesteps=4 * 4 * 2,
    )  # fmt: skip
    arrays = {}
    for name, devices in (("one", jax.devices()[:1]), ("two", jax.devices())):
        trainer = make_train(ppo, env, params, static, net, train_levels=levels, devices=devices)
        final, metrics = trainer.train(jax.random.PRNGKey(0))
        arrays[f"{name}_obs_devices"] = np.asarray(len(final.obs.sharding.device_set))
        arrays[f"{name}_obs_replicated"] = np.asarray(final.obs.sharding.is_fully_replicated)
        kernel = final.network.trunk.actor.layers[0].kernel
        arrays[f"{name}_params_replicated"] = np.asarray(kernel.sharding.is_fully_replicated)
        for k, v in metrics.items():
            arrays[f"{name}_metric_{k}"] = np.asarray(v)
        for i, leaf in enumerate(jax.tree.leaves(final.network)):
            if hasattr(leaf, "dtype"):
                arrays[f"{name}_param_{i}"] = np.asarray(leaf)
    np.savez(out, **arrays)
    print("OK")


if __name__ == "__main__":
    main(sys.argv[1])
