"""The README's main job on an embedded default: collect a small expert dataset of ``s`` levels,
behaviour-clone it, fine-tune the clone with PPO, train PPO from scratch with the same env-step
budget, evaluate all three on held-out sampled levels and on the hand-made ``s`` levels, and write
``runs/demo/report.md`` with a table, a learning-curve PNG and a GIF of the best agent.

Level streams are disjoint by construction: the training pool, the held-out levels and the
collection levels come from different keys derived from ``PRNGKey(seed)`` (filtered sampler).
The default collector trains one PPO expert on the collection levels (``collector="shared"``);
``collector="specialists"`` uses :mod:`kinetix.agents.collect` (a specialist per level).

Run it with ``python -m kinetix.agents.demo [--out runs/demo] [--seed 0] [--quick] [--fresh]``.
"""

# The docstring above is also the command line's help. This module holds the pipeline
# (`run_pipeline`, `run_demo`) and the command line; the config is in `_demo_config`, the result
# types in `_demo_results`, the env and levels in `_demo_env`, the BC/PPO/evaluation stages in
# `_demo_stages`, the collection stage in `demo_collect` and the report in `demo_report` (public
# names re-exported here).

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax

from kinetix.agents._demo_config import QUICK_CONFIG, DemoConfig, _parse_overrides
from kinetix.agents._demo_env import _handmade_levels, _make_env, _sample_levels, _take
from kinetix.agents._demo_results import DemoResult, StageResult
from kinetix.agents._demo_stages import _final_eval, _ppo, _progress, load_bc_dataset, train_bc

__all__ = [
    "DemoConfig",
    "DemoResult",
    "StageResult",
    "QUICK_CONFIG",
    "load_bc_dataset",
    "main",
    "run_demo",
    "run_pipeline",
    "train_bc",
]


# ------------------------------------------------------------------------------------ pipeline


def _collector(config: DemoConfig) -> Callable[[DemoConfig, Any, Path], StageResult]:
    from kinetix.agents import demo_collect

    if config.collector == "specialists":
        return demo_collect.collect_specialists
    return demo_collect.collect_shared


