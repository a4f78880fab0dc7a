"""Curricula over levels: Prioritised Level Replay (PLR) and ACCEL.

PLR keeps a fixed-size buffer of levels scored by how much the agent can still learn on them,
replayed with rank-based priority mixed with staleness. ACCEL adds editing: after every replay
update, the replayed (high-score) levels are mutated with
:func:`kinetix.environment.make_mutate_env` and the edited levels are played and inserted like
fresh ones.

Used by :func:`kinetix.agents.ppo.make_train` through ``curriculum=PLRConfig(...)`` or
``curriculum=ACCELConfig(...)``: every update either replays ``num_train_envs`` levels drawn
from the buffer (probability ``replay_prob``, once the buffer holds enough levels) and refreshes
their scores, or (ACCEL, right after a replay) plays edits of the replayed levels, or plays fresh
levels from the level sampler; new and edited levels are inserted when they score higher than
the buffer's worst. Scores are the positive value loss (mean over time of
``max(GAE advantage, 0)``) of each env's rollout.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = [
    "ACCELBuffer",
    "ACCELConfig",
    "BRANCH_FRESH",
    "BRANCH_MUTATE",
    "BRANCH_REPLAY",
    "CurriculumStep",
    "PLRConfig",
    "PLRBuffer",
    "plr_init",
    "plr_sample",
    "plr_insert",
    "plr_update_scores",
    "plr_probabilities",
    "positive_value_loss",
    "curriculum_init",
    "curriculum_choose_levels",
    "curriculum_update",
    "curriculum_metrics",
]

BRANCH_FRESH, BRANCH_REPLAY, BRANCH_MUTATE = 0, 1, 2


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


@dataclasses.dataclass(frozen=True)
class ACCELConfig(PLRConfig):
    """ACCEL: PLR plus editing (defaults of the reference's ``ued/accel.yaml`` family).

    Attributes:
        num_edits: random edits (:func:`kinetix.environment.make_mutate_env`) applied to each
            replayed level to make its child.

    Example:
        >>> ACCELConfig(buffer_size=8, num_edits=2).replay_prob
        0.8
    """

    num_edits: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_edits < 1:
            raise ValueError(f"ACCELConfig.num_edits = {self.num_edits}; expected >= 1")


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


class ACCELBuffer(eqx.Module):
    """ACCEL's state: the PLR buffer, the slots replayed by the last update (the parents of the
    next edits) and whether the next update edits them."""

    plr: PLRBuffer
    parents: jax.Array
    mutate_next: jax.Array


class CurriculumStep(eqx.Module):
    """What :func:`curriculum_choose_levels` decided for one update: ``branch``
    (``BRANCH_FRESH``, ``BRANCH_REPLAY`` or ``BRANCH_MUTATE``) and the replayed slots."""

    branch: jax.Array
    replay_idx: jax.Array


def _plr_of(buffer: PLRBuffer | ACCELBuffer) -> PLRBuffer:
    return buffer.plr if isinstance(buffer, ACCELBuffer) else buffer


def curriculum_init(
    config: PLRConfig, example_level: Any, num_envs: int
) -> PLRBuffer | ACCELBuffer:
    """An empty buffer for ``config`` (a :class:`PLRBuffer`, or an :class:`ACCELBuffer` for an
    :class:`ACCELConfig`)."""
    plr = plr_init(example_level, config.buffer_size)
    if isinstance(config, ACCELConfig):
        return ACCELBuffer(plr, jnp.zeros((num_envs,), jnp.int32), jnp.asarray(False))
    return plr


def curriculum_choose_levels(
    buffer: PLRBuffer | ACCELBuffer,
    config: PLRConfig,
    rng: jax.Array,
    fresh_levels: Any,
    mutate: Callable[[jax.Array, Any], Any] | None = None,
) -> tuple[PLRBuffer | ACCELBuffer, Any, CurriculumStep]:
    """Pick this update's levels: replay from the buffer, edit the last replayed ones (ACCEL),
    or play ``fresh_levels``.

    Args:
        buffer: the curriculum state.
        config: :class:`PLRConfig` or :class:`ACCELConfig`.
        rng: PRNG key.
        fresh_levels: ``n`` new levels (leading axis ``n``), used on the fresh branch.
        mutate: ACCEL's editor ``(rng, level) -> level`` (one unbatched level); required for
            an :class:`ACCELConfig`.

    Returns:
        ``(buffer, levels, step)``; pass ``step`` to :func:`curriculum_update`.
    """
    k_choice, k_sample, k_mutate = jax.random.split(rng, 3)
    plr = _plr_of(buffer)
    n = jax.tree.leaves(fresh_levels)[0].shape[0]
    enough = plr.filled.sum() >= max(1, int(config.min_fill * config.buffer_size))
    replay = (jax.random.uniform(k_choice) < config.replay_prob) & enough
    sampled, replay_idx, replay_levels = plr_sample(plr, config, k_sample, n)
    if isinstance(buffer, ACCELBuffer):
        if mutate is None:
            raise ValueError("curriculum_choose_levels: ACCELConfig needs a mutate function")
        do_mutate = buffer.mutate_next
        replay = replay & ~do_mutate
        branch = jnp.where(do_mutate, BRANCH_MUTATE, jnp.where(replay, BRANCH_REPLAY, 0))

        def edited(_):
            parents = jax.tree.map(lambda x: x[buffer.parents], plr.levels)
            return jax.vmap(mutate)(jax.random.split(k_mutate, n), parents)

        # lax.cond: the (costly) editor only runs on mutate updates
        mutated = jax.lax.cond(do_mutate, edited, lambda _: fresh_levels, None)
        levels = _where(replay, replay_levels, mutated)
        plr = _where(replay, sampled, plr)
        buffer = ACCELBuffer(plr, jnp.where(replay, replay_idx, buffer.parents), replay)
    else:
        branch = jnp.where(replay, BRANCH_REPLAY, BRANCH_FRESH)
        levels = _where(replay, replay_levels, fresh_levels)
        buffer = _where(replay, sampled, buffer)
    return buffer, levels, CurriculumStep(branch.astype(jnp.int32), replay_idx)


def curriculum_update(
    buffer: PLRBuffer | ACCELBuffer, step: CurriculumStep, levels: Any, scores: jax.Array
) -> PLRBuffer | ACCELBuffer:
    """After the rollout: refresh the replayed slots' scores, or insert the played (fresh or
    edited) levels with their ``scores`` ``(n,)``."""
    plr = jax.lax.cond(
        step.branch == BRANCH_REPLAY,
        lambda b: plr_update_scores(b, step.replay_idx, scores),
        lambda b: plr_insert(b, levels, scores),
        _plr_of(buffer),
    )
    if isinstance(buffer, ACCELBuffer):
        return eqx.tree_at(lambda b: b.plr, buffer, plr)
    return plr


def curriculum_metrics(buffer: PLRBuffer | ACCELBuffer, step: CurriculumStep) -> dict:
    """Per-update curriculum metrics: ``plr_replay``, ``plr_mutate``, ``plr_fill``,
    ``plr_mean_score``."""
    plr = _plr_of(buffer)
    return dict(
        plr_replay=step.branch == BRANCH_REPLAY,
        plr_mutate=step.branch == BRANCH_MUTATE,
        plr_fill=plr.filled.mean(),
        plr_mean_score=jnp.where(plr.filled, plr.scores, 0.0).sum()
        / jnp.maximum(plr.filled.sum(), 1),
    )


def _where(pred: jax.Array, a: Any, b: Any) -> Any:
    return jax.tree.map(lambda x, y: jnp.where(pred, x, y), a, b)
