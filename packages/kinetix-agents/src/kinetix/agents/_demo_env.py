"""The demo's environment and levels: the env bundle every stage shares, filtered random level
sampling (training pool, held-out set, collection levels) and the hand-made suite.

Part of :mod:`kinetix.agents.demo`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax

from kinetix.agents._demo_config import DemoConfig


@dataclasses.dataclass(frozen=True)
class _Env:
    """The env (auto-resetting, no reset function: levels are always given) and its params."""

    env: Any
    env_params: Any
    static: Any


def _make_env(config: DemoConfig) -> _Env:
    from kinetix.environment import EnvParams, make_kinetix_env, static_env_params_from_size

    static = static_env_params_from_size(config.env_size)
    env_params = EnvParams(max_timesteps=config.max_timesteps)
    env = make_kinetix_env(config.action_type, config.observation_type, None, env_params, static)
    return _Env(env, env_params, static)


def _sample_levels(e: _Env, key: jax.Array, n: int) -> Any:
    """``n`` filtered random levels (levels the no-op action solves are avoided)."""
    from kinetix.environment import (
        UEDParams,
        make_vmapped_filtered_level_sampler,
        sample_kinetix_level,
    )

    sampler = make_vmapped_filtered_level_sampler(
        lambda rng: sample_kinetix_level(
            rng, e.env.physics_engine, e.env_params, e.static, UEDParams()
        ),
        e.env_params,
        e.static,
        {"filter_levels": True, "level_filter_n_steps": 64, "level_filter_sample_ratio": 2},
        e.env,
    )
    return sampler(key, n)


def _take(levels: Any, n: int) -> Any:
    return jax.tree.map(lambda x: x[:n], levels)


def _handmade_levels(e: _Env) -> tuple[Any, list[str]]:
    from kinetix.environment import load_evaluation_levels, load_handmade_suite

    names = [lvl.level_name for lvl in load_handmade_suite(_size_of(e))]
    levels, _ = load_evaluation_levels(names, e.static)
    return levels, names


def _size_of(e: _Env) -> str:
    from kinetix.environment import static_env_params_from_size

    for size in ("s", "m", "l"):
        if static_env_params_from_size(size) == e.static:
            return size
    raise ValueError(f"static sizes {e.static} are not one of the s/m/l presets")
