"""Typed run configs for the ``kinetix`` command line, with ``key=value`` overrides.

Each command has a top-level dataclass (:class:`TrainPPOConfig`, :class:`TrainBCConfig`,
:class:`FinetuneConfig`, :class:`EvalConfig`) composed of config groups named as in the
reference's hydra configs (``env``, ``learning``, ``model``, ``eval``, ``train_levels``,
``misc``) plus top-level keys (``seed``, ``env_size``, ``dataset_dir``...). Overrides use
omegaconf's dot-list syntax (``learning.lr=3e-4 env_size=m eval.eval_levels=[s,m]``) and are
checked against the schema: an unknown key or a value of the wrong type raises
:class:`ConfigError` listing the valid keys.

Unlike the reference, groups are not flattened into one namespace: a key is always written with
its group (``learning.lr``), so two groups may use the same name without colliding.

The ``model`` and PPO ``learning`` groups mirror the fields of
:class:`~kinetix.agents.models.ModelConfig` and :class:`~kinetix.agents.ppo.PPOConfig` (their
schemas are generated from those classes, so they never drift apart).
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kinetix.agents.curriculum import ACCELConfig, PLRConfig
from kinetix.agents.models import MODEL_PRESETS, ModelConfig
from kinetix.agents.ppo import PPOConfig
from kinetix.environment import (
    ActionType,
    EnvParams,
    ObservationType,
    StaticEnvParams,
    static_env_params_from_size,
)

__all__ = [
    "ConfigError",
    "EnvSettings",
    "EvalConfig",
    "EvalSettings",
    "FinetuneConfig",
    "MiscSettings",
    "BCLearningSettings",
    "TrainBCConfig",
    "TrainLevelsSettings",
    "UEDSettings",
    "TrainPPOConfig",
    "build_network_for_config",
    "bc_num_updates",
    "config_from_dict",
    "config_keys",
    "config_to_dict",
    "env_params_from_config",
    "env_name",
    "load_config",
    "model_config",
    "curriculum_config",
    "ppo_config",
]

_ENV_SIZES = ("s", "m", "l")
_TRAIN_LEVEL_MODES = ("random", "list", "random_all", "dummy")
_UED_METHODS = ("none", "plr", "accel")


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
_LAZY: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    # `CollectSettings`, the `collect` command's keys (flat; its frozen config is
    # kinetix.agents.collect.CollectConfig), is built on first use so that importing this module
    # does not import kinetix.agents.collect (which `python -m kinetix.agents.collect` runs).
    if name == "CollectSettings":
        if name not in _LAZY:
            from kinetix.agents.collect import CollectConfig

            _LAZY[name] = _mutable_schema(CollectConfig, "CollectSettings")
        return _LAZY[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclasses.dataclass
class EnvSettings:
    """``env`` group: observation/action types and reward shaping."""

    observation_type: str = "symbolic_entity"
    action_type: str = "multi_discrete"
    dense_reward_scale: float = 0.2
    max_timesteps: int = 256
    dummy_env: bool = False


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


C = TypeVar("C")


def config_keys(cls: type) -> list[tuple[str, str, Any]]:
    """Every dotted key of a config class as ``(key, type name, default)``; a required key's
    default is ``"???"``.

    Example:
        >>> ("learning.lr", "float", 0.0003) in config_keys(TrainBCConfig)
        True
    """
    out: list[tuple[str, str, Any]] = []

    def walk(cfg: DictConfig, prefix: str) -> None:
        for k in cfg:
            node = cfg._get_node(k)
            if isinstance(node, DictConfig):
                walk(node, f"{prefix}{k}.")
                continue
            ref = node._metadata.ref_type
            if isinstance(node, ListConfig):
                value: Any = list(node) if not node._is_missing() else MISSING
                tname = _type_name(ref) if ref is not Any else "list"
            else:
                value = node._value()
                tname = _type_name(ref)
            out.append((f"{prefix}{k}", tname, value))

    walk(OmegaConf.structured(cls), "")
    return out


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _flat_keys(cfg: Any, prefix: str = "") -> list[str]:
    keys = []
    for k in cfg:
        v = cfg._get_node(k)
        if isinstance(v, DictConfig):
            keys.extend(_flat_keys(v, f"{prefix}{k}."))
        else:
            keys.append(f"{prefix}{k}")
    return keys


def load_config(cls: type[C], overrides: Sequence[str] = ()) -> C:
    """Build a config of class ``cls`` from ``key=value`` overrides and validate it.

    Args:
        cls: one of :class:`TrainPPOConfig`, :class:`TrainBCConfig`, :class:`FinetuneConfig`,
            :class:`EvalConfig`.
        overrides: omegaconf dot-list strings, e.g. ``["learning.lr=3e-4", "env_size=s"]``;
            ``model=tf-s`` selects a model preset.

    Raises:
        ConfigError: malformed override, unknown key (with close matches and the list of valid
            keys), a value of the wrong type, a missing required key, or a value outside its
            allowed set.

    Example:
        >>> cfg = load_config(TrainBCConfig, ["dataset_dir=/tmp/d", "learning.lr=1e-3"])
        >>> cfg.learning.lr
        0.001
    """
    schema = OmegaConf.structured(cls)
    valid = _flat_keys(schema)
    overrides = _expand_model_presets(list(overrides))
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} is not of the form key=value (e.g. learning.lr=3e-4)"
            )
        key = item.split("=", 1)[0].strip()
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r} for {cls.__name__}.{hint} Valid keys: "
                + ", ".join(valid)
            )
    try:
        merged = OmegaConf.merge(schema, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        msg = str(getattr(e, "msg", e)).splitlines()[0]
        raise ConfigError(f"bad value for config key {key!r}: {msg}") from None
    missing = sorted(OmegaConf.missing_keys(merged))
    if missing:
        raise ConfigError(
            f"{cls.__name__} needs a value for {', '.join(missing)} "
            f"(e.g. `{missing[0]}=...` on the command line)"
        )
    config = OmegaConf.to_object(merged)
    validate_config(config)
    return config  # type: ignore[return-value]


def _expand_model_presets(overrides: list[str]) -> list[str]:
    """``model=<preset>`` (``tf-paper``, ``tf-s``, ``tf-m``, ``tf-l``) becomes the preset's
    ``model.*`` keys, placed first so explicit ``model.*`` overrides still win."""
    presets, rest = [], []
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() != "model":
            rest.append(item)
            continue
        value = value.strip()
        if value not in MODEL_PRESETS:
            raise ConfigError(
                f"model={value!r}: expected a model preset, one of {sorted(MODEL_PRESETS)} "
                "(or set single keys such as model.transformer_depth=3)"
            )
        presets.extend(f"model.{k}={v}" for k, v in MODEL_PRESETS[value].items())
    return presets + rest


def _check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ConfigError(f"config key {name} = {value!r}; expected one of {list(choices)}")


def validate_config(config: Any) -> None:
    """Check values the type system cannot (choices, ranges, the model options).

    Raises:
        ConfigError: naming the key, the value and what was expected.
    """
    if hasattr(config, "env_size"):
        _check_choice("env_size", config.env_size, _ENV_SIZES)
    if hasattr(config, "env"):
        obs = [t.name.lower() for t in ObservationType]
        _check_choice("env.observation_type", config.env.observation_type, obs)
        acts = [t.name.lower() for t in ActionType]
        _check_choice("env.action_type", config.env.action_type, acts)
    if hasattr(config, "train_levels"):
        _check_choice(
            "train_levels.train_level_mode",
            config.train_levels.train_level_mode,
            _TRAIN_LEVEL_MODES,
        )
        if (
            config.train_levels.train_level_mode == "list"
            and not config.train_levels.train_levels_list
        ):
            raise ConfigError(
                "train_levels.train_level_mode=list needs train_levels.train_levels_list=[...]"
            )
    if hasattr(config, "ued"):
        _check_choice("ued.ued_method", config.ued.ued_method, _UED_METHODS)
        try:
            curriculum_config(config)
        except ValueError as e:
            raise ConfigError(f"bad ued config: {e}") from None
    if hasattr(config, "model"):
        try:
            model_config(config)
        except ValueError as e:
            raise ConfigError(f"bad model config: {e}") from None
    if hasattr(config, "learning"):
        try:
            if isinstance(config.learning, BCLearningSettings):
                _validate_bc_learning(config)
            else:
                ppo_config(config)
        except ValueError as e:
            raise ConfigError(f"bad learning config: {e}") from None
    if (
        isinstance(config, TrainBCConfig)
        and config.model.recurrent_model
        and not (config.use_trajectory_data)
    ):
        raise ConfigError("model.recurrent_model=True needs use_trajectory_data=True")


def _validate_bc_learning(config: TrainBCConfig) -> None:
    ln = config.learning
    if ln.lr <= 0:
        raise ValueError(f"learning.lr = {ln.lr}; expected > 0")
    if ln.minibatch_size <= 0:
        raise ValueError(f"learning.minibatch_size = {ln.minibatch_size}; expected > 0")
    if not 0 < ln.warmup_frac < 1:
        raise ValueError(f"learning.warmup_frac = {ln.warmup_frac}; expected in (0, 1)")


def model_config(config: Any) -> ModelConfig:
    """The :class:`ModelConfig` of a run config (its ``model`` group)."""
    return ModelConfig(**_as_dict(config.model))


def curriculum_config(config: Any) -> PLRConfig | None:
    """The curriculum of a PPO run config's ``ued`` group: ``None`` (``ued_method=none``), a
    :class:`~kinetix.agents.curriculum.PLRConfig` (``plr``) or an
    :class:`~kinetix.agents.curriculum.ACCELConfig` (``accel``)."""
    ued = getattr(config, "ued", None)
    if ued is None or ued.ued_method == "none":
        return None
    values = _as_dict(ued)
    method = values.pop("ued_method")
    if method == "accel":
        return ACCELConfig(**values)
    values.pop("num_edits")
    return PLRConfig(**values)


def ppo_config(config: Any) -> PPOConfig:
    """The :class:`PPOConfig` of a PPO/fine-tune run config (its ``learning`` group)."""
    values = _as_dict(config.learning)
    hints = typing.get_type_hints(PPOConfig)
    for k, v in values.items():
        if isinstance(v, list) and typing.get_origin(hints.get(k)) is tuple:
            values[k] = tuple(v)
    return PPOConfig(**values)


def _as_dict(group: Any) -> dict[str, Any]:
    if isinstance(group, (DictConfig, ListConfig)):
        return OmegaConf.to_container(group, resolve=True)  # type: ignore[return-value]
    if dataclasses.is_dataclass(group):
        return {f.name: getattr(group, f.name) for f in dataclasses.fields(group)}
    return dict(group)


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON-able dicts, with its command class name under ``_target_``."""
    d = OmegaConf.to_container(OmegaConf.structured(config), resolve=True)
    d["_target_"] = type(config).__name__  # type: ignore[index]
    return d  # type: ignore[return-value]


