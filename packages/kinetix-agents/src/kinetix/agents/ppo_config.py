"""``PPOConfig``: PPO hyper-parameters (the reference's ``ppo-base`` keys and defaults), the
number of updates a budget of env steps buys, and the learning-rate schedules."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp

__all__ = ["MAX_NUM_UPDATES", "PPOConfig", "derive_num_updates", "make_lr_schedule"]

MAX_NUM_UPDATES = 1_024_000_000


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (the reference's ``ppo-base`` keys and defaults).

    ``mask_invalid_actions`` (ours, default off as in the reference) feeds the env's valid-action
    mask to the policy so invalid discrete / multi-discrete choices are never sampled.

    Example:
        >>> PPOConfig(num_train_envs=8, num_steps=16, total_timesteps=1280).num_updates
        10
    """

    num_train_envs: int = 2048
    num_steps: int = 64
    outer_rollout_steps: int = 1
    total_timesteps: int = 10 * 2**30
    num_minibatches: int = 32
    update_epochs: int = 8
    gamma: float = 0.995
    gae_lambda: float = 0.9
    clip_eps: float = 0.2
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 1.0
    lr: float = 5e-5
    anneal_lr: bool = False
    warmup_lr: bool = False
    peak_lr: float = 3e-4
    initial_lr: float = 1e-5
    warmup_frac: float = 0.1
    rms_norm: bool = False
    full_minibatch_shuffle: bool = False
    mask_invalid_actions: bool = False

    def __post_init__(self) -> None:
        for name in ("num_train_envs", "num_steps", "num_minibatches", "update_epochs"):
            if getattr(self, name) <= 0:
                raise ValueError(f"PPOConfig.{name} = {getattr(self, name)}; expected > 0")
        if self.num_train_envs % self.num_minibatches != 0:
            raise ValueError(
                f"PPOConfig.num_train_envs = {self.num_train_envs} must be divisible by "
                f"num_minibatches = {self.num_minibatches} (minibatches are cut along envs)"
            )
        if self.warmup_lr and self.anneal_lr:
            raise ValueError("PPOConfig: warmup_lr and anneal_lr are mutually exclusive")

    @property
    def num_updates(self) -> int:
        """``total_timesteps // (num_steps * outer_rollout_steps * num_train_envs)``, capped."""
        return derive_num_updates(
            self.total_timesteps, self.num_steps * self.outer_rollout_steps, self.num_train_envs
        )

    @property
    def minibatch_envs(self) -> int:
        return self.num_train_envs // self.num_minibatches


def derive_num_updates(total_timesteps: int, num_steps: int, num_train_envs: int) -> int:
    """Number of PPO updates for a budget of env steps (at least 1, capped like the reference)."""
    n = total_timesteps // num_steps // num_train_envs
    return int(max(1, min(n, MAX_NUM_UPDATES)))


def make_lr_schedule(config: PPOConfig) -> Callable[[jax.Array], jax.Array]:
    """Learning rate as a function of the optimizer step count (update ``u = count //
    (num_minibatches * update_epochs)``): constant, linear anneal, or linear warmup then cosine."""
    per_update = config.num_minibatches * config.update_epochs
    n = config.num_updates

    def schedule(count):
        f = (count // per_update) / n
        if config.anneal_lr:
            return config.lr * (1.0 - f)
        if config.warmup_lr:
            w = config.warmup_frac
            warm = config.initial_lr + (config.peak_lr - config.initial_lr) * f / w
            cos = config.peak_lr * jnp.maximum(
                0.0, 0.5 * (1.0 + jnp.cos(jnp.pi * (((f - w) / (1.0 - w)) % 1.0)))
            )
            return jnp.where(f < w, warm, cos)
        return jnp.asarray(config.lr, jnp.float32)

    return schedule
