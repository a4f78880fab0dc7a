"""The run configs' schema: the config groups (``env``, ``learning``, ``model``, ``eval``,
``train_levels``, ``ued``, ``misc``), the command dataclasses composed of them
(:class:`TrainPPOConfig`, :class:`TrainBCConfig`, :class:`FinetuneConfig`,
:class:`EvalConfig`) and :class:`ConfigError`.

The ``model`` and PPO ``learning`` groups are generated from
:class:`~kinetix.agents.models.ModelConfig` and :class:`~kinetix.agents.ppo.PPOConfig`.
Part of :mod:`kinetix.agents.config`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from omegaconf import MISSING

from kinetix.agents.models import ModelConfig
from kinetix.agents.ppo import PPOConfig


class ConfigError(ValueError):
    """A bad config key or value (the message lists what was expected)."""


def _mutable_schema(cls: type, name: str) -> type:
    """A non-frozen dataclass with the fields, types and defaults of a frozen one (omegaconf
    needs writable structured configs to merge overrides into)."""
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if typing.get_origin(tp) is tuple:
            tp = list[typing.get_args(tp)[0]] if typing.get_args(tp) else list[Any]
        if f.default is not dataclasses.MISSING:
            default = f.default
            if isinstance(default, tuple):
                fields.append(
                    (f.name, tp, dataclasses.field(default_factory=lambda d=default: list(d)))
                )
            else:
                fields.append((f.name, tp, dataclasses.field(default=default)))
        elif f.default_factory is not dataclasses.MISSING:
            fields.append((f.name, tp, dataclasses.field(default_factory=f.default_factory)))
        else:
            fields.append((f.name, tp))
    return dataclasses.make_dataclass(name, fields)


ModelSettings = _mutable_schema(ModelConfig, "ModelSettings")
PPOLearningSettings = _mutable_schema(PPOConfig, "PPOLearningSettings")


@dataclasses.dataclass
class EnvSettings:
    """``env`` group: observation/action types, reward shaping and the physics numerics
    (``"exact"``: the reference's trajectories; ``"fast"``: faster, differs in the last bits)."""

    observation_type: str = "symbolic_entity"
    action_type: str = "multi_discrete"
    dense_reward_scale: float = 0.2
    max_timesteps: int = 256
    dummy_env: bool = False
    physics_numerics: str = "exact"


@dataclasses.dataclass
class EvalSettings:
    """``eval`` group: online evaluation during training (and the ``eval`` command).

    ``eval_levels`` are hand-designed level names or JSON paths (empty: none);
    ``eval_freq <= 0`` turns online evaluation off.
    """

    eval_levels: list[str] = dataclasses.field(default_factory=list)
    eval_num_attempts: int = 20
    eval_freq: int = 64
    eval_on_sampled: bool = True
    num_sampled_levels: int = 512
    sampled_levels_seed: int = 100


@dataclasses.dataclass
class TrainLevelsSettings:
    """``train_levels`` group: ``random`` samples a fresh level per reset; ``list`` cycles the
    given level files."""

    train_level_mode: str = "random"
    train_levels_list: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class UEDSettings:
    """``ued`` group: a curriculum over the ``train_levels`` distribution.

    ``ued_method`` is ``none``, ``plr`` (Prioritised Level Replay) or ``accel`` (PLR plus
    ``num_edits`` random edits of replayed levels); the other keys are
    :class:`~kinetix.agents.curriculum.ACCELConfig`'s.
    """

    ued_method: str = "none"
    buffer_size: int = 4000
    replay_prob: float = 0.8
    staleness_coef: float = 0.3
    temperature: float = 0.3
    min_fill: float = 0.5
    num_edits: int = 5


@dataclasses.dataclass
class MiscSettings:
    """``misc`` group: outputs, checkpoints, logging."""

    save_path: str = "runs"
    run_name: str = ""
    checkpoint_save_freq: int = 512
    max_checkpoints_to_keep: int = 3
    load_from_checkpoint: str = ""
    load_only_params: bool = True
    skip_initial_eval: bool = False
    progress_bar: bool = True
    log_freq: int = 1
    use_tensorboard: bool = False
    save_plots: bool = True


@dataclasses.dataclass
class BCLearningSettings:
    """``learning`` group of behaviour cloning (spec section 5)."""

    lr: float = 3e-4
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    adam_eps: float = 1e-5
    minibatch_size: int = 8192
    total_timesteps: int = 10_737_418_240
    num_updates: int = -1
    anneal_lr: bool = False
    warmup_lr: bool = False
    warmup_frac: float = 0.1
    rms_norm: bool = False


@dataclasses.dataclass
class TrainPPOConfig:
    """``kinetix train-ppo``: PPO from scratch."""

    seed: int = 0
    env_size: str = "m"
    env: EnvSettings = dataclasses.field(default_factory=EnvSettings)
    learning: PPOLearningSettings = dataclasses.field(default_factory=PPOLearningSettings)  # type: ignore[valid-type]
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)  # type: ignore[valid-type]
    eval: EvalSettings = dataclasses.field(default_factory=EvalSettings)
    train_levels: TrainLevelsSettings = dataclasses.field(default_factory=TrainLevelsSettings)
    ued: UEDSettings = dataclasses.field(default_factory=UEDSettings)
    misc: MiscSettings = dataclasses.field(default_factory=MiscSettings)


@dataclasses.dataclass
class TrainBCConfig:
    """``kinetix train-bc``: behaviour cloning on a kinetix-data dataset."""

    dataset_dir: str = MISSING
    seed: int = 0
    env_size: str = "m"
    use_trajectory_data: bool = True
    disentangled_bc_loss: bool = True
    validation_batch_size: int = 8192
    n_val_shards: int = 1
    maximum_number_of_shards: int = -1
    env: EnvSettings = dataclasses.field(default_factory=EnvSettings)
    learning: BCLearningSettings = dataclasses.field(default_factory=BCLearningSettings)
    model: ModelSettings = dataclasses.field(default_factory=ModelSettings)  # type: ignore[valid-type]
    eval: EvalSettings = dataclasses.field(default_factory=lambda: EvalSettings(eval_freq=4096))
    misc: MiscSettings = dataclasses.field(
        default_factory=lambda: MiscSettings(checkpoint_save_freq=32768, log_freq=64)
    )


@dataclasses.dataclass
class FinetuneConfig(TrainPPOConfig):
    """``kinetix finetune``: PPO initialised from a BC checkpoint (spec section 6).

    ``bc_checkpoint`` is the BC run's checkpoint directory; the model config must match the BC
    run's (it is checked). ``load_critic`` also copies the (untrained by BC) critic;
    ``reuse_rms`` takes the BC run's observation statistics.
    """

    bc_checkpoint: str = MISSING
    load_critic: bool = False
    reuse_rms: bool = True


@dataclasses.dataclass
class EvalConfig:
    """``kinetix eval``: evaluate a checkpoint on hand-designed and sampled levels."""

    checkpoint: str = MISSING
    seed: int = 0
    eval: EvalSettings = dataclasses.field(default_factory=EvalSettings)
    output: str = ""
