"""PPO runs behind ``kinetix train-ppo`` and ``kinetix finetune``: from scratch, or initialised
from a behaviour-cloning checkpoint (spec section 6), with periodic orbax checkpoints that a
killed run resumes from, online evaluation, metrics and plots.

Fine-tuning copies the BC network's encoder and actor (and with ``load_critic=True`` its critic,
which BC never trained) into PPO's freshly built state, and with ``reuse_rms=True`` the BC run's
observation statistics. The optimiser state is never taken from BC (BC used AdamW, PPO uses
Adam), matching the reference's default ``load_only_params=True``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from kinetix.agents.checkpoint import (
    CheckpointManager,
    read_checkpoint_metadata,
    restore_policy_arrays,
)
from kinetix.agents.config import (
    ConfigError,
    FinetuneConfig,
    TrainPPOConfig,
    config_to_dict,
    curriculum_config,
    env_params_from_config,
    model_config,
    ppo_config,
)
from kinetix.agents.metrics import MetricsLogger, ProgressBar

__all__ = ["PPORunResult", "build_ppo", "load_bc_into_ppo", "run_finetune", "run_ppo"]


@dataclasses.dataclass(frozen=True)
class PPORunResult:
    """What :func:`run_ppo` returns: the final ``PPOState``, the run directory, the step it
    resumed from (or None) and the last logged metrics."""

    state: Any
    run_dir: Path
    resumed_from: int | None
    last_metrics: dict[str, Any]


def build_ppo(config: TrainPPOConfig) -> tuple[Any, Any, Any, Any, Any]:
    """Env, network and trainer of a PPO config.

    Returns:
        ``(trainer, env, env_params, static_env_params, network)``.
    """
    from kinetix.agents.models import make_network
    from kinetix.agents.ppo import make_train
    from kinetix.environment import make_kinetix_env, make_reset_fn_from_config

    env_params, static = env_params_from_config(config)
    tl = config.train_levels
    reset_fn = make_reset_fn_from_config(
        {"train_level_mode": tl.train_level_mode, "train_levels_list": list(tl.train_levels_list)},
        env_params,
        static,
    )
    env = make_kinetix_env(
        config.env.action_type,
        config.env.observation_type,
        reset_fn,
        env_params,
        static,
        create_dummy_env=config.env.dummy_env,
        physics_numerics=config.env.physics_numerics,
    )
    network = make_network(
        model_config(config),
        env.observation_type,  # the observation object: works for any registered type
        config.env.action_type,
        env_params,
        static,
        key=jax.random.fold_in(jax.random.PRNGKey(config.seed), 1),
    )
    curriculum = curriculum_config(config)
    level_sampler = None
    if curriculum is not None:
        # the curriculum draws its fresh levels from the train_levels distribution
        level_sampler = lambda rng, n: jax.vmap(reset_fn)(jax.random.split(rng, n))
    trainer = make_train(
        ppo_config(config),
        env,
        env_params,
        static,
        network,
        level_sampler=level_sampler,
        curriculum=curriculum,
    )
    return trainer, env, env_params, static, network


def _check_same_model(config: Any, bc_config: dict[str, Any], path: str) -> None:
    ours = dataclasses.asdict(model_config(config))
    theirs = bc_config.get("model", {})
    diff = {k: (theirs.get(k), v) for k, v in ours.items() if k in theirs and theirs[k] != v}
    for key in ("observation_type", "action_type"):
        theirs_v = bc_config.get("env", {}).get(key)
        if theirs_v is not None and theirs_v != getattr(config.env, key):
            diff[f"env.{key}"] = (theirs_v, getattr(config.env, key))
    if diff:
        lines = ", ".join(f"{k}: checkpoint {a!r} vs run {b!r}" for k, (a, b) in diff.items())
        raise ConfigError(
            f"checkpoint {path} was trained with a different network config ({lines}); "
            "fine-tuning needs the same model, observation and action types"
        )


def load_bc_into_ppo(
    state: Any,
    bc_checkpoint: str,
    *,
    config: Any,
    load_critic: bool = False,
    reuse_rms: bool = True,
) -> Any:
    """Replace a fresh ``PPOState``'s network (and RMS statistics) by a BC checkpoint's.

    Args:
        state: ``Trainer.init``'s state.
        bc_checkpoint: a BC (or PPO) run's checkpoint directory.
        config: this run's config (its model/obs/action types must match the checkpoint's).
        load_critic: also copy the critic MLP and value head (BC never trained them).
        reuse_rms: take the checkpoint's observation statistics when it has some.

    Raises:
        ConfigError: the checkpoint's network config differs from ``config``.
    """
    meta = read_checkpoint_metadata(bc_checkpoint)
    _check_same_model(config, meta.get("config", {}), bc_checkpoint)
    template: dict[str, Any] = {"network": state.network}
    if meta.get("has_rms"):
        template["rms"] = state.rms
    loaded = restore_policy_arrays(bc_checkpoint, template)
    net = loaded["network"]
    if not load_critic:
        fresh = state.network.trunk
        net = eqx.tree_at(
            lambda n: (n.trunk.critic, n.trunk.value_head), net, (fresh.critic, fresh.value_head)
        )
    state = eqx.tree_at(lambda s: s.network, state, net)
    if reuse_rms and "rms" in loaded:
        state = eqx.tree_at(lambda s: s.rms, state, loaded["rms"])
    return state


def _boundaries(start: int, total: int, periods: list[int]) -> list[int]:
    """Update counts where a chunk ends: multiples of any period, and ``total``."""
    ends = {total}
    for p in periods:
        if p > 0:
            ends.update(range(p, total, p))
    return sorted(e for e in ends if e > start)


def run_ppo(
    config: TrainPPOConfig,
    *,
    init_fn: Any = None,
    online_eval: Any = None,
    kind: str = "ppo",
) -> PPORunResult:
    """Train PPO; resumes from the run directory's last checkpoint when there is one.

    Updates run in jitted chunks that end at every checkpoint, evaluation and log boundary
    (``misc.checkpoint_save_freq``, ``eval.eval_freq``, ``misc.log_freq``).

    Args:
        config: the run config.
        init_fn: ``state -> state`` applied to the fresh state of a new run (fine-tuning).
        online_eval: ``online_eval(network, rms, step) -> dict``; default: hand-designed and
            sampled levels (:mod:`kinetix.agents.online_eval`); off when ``eval.eval_freq <= 0``.
        kind: run-name prefix and checkpoint ``kind``.
    """
    from kinetix.agents.bc_train import _save_plots, run_directory

    trainer, _, env_params, static, _ = build_ppo(config)
    pcfg = trainer.config
    num_updates = pcfg.num_updates
    state = trainer.init(jax.random.PRNGKey(config.seed))
    run_dir = run_directory(config, kind)
    ckpt = CheckpointManager(
        run_dir / "checkpoints",
        save_every=config.misc.checkpoint_save_freq,
        max_to_keep=config.misc.max_checkpoints_to_keep,
        metadata={"config": config_to_dict(config), "kind": kind, "has_rms": pcfg.rms_norm},
    )
    resumed_from = ckpt.latest_step()
    if resumed_from is not None:
        state, _ = ckpt.restore(state)
    else:
        if config.misc.load_from_checkpoint:
            state = load_bc_into_ppo(
                state, config.misc.load_from_checkpoint, config=config, load_critic=True
            )
        if init_fn is not None:
            state = init_fn(state)
    start = int(state.update_step)
    if online_eval is None and config.eval.eval_freq > 0:
        from kinetix.agents.online_eval import make_online_eval

        online_eval = make_online_eval(config, env_params, static)
    is_main = jax.process_index() == 0
    logger = MetricsLogger(
        run_dir,
        use_tensorboard=config.misc.use_tensorboard,
        resume_step=start if resumed_from is not None else None,
        enabled=is_main,
    )
    progress = ProgressBar(
        num_updates, initial=start, desc=f"{kind}", enabled=is_main and config.misc.progress_bar
    )
    eval_freq = config.eval.eval_freq
    rms_of = lambda s: s.rms if pcfg.rms_norm else None
    if online_eval is not None and start == 0 and not config.misc.skip_initial_eval:
        logger.log(0, online_eval(state.network, rms_of(state), 0), prefix="eval/")
    last: dict[str, Any] = {}
    done = start
    log_freq = max(1, config.misc.log_freq)
    for end in _boundaries(
        start, num_updates, [config.misc.checkpoint_save_freq, eval_freq, log_freq]
    ):
        state, metrics = trainer.update(state, end - done)
        metrics = jax.device_get(metrics)
        for i in range(end - done):
            step = done + i + 1
            if step % log_freq == 0 or step == num_updates:
                last = jax.tree.map(lambda x, i=i: np.asarray(x)[i], metrics)
                logger.log(step, {"ppo": last})
        progress.update(end - done, last)
        done = end
        if online_eval is not None and eval_freq > 0 and end % eval_freq == 0:
            logger.log(end, online_eval(state.network, rms_of(state), end), prefix="eval/")
        policy = {"network": state.network}
        if pcfg.rms_norm:
            policy["rms"] = state.rms
        ckpt.save(end, state, policy=policy, force=end == num_updates)
    progress.close()
    logger.close()
    ckpt.close()
    if is_main and config.misc.save_plots:
        with contextlib.suppress(Exception):
            _save_plots(logger.path, run_dir, kind)
    return PPORunResult(state=state, run_dir=run_dir, resumed_from=resumed_from, last_metrics=last)


def run_finetune(config: FinetuneConfig, *, online_eval: Any = None) -> PPORunResult:
    """PPO initialised from ``config.bc_checkpoint`` (see the module docstring).

    Raises:
        ConfigError: ``misc.load_only_params=False`` (BC's AdamW state cannot seed PPO's Adam)
            or the checkpoint's network config differs.
    """
    if not config.misc.load_only_params:
        raise ConfigError(
            "misc.load_only_params=False: a BC checkpoint's optimiser state (AdamW) cannot "
            "initialise PPO's Adam; keep the default True"
        )
    init = lambda s: load_bc_into_ppo(
        s,
        config.bc_checkpoint,
        config=config,
        load_critic=config.load_critic,
        reuse_rms=config.reuse_rms,
    )
    return run_ppo(config, init_fn=init, online_eval=online_eval, kind="finetune")
