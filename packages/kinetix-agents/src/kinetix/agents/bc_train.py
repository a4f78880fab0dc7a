"""The behaviour-cloning run behind ``kinetix train-bc``: data loading, data-parallel updates,
validation, online evaluation, checkpoints (resumable after a kill), metrics and plots."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Any

import jax

from kinetix.agents.bc import (
    BCState,
    as_bc_batch,
    init_bc_state,
    make_bc_optimizer,
    make_bc_step,
    make_bc_validation_fn,
)
from kinetix.agents.checkpoint import CheckpointManager
from kinetix.agents.config import (
    TrainBCConfig,
    bc_num_updates,
    config_to_dict,
    env_name,
    env_params_from_config,
    model_config,
)
from kinetix.agents.distributed import make_mesh, process_shard, replicate, shard_batch
from kinetix.agents.metrics import MetricsLogger, ProgressBar

__all__ = ["BCRunResult", "make_bc_data", "run_bc", "run_directory"]

_RELEASED_TRAJECTORY_LENGTH = 256


@dataclasses.dataclass(frozen=True)
class BCRunResult:
    """What :func:`run_bc` returns.

    Attributes:
        state: the final train state.
        run_dir: the run's output directory (``metrics.csv``, ``checkpoints/``, plots).
        resumed_from: the checkpoint step the run resumed from, or None.
        last_metrics: the metrics of the last logged step.
    """

    state: BCState
    run_dir: Path
    resumed_from: int | None
    last_metrics: dict[str, Any]


def run_directory(config: Any, kind: str) -> Path:
    """``<misc.save_path>/<misc.run_name>``; the default name is
    ``<kind>-<EnvName>-<env_size>-s<seed>`` (deterministic, so a rerun finds its checkpoints)."""
    name = config.misc.run_name or f"{kind}-{env_name(config)}-{config.env_size}-s{config.seed}"
    return Path(config.misc.save_path) / name


def _trajectory_length(dataset_dir: str) -> int:
    """``T`` of a dataset in our format (from its manifest); the released data uses 256."""
    from kinetix.data.format import is_our_format, read_manifest

    if is_our_format(dataset_dir):
        return read_manifest(dataset_dir).trajectory_length
    return _RELEASED_TRAJECTORY_LENGTH


def make_bc_data(config: TrainBCConfig, static_env_params: Any) -> Any:
    """The kinetix-data loader of a BC run, reading this process's shard.

    Trajectory mode: ``minibatch_size // (T · processes)`` trajectories per process and step;
    flat mode: ``minibatch_size // processes`` transitions.

    Raises:
        ValueError: the minibatch is smaller than one trajectory per process.
    """
    from kinetix.data import ShuffledDatasetManager, TrajectoryDatasetManager

    dataset_dir = config.dataset_dir
    if "://" not in dataset_dir:
        dataset_dir = os.path.abspath(dataset_dir)  # tensorstore needs absolute file paths
    shard_index, shard_count = process_shard()
    per_process = config.learning.minibatch_size // shard_count
    common = dict(
        static_env_params=static_env_params,
        seed=config.seed,
        maximum_number_of_shards=config.maximum_number_of_shards,
        n_val_shards=config.n_val_shards,
        shard_index=shard_index,
        total_shard_count=shard_count,
    )
    if config.use_trajectory_data:
        t = _trajectory_length(dataset_dir)
        if per_process < t:
            raise ValueError(
                f"learning.minibatch_size={config.learning.minibatch_size} gives {per_process} "
                f"transitions per process, less than one trajectory (T={t}) of "
                f"{config.dataset_dir}; use a multiple of {t * shard_count}"
            )
        return TrajectoryDatasetManager(
            dataset_dir,
            batch_size=per_process // t,
            val_batch_size=max(1, config.validation_batch_size // t),
            **common,
        )
    return ShuffledDatasetManager(
        dataset_dir,
        batch_size=per_process,
        val_batch_size=config.validation_batch_size,
        **common,
    )


def run_bc(
    config: TrainBCConfig,
    *,
    data: Any = None,
    online_eval: Any = None,
) -> BCRunResult:
    """Train a policy by behaviour cloning; resumes from the run directory's last checkpoint.

    Args:
        config: the run config.
        data: a loader with ``load_next_batch()``, ``validation_batch``, ``state_dict()`` and
            ``load_state_dict()``; default :func:`make_bc_data`.
        online_eval: ``online_eval(network, rms, step) -> dict`` of metrics, called at step 0
            (unless ``misc.skip_initial_eval``) and every ``eval.eval_freq`` steps
            (``eval_freq <= 0`` disables it); default: hand-designed and sampled levels through
            :func:`kinetix.agents.online_eval.make_online_eval`.

    Example:
        >>> cfg = load_config(TrainBCConfig, ["dataset_dir=data/tiny", "env_size=s"])  # doctest: +SKIP
        >>> run_bc(cfg).run_dir  # doctest: +SKIP
    """
    from kinetix.agents.models import make_network
    from kinetix.agents.rms import init_rms
    from kinetix.environment import create_empty_env
    from kinetix.environment.observations import resolve_observation

    mesh = make_mesh()
    is_main = jax.process_index() == 0
    env_params, static = env_params_from_config(config)
    obs_fn = resolve_observation(config.env.observation_type, env_params, static)
    if data is None:
        data = make_bc_data(config, static)
    num_updates = bc_num_updates(config)
    ln = config.learning
    optimizer = make_bc_optimizer(
        ln.lr,
        num_updates,
        max_grad_norm=ln.max_grad_norm,
        weight_decay=ln.weight_decay,
        adam_eps=ln.adam_eps,
        anneal_lr=ln.anneal_lr,
        warmup_lr=ln.warmup_lr,
        warmup_frac=ln.warmup_frac,
    )
    k_net, k_state = jax.random.split(jax.random.PRNGKey(config.seed))
    mcfg = model_config(config)
    # The observation object (not its name) so any registered observation, even the built-in
    # "blind" one, gets a network with the layout of its output.
    network = make_network(mcfg, obs_fn, config.env.action_type, env_params, static, key=k_net)
    rms = init_rms(obs_fn.get_obs(create_empty_env(static))) if ln.rms_norm else None
    state = init_bc_state(network, optimizer, k_state, rms)

    run_dir = run_directory(config, "bc")
    ckpt = CheckpointManager(
        run_dir / "checkpoints",
        save_every=config.misc.checkpoint_save_freq,
        max_to_keep=config.misc.max_checkpoints_to_keep,
        metadata={"config": config_to_dict(config), "kind": "bc", "has_rms": rms is not None},
    )
    start, resumed_from = 0, ckpt.latest_step()
    if resumed_from is not None:
        state, meta = ckpt.restore(state)
        data.load_state_dict(meta["extra"]["loader"])
        start = int(meta["step"])
    state = replicate(state, mesh)

    step_fn = make_bc_step(
        optimizer,
        obs_fn.get_obs,
        disentangled=config.disentangled_bc_loss,
        dropout=mcfg.dropout_prob > 0,
    )
    validate = make_bc_validation_fn(obs_fn.get_obs, disentangled=config.disentangled_bc_loss)
    val_raw = data.validation_batch
    val_batch = None if val_raw is None else shard_batch(as_bc_batch(val_raw), mesh)
    if online_eval is None and config.eval.eval_freq > 0:
        from kinetix.agents.online_eval import make_online_eval

        online_eval = make_online_eval(config, env_params, static)

    logger = MetricsLogger(
        run_dir,
        use_tensorboard=config.misc.use_tensorboard,
        resume_step=start if resumed_from is not None else None,
        enabled=is_main,
    )
    progress = ProgressBar(
        num_updates, initial=start, desc="train-bc", enabled=is_main and config.misc.progress_bar
    )
    eval_freq = config.eval.eval_freq
    if (
        online_eval is not None
        and eval_freq > 0
        and start == 0
        and not config.misc.skip_initial_eval
    ):
        logger.log(0, online_eval(state.network, state.rms, 0), prefix="eval/")

    last: dict[str, Any] = {}
    log_freq = max(1, config.misc.log_freq)
    for step in range(start + 1, num_updates + 1):
        batch = shard_batch(as_bc_batch(data.load_next_batch()), mesh)
        state, metrics = step_fn(state, batch)
        if step % log_freq == 0 or step == num_updates:
            last = {"bc": metrics}
            if val_batch is not None:
                last["validation"] = validate(state, val_batch)
            logger.log(step, last)
        if online_eval is not None and eval_freq > 0 and step % eval_freq == 0:
            logger.log(step, online_eval(state.network, state.rms, step), prefix="eval/")
        progress.update(1, metrics if step % log_freq == 0 else None)
        ckpt.save(
            step,
            state,
            policy=_policy_tree(state),
            extra={"loader": data.state_dict()},
            force=step == num_updates,
        )
    progress.close()
    logger.close()
    ckpt.close()
    if is_main and config.misc.save_plots:
        _save_plots(logger.path, run_dir, "behaviour cloning")
    return BCRunResult(state=state, run_dir=run_dir, resumed_from=resumed_from, last_metrics=last)


def _policy_tree(state: BCState) -> dict[str, Any]:
    tree: dict[str, Any] = {"network": state.network}
    if state.rms is not None:
        tree["rms"] = state.rms
    return tree


def _save_plots(csv_path: Path, run_dir: Path, title: str) -> None:
    from kinetix.agents.plots import plot_learning_curves

    # matplotlib is an optional extra: without it a run simply has no PNG.
    with contextlib.suppress(ImportError):
        plot_learning_curves(csv_path, run_dir / "learning_curves.png", title=title)