def run_pipeline(
    config: DemoConfig,
    out_dir: str | Path = "runs/demo",
    *,
    collect_fn: Callable[[DemoConfig, Any, Path], StageResult] | None = None,
) -> DemoResult:
    """Collect -> BC -> fine-tune, PPO from scratch, final evaluation (no report files).

    Args:
        config: the pipeline's knobs.
        out_dir: output directory; the dataset goes to ``<out_dir>/data`` (an existing complete
            dataset there is reused, so a rerun skips collection).
        collect_fn: replaces the collection stage (``(config, env, data_dir) -> StageResult``),
            e.g. in tests.
    """
    from kinetix.agents.models import make_network

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = _make_env(config)
    k_train, k_heldout, k_net, k_bc, k_ft, k_scratch, k_eval = jax.random.split(
        jax.random.PRNGKey(config.seed), 7
    )
    stages: dict[str, StageResult] = {}
    cpu = time.process_time()

    def tick(name: str) -> None:
        nonlocal cpu
        now = time.process_time()
        stages[name].cpu_s = now - cpu
        cpu = now

    _progress(
        f"sampling {config.num_train_levels} training and {config.num_heldout_levels} held-out levels"
    )
    t0 = time.perf_counter()
    # One batch size for both draws, so the filtered sampler compiles once.
    n = max(config.num_train_levels, config.num_heldout_levels)
    train_levels = _take(_sample_levels(e, k_train, n), config.num_train_levels)
    heldout = _take(_sample_levels(e, k_heldout, n), config.num_heldout_levels)
    handmade, handmade_names = _handmade_levels(e)
    stages["levels"] = StageResult("levels", time.perf_counter() - t0)
    tick("levels")

    data_dir = out / "data"
    _progress(f"collect: {config.num_collect_levels} levels -> {data_dir}")
    stages["collect"] = (collect_fn or _collector(config))(config, e, data_dir)
    tick("collect")
    _progress(f"collect: done in {stages['collect'].wall_s:.0f} s, {stages['collect'].metrics}")

    if not (data_dir / "dataset.json").exists():
        raise RuntimeError(
            f"collect: no level was solved, so {data_dir} holds no expert data; raise "
            "collect_timesteps_per_level or num_collect_levels"
        )
    t0 = time.perf_counter()
    data = load_bc_dataset(data_dir)
    net0 = make_network(
        config.model, e.env.observation_type, config.action_type, e.env_params, e.static, key=k_net
    )
    _progress(f"bc: {config.bc_updates} updates on {data['action'].shape[0]} trajectories")
    bc_net, bc_curve = train_bc(
        net0, data, e.env.observation_type.get_obs, num_updates=config.bc_updates,
        batch_trajectories=config.bc_batch_trajectories, lr=config.bc_lr, key=k_bc,
    )  # fmt: skip
    stages["bc"] = StageResult(
        "bc",
        time.perf_counter() - t0,
        0,
        {"first_loss": bc_curve["loss"][0], "final_loss": bc_curve["loss"][-1],
         "num_trajectories": int(data["action"].shape[0])},
    )  # fmt: skip
    tick("bc")
    _progress(f"bc: loss {bc_curve['loss'][0]:.3f} -> {bc_curve['loss'][-1]:.3f}")

    _progress(f"finetune: BC -> PPO for {config.ppo_timesteps:,} env steps")
    ft_net, stages["finetune"], ft_curve = _ppo(
        config, e, bc_net, train_levels, heldout, k_ft, "finetune"
    )
    tick("finetune")
    _progress(f"scratch: PPO from scratch for {config.ppo_timesteps:,} env steps")
    sc_net, stages["scratch"], sc_curve = _ppo(
        config, e, net0, train_levels, heldout, k_scratch, "scratch"
    )

    tick("scratch")
    _progress("evaluate: held-out sampled and hand-made levels")
    t0 = time.perf_counter()
    networks = {"bc": bc_net, "finetune": ft_net, "scratch": sc_net}
    table = _final_eval(config, e, networks, {"heldout": heldout, "handmade": handmade}, k_eval)
    stages["evaluate"] = StageResult("evaluate", time.perf_counter() - t0)
    tick("evaluate")
    return DemoResult(
        config=config,
        stages=stages,
        curves={"bc": bc_curve, "finetune": ft_curve, "scratch": sc_curve},
        table=table,
        networks=networks,
        dataset_dir=data_dir,
        handmade_names=handmade_names,
    )


def run_demo(
    config: DemoConfig = DemoConfig(),
    out_dir: str | Path = "runs/demo",
    *,
    collect_fn: Callable[[DemoConfig, Any, Path], StageResult] | None = None,
) -> Path:
    """Run the pipeline and write ``report.md``, ``learning_curves.png``, ``best_agent.gif`` and
    ``results.json`` into ``out_dir``; returns the report's path.

    Example:
        >>> run_demo(QUICK_CONFIG, "runs/demo-quick")  # doctest: +SKIP
        PosixPath('runs/demo-quick/report.md')
    """
    from kinetix.agents.demo_report import write_report

    t0 = time.perf_counter()
    result = run_pipeline(config, out_dir, collect_fn=collect_fn)
    _progress("report: table, learning curves, GIF")
    report = write_report(result, Path(out_dir), total_wall_s=time.perf_counter() - t0)
    _progress(f"done: {report}")
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m kinetix.agents.demo [--out DIR] [--seed N] [--quick] [--fresh] [key=value]``."""
    p = argparse.ArgumentParser(prog="python -m kinetix.agents.demo", description=__doc__)
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny run (results meaningless)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete <out>/data first (collect again, e.g. after changing collection settings)",
    )
    p.add_argument("overrides", nargs="*", help="DemoConfig fields, e.g. ppo_timesteps=100000")
    args = p.parse_args(argv)
    config = QUICK_CONFIG if args.quick else DemoConfig()
    config = dataclasses.replace(config, seed=args.seed, **_parse_overrides(args.overrides))
    print(json.dumps(dataclasses.asdict(config), default=str))
    if args.fresh:
        import shutil

        shutil.rmtree(Path(args.out) / "data", ignore_errors=True)
    run_demo(config, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
