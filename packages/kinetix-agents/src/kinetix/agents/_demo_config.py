"""The demo pipeline's knobs: :class:`DemoConfig`, the tiny :data:`QUICK_CONFIG` and the
command line's ``key=value`` overrides of it.

Part of :mod:`kinetix.agents.demo`, which re-exports the public names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kinetix.agents.models import ModelConfig

_SMALL_MODEL = ModelConfig(actor_depth=2, critic_depth=2, actor_width=64, critic_width=64)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Every knob of the demo pipeline; the defaults are the embedded small run (~15 minutes on
    an idle 2-core CPU including installs).

    Attributes:
        seed: root seed (levels, networks, collection, training, evaluation).
        env_size: static size preset of every level.
        observation_type, action_type: the env's observation and action types.
        model: the actor-critic of BC, fine-tuning and PPO from scratch.
        max_timesteps: episode cap (and stored trajectory length).
        num_train_levels: filtered sampled levels PPO trains on (the training pool).
        num_collect_levels: levels the expert is trained on and plays once (own key).
        collect_timesteps_per_level, collect_num_envs, collect_chunk_size: each level's
            specialist PPO (env steps, parallel envs) and how many are trained together.
        collector: ``"specialists"`` (:mod:`kinetix.agents.collect`, a PPO specialist per level)
            or ``"shared"`` (one PPO expert on all collection levels with the demo's PPO
            settings and ``collect_timesteps_per_level * num_collect_levels`` env steps).
        bc_updates, bc_batch_trajectories, bc_lr: behaviour cloning.
        ppo_timesteps: env-step budget of fine-tuning and of PPO from scratch (each).
        ppo_num_envs, ppo_num_steps, ppo_num_minibatches, ppo_update_epochs, ppo_lr,
            ppo_ent_coef: PPO hyper-parameters shared by both PPO runs.
        curve_points: held-out evaluations along each PPO run (plus one at step 0).
        num_heldout_levels: held-out sampled levels (curves and final table).
        curve_attempts, final_attempts: stochastic attempts per level for the curves / table.
        gif_level: the hand-made level of the GIF (``s/<name>``); None: the first hand-made one.

    Example:
        >>> DemoConfig(ppo_timesteps=8192, ppo_num_envs=16, ppo_num_steps=32).ppo_updates
        16
    """

    seed: int = 0
    env_size: str = "s"
    observation_type: str = "symbolic_flat"
    action_type: str = "multi_discrete"
    model: ModelConfig = _SMALL_MODEL
    max_timesteps: int = 256
    num_train_levels: int = 256
    num_collect_levels: int = 32
    collect_timesteps_per_level: int = 49_152
    collect_num_envs: int = 32
    collect_chunk_size: int = 8
    collector: str = "shared"
    bc_updates: int = 400
    bc_batch_trajectories: int = 8
    bc_lr: float = 1e-3
    ppo_timesteps: int = 491_520
    ppo_num_envs: int = 64
    ppo_num_steps: int = 64
    ppo_num_minibatches: int = 4
    ppo_update_epochs: int = 4
    ppo_lr: float = 3e-4
    ppo_ent_coef: float = 0.01
    curve_points: int = 6
    num_heldout_levels: int = 64
    curve_attempts: int = 2
    final_attempts: int = 8
    gif_level: str | None = None

    def __post_init__(self) -> None:
        if self.num_collect_levels > self.num_train_levels:
            raise ValueError(
                f"DemoConfig.num_collect_levels = {self.num_collect_levels} must be <= "
                f"num_train_levels = {self.num_train_levels} (the collection levels are tiled to the pool's size)"
                "levels)"
            )
        for name in ("num_collect_levels", "bc_updates", "ppo_timesteps", "num_heldout_levels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DemoConfig.{name} = {getattr(self, name)}; expected > 0")
        if self.collector not in ("specialists", "shared"):
            raise ValueError(
                f"DemoConfig.collector = {self.collector!r}; expected 'specialists' or 'shared'"
            )
        if self.curve_points < 1:
            raise ValueError(f"DemoConfig.curve_points = {self.curve_points}; expected >= 1")
        steps_per_update = self.ppo_num_envs * self.ppo_num_steps
        if self.ppo_timesteps < steps_per_update * self.curve_points:
            raise ValueError(
                f"DemoConfig.ppo_timesteps = {self.ppo_timesteps} buys fewer than curve_points = "
                f"{self.curve_points} PPO updates of {steps_per_update} env steps"
            )

    @property
    def ppo_chunk(self) -> int:
        """PPO updates between two learning-curve evaluations."""
        return max(1, self.ppo_updates // self.curve_points)

    @property
    def ppo_updates(self) -> int:
        """PPO updates of each PPO run (``ppo_timesteps // (num_envs * num_steps)``)."""
        return self.ppo_timesteps // (self.ppo_num_envs * self.ppo_num_steps)


# A configuration for tests and smoke runs (a minute or two, results meaningless).
QUICK_CONFIG = DemoConfig(
    num_train_levels=16,
    num_collect_levels=4,
    collect_timesteps_per_level=2048,
    collect_num_envs=8,
    collect_chunk_size=4,
    max_timesteps=64,
    bc_updates=20,
    bc_batch_trajectories=2,
    ppo_timesteps=4 * 16 * 32,
    ppo_num_envs=16,
    ppo_num_steps=32,
    ppo_num_minibatches=2,
    ppo_update_epochs=2,
    curve_points=2,
    num_heldout_levels=8,
    curve_attempts=1,
    final_attempts=2,
)


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(DemoConfig)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in fields or key == "model":
            raise SystemExit(
                f"bad override {item!r}: expected key=value with key one of "
                f"{sorted(k for k in fields if k != 'model')}"
            )
        default = getattr(DemoConfig(), key)
        if value == "None":
            out[key] = None
        elif isinstance(default, bool):
            out[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            out[key] = int(value)
        elif isinstance(default, float):
            out[key] = float(value)
        else:
            out[key] = value
    return out
