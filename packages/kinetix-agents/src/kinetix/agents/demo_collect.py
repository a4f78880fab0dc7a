"""The demo's collection stage: a PPO expert per level (:mod:`kinetix.agents.collect`) or one
shared PPO expert on all collection levels; both write solved trajectories with
:class:`kinetix.data.DatasetWriter` and return a :class:`~kinetix.agents.demo.StageResult`."""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents._demo_config import DemoConfig
from kinetix.agents._demo_env import _Env, _sample_levels, _take
from kinetix.agents._demo_results import StageResult
from kinetix.agents._demo_stages import _progress

__all__ = ["collect_shared", "collect_specialists"]


def collect_specialists(config: DemoConfig, e: _Env, data_dir: Path) -> StageResult:
    """Specialist PPO per level (:mod:`kinetix.agents.collect`); solved trajectories written.

    Collection levels are ``fold_in(PRNGKey(seed), i)`` for ``i < num_collect_levels`` (the
    collector's own level stream); a rerun finds them done and skips them.
    """
    from kinetix.agents.collect import CollectConfig, collect

    t0 = time.perf_counter()
    cc = CollectConfig(
        out=str(data_dir),
        env_size=config.env_size,
        num_levels=config.num_collect_levels,
        chunk_size=min(config.collect_chunk_size, config.num_collect_levels),
        seed=config.seed,
        observation_type=config.observation_type,
        action_type=config.action_type,
        max_timesteps=e.env_params.max_timesteps,
        dense_reward_scale=e.env_params.dense_reward_scale,
        num_train_envs=config.collect_num_envs,
        total_timesteps=config.collect_timesteps_per_level,
    )
    report = collect(cc, progress=False)
    pc = cc.ppo_config()
    per_level = pc.num_updates * pc.num_steps * pc.num_train_envs + cc.max_timesteps
    metrics = {
        "levels": report.total_levels_done,
        "solved": report.total_levels_solved,
        "skipped_already_done": report.levels_skipped,
    }
    return StageResult(
        "collect", time.perf_counter() - t0, report.levels_processed * per_level, metrics
    )


def collect_shared(config: DemoConfig, e: _Env, data_dir: Path) -> StageResult:
    """One PPO expert trained on all collection levels together, then one greedy trajectory of
    ``max_timesteps`` steps per level; levels whose first episode reaches the goal are written
    (expert weight ``mask`` on that first episode only). An existing dataset is reused."""
    from kinetix.agents.models import make_network
    from kinetix.agents.ppo import PPOConfig, make_train
    from kinetix.data import DatasetWriter, open_dataset, valid_action_mask_np
    from kinetix.data.format import is_our_format

    t0 = time.perf_counter()
    n = config.num_collect_levels
    if is_our_format(str(data_dir)):
        ds = open_dataset(str(data_dir), allow_empty=True)
        return StageResult("collect", time.perf_counter() - t0, 0, {
            "levels": n, "solved": ds.num_trajectories, "reused": str(data_dir)})  # fmt: skip
    root = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1_000_003)
    k_levels, k_net, k_train, k_roll = jax.random.split(root, 4)
    pool = max(config.num_train_levels, config.num_heldout_levels)  # same sampler compile
    levels = _take(_sample_levels(e, k_levels, max(pool, n)), n)
    # Tiled to the training pool's size (uniform over the n levels all the same) and updated in
    # the same chunks as the PPO stages, so all three PPO runs share one compiled update.
    tiled = jax.tree.map(lambda x: x[np.arange(config.num_train_levels) % n], levels)
    net = make_network(
        config.model, e.env.observation_type, config.action_type, e.env_params, e.static, key=k_net
    )
    total = config.collect_timesteps_per_level * n
    pcfg = PPOConfig(
        num_train_envs=config.ppo_num_envs, num_steps=config.ppo_num_steps, total_timesteps=total,
        num_minibatches=config.ppo_num_minibatches, update_epochs=config.ppo_update_epochs,
        lr=config.ppo_lr, ent_coef=config.ppo_ent_coef,
    )  # fmt: skip
    trainer = make_train(pcfg, e.env, e.env_params, e.static, net, train_levels=tiled)
    state, chunk = trainer.init(k_train), config.ppo_chunk
    solved_hist = []
    num_chunks = -(-pcfg.num_updates // chunk)
    for i in range(num_chunks):
        state, metrics = trainer.update(state, chunk)
        solved_hist += list(np.asarray(metrics["episode_solved"]))
        _progress(
            f"collect: expert PPO {(i + 1) * chunk}/{num_chunks * chunk} updates, training "
            f"solve rate {np.mean(solved_hist[-chunk:]):.3f}"
        )
    num_updates = len(solved_hist)
    expert = state.network
    T = int(e.env_params.max_timesteps)

    @jax.jit
    def play(level, key):
        obs, s0 = e.env.reset(key, e.env_params, level)

        def step(carry, k):
            obs, s, h, prev_done, seen, solved = carry
            add = lambda x: jax.tree.map(lambda y: y[None, None], x)
            h, dist, _ = expert(h, (add(obs), prev_done[None, None]))
            a = dist.mode()[0, 0]
            obs, nxt, _, done, info = e.env.step(k, s, a, e.env_params, level)
            solved = solved | (~seen & done & info["GoalR"].astype(bool))
            return (obs, nxt, h, done, seen | done, solved), (s, a, prev_done)

        f = jnp.zeros((), bool)
        carry = (obs, s0, expert.initialize_carry(1), f, f, f)
        carry, traj = jax.lax.scan(step, carry, jax.random.split(key, T))
        return traj, carry[5]

    (states, actions, dones), solved = jax.vmap(play)(levels, jax.random.split(k_roll, n))
    keep = np.flatnonzero(np.asarray(solved))
    if keep.size:
        pick = lambda x: np.asarray(x)[keep]
        states, actions, dones = jax.tree.map(pick, states), pick(actions), pick(dones)
        first_reset = np.where(dones[:, 1:].any(1), np.argmax(dones[:, 1:], axis=1) + 1, T)
        with DatasetWriter(
            data_dir, e.static, env_size=config.env_size, action_type=config.action_type,
            provenance={"collector": "kinetix.agents.demo (shared PPO expert)",
                        "seed": config.seed, "timesteps": total},
        ) as w:  # fmt: skip
            w.append({
                "action": actions,
                "action_mask": valid_action_mask_np(states, e.static),
                "done": dones,
                "mask": np.arange(T)[None] < first_reset[:, None],
                "env_state": states,
                "level_id": keep.astype(np.int64),
            })  # fmt: skip
    env_steps = num_updates * pcfg.num_steps * pcfg.num_train_envs + n * T
    train_solved = float(np.mean(solved_hist[-5:]))
    return StageResult("collect", time.perf_counter() - t0, env_steps, {
        "levels": n, "solved": int(keep.size), "expert_train_solve_rate": round(train_solved, 3)})  # fmt: skip
