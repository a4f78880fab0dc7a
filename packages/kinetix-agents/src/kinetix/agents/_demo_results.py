"""What the demo pipeline measured: :class:`StageResult` (one stage) and :class:`DemoResult`
(the whole run; ``report.md`` and the headline benchmark read it).

Part of :mod:`kinetix.agents.demo`, which re-exports both.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from kinetix.agents._demo_config import DemoConfig


@dataclasses.dataclass
class StageResult:
    """What one stage produced: wall time, process CPU time (both cores summed; a steadier
    figure than wall time on a shared machine), env steps it used, and its metrics."""

    name: str
    wall_s: float
    env_steps: int = 0
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    cpu_s: float = 0.0


@dataclasses.dataclass
class DemoResult:
    """Everything :func:`run_pipeline` measured (``report.md`` and the headline use it).

    Attributes:
        config: the run's config.
        stages: per stage ``StageResult`` (collect, bc, finetune, scratch, evaluate).
        curves: ``{"finetune"|"scratch": {"env_steps": [...], "heldout_solve_rate": [...],
            "heldout_return": [...], "train_solved": [...], "train_steps": [...]}}`` and
            ``"bc": {"step": [...], "loss": [...]}``.
        table: ``{agent: {"heldout"|"handmade": {"solve_rate", "return"}}}`` for
            ``bc``, ``finetune`` and ``scratch``.
        networks: the three final networks (not serialised).
        dataset_dir: where the collected dataset lives.
    """

    config: DemoConfig
    stages: dict[str, StageResult]
    curves: dict[str, dict[str, list[float]]]
    table: dict[str, dict[str, dict[str, float]]]
    networks: dict[str, Any]
    dataset_dir: Path
    handmade_names: list[str]

    def to_json(self) -> dict[str, Any]:
        """JSON-able summary (config, stages, curves, table)."""
        cfg = dataclasses.asdict(self.config)
        return {
            "config": cfg,
            "stages": {k: dataclasses.asdict(v) for k, v in self.stages.items()},
            "curves": self.curves,
            "table": self.table,
            "handmade_levels": self.handmade_names,
            "dataset_dir": str(self.dataset_dir),
        }
