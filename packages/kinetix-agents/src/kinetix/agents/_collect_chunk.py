"""The expensive part of expert collection: one chunk of levels, jitted. Each level's
specialist PPO agent is trained on its own level (``vmap`` over the chunk), then plays one
greedy trajectory on it.

Part of :mod:`kinetix.agents.collect`, which re-exports :func:`level_key`.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents._collect_config import CollectConfig
from kinetix.agents.models import make_network
from kinetix.agents.ppo import make_train
from kinetix.environment import make_kinetix_env, make_vmapped_filtered_level_sampler
from kinetix.environment.ued import make_reset_fn_sample_kinetix_level


def level_key(seed: int, level_id: int) -> jax.Array:
    """The PRNG key of level ``level_id`` (also stored as ``level_rngs``)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), level_id)


def _make_chunk_fn(config: CollectConfig):
    """``chunk(level_keys (C, 2)) -> trajectories`` (jitted; the expensive part)."""
    env_params, static = config.env_params(), config.static_env_params()
    env = make_kinetix_env(config.action_type, config.observation_type, None, env_params, static)
    sampler = make_vmapped_filtered_level_sampler(
        make_reset_fn_sample_kinetix_level(env_params, static),
        env_params,
        static,
        {
            "filter_levels": config.filter_levels,
            "level_filter_n_steps": config.level_filter_n_steps,
            "level_filter_sample_ratio": config.level_filter_sample_ratio,
        },
        env,
    )
    ppo, model = config.ppo_config(), config.model_config()
    T = config.max_timesteps

    def build_network(key):
        return make_network(
            model, config.observation_type, config.action_type, env_params, static, key=key
        )

    template = eqx.filter_eval_shape(build_network, jax.random.PRNGKey(0))

    def sample(key):
        return jax.tree.map(lambda x: x[0], sampler(key, 1))

    def train(level, key):
        trainer = make_train(
            ppo,
            env,
            env_params,
            static,
            template,
            train_levels=jax.tree.map(lambda x: x[None], level),
            network_init_fn=build_network,
        )
        state, metrics = trainer.train(key)
        return state.network, metrics["episode_solved"][-1]

    def rollout(network, level, key):
        obs, start = env.reset(key, env_params, level)

        def step(runner, k):
            obs, s, carry, prev_done, seen, solved = runner
            add_tb = lambda x: jax.tree.map(lambda y: y[None, None], x)
            carry, dist, _ = network(carry, (add_tb(obs), prev_done[None, None]))
            action = dist.mode()[0, 0]
            obs, s_next, _, done, info = env.step(k, s, action, env_params, level)
            solved = jnp.where(~seen & done, info["GoalR"].astype(bool), solved)
            return (obs, s_next, carry, done, seen | done, solved), (s, action, prev_done)

        false = jnp.zeros((), bool)
        runner = (obs, start, network.initialize_carry(1), false, false, false)
        runner, (states, actions, dones) = jax.lax.scan(step, runner, jax.random.split(key, T))
        return states, actions, dones, runner[5]

    # Three programs rather than one: each compiles faster, and the fused one stalled XLA:CPU.
    v_sample = jax.jit(jax.vmap(sample))
    v_train = eqx.filter_jit(jax.vmap(train))
    v_rollout = eqx.filter_jit(jax.vmap(rollout))

    def chunk(keys):
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        levels = v_sample(split[:, 0])
        networks, train_solve = v_train(levels, split[:, 1])
        states, actions, dones, solved = v_rollout(networks, levels, split[:, 2])
        return states, actions, dones, solved, train_solve

    return chunk


def _run_chunk(config: CollectConfig, chunk_fn, chunk: range):
    """Level ids (padded to ``chunk_size``), their keys, and the chunk's results on the host."""
    ids = np.arange(chunk.start, chunk.start + config.chunk_size)  # pad the last chunk
    keys = np.asarray(jax.vmap(lambda i: level_key(config.seed, i))(jnp.asarray(ids)))
    states, actions, dones, solved, _ = chunk_fn(jnp.asarray(keys))
    states, actions, dones, solved = jax.device_get((states, actions, dones, solved))
    return ids, keys, (states, actions, dones, np.asarray(solved)[: len(chunk)])
