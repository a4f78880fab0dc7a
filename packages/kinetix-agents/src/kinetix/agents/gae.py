"""Generalised advantage estimation."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["compute_gae"]


def compute_gae(
    rewards: jax.Array,
    values: jax.Array,
    dones: jax.Array,
    last_value: jax.Array,
    gamma: float,
    gae_lambda: float,
) -> tuple[jax.Array, jax.Array]:
    """Advantages and value targets, computed backwards over time (axis 0).

    ``delta_t = r_t + gamma V_{t+1} (1 - d_t) - V_t`` and
    ``A_t = delta_t + gamma lambda (1 - d_t) A_{t+1}``, where ``d_t`` is the done produced by
    step ``t`` (the episode ended, so nothing is bootstrapped across it) and ``V_T`` is
    ``last_value`` (the critic on the observation after the last step). Targets ``A + V``.

    Args:
        rewards, values, dones: ``(T, ...)``.
        last_value: ``(...)``.
        gamma, gae_lambda: discount and GAE lambda.

    Example:
        >>> adv, tgt = compute_gae(jnp.ones(2), jnp.zeros(2), jnp.array([False, True]),
        ...                        jnp.zeros(()), 0.5, 1.0)
        >>> adv.tolist()
        [1.5, 1.0]
    """
    not_done = 1.0 - dones.astype(values.dtype)

    def step(carry, xs):
        next_adv, next_value = carry
        r, v, nd = xs
        delta = r + gamma * next_value * nd - v
        adv = delta + gamma * gae_lambda * nd * next_adv
        return (adv, v), adv

    init = (jnp.zeros_like(last_value), last_value)
    _, adv = jax.lax.scan(step, init, (rewards, values, not_done), reverse=True)
    return adv, adv + values
