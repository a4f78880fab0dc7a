"""The demo's training and evaluation stages after collection (which is
:mod:`kinetix.agents.demo_collect`): behaviour cloning on the collected dataset, PPO with a
held-out learning curve (fine-tuning and from scratch), the final evaluation table; and the
progress line every stage prints.

Part of :mod:`kinetix.agents.demo`, which re-exports :func:`load_bc_dataset` and
:func:`train_bc`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents._demo_config import DemoConfig
from kinetix.agents._demo_env import _Env
from kinetix.agents._demo_results import StageResult


def _progress(msg: str) -> None:
    cpu = time.process_time()
    print(f"[demo {time.strftime('%H:%M:%S')} cpu {cpu:.0f}s] {msg}", flush=True)


# ----------------------------------------------------------------------------------------- BC


def load_bc_dataset(path: str | Path) -> dict[str, Any]:
    """Read a whole (small) dataset into host memory as a BC batch source.

    Returns ``{"action", "action_mask", "mask", "done", "env_state"}`` with leading axes
    ``(N, T)``; ``action_mask`` is recomputed from the states when the dataset has none and
    ``mask`` (expert weight) defaults to ones.

    Raises:
        kinetix.data.DatasetFormatError: the path holds no readable dataset.
    """
    from kinetix.data import fields_to_env_state, open_dataset, valid_action_mask_np

    ds = open_dataset(str(path))
    f = ds.read(slice(None))
    state = fields_to_env_state(f, ds.static_env_params)
    action = np.asarray(f["action"])
    done = np.asarray(f["done"], bool)
    if "action_mask" in f:
        action_mask = np.asarray(f["action_mask"], bool)
    else:
        action_mask = valid_action_mask_np(state, ds.static_env_params)
    mask = np.asarray(f["mask"], np.float32) if "mask" in f else np.ones(done.shape, np.float32)
    return {
        "action": action,
        "action_mask": action_mask,
        "mask": mask,
        "done": done,
        "env_state": state,
        "static_env_params": ds.static_env_params,
    }


def train_bc(
    network: Any,
    data: dict[str, Any],
    get_obs: Callable[[Any], Any],
    *,
    num_updates: int,
    batch_trajectories: int,
    lr: float,
    key: jax.Array,
    log_every: int = 10,
) -> tuple[Any, dict[str, list[float]]]:
    """Behaviour cloning on in-memory trajectories (uniform minibatches of whole trajectories).

    Args:
        network: the initial actor-critic.
        data: :func:`load_bc_dataset`'s output.
        get_obs: the observation function the network reads.
        num_updates, batch_trajectories, lr: optimisation.
        key: PRNG key (minibatch choice).
        log_every: record the loss every this many updates (and at the first and last).

    Returns:
        ``(network, {"step": [...], "loss": [...]})``.

    Example:
        >>> net, curve = train_bc(net, load_bc_dataset("runs/demo/data"), obs_fn.get_obs,
        ...                       num_updates=10, batch_trajectories=4, lr=1e-3,
        ...                       key=jax.random.PRNGKey(0))  # doctest: +SKIP
    """
    from kinetix.agents.bc import BCBatch, init_bc_state, make_bc_optimizer, make_bc_step

    optimizer = make_bc_optimizer(lr, num_updates)
    k_state, k_batches = jax.random.split(key)
    state = init_bc_state(network, optimizer, k_state)
    step = make_bc_step(optimizer, get_obs, disentangled=True)
    n = data["action"].shape[0]
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_batches)).tolist())
    curve: dict[str, list[float]] = {"step": [], "loss": []}
    for i in range(1, num_updates + 1):
        idx = rng.choice(n, size=batch_trajectories, replace=n < batch_trajectories)
        batch = BCBatch(
            jnp.asarray(data["action"][idx]),
            jnp.asarray(data["action_mask"][idx]),
            jnp.asarray(data["mask"][idx]),
            jnp.asarray(data["done"][idx]),
            jax.tree.map(lambda x: jnp.asarray(x[idx]), data["env_state"]),
        )
        state, metrics = step(state, batch)
        if i == 1 or i % log_every == 0 or i == num_updates:
            curve["step"].append(i)
            curve["loss"].append(float(metrics["loss"]))
    return state.network, curve


# ---------------------------------------------------------------------------------------- PPO


def _ppo(
    config: DemoConfig,
    e: _Env,
    network: Any,
    train_levels: Any,
    heldout: Any,
    key: jax.Array,
    name: str,
) -> tuple[Any, StageResult, dict[str, list[float]]]:
    """PPO on the training pool from ``network``, evaluated on held-out levels along the way."""
    from kinetix.agents.evaluation import evaluate
    from kinetix.agents.ppo import PPOConfig, make_train

    t0 = time.perf_counter()
    pcfg = PPOConfig(
        num_train_envs=config.ppo_num_envs,
        num_steps=config.ppo_num_steps,
        total_timesteps=config.ppo_timesteps,
        num_minibatches=config.ppo_num_minibatches,
        update_epochs=config.ppo_update_epochs,
        lr=config.ppo_lr,
        ent_coef=config.ppo_ent_coef,
    )
    trainer = make_train(pcfg, e.env, e.env_params, e.static, network, train_levels=train_levels)
    k_init, k_eval = jax.random.split(key)
    state = trainer.init(k_init)
    steps_per_update = config.ppo_num_envs * config.ppo_num_steps
    total = config.ppo_updates
    chunk = config.ppo_chunk
    ends = [min(total, k) for k in range(chunk, total + chunk, chunk)]
    curve: dict[str, list[float]] = {k: [] for k in (
        "env_steps", "heldout_solve_rate", "heldout_return", "train_steps", "train_solved"
    )}  # fmt: skip

    def record(done_updates: int) -> None:
        res = evaluate(
            state.network, heldout, e.env, e.env_params, e.static,
            num_attempts=config.curve_attempts, key=jax.random.fold_in(k_eval, done_updates),
        )  # fmt: skip
        curve["env_steps"].append(done_updates * steps_per_update)
        curve["heldout_solve_rate"].append(float(res["mean_solve_rate"]))
        curve["heldout_return"].append(float(res["mean_return"]))

    record(0)
    done = 0
    train_time = 0.0
    for end in ends:
        t = time.perf_counter()
        state, metrics = trainer.update(state, end - done)
        metrics = jax.device_get(metrics)
        train_time += time.perf_counter() - t
        curve["train_steps"] += [float(x) for x in np.asarray(metrics["timesteps"])]
        curve["train_solved"] += [float(x) for x in np.asarray(metrics["episode_solved"])]
        done = end
        record(done)
        _progress(
            f"{name}: {done}/{total} updates, {done * steps_per_update:,} env steps, held-out "
            f"solve rate {curve['heldout_solve_rate'][-1]:.3f}"
        )
    stage = StageResult(
        name,
        time.perf_counter() - t0,
        done * steps_per_update,
        {"train_wall_s": train_time, "updates": done},
    )
    return state.network, stage, curve


# ---------------------------------------------------------------------------------- evaluation


def _final_eval(config: DemoConfig, e: _Env, networks: dict[str, Any], sets: dict[str, Any], key):
    from kinetix.agents.evaluation import evaluate

    table: dict[str, dict[str, dict[str, float]]] = {}
    for agent, net in networks.items():
        table[agent] = {}
        for set_name, levels in sets.items():
            res = evaluate(
                net, levels, e.env, e.env_params, e.static,
                num_attempts=config.final_attempts, key=jax.random.fold_in(key, len(table)),
            )  # fmt: skip
            table[agent][set_name] = {
                "solve_rate": float(res["mean_solve_rate"]),
                "return": float(res["mean_return"]),
                "best_of_k": float(res["best_of_k_solve_rate"]),
                "per_level_solve_rate": [float(x) for x in np.asarray(res["solve_rate"])],
            }
    return table
