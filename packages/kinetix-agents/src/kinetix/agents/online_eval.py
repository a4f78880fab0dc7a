"""Periodic evaluation during training runs: solve rates on the configured hand-designed levels
and on a fixed set of sampled levels of the training size (spec section 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax

from kinetix.agents.rms import normalise

__all__ = ["NormalisedNetwork", "make_online_eval", "with_rms"]


class NormalisedNetwork(eqx.Module):
    """A network whose inputs are normalised with fixed RMS statistics (for evaluation and
    inference of runs trained with ``rms_norm``); same call signature as the network."""

    network: Any
    rms: Any

    def initialize_carry(self, batch_size: int) -> Any:
        return self.network.initialize_carry(batch_size)

    def __call__(self, hidden: Any, x: tuple[Any, Any], *args: Any, **kwargs: Any) -> Any:
        obs, dones = x
        return self.network(hidden, (normalise(self.rms, obs), dones), *args, **kwargs)


def with_rms(network: Any, rms: Any) -> Any:
    """``network`` itself when ``rms`` is None, else a :class:`NormalisedNetwork`."""
    return network if rms is None else NormalisedNetwork(network, rms)


def make_online_eval(
    config: Any, env_params: Any, static_env_params: Any
) -> Callable[[Any, Any, int], dict[str, Any]]:
    """``online_eval(network, rms, step) -> {"<set>/<metric>": value}`` for a run config.

    Sets: ``hand_designed`` (``eval.eval_levels``, when non-empty, padded to the run's static
    sizes) and ``sampled`` (``eval.num_sampled_levels`` filtered random levels drawn once from
    ``PRNGKey(eval.sampled_levels_seed)``, when ``eval.eval_on_sampled``), each with
    ``eval.eval_num_attempts`` stochastic attempts per level.
    """
    from kinetix.agents.evaluation import evaluate
    from kinetix.environment import (
        UEDParams,
        load_evaluation_levels,
        make_kinetix_env,
        make_vmapped_filtered_level_sampler,
        sample_kinetix_level,
    )

    ev = config.eval
    env = make_kinetix_env(
        config.env.action_type,
        config.env.observation_type,
        None,
        env_params,
        static_env_params,
        physics_numerics=getattr(config.env, "physics_numerics", "exact"),
    )
    sets: dict[str, Any] = {}
    if ev.eval_levels:
        sets["hand_designed"], _ = load_evaluation_levels(list(ev.eval_levels), static_env_params)
    if ev.eval_on_sampled and ev.num_sampled_levels > 0:
        sampler = make_vmapped_filtered_level_sampler(
            lambda rng: sample_kinetix_level(
                rng, env.physics_engine, env_params, static_env_params, UEDParams()
            ),
            env_params,
            static_env_params,
            {"filter_levels": True, "level_filter_n_steps": 64, "level_filter_sample_ratio": 2},
            env,
        )
        sets["sampled"] = sampler(jax.random.PRNGKey(ev.sampled_levels_seed), ev.num_sampled_levels)

    def online_eval(network: Any, rms: Any, step: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, levels in sets.items():
            key = jax.random.fold_in(jax.random.PRNGKey(config.seed + 12345), step)
            result = evaluate(
                network,
                levels,
                env,
                env_params,
                static_env_params,
                num_attempts=ev.eval_num_attempts,
                key=key,
                rms=rms,
            )
            for k, v in result.items():
                if getattr(v, "ndim", 0) == 0 or isinstance(v, (int, float)):
                    out[f"{name}/{k}"] = v
        return out

    return online_eval
