"""Prioritised Level Replay (PLR): a fixed-size buffer of levels scored by how much the agent
can still learn on them, replayed with rank-based priority mixed with staleness.

Used by :func:`kinetix.agents.ppo.make_train` through ``curriculum=PLRConfig(...)``: every update
either replays ``num_train_envs`` levels drawn from the buffer (probability ``replay_prob``,
once the buffer holds enough levels) and refreshes their scores, or plays fresh levels from the
level sampler and inserts those that score higher than the buffer's worst. Scores are the
positive value loss (mean over time of ``max(GAE advantage, 0)``) of each env's rollout.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = [
    "PLRConfig",
    "PLRBuffer",
    "plr_init",
    "plr_sample",
    "plr_insert",
    "plr_update_scores",
    "plr_probabilities",
    "positive_value_loss",
]


@dataclasses.dataclass(frozen=True)
class PLRConfig:
    """PLR hyper-parameters (defaults of the reference's ``ued/plr.yaml`` family).

    Attributes:
        buffer_size: number of levels kept.
        replay_prob: probability that an update replays buffer levels.
        staleness_coef: weight of the staleness distribution in the replay distribution.
        temperature: rank-prioritisation temperature.
        min_fill: fraction of the buffer that must be filled before replaying.
    """

    buffer_size: int = 4000
    replay_prob: float = 0.8
    staleness_coef: float = 0.3
    temperature: float = 0.3
    min_fill: float = 0.5

    def __post_init__(self) -> None:
        if self.buffer_size <= 0:
            raise ValueError(f"PLRConfig.buffer_size = {self.buffer_size}; expected > 0")
        for name in ("replay_prob", "staleness_coef", "min_fill"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"PLRConfig.{name} = {v}; expected a value in [0, 1]")
        if self.temperature <= 0:
            raise ValueError(f"PLRConfig.temperature = {self.temperature}; expected > 0")


class PLRBuffer(eqx.Module):
    """Levels (leading axis ``buffer_size``), their scores, when each was last sampled, which
    slots hold a level, and the number of sampling rounds so far."""

    levels: Any
    scores: jax.Array
    last_sampled: jax.Array
    filled: jax.Array
    step: jax.Array


def plr_init(example_level: Any, buffer_size: int) -> PLRBuffer:
    """An empty buffer whose level slots are copies of ``example_level``."""
    levels = jax.tree.map(
        lambda x: jnp.broadcast_to(x, (buffer_size, *jnp.shape(x))), example_level
    )
    return PLRBuffer(
        levels=levels,
        scores=jnp.zeros((buffer_size,), jnp.float32),
        last_sampled=jnp.zeros((buffer_size,), jnp.int32),
        filled=jnp.zeros((buffer_size,), bool),
        step=jnp.asarray(0, jnp.int32),
    )


def plr_probabilities(buffer: PLRBuffer, config: PLRConfig) -> jax.Array:
    """Replay distribution ``(1 - c) P_rank + c P_staleness`` over filled slots."""
    filled = buffer.filled
    masked = jnp.where(filled, buffer.scores, -jnp.inf)
    order = jnp.argsort(-masked)  # best first
    ranks = jnp.empty_like(order).at[order].set(jnp.arange(1, order.shape[0] + 1))
    h = jnp.where(filled, (1.0 / ranks) ** (1.0 / config.temperature), 0.0)
    p_rank = h / jnp.maximum(h.sum(), 1e-12)
    stale = jnp.where(filled, (buffer.step - buffer.last_sampled).astype(jnp.float32), 0.0)
    p_stale = jnp.where(stale.sum() > 0, stale / jnp.maximum(stale.sum(), 1e-12), p_rank)
    return (1.0 - config.staleness_coef) * p_rank + config.staleness_coef * p_stale


def plr_sample(
    buffer: PLRBuffer, config: PLRConfig, rng: jax.Array, n: int
) -> tuple[PLRBuffer, jax.Array, Any]:
    """Draw ``n`` slots (with replacement) from :func:`plr_probabilities`; marks them sampled.

    Returns ``(buffer, indices, levels)``.
    """
    p = plr_probabilities(buffer, config)
    idx = jax.random.choice(rng, p.shape[0], (n,), replace=True, p=p)
    step = buffer.step + 1
    buffer = eqx.tree_at(
        lambda b: (b.last_sampled, b.step), buffer, (buffer.last_sampled.at[idx].set(step), step)
    )
    return buffer, idx, jax.tree.map(lambda x: x[idx], buffer.levels)


def plr_update_scores(buffer: PLRBuffer, idx: jax.Array, scores: jax.Array) -> PLRBuffer:
    """Set the scores of replayed slots (a slot drawn twice keeps the last write)."""
    return eqx.tree_at(lambda b: b.scores, buffer, buffer.scores.at[idx].set(scores))


def plr_insert(buffer: PLRBuffer, levels: Any, scores: jax.Array) -> PLRBuffer:
    """Insert new levels one by one, each replacing an empty slot or else the lowest-scoring
    level if it scores higher."""

    def insert_one(buf, item):
        level, score = item
        key = jnp.where(buf.filled, buf.scores, -jnp.inf)
        slot = jnp.argmin(key)
        better = (~buf.filled[slot]) | (score > buf.scores[slot])
        new_levels = jax.tree.map(
            lambda all_, x: all_.at[slot].set(jnp.where(better, x, all_[slot])), buf.levels, level
        )
        buf = PLRBuffer(
            levels=new_levels,
            scores=buf.scores.at[slot].set(jnp.where(better, score, buf.scores[slot])),
            last_sampled=buf.last_sampled.at[slot].set(
                jnp.where(better, buf.step, buf.last_sampled[slot])
            ),
            filled=buf.filled.at[slot].set(buf.filled[slot] | better),
            step=buf.step,
        )
        return buf, None

    buffer, _ = jax.lax.scan(insert_one, buffer, (levels, scores))
    return buffer


def positive_value_loss(advantages: jax.Array) -> jax.Array:
    """Per-env PLR score ``mean_t max(A_t, 0)`` of ``(T, B)`` GAE advantages -> ``(B,)``."""
    return jnp.maximum(advantages, 0.0).mean(0)
