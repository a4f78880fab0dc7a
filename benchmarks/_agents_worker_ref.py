"""Reference side of the agents benchmark (imported by ``_agents_worker.py --impl ref``).

reference = the reference env + the reference flax model in an equivalent PureJaxRL loop: the
reference's ``experiments/ppo.py`` and ``offline_bc.py`` are not distributed on PyPI, so the
training step is assembled here from what ``kinetix-env==3.0.2`` ships:

* env: ``make_kinetix_env(MULTI_DISCRETE, SYMBOLIC_ENTITY, ...)`` wrapped in its ``LogWrapper``,
  reset function ``make_reset_fn_from_config({"train_level_mode": "random"})`` (a fresh random
  level at every auto-reset, as ``ppo.yaml``'s ``train_levels=random``), ``EnvParams
  (dense_reward_scale=0.2)``, ``static_env_params_from_size(size)``;
* network: ``kinetix.models.make_network_from_config`` with the ``model-base`` +
  ``model-transformer`` defaults (the 786,369-parameter entity transformer, not recurrent);
* PPO: the rollout mirrors ``kinetix.util.learning.sample_trajectories_rnn`` (but keeps the done
  flags across updates and resets through the env's reset function, as ``ppo.py`` does);
  advantages with the reference's ``compute_gae``; the epochs/minibatches as the reference's
  ``update_actor_critic_rnn`` (re-written: the shipped one calls ``jax.tree.tree_map``, missing
  from jax 0.9, so it cannot run on the reference's own pinned jax); flax ``TrainState`` with ``chain(clip_by_global_norm(1.0),
  adam(lr, eps=1e-5))`` (spec section 4);
* BC: observations rendered with the reference's ``EntityObservations.get_obs`` vmapped over
  ``(B, T)``, the network applied time-major with zero carries and ``done`` resets, the
  disentangled loss (masks aligned, which costs the same as the reference's misaligned pairing),
  plus the logged joint NLL and entropy, and ``inject_hyperparams(chain(clip_by_global_norm(1.0),
  adamw(lr, eps=1e-5, weight_decay=0.0)))`` (spec section 5).

Neither side computes the valid-action mask during PPO rollouts (ours does not need it; the
reference's script computes it only for logging).
"""

from __future__ import annotations

import argparse

import numpy as np
from _agents_worker import env_state_from_arrays

MODEL = "default entity transformer (tf-paper: depth 5 x 128 trunk, 2 layers, 8 heads)"

# model-base + model-transformer + model-perm-invariant-mlp defaults (spec section 3.6).
MODEL_CONFIG = {
    "actor_depth": 5,
    "critic_depth": 5,
    "actor_width": 128,
    "critic_width": 128,
    "activation": "tanh",
    "recurrent_model": False,
    "separate_actor_critic": False,
    "transformer_depth": 2,
    "transformer_size": 16,
    "transformer_encoder_size": 128,
    "num_heads": 8,
    "full_attention_mask": False,
    "aggregate_mode": "dummy_and_mean",
    "transformer_ffn": False,
    "multilayer_joint_thruster_mixing": False,
    "joint_thruster_block_num_layers": 2,
    "joint_thruster_block_hidden_dim_multiplication": 4,
    "dropout_prob": 0.0,
    "symbolic_embedding_dim": 256,
    "encoder_size": 64,
    "permutation_invariant_mlp": False,
    "legacy_entity_id": False,
}


def _setup(size: str, reset_fn_needed: bool):
    import kinetix.environment  # noqa: F401  (before kinetix.render/models: circular imports)
    from kinetix.environment import (
        ActionType,
        EnvParams,
        ObservationType,
        make_kinetix_env,
        static_env_params_from_size,
    )
    from kinetix.environment.ued.ued import make_reset_fn_from_config
    from kinetix.models import make_network_from_config

    env_params = EnvParams(dense_reward_scale=0.2)
    static = static_env_params_from_size(size)
    reset_fn = None
    if reset_fn_needed:
        reset_fn = make_reset_fn_from_config({"train_level_mode": "random"}, env_params, static)
    env = make_kinetix_env(
        ActionType.MULTI_DISCRETE, ObservationType.SYMBOLIC_ENTITY, reset_fn, env_params, static
    )
    config = dict(
        MODEL_CONFIG,
        action_type=ActionType.MULTI_DISCRETE,
        observation_type=ObservationType.SYMBOLIC_ENTITY,
        static_env_params={
            "num_motor_bindings": static.num_motor_bindings,
            "num_thruster_bindings": static.num_thruster_bindings,
        },
    )
    network = make_network_from_config(env, env_params, config, network_kws={})
    return env, env_params, static, network


def _only_params(variables: dict) -> dict:
    # init also returns the collections the model sow()s into (actor/critic features, per call
    # shape (T, B, width)); keep only the trainable parameters so the optimiser state and the
    # count match the 786,369-parameter model (and the reference does no extra work).
    return {"params": variables["params"]}


def _count(params) -> int:
    import jax

    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params)))


