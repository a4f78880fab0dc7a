"""Our side of the agents benchmark (imported by ``_agents_worker.py --impl ours``).

PPO: ``kinetix.agents.ppo.make_train`` with the default entity transformer
(``ModelConfig()``, 786,369 parameters), multi-discrete actions, ``symbolic_entity`` observations
(kinetix-render through the env's observation registry), auto-reset to a freshly sampled random
level (``make_reset_fn_from_config({"train_level_mode": "random"})``), ``EnvParams
(dense_reward_scale=0.2)`` as ``ppo.yaml``. The timed function is ``Trainer.update`` on the
array leaves of the ``PPOState``.

BC: ``kinetix.agents.bc.make_bc_step`` (render observations from the stored states, disentangled
loss, ``make_bc_optimizer`` = clip + AdamW) on the extracted batch.
"""

from __future__ import annotations

import argparse

import numpy as np
from _agents_worker import env_state_from_arrays

MODEL = "default entity transformer (tf-paper: depth 5 x 128 trunk, 2 layers, 8 heads)"


def _env_params(size: str):
    from kinetix.environment import EnvParams, static_env_params_from_size

    return EnvParams(dense_reward_scale=0.2), static_env_params_from_size(size)


def _network(env_params, static, seed: int):
    import jax

    from kinetix.agents.models import ModelConfig, count_params, make_network

    net = make_network(
        ModelConfig(),
        "symbolic_entity",
        "multi_discrete",
        env_params,
        static,
        key=jax.random.PRNGKey(seed),
    )
    return net, count_params(net)


def build_ppo(args: argparse.Namespace) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from kinetix.agents.ppo import PPOConfig, make_train
    from kinetix.environment import make_kinetix_env, make_reset_fn_from_config

    env_params, static = _env_params(args.size)
    reset_fn = make_reset_fn_from_config({"train_level_mode": "random"}, env_params, static)
    env = make_kinetix_env("multi_discrete", "symbolic_entity", reset_fn, env_params, static)
    net, n_params = _network(env_params, static, args.seed)
    config = PPOConfig(
        num_train_envs=args.envs,
        num_steps=args.steps,
        num_minibatches=args.minibatches,
        update_epochs=args.epochs,
        total_timesteps=args.envs * args.steps * 1000,
        lr=args.lr or 5e-5,
    )
    trainer = make_train(config, env, env_params, static, net)
    state = trainer.init(jax.random.PRNGKey(args.seed + 1))
    dynamic, static_part = eqx.partition(state, eqx.is_array)

    def fn(dyn):
        new_state, metrics = trainer.update(eqx.combine(dyn, static_part), args.updates)
        aux = {
            "total_loss": metrics["total_loss"].mean(),
            "entropy": metrics["entropy"].mean(),
            "mean_reward": metrics["mean_reward"].mean(),
            "episodes": metrics["num_episodes"].sum(),
        }
        return eqx.partition(new_state, eqx.is_array)[0], jax.tree.map(jnp.asarray, aux)

    return {
        "fn": fn,
        "carry": dynamic,
        "num_params": n_params,
        "description": (
            f"kinetix.agents.ppo.make_train -> Trainer.update; {MODEL}; multi_discrete; "
            "symbolic_entity (kinetix-render); random levels via make_reset_fn_from_config"
        ),
    }


def build_bc(args: argparse.Namespace) -> dict:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from kinetix.agents.bc import BCBatch, init_bc_state, make_bc_optimizer, make_bc_step
    from kinetix.environment import create_empty_env
    from kinetix.environment.observations import resolve_observation

    env_params, static = _env_params(args.size)
    arrays = dict(np.load(args.data))
    env_state = env_state_from_arrays(create_empty_env(static), arrays)
    batch = BCBatch(
        action=jnp.asarray(arrays["action"]),
        action_mask=jnp.asarray(arrays["action_mask"]),
        mask=jnp.asarray(arrays["mask"]),
        done=jnp.asarray(arrays["done"]),
        env_state=env_state,
    )
    net, n_params = _network(env_params, static, args.seed)
    optimizer = make_bc_optimizer(args.lr or 3e-4, 10**6)
    state = init_bc_state(net, optimizer, jax.random.PRNGKey(args.seed + 1))
    get_obs = resolve_observation("symbolic_entity", env_params, static).get_obs
    step = make_bc_step(optimizer, get_obs, disentangled=True)
    dynamic, static_part = eqx.partition(state, eqx.is_array)

    def fn(carry):
        dyn, b = carry
        new_state, metrics = step(eqx.combine(dyn, static_part), b)
        aux = {k: metrics[k] for k in ("loss", "nll_joint", "entropy", "grad_norm")}
        return (eqx.partition(new_state, eqx.is_array)[0], b), aux

    b, t = arrays["action"].shape[:2]
    return {
        "fn": fn,
        "carry": (dynamic, batch),
        "num_params": n_params,
        "batch_shape": [int(b), int(t)],
        "transitions": int(b * t),
        "description": (
            f"kinetix.agents.bc.make_bc_step (disentangled loss, clip + AdamW); {MODEL}; "
            "symbolic_entity rendered from env_state by kinetix-render"
        ),
    }


def extract_bc_batch(dataset: str, out: str, trajectories: int, time_steps: int) -> dict:
    """Write ``trajectories`` whole trajectories (cut to ``time_steps``) of a released
    trajectory split to ``out`` (action, action_mask, mask, done, env_state leaves)."""
    from jax.tree_util import keystr, tree_flatten_with_path

    from kinetix.data import TrajectoryDatasetManager

    manager = TrajectoryDatasetManager(
        dataset_dir=dataset, batch_size=trajectories, seed=0, prefetch=0
    )
    batch = manager.load_next_batch()
    cut = lambda x: np.ascontiguousarray(np.asarray(x)[:, :time_steps])
    arrays = {
        "action": cut(batch.action).astype(np.int32),
        "action_mask": cut(batch.action_mask).astype(bool),
        "mask": cut(batch.mask).astype(np.float32),
        "done": cut(batch.done).astype(bool),
    }
    for path, leaf in tree_flatten_with_path(batch.env_state)[0]:
        arrays["env_state" + keystr(path)] = cut(leaf)
    np.savez(out, **arrays)
    return {
        "task": "extract",
        "dataset": dataset,
        "out": out,
        "shape": list(arrays["action"].shape),
        "static_env_params": str(manager.static_env_params),
    }
