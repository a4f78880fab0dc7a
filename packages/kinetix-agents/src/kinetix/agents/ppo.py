"""PPO, PureJaxRL-style: the whole training loop is jitted (``lax.scan`` over updates, each a
``lax.scan`` rollout over ``num_steps`` vectorised env steps, GAE, and ``update_epochs`` x
``num_minibatches`` gradient steps over whole env sequences).

``make_train`` returns a :class:`Trainer`:

* ``trainer.init(rng, network=None) -> PPOState``
* ``trainer.update(state, num_updates) -> (state, metrics)``: a jitted scan of updates, so
  training can be checkpointed between chunks and resumed bitwise;
* ``trainer.train(rng) -> (state, metrics)``: init + all ``config.num_updates`` in one jit;
* ``trainer.train_seeds(rngs)``: ``train`` vmapped over a batch of keys.

Data parallel: the env axis is sharded over a 1-D ``"devices"`` mesh of ``devices`` (default: all
local devices) with ``jax.sharding``; parameters, optimiser state and observation statistics are
replicated. Every loss is a mean over the global batch, so XLA all-reduces the gradients (their
average over devices, weighted by shard size) and the run equals the one-device run of the same
global batch up to float reduction order.

Per-update metrics are returned stacked (leading ``num_updates`` axis) and, if a ``callback`` is
given, also sent to it from inside the jitted loop with ``jax.debug.callback``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from kinetix.agents.curriculum import (
    ACCELConfig,
    PLRConfig,
    curriculum_choose_levels,
    curriculum_init,
    curriculum_metrics,
    curriculum_update,
    positive_value_loss,
)
from kinetix.agents.distributed import AXIS
from kinetix.agents.gae import compute_gae
from kinetix.agents.ppo_config import (
    MAX_NUM_UPDATES,
    PPOConfig,
    derive_num_updates,
    make_lr_schedule,
)
from kinetix.agents.rms import RunningMeanStandard, init_rms, normalise, update_rms
from kinetix.environment import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.wrappers import LogWrapper

__all__ = [
    "MAX_NUM_UPDATES",
    "PPOConfig",
    "PPOState",
    "Transition",
    "Trainer",
    "derive_num_updates",
    "make_lr_schedule",
    "make_train",
]


class Transition(eqx.Module):
    """One rollout step of a batch of envs (leaves ``(B, ...)``; stacked ``(T, B, ...)``).

    ``prev_done`` is the done flag of the previous step (the network's carry-reset input),
    ``done`` the one this step produced (used by GAE).
    """

    prev_done: jax.Array
    done: jax.Array
    action: jax.Array
    value: jax.Array
    reward: jax.Array
    log_prob: jax.Array
    obs: Any
    action_mask: Any
    info: dict


class PPOState(eqx.Module):
    """Everything PPO carries between updates (a pytree: checkpoint it with any pytree saver).

    Attributes:
        network: the actor-critic (its arrays are the parameters).
        opt_state: optax state.
        env_state: batched (``LogWrapper``) env states.
        obs: current observations ``(B, ...)`` (unnormalised).
        done: done flags of the last step ``(B,)``.
        carry: recurrent carry.
        rng: PRNG key.
        update_step: number of updates done.
        rms: observation statistics (used only with ``rms_norm``).
        plr_buffer: the curriculum's level buffer (a ``PLRBuffer``, an ``ACCELBuffer`` for
            ACCEL, ``None`` without a curriculum).
    """

    network: Any
    opt_state: Any
    env_state: Any
    obs: Any
    done: jax.Array
    carry: Any
    rng: jax.Array
    update_step: jax.Array
    rms: RunningMeanStandard
    plr_buffer: Any = None


@dataclasses.dataclass(frozen=True)
class Trainer:
    """Jitted PPO entry points built by :func:`make_train` (see the module docstring)."""

    config: PPOConfig
    init: Callable[..., PPOState]
    update: Callable[[PPOState, int], tuple[PPOState, dict]]
    train: Callable[[jax.Array], tuple[PPOState, dict]]
    train_seeds: Callable[[jax.Array], tuple[PPOState, dict]]


def _pick_levels(levels: EnvState, key: jax.Array, n: int) -> EnvState:
    num = jax.tree.leaves(levels)[0].shape[0]
    idx = jax.random.randint(key, (n,), 0, num)
    return jax.tree.map(lambda x: x[idx], levels)


def make_train(
    config: PPOConfig,
    env: Any,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    network: eqx.Module,
    *,
    train_levels: EnvState | None = None,
    level_sampler: Callable[[jax.Array, int], EnvState] | None = None,
    callback: Callable[[dict], None] | None = None,
    network_init_fn: Callable[[jax.Array], eqx.Module] | None = None,
    curriculum: PLRConfig | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> Trainer:
    """Build PPO for an env and a network.

    Args:
        config: hyper-parameters.
        env: a :class:`~kinetix.environment.KinetixEnv` (wrapped in ``LogWrapper`` here if it is
            not already).
        env_params, static_env_params: the env's parameters.
        network: initial actor-critic (e.g. from :func:`kinetix.agents.models.make_network`).
        train_levels: optional batch of levels (leading axis); every (auto-)reset then picks one
            uniformly instead of calling the env's reset function.
        level_sampler: optional ``(rng, n) -> n levels`` (e.g. a curriculum's or
            ``make_vmapped_filtered_level_sampler``'s) used like ``train_levels`` but redrawn
            every update.
        callback: called with each update's metrics (a dict of scalars) from inside the jitted
            loop via ``jax.debug.callback``.
        network_init_fn: if given, ``init`` builds the network from a split of its rng (so
            ``train_seeds`` trains differently initialised networks).
        curriculum: a :class:`~kinetix.agents.curriculum.PLRConfig` to train with Prioritised
            Level Replay over levels from ``level_sampler`` (required then), or an
            :class:`~kinetix.agents.curriculum.ACCELConfig` for ACCEL (PLR plus edits of the
            replayed levels by :func:`kinetix.environment.make_mutate_env`). Every update then
            starts all envs on its chosen levels.
        devices: devices to train on, data parallel over envs (default ``jax.local_devices()``);
            ``num_train_envs`` and ``num_train_envs / num_minibatches`` must split evenly over
            them.

    Raises:
        ValueError: inconsistent arguments (see above), or env batches that do not split over
            ``devices``.

    Example:
        >>> trainer = make_train(PPOConfig(num_train_envs=8, num_minibatches=2), env,
        ...                      env_params, static_env_params, network)
        >>> state, metrics = trainer.train(jax.random.PRNGKey(0))
    """
    if not isinstance(env, LogWrapper):
        env = LogWrapper(env)
    if train_levels is None and level_sampler is None and env.reset_function is None:
        raise ValueError(
            "make_train: the env has no reset function; pass reset_fn to make_kinetix_env, "
            "train_levels or level_sampler"
        )
    if train_levels is not None and level_sampler is not None:
        raise ValueError("make_train: pass at most one of train_levels and level_sampler")
    if curriculum is not None and level_sampler is None:
        raise ValueError(
            f"make_train: curriculum={type(curriculum).__name__}(...) needs a level_sampler"
        )
    mutate = None
    if isinstance(curriculum, ACCELConfig):
        from kinetix.environment import UEDParams, make_mutate_env

        editor = make_mutate_env(static_env_params, env_params, UEDParams())
        mutate = lambda k, level: editor(k, level, curriculum.num_edits)
    recurrent = bool(getattr(getattr(network, "trunk", None), "grus", ()))
    if config.full_minibatch_shuffle and recurrent:
        raise ValueError("PPOConfig.full_minibatch_shuffle must be False for recurrent networks")
    n_envs = config.num_train_envs
    shard = _EnvSharding(list(jax.local_devices() if devices is None else devices))
    for name, n in (("num_train_envs", n_envs), ("minibatch_envs", config.minibatch_envs)):
        if n % shard.num_devices:
            raise ValueError(
                f"make_train: PPOConfig.{name} = {n} does not split over the "
                f"{shard.num_devices} devices; use a multiple of {shard.num_devices} "
                "(or pass devices=...)"
            )
    tx = optax.chain(
        optax.clip_by_global_norm(config.max_grad_norm),
        optax.adam(learning_rate=make_lr_schedule(config), eps=1e-5),
    )
    v_reset = jax.vmap(
        env.reset, in_axes=(0, None, 0 if _has_levels(train_levels, level_sampler) else None)
    )
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None, 0))
    v_mask = jax.vmap(env.valid_action_mask)

    def reset_levels(rng) -> EnvState | None:
        if train_levels is not None:
            return _pick_levels(train_levels, rng, n_envs)
        if level_sampler is not None:
            return level_sampler(rng, n_envs)
        return None

    def init(rng: jax.Array, network_override: eqx.Module | None = None) -> PPOState:
        rng, k_net, k_lvl, k_reset = jax.random.split(rng, 4)
        net = network
        if network_init_fn is not None:
            net = network_init_fn(k_net)
        if network_override is not None:
            net = network_override
        levels = reset_levels(k_lvl)
        obs, env_state = v_reset(jax.random.split(k_reset, n_envs), env_params, levels)
        params = eqx.filter(net, eqx.is_inexact_array)
        rms = init_rms(jax.tree.map(lambda x: x[0], obs))
        plr_buffer = None
        if curriculum is not None:
            example = jax.tree.map(lambda x: x[0], levels)
            plr_buffer = curriculum_init(curriculum, example, n_envs)
        return shard.state(
            PPOState(
                network=net,
                opt_state=tx.init(params),
                env_state=env_state,
                obs=obs,
                done=jnp.zeros((n_envs,), bool),
                carry=net.initialize_carry(n_envs),
                rng=rng,
                update_step=jnp.asarray(0, jnp.int32),
                rms=rms,
                plr_buffer=plr_buffer,
            )
        )

    def one_update(state: PPOState, static_net) -> tuple[PPOState, dict]:
        params = eqx.filter(state.network, eqx.is_inexact_array)

        def apply(p, carry, obs, done, mask):
            net = eqx.combine(p, static_net)
            return net(carry, (obs, done), mask)

        rng, k_lvl = jax.random.split(state.rng)
        levels = reset_levels(k_lvl)
        start_env_state, start_obs, start_done = state.env_state, state.obs, state.done
        plr_buffer, plr_step = state.plr_buffer, None
        if curriculum is not None:
            rng, k_choose, k_reset = jax.random.split(rng, 3)
            plr_buffer, levels, plr_step = curriculum_choose_levels(
                plr_buffer, curriculum, k_choose, levels, mutate
            )
            start_obs, start_env_state = v_reset(
                jax.random.split(k_reset, n_envs), env_params, levels
            )
            start_done = jnp.ones((n_envs,), bool)
            start_obs, start_env_state, start_done = shard.envs(
                (start_obs, start_env_state, start_done)
            )
        initial_carry = state.carry

        def env_step(runner, _):
            env_state, obs, done, carry, rms, rng = runner
            rng, k_act, k_step = jax.random.split(rng, 3)
            if config.rms_norm:
                rms = update_rms(rms, obs)
                net_obs = normalise(rms, obs)
            else:
                net_obs = obs
            mask = v_mask(env_state.env_state) if config.mask_invalid_actions else None
            add_t = lambda x: jax.tree.map(lambda y: y[None], x)
            carry, dist, value = apply(params, carry, add_t(net_obs), done[None], add_t(mask))
            action = dist.sample(k_act)
            log_prob = dist.log_prob(action)[0]
            action, value = action[0], value[0]
            next_obs, env_state, reward, next_done, info = v_step(
                jax.random.split(k_step, n_envs), env_state, action, env_params, levels
            )
            tr = Transition(done, next_done, action, value, reward, log_prob, net_obs, mask, info)
            env_state, next_obs, next_done, carry = shard.envs(
                (env_state, next_obs, next_done, carry)
            )
            return (env_state, next_obs, next_done, carry, rms, rng), shard.envs(tr)

        runner = (start_env_state, start_obs, start_done, state.carry, state.rms, rng)
        runner, traj = jax.lax.scan(env_step, runner, None, length=config.num_steps)
        env_state, obs, done, carry, rms, rng = runner

        net_obs = normalise(rms, obs) if config.rms_norm else obs
        last_mask = v_mask(env_state.env_state) if config.mask_invalid_actions else None
        add_t = lambda x: jax.tree.map(lambda y: y[None], x)
        _, _, last_value = apply(params, carry, add_t(net_obs), done[None], add_t(last_mask))
        advantages, targets = compute_gae(
            traj.reward, traj.value, traj.done, last_value[0], config.gamma, config.gae_lambda
        )

        if curriculum is not None:
            scores = positive_value_loss(advantages)
            plr_buffer = curriculum_update(plr_buffer, plr_step, levels, scores)

        def loss_fn(p, mb_carry, mb):
            tr, adv, tgt = mb
            _, dist, value = apply(p, mb_carry, tr.obs, tr.prev_done, tr.action_mask)
            log_prob = dist.log_prob(tr.action)
            v_clipped = tr.value + jnp.clip(value - tr.value, -config.clip_eps, config.clip_eps)
            value_loss = (
                0.5 * jnp.maximum(jnp.square(value - tgt), jnp.square(v_clipped - tgt)).mean()
            )
            ratio = jnp.exp(log_prob - tr.log_prob)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            actor_loss = -jnp.minimum(
                ratio * adv, jnp.clip(ratio, 1 - config.clip_eps, 1 + config.clip_eps) * adv
            ).mean()
            entropy = dist.entropy().mean()
            total = actor_loss + config.vf_coef * value_loss - config.ent_coef * entropy
            approx_kl = ((ratio - 1) - jnp.log(ratio)).mean()
            clip_frac = (jnp.abs(ratio - 1) > config.clip_eps).mean()
            return total, dict(
                total_loss=total,
                value_loss=value_loss,
                actor_loss=actor_loss,
                entropy=entropy,
                approx_kl=approx_kl,
                clip_frac=clip_frac,
            )

        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        nm = config.num_minibatches
        data = (traj, advantages, targets)

        def epoch(carry_, _):
            p, opt_state, rng = carry_
            rng, k = jax.random.split(rng)
            if config.full_minibatch_shuffle:
                flat = jax.tree.map(lambda x: x.reshape(1, -1, *x.shape[2:]), data)
                total = config.num_steps * n_envs
                perm = jax.random.permutation(k, total)
                shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=1), flat)
                mbs = jax.tree.map(
                    lambda x: jnp.moveaxis(x.reshape(1, nm, -1, *x.shape[2:]), 1, 0), shuffled
                )
                carries = jax.tree.map(
                    lambda c: jnp.zeros((nm, total // nm, *c.shape[1:]), c.dtype), initial_carry
                )
            else:
                perm = jax.random.permutation(k, n_envs)
                shuffled = jax.tree.map(lambda x: jnp.take(x, perm, axis=1), data)
                mbs = jax.tree.map(
                    lambda x: jnp.moveaxis(x.reshape(x.shape[0], nm, -1, *x.shape[2:]), 1, 0),
                    shuffled,
                )
                carries = jax.tree.map(
                    lambda c: jnp.take(c, perm, axis=0).reshape(nm, -1, *c.shape[1:]),
                    initial_carry,
                )

            def minibatch(c, xs):
                p, opt_state = c
                mb_carry, mb = xs
                (_, aux), grads = grad_fn(p, mb_carry, mb)
                updates, opt_state = tx.update(grads, opt_state, p)
                p = optax.apply_updates(p, updates)
                aux["grad_norm"] = optax.tree.norm(grads)
                return (p, opt_state), aux

            (p, opt_state), aux = jax.lax.scan(minibatch, (p, opt_state), (carries, mbs))
            return (p, opt_state, rng), aux

        float_params = params
        (float_params, opt_state, rng), aux = jax.lax.scan(
            epoch, (float_params, state.opt_state, rng), None, length=config.update_epochs
        )
        new_network = eqx.combine(
            float_params, eqx.filter(state.network, eqx.is_inexact_array, inverse=True)
        )

        info = traj.info
        ended = info["returned_episode"].astype(jnp.float32)
        n_ended = ended.sum()
        safe = jnp.maximum(n_ended, 1.0)
        metrics = {k: v.mean() for k, v in aux.items()}
        metrics.update(
            update_step=state.update_step + 1,
            timesteps=(state.update_step + 1) * config.num_steps * n_envs,
            num_episodes=n_ended,
            episode_return=(info["returned_episode_returns"] * ended).sum() / safe,
            episode_length=(info["returned_episode_lengths"] * ended).sum() / safe,
            episode_solved=(info["returned_episode_solved"] * ended).sum() / safe,
            mean_reward=traj.reward.mean(),
            param_norm=optax.tree.norm(float_params),
        )
        if curriculum is not None:
            metrics.update(curriculum_metrics(plr_buffer, plr_step))
        if callback is not None:
            jax.debug.callback(callback, metrics)
        new_state = shard.state(
            PPOState(
                network=new_network,
                opt_state=opt_state,
                env_state=env_state,
                obs=obs,
                done=done,
                carry=carry,
                rng=rng,
                update_step=state.update_step + 1,
                rms=rms,
                plr_buffer=plr_buffer,
            )
        )
        return new_state, metrics

    def update(state: PPOState, num_updates: int) -> tuple[PPOState, dict]:
        static_net = eqx.filter(state.network, eqx.is_inexact_array, inverse=True)
        dynamic = eqx.filter(state, eqx.is_array)

        def body(dyn, _):
            s = eqx.combine(dyn, eqx.filter(state, eqx.is_array, inverse=True))
            s, metrics = one_update(s, static_net)
            return eqx.filter(s, eqx.is_array), metrics

        dynamic, metrics = jax.lax.scan(body, dynamic, None, length=num_updates)
        return eqx.combine(dynamic, eqx.filter(state, eqx.is_array, inverse=True)), metrics

    def train(rng: jax.Array) -> tuple[PPOState, dict]:
        return update(init(rng), config.num_updates)

    jit_init = eqx.filter_jit(init)
    jit_update = eqx.filter_jit(update)
    return Trainer(
        config=config,
        init=lambda rng, network=None: jit_init(rng, network),
        update=jit_update,
        train=eqx.filter_jit(train),
        train_seeds=eqx.filter_jit(jax.vmap(train)),
    )


class _EnvSharding:
    """Sharding constraints of the data-parallel run: env-axis leaves split over a 1-D
    ``"devices"`` mesh, everything else replicated (no-ops on one device)."""

    def __init__(self, devices: list[jax.Device]):
        self.num_devices = len(devices)
        self.mesh = Mesh(np.asarray(devices), (AXIS,))

    def _put(self, tree: Any, spec: PartitionSpec) -> Any:
        if self.num_devices == 1:
            return tree
        sharding = NamedSharding(self.mesh, spec)
        return jax.tree.map(
            lambda x: jax.lax.with_sharding_constraint(x, sharding) if eqx.is_array(x) else x,
            tree,
        )

    def envs(self, tree: Any) -> Any:
        """Leaves with a leading env axis: split it over the devices."""
        return self._put(tree, PartitionSpec(AXIS))

    def replicated(self, tree: Any) -> Any:
        return self._put(tree, PartitionSpec())

    def state(self, state: PPOState) -> PPOState:
        per_env = (state.env_state, state.obs, state.done, state.carry)
        rest = (state.network, state.opt_state, state.rng, state.update_step, state.rms,
                state.plr_buffer)  # fmt: skip
        per_env, rest = self.envs(per_env), self.replicated(rest)
        env_state, obs, done, carry = per_env
        network, opt_state, rng, update_step, rms, plr_buffer = rest
        return PPOState(
            network, opt_state, env_state, obs, done, carry, rng, update_step, rms, plr_buffer
        )


def _has_levels(train_levels: Any, level_sampler: Any) -> bool:
    return train_levels is not None or level_sampler is not None