def build_ppo(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training.train_state import TrainState

    from kinetix.environment.wrappers import LogWrapper
    from kinetix.models import GeneralActorCriticRNN
    from kinetix.util.learning import compute_gae

    base_env, env_params, _static, network = _setup(args.size, reset_fn_needed=True)
    env = LogWrapper(base_env)
    n_envs = args.envs
    rng = jax.random.PRNGKey(args.seed + 1)
    rng, k_net, k_reset = jax.random.split(rng, 3)
    obs, env_state = jax.jit(jax.vmap(env.reset, in_axes=(0, None)))(
        jax.random.split(k_reset, n_envs), env_params
    )
    hstate = GeneralActorCriticRNN.initialize_carry(n_envs)
    done = jnp.zeros((n_envs,), bool)
    add_t = lambda tree: jax.tree.map(lambda x: x[None], tree)
    params = _only_params(network.init(k_net, hstate, add_t((obs, done))))
    tx = optax.chain(
        optax.clip_by_global_norm(1.0), optax.adam(learning_rate=args.lr or 5e-5, eps=1e-5)
    )
    train_state = TrainState.create(apply_fn=network.apply, params=params, tx=tx)
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    gamma, gae_lambda, clip_eps, ent_coef, vf_coef = 0.995, 0.9, 0.2, 0.01, 0.5

    def ppo_epochs(rng, train_state, init_hstate, batch):
        # update_actor_critic_rnn's structure (per epoch: permute envs, cut whole sequences into
        # minibatches, scan Adam steps; reset flags = dones shifted by one step). Written out here
        # because the shipped function calls jax.tree.tree_map, which jax 0.9 does not have.
        obs, actions, dones, log_probs, values, targets, advantages = batch
        last_dones = jnp.roll(dones, 1, axis=0).at[0].set(False)
        batch = (obs, actions, last_dones, log_probs, values, targets, advantages)

        def minibatch_step(train_state, mb):
            mb_hstate, obs, actions, last_dones, log_probs, values, targets, advantages = mb

            def loss_fn(params):
                _, pi, values_pred = train_state.apply_fn(params, mb_hstate, (obs, last_dones))
                ratio = jnp.exp(pi.log_prob(actions) - log_probs)
                adv = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                l_clip = -jnp.minimum(
                    ratio * adv, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv
                ).mean()
                v_clipped = values + jnp.clip(values_pred - values, -clip_eps, clip_eps)
                l_vf = (
                    0.5
                    * jnp.maximum(
                        jnp.square(values_pred - targets), jnp.square(v_clipped - targets)
                    ).mean()
                )
                entropy = pi.entropy().mean()
                loss = l_clip + vf_coef * l_vf - ent_coef * entropy
                return loss, (l_vf, l_clip, entropy)

            loss, grads = jax.value_and_grad(loss_fn, has_aux=True)(train_state.params)
            train_state = train_state.apply_gradients(grads=grads)
            return train_state, (loss, optax.global_norm(grads))

        def epoch(carry, _):
            rng, train_state = carry
            rng, k_perm = jax.random.split(rng)
            perm = jax.random.permutation(k_perm, n_envs)
            nm = args.minibatches
            mbs = (
                jax.tree.map(
                    lambda x: jnp.take(x, perm, axis=0).reshape(nm, -1, *x.shape[1:]),
                    init_hstate,
                ),
                *jax.tree.map(
                    lambda x: jnp.swapaxes(
                        jnp.take(x, perm, axis=1).reshape(x.shape[0], nm, -1, *x.shape[2:]), 0, 1
                    ),
                    batch,
                ),
            )
            train_state, out = jax.lax.scan(minibatch_step, train_state, mbs)
            return (rng, train_state), out

        return jax.lax.scan(epoch, (rng, train_state), None, length=args.epochs)

    def one_update(runner, _):
        rng, train_state, hstate, obs, env_state, done = runner
        init_hstate = hstate

        def env_step(carry, _):
            rng, hstate, obs, env_state, done = carry
            rng, k_act, k_step = jax.random.split(rng, 3)
            hstate, pi, value = train_state.apply_fn(train_state.params, hstate, add_t((obs, done)))
            action = pi.sample(seed=k_act)
            log_prob = pi.log_prob(action)
            value, action, log_prob = jax.tree.map(lambda x: x[0], (value, action, log_prob))
            next_obs, env_state, reward, next_done, info = v_step(
                jax.random.split(k_step, n_envs), env_state, action, env_params
            )
            step = (obs, action, reward, next_done, log_prob, value, info)
            return (rng, hstate, next_obs, env_state, next_done), step

        (rng, hstate, obs, env_state, done), traj = jax.lax.scan(
            env_step, (rng, hstate, obs, env_state, done), None, length=args.steps
        )
        _, _, last_value = train_state.apply_fn(train_state.params, hstate, add_t((obs, done)))
        t_obs, actions, rewards, dones, log_probs, values, info = traj
        advantages, targets = compute_gae(gamma, gae_lambda, last_value[0], values, rewards, dones)
        (rng, train_state), (losses, grad_norms) = ppo_epochs(
            rng,
            train_state,
            init_hstate,
            (t_obs, actions, dones, log_probs, values, targets, advantages),
        )
        loss, (_l_vf, _l_clip, entropy) = losses
        ended = info["returned_episode"].astype(jnp.float32)
        n_ended = ended.sum()
        safe = jnp.maximum(n_ended, 1.0)
        metrics = {
            "total_loss": loss.mean(),
            "entropy": entropy.mean(),
            "mean_reward": rewards.mean(),
            "episodes": n_ended,
            "episode_return": (info["returned_episode_returns"] * ended).sum() / safe,
            "grad_norm": grad_norms.mean(),
        }
        return (rng, train_state, hstate, obs, env_state, done), metrics

    def fn(runner):
        runner, metrics = jax.lax.scan(one_update, runner, None, length=args.updates)
        aux = {
            "total_loss": metrics["total_loss"].mean(),
            "entropy": metrics["entropy"].mean(),
            "mean_reward": metrics["mean_reward"].mean(),
            "episodes": metrics["episodes"].sum(),
        }
        return runner, aux

    return {
        "fn": fn,
        "carry": (rng, train_state, hstate, obs, env_state, done),
        "num_params": _count(params),
        "description": (
            "reference env + reference flax model in an equivalent PureJaxRL loop "
            "(kinetix.util.learning.compute_gae + update_actor_critic_rnn's epoch structure; the "
            "reference's "
            f"experiments/ppo.py is not distributed on PyPI); {MODEL}; multi_discrete; "
            "symbolic_entity (reference renderer); random levels via make_reset_fn_from_config"
        ),
    }


def build_bc(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp
    import optax
    from flax.training.train_state import TrainState

    from kinetix.environment import create_empty_env
    from kinetix.models import GeneralActorCriticRNN

    env, env_params, static, network = _setup(args.size, reset_fn_needed=False)
    arrays = dict(np.load(args.data))
    try:
        template = create_empty_env(static)
    except TypeError:
        template = create_empty_env(env_params, static)
    env_state = env_state_from_arrays(template, arrays)
    batch = {
        "action": jnp.asarray(arrays["action"]),
        "action_mask": jnp.asarray(arrays["action_mask"]),
        "mask": jnp.asarray(arrays["mask"]),
        "done": jnp.asarray(arrays["done"]),
        "env_state": env_state,
    }
    b, t = arrays["action"].shape[:2]
    get_obs = jax.vmap(jax.vmap(env.observation_type.get_obs))
    to_tm = lambda x: jnp.swapaxes(x, 0, 1)
    hstate = GeneralActorCriticRNN.initialize_carry(b)
    example_obs = jax.eval_shape(get_obs, env_state)
    init_x = jax.tree.map(lambda s: jnp.zeros((t, b) + s.shape[2:], s.dtype), example_obs)
    params = _only_params(
        network.init(jax.random.PRNGKey(args.seed), hstate, (init_x, to_tm(batch["done"])))
    )
    make_tx = lambda learning_rate: optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.adamw(learning_rate, eps=1e-5, weight_decay=0.0),
    )
    tx = optax.inject_hyperparams(make_tx)(learning_rate=args.lr or 3e-4)
    train_state = TrainState.create(apply_fn=network.apply, params=params, tx=tx)

    def fn(carry):
        train_state, batch = carry
        obs = jax.tree.map(to_tm, get_obs(batch["env_state"]))
        dones = to_tm(batch["done"])
        actions = to_tm(batch["action"])
        m = to_tm(batch["action_mask"]).astype(jnp.float32)
        w = to_tm(batch["mask"]).astype(jnp.float32)

        def loss_fn(params):
            _, pi, _ = train_state.apply_fn(params, hstate, (obs, dones))
            lp = pi.log_prob_disentangled(actions)
            denom = jnp.maximum(1.0, w.sum())
            per_t = (m * lp).sum(-1) / jnp.maximum(1.0, m.sum(-1))
            loss = -(w * per_t).sum() / denom
            nll_joint = -(w * lp.sum(-1)).sum() / denom
            entropy = (w * pi.entropy()).sum() / denom
            return loss, (nll_joint, entropy)

        (loss, (nll_joint, entropy)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            train_state.params
        )
        train_state = train_state.apply_gradients(grads=grads)
        aux = {
            "loss": loss,
            "nll_joint": nll_joint,
            "entropy": entropy,
            "grad_norm": optax.global_norm(grads),
        }
        return (train_state, batch), aux

    return {
        "fn": fn,
        "carry": (train_state, batch),
        "num_params": _count(params),
        "batch_shape": [int(b), int(t)],
        "transitions": int(b * t),
        "description": (
            "reference renderer + reference flax model + optax clip/AdamW, disentangled loss, in "
            f"an equivalent jitted BC step (offline_bc.py is not on PyPI); {MODEL}"
        ),
    }
