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

The schema is in ``_config_schema``, loading and validation in ``_config_load`` and the
conversions to library configs, env params, networks and dicts in ``_config_convert``; this
module re-exports their public names and builds ``CollectSettings`` on first use.
"""

from __future__ import annotations

from typing import Any

from kinetix.agents._config_convert import (
    bc_num_updates,
    build_network_for_config,
    config_from_dict,
    config_to_dict,
    curriculum_config,
    env_name,
    env_params_from_config,
    model_config,
    ppo_config,
)
from kinetix.agents._config_load import C as C  # re-export
from kinetix.agents._config_load import config_keys, load_config
from kinetix.agents._config_load import validate_config as validate_config  # re-export
from kinetix.agents._config_schema import (
    BCLearningSettings,
    ConfigError,
    EnvSettings,
    EvalConfig,
    EvalSettings,
    FinetuneConfig,
    MiscSettings,
    TrainBCConfig,
    TrainLevelsSettings,
    TrainPPOConfig,
    UEDSettings,
    _mutable_schema,
)
from kinetix.agents._config_schema import ModelSettings as ModelSettings  # re-export
from kinetix.agents._config_schema import PPOLearningSettings as PPOLearningSettings  # re-export

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
