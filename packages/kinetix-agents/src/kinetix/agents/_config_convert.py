"""From a run config to what it configures: the library configs of its groups
(:class:`~kinetix.agents.models.ModelConfig`, :class:`~kinetix.agents.ppo.PPOConfig`, the
curriculum), the env params, the network; and a config to and from plain dicts (checkpoints).

Part of :mod:`kinetix.agents.config`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from kinetix.agents._config_schema import (
    ConfigError,
    EvalConfig,
    FinetuneConfig,
    TrainBCConfig,
    TrainPPOConfig,
)
from kinetix.agents.curriculum import ACCELConfig, PLRConfig
from kinetix.agents.models import ModelConfig
from kinetix.agents.ppo import PPOConfig
from kinetix.environment import EnvParams, StaticEnvParams, static_env_params_from_size


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