_CONFIG_CLASSES = {
    c.__name__: c for c in (TrainPPOConfig, TrainBCConfig, FinetuneConfig, EvalConfig)
}


def config_from_dict(d: dict[str, Any]) -> Any:
    """Inverse of :func:`config_to_dict` (used to rebuild networks from checkpoints)."""
    d = dict(d)
    name = d.pop("_target_", "TrainPPOConfig")
    if name not in _CONFIG_CLASSES:
        raise ConfigError(
            f"stored config class {name!r} unknown; expected {sorted(_CONFIG_CLASSES)}"
        )
    cls = _CONFIG_CLASSES[name]
    merged = OmegaConf.merge(OmegaConf.structured(cls), OmegaConf.create(d))
    return OmegaConf.to_object(merged)


def env_params_from_config(config: Any) -> tuple[EnvParams, StaticEnvParams]:
    """``(EnvParams, StaticEnvParams)`` of a run config (``env`` group + ``env_size`` preset)."""
    static = static_env_params_from_size(config.env_size)
    params = EnvParams(
        dense_reward_scale=config.env.dense_reward_scale,
        max_timesteps=config.env.max_timesteps,
    )
    return params, static


def env_name(config: Any) -> str:
    """``Kinetix-<Obs>-<Act>`` as in the reference (e.g. ``Kinetix-SymbolicEntity-MultiDiscrete``)."""
    camel = lambda s: "".join(p.capitalize() for p in s.split("_"))
    return f"Kinetix-{camel(config.env.observation_type)}-{camel(config.env.action_type)}"


