"""Building a run config from ``key=value`` overrides: listing a config's keys, merging the
overrides into the schema with omegaconf (unknown keys and wrong types raise
:class:`ConfigError`) and validating what the type system cannot check.

Part of :mod:`kinetix.agents.config`, which re-exports the public names.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from omegaconf import MISSING, DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kinetix.agents._config_convert import curriculum_config, model_config, ppo_config
from kinetix.agents._config_schema import BCLearningSettings, ConfigError, TrainBCConfig
from kinetix.agents.models import MODEL_PRESETS
from kinetix.environment import ActionType, ObservationType

_ENV_SIZES = ("s", "m", "l")
_TRAIN_LEVEL_MODES = ("random", "list", "random_all", "dummy")
_NUMERICS = ("exact", "fast")
_UED_METHODS = ("none", "plr", "accel")

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
        _check_choice(
            "env.physics_numerics", getattr(config.env, "physics_numerics", "exact"), _NUMERICS
        )
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
