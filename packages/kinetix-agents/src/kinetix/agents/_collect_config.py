"""What an expert-collection run does: :class:`CollectConfig` (settings and their validation)
and its ``key=value`` command-line parsing.

Part of :mod:`kinetix.agents.collect`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from kinetix.agents.models import ModelConfig
from kinetix.agents.ppo import PPOConfig
from kinetix.environment import EnvParams, StaticEnvParams, static_env_params_from_size

_FORMATS = ("ours", "released")
_SIZES = ("s", "m", "l")
_OBS_TYPES = ("symbolic_flat", "symbolic_entity", "symbolic_flat_padded", "pixels")
_ACTION_TYPES = ("multi_discrete", "discrete", "continuous")
# Settings that change what a level id produces; a resume must use the same values.
_PINNED = (
    "env_size",
    "seed",
    "chunk_size",
    "format",
    "observation_type",
    "action_type",
    "max_timesteps",
    "dense_reward_scale",
    "filter_levels",
    "level_filter_n_steps",
    "level_filter_sample_ratio",
    "num_train_envs",
    "num_steps",
    "total_timesteps",
    "num_minibatches",
    "update_epochs",
    "lr",
    "ent_coef",
    "gamma",
    "gae_lambda",
    "network_depth",
    "network_width",
)


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """Settings of an expert-collection run (defaults: a small CPU-friendly specialist).

    Attributes:
        out: output dataset directory (local path; one per process).
        env_size: ``"s"``, ``"m"`` or ``"l"``.
        num_levels: level ids this process handles: ``[level_start, level_start + num_levels)``.
        level_start: first level id (give each process a disjoint range).
        chunk_size: levels whose specialists are trained together (``vmap``).
        seed: level ``i`` is sampled from ``fold_in(PRNGKey(seed), i)``.
        format: ``"ours"`` (kinetix-data's format, default) or ``"released"`` (zarr v2 record
            shards as in Kinetix-Offline, one shard per chunk).
        observation_type, action_type: what the specialists see and emit (``"released"`` needs
            ``multi_discrete``).
        max_timesteps: episode cap and stored trajectory length ``T`` (256 as released).
        dense_reward_scale: shaping weight used while training the specialists.
        filter_levels, level_filter_n_steps, level_filter_sample_ratio: the no-op level filter.
        num_train_envs, num_steps, total_timesteps, num_minibatches, update_epochs, lr,
            ent_coef, gamma, gae_lambda: each specialist's PPO (``total_timesteps`` per level).
        network_depth, network_width: actor and critic MLP sizes of a specialist.
        stall_timeout_s: on a CPU backend, seconds a chunk may run without using CPU before
            it counts as an XLA:CPU stall (see :mod:`kinetix.agents.stall`); ``0`` disables.
            The command line then restarts itself and resumes; a library call only reports it.
        max_restarts: stall restarts allowed to one command-line invocation.

    Example:
        >>> CollectConfig(out="/tmp/d", num_levels=10, level_start=20).level_ids
        range(20, 30)
    """

    out: str
    env_size: str = "s"
    num_levels: int = 64
    level_start: int = 0
    chunk_size: int = 8
    seed: int = 0
    format: str = "ours"
    observation_type: str = "symbolic_flat"
    action_type: str = "multi_discrete"
    max_timesteps: int = 256
    dense_reward_scale: float = 0.1
    filter_levels: bool = True
    level_filter_n_steps: int = 64
    level_filter_sample_ratio: int = 2
    num_train_envs: int = 32
    num_steps: int = 64
    total_timesteps: int = 131072
    num_minibatches: int = 4
    update_epochs: int = 4
    lr: float = 3e-4
    ent_coef: float = 0.01
    gamma: float = 0.995
    gae_lambda: float = 0.9
    network_depth: int = 2
    network_width: int = 64
    stall_timeout_s: float = 600.0
    max_restarts: int = 3

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError("CollectConfig.out is empty; expected an output directory")
        _choice("env_size", self.env_size, _SIZES)
        _choice("format", self.format, _FORMATS)
        _choice("observation_type", self.observation_type, _OBS_TYPES)
        _choice("action_type", self.action_type, _ACTION_TYPES)
        for name in ("num_levels", "chunk_size", "max_timesteps", "network_depth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CollectConfig.{name} = {getattr(self, name)}; expected > 0")
        if self.stall_timeout_s < 0 or self.max_restarts < 0:
            raise ValueError(
                f"CollectConfig.stall_timeout_s = {self.stall_timeout_s}, max_restarts = "
                f"{self.max_restarts}; expected >= 0 (0 disables)"
            )
        if self.level_start < 0:
            raise ValueError(f"CollectConfig.level_start = {self.level_start}; expected >= 0")
        if self.format == "released" and self.action_type != "multi_discrete":
            raise ValueError(
                "CollectConfig.format = 'released' stores multi-discrete actions; got "
                f"action_type = {self.action_type!r}"
            )
        self.ppo_config()  # validates the PPO settings

    @property
    def level_ids(self) -> range:
        """The level ids this process handles."""
        return range(self.level_start, self.level_start + self.num_levels)

    def ppo_config(self) -> PPOConfig:
        """The specialists' :class:`PPOConfig`."""
        return PPOConfig(
            num_train_envs=self.num_train_envs,
            num_steps=self.num_steps,
            total_timesteps=self.total_timesteps,
            num_minibatches=self.num_minibatches,
            update_epochs=self.update_epochs,
            lr=self.lr,
            ent_coef=self.ent_coef,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
        )

    def model_config(self) -> ModelConfig:
        """The specialists' network options (an MLP trunk of ``network_depth x network_width``)."""
        return ModelConfig(
            actor_depth=self.network_depth,
            critic_depth=self.network_depth,
            actor_width=self.network_width,
            critic_width=self.network_width,
        )

    def env_params(self) -> EnvParams:
        return EnvParams(
            max_timesteps=self.max_timesteps, dense_reward_scale=self.dense_reward_scale
        )

    def static_env_params(self) -> StaticEnvParams:
        return static_env_params_from_size(self.env_size)

    def pinned(self) -> dict[str, Any]:
        """The settings a resumed run must share with the stored data."""
        return {k: getattr(self, k) for k in _PINNED}


def _choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"CollectConfig.{name} = {value!r}; expected one of {list(choices)}")


def parse_overrides(overrides: Sequence[str]) -> CollectConfig:
    """A :class:`CollectConfig` from ``key=value`` strings (``out=/tmp/d num_levels=64``).

    Raises:
        ValueError: malformed item, unknown key (listing the valid ones) or a bad value.
    """
    fields = {f.name: f for f in dataclasses.fields(CollectConfig)}
    values: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. num_levels=64)")
        if key not in fields:
            raise ValueError(f"unknown key {key!r}; valid keys: {', '.join(fields)}")
        default = fields[key].default
        try:
            values[key] = _parse_value(raw.strip(), default)
        except ValueError:
            kind = type(default).__name__ if default is not dataclasses.MISSING else "str"
            raise ValueError(f"bad value for {key!r}: {raw!r} (expected {kind})") from None
    if "out" not in values:
        raise ValueError("collect needs out=<output directory>")
    return CollectConfig(**values)


def _parse_value(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        low = raw.lower()
        if low not in ("true", "false", "1", "0"):
            raise ValueError(raw)
        return low in ("true", "1")
    if isinstance(default, int):
        f = float(raw)
        if not f.is_integer():
            raise ValueError(raw)
        return int(f)
    if isinstance(default, float):
        return float(raw)
    return raw