def bc_num_updates(config: TrainBCConfig) -> int:
    """Gradient steps of a BC run: ``learning.num_updates`` if > 0, else
    ``total_timesteps // minibatch_size``."""
    ln = config.learning
    return ln.num_updates if ln.num_updates > 0 else ln.total_timesteps // ln.minibatch_size


def build_network_for_config(config: dict[str, Any] | Any, *, seed: int = 0) -> tuple[Any, Any]:
    """Rebuild a run's network (random init) and an RMS template from its config.

    Returns:
        ``(network, rms_template)``; the template has the shapes of the run's RMS statistics
        (or is None when ``learning.rms_norm`` is off).
    """
    import jax

    from kinetix.agents.models import make_network
    from kinetix.agents.rms import init_rms
    from kinetix.environment import create_empty_env
    from kinetix.environment.observations import resolve_observation

    if isinstance(config, dict):
        config = config_from_dict(config)
    env_params, static = env_params_from_config(config)
    obs_fn = resolve_observation(config.env.observation_type, env_params, static)
    network = make_network(
        model_config(config),
        obs_fn,
        config.env.action_type,
        env_params,
        static,
        key=jax.random.PRNGKey(seed),
    )
    rms = None
    if getattr(config.learning, "rms_norm", False):
        rms = init_rms(obs_fn.get_obs(create_empty_env(static)))
    return network, rms
