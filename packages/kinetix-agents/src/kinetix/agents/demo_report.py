"""The demo's outputs: ``report.md`` (results table, stage times, the headline check),
``learning_curves.png``, ``best_agent.gif`` and ``results.json``.

Example::

    from kinetix.agents.demo import QUICK_CONFIG, run_pipeline
    from kinetix.agents.demo_report import write_report
    write_report(run_pipeline(QUICK_CONFIG, "runs/q"), Path("runs/q"))
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

__all__ = ["best_agent", "headline_check", "plot_demo_curves", "steps_to_reach", "write_report"]

AGENT_LABELS = {"bc": "BC", "finetune": "BC→PPO (fine-tuned)", "scratch": "PPO from scratch"}


def steps_to_reach(env_steps: Sequence[float], values: Sequence[float], target: float) -> float:
    """The first evaluated env-step count whose value is ``>= target`` (``inf`` if none).

    Example:
        >>> steps_to_reach([0, 10, 20], [0.1, 0.3, 0.5], 0.3)
        10.0
        >>> steps_to_reach([0, 10], [0.1, 0.2], 0.3)
        inf
    """
    if len(env_steps) != len(values):
        raise ValueError(f"{len(env_steps)} env-step counts but {len(values)} values")
    for s, v in zip(env_steps, values):
        if v >= target:
            return float(s)
    return float("inf")


def headline_check(curves: dict[str, dict[str, list[float]]], fraction: float = 1 / 3) -> dict:
    """Does fine-tuning reach PPO-from-scratch's final held-out solve rate within ``fraction`` of
    the scratch run's env steps? (Collection steps are reported separately, not added here.)

    Returns:
        ``{"target", "scratch_steps", "finetune_steps_to_target", "ratio", "reached"}``.
    """
    sc, ft = curves["scratch"], curves["finetune"]
    target = sc["heldout_solve_rate"][-1]
    total = sc["env_steps"][-1]
    steps = steps_to_reach(ft["env_steps"], ft["heldout_solve_rate"], target)
    ratio = steps / total if total else float("inf")
    return {
        "target": target,
        "scratch_steps": total,
        "finetune_steps_to_target": steps,
        "ratio": ratio,
        "reached": bool(ratio <= fraction),
    }


def best_agent(table: dict[str, dict[str, dict[str, float]]]) -> str:
    """The agent with the highest hand-made solve rate (ties: held-out, then fine-tuned first)."""
    order = ["finetune", "scratch", "bc"]
    agents = sorted(table, key=lambda a: order.index(a) if a in order else len(order))
    return max(
        agents,
        key=lambda a: (table[a]["handmade"]["solve_rate"], table[a]["heldout"]["solve_rate"]),
    )


def plot_demo_curves(result: Any, path: Path) -> Path:
    """Held-out solve rate and return, training solve rate (vs env steps) and BC loss (vs
    update) in one PNG. Raises ImportError without matplotlib (the ``plots`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        (axes[0, 0], "heldout_solve_rate", "held-out solve rate"),
        (axes[0, 1], "heldout_return", "held-out return"),
    ]
    for ax, key, label in panels:
        for agent in ("finetune", "scratch"):
            c = result.curves[agent]
            ax.plot(c["env_steps"], c[key], marker="o", label=AGENT_LABELS[agent])
        ax.set_xlabel("env steps")
        ax.set_ylabel(label)
        ax.legend()
    ax = axes[1, 0]
    for agent in ("finetune", "scratch"):
        c = result.curves[agent]
        ax.plot(c["train_steps"], _smooth(c["train_solved"]), label=AGENT_LABELS[agent])
    ax.set_xlabel("env steps")
    ax.set_ylabel("training-level solve rate (episodes ended)")
    ax.legend()
    ax = axes[1, 1]
    ax.plot(result.curves["bc"]["step"], result.curves["bc"]["loss"])
    ax.set_xlabel("BC update")
    ax.set_ylabel("BC loss (masked NLL)")
    fig.suptitle(f"Kinetix demo (size {result.config.env_size}, seed {result.config.seed})")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _smooth(x: Sequence[float], k: int = 5) -> np.ndarray:
    x = np.asarray(x, float)
    if len(x) < k:
        return x
    return np.convolve(x, np.ones(k) / k, mode="same")


def _write_gif(result: Any, path: Path) -> tuple[str, str, bool]:
    """GIF of the best agent on a hand-made level; returns (agent, level, solved)."""
    from kinetix.agents._demo_env import _handmade_levels, _make_env
    from kinetix.agents.evaluation import rollout_episode
    from kinetix.render.video import make_frames, save_video

    e = _make_env(result.config)
    levels, names = _handmade_levels(e)
    agent = best_agent(result.table)
    if result.config.gif_level is not None:
        if result.config.gif_level not in names:
            raise ValueError(f"DemoConfig.gif_level = {result.config.gif_level!r}; not in {names}")
        i = names.index(result.config.gif_level)
    else:
        i = int(np.argmax(result.table[agent]["handmade"]["per_level_solve_rate"]))
    level = jax.tree.map(lambda x: x[i], levels)
    ep = rollout_episode(
        result.networks[agent],
        level,
        e.env,
        e.env_params,
        key=jax.random.PRNGKey(result.config.seed),
    )
    frames = make_frames(ep["states"], e.env_params, e.static)
    save_video(frames, path, fps=15)
    return agent, names[i], ep["solved"]


def _fmt_steps(n: float) -> str:
    return "∞" if not np.isfinite(n) else f"{int(n):,}"


def write_report(result: Any, out_dir: Path, total_wall_s: float | None = None) -> Path:
    """Write ``report.md``, ``results.json``, ``learning_curves.png`` and ``best_agent.gif``.

    The PNG and GIF are skipped (with a line in the report) when matplotlib or imageio are not
    installed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg, st, tb = result.config, result.stages, result.table
    lines = [
        "# Kinetix demo report",
        "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S %Z')} on {platform.node()} "
        f"({os.cpu_count()} CPUs, {platform.machine()}, jax {jax.__version__}, "
        f"device {jax.devices()[0].platform}).",
        "",
        f"Levels: size `{cfg.env_size}`, {cfg.observation_type} observations, "
        f"{cfg.action_type} actions. Training pool: {cfg.num_train_levels} filtered sampled "
        f"levels; experts collected on the first {cfg.num_collect_levels}. Held-out: "
        f"{cfg.num_heldout_levels} filtered sampled levels from a disjoint key. Hand-made: "
        f"{len(result.handmade_names)} levels ({', '.join(result.handmade_names)}).",
        "",
        "## Results",
        "",
        f"Solve rate = mean over levels of the fraction of {cfg.final_attempts} stochastic "
        "attempts whose first episode reached the goal. Env steps are the agent's own training "
        "steps; data collection is counted separately below.",
        "",
        "| agent | held-out solve rate | held-out return | hand-made solve rate | "
        "hand-made return | training env steps | wall time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for agent in ("bc", "finetune", "scratch"):
        h, m = tb[agent]["heldout"], tb[agent]["handmade"]
        steps = st[agent].env_steps
        steps_txt = f"0 (+{st['collect'].env_steps:,} collection)" if agent == "bc" else (
            f"{steps:,}"
        )  # fmt: skip
        lines.append(
            f"| {AGENT_LABELS[agent]} | {h['solve_rate']:.3f} | {h['return']:.3f} | "
            f"{m['solve_rate']:.3f} | {m['return']:.3f} | {steps_txt} | {st[agent].wall_s:.0f} |"
        )
    col = st["collect"]
    lines += [
        "",
        f"Data collection: {col.env_steps:,} env steps, {col.wall_s:.0f} s "
        f"({', '.join(f'{k}={v}' for k, v in col.metrics.items())}). BC→PPO's total cost is its "
        f"fine-tuning steps plus these.",
        "",
        "## Does BC→PPO reach PPO-from-scratch's final solve rate in ≤ 1/3 of the env steps?",
        "",
    ]
    hc = headline_check(result.curves)
    verdict = "yes" if hc["reached"] else "no"
    lines += [
        f"Scratch's final held-out solve rate (curve evaluation, {cfg.curve_attempts} attempts "
        f"per level) is {hc['target']:.3f} after {_fmt_steps(hc['scratch_steps'])} env steps; "
        f"fine-tuning first reached it at {_fmt_steps(hc['finetune_steps_to_target'])} env steps "
        f"(ratio {hc['ratio']:.2f}): **{verdict}** at this scale (one seed; see "
        "`benchmarks/headline.py` for several).",
        "",
        "| env steps | BC→PPO held-out solve rate | scratch held-out solve rate |",
        "|---|---|---|",
    ]
    ft, sc = result.curves["finetune"], result.curves["scratch"]
    for s, a, b in zip(ft["env_steps"], ft["heldout_solve_rate"], sc["heldout_solve_rate"]):
        lines.append(f"| {int(s):,} | {a:.3f} | {b:.3f} |")
    lines += ["", "## Hand-made levels (solve rate per level)", ""]
    lines.append(
        "| level | " + " | ".join(AGENT_LABELS[a] for a in ("bc", "finetune", "scratch")) + " |"
    )
    lines.append("|---|---|---|---|")
    for i, name in enumerate(result.handmade_names):
        vals = [tb[a]["handmade"]["per_level_solve_rate"][i] for a in ("bc", "finetune", "scratch")]
        lines.append(f"| {name} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    lines += [
        "",
        "## Stage times",
        "",
        "Process CPU time sums both cores; on a busy machine it is the steadier figure.",
        "",
        "| stage | wall time (s) | process CPU (s) | env steps |",
        "|---|---|---|---|",
    ]
    for name, s in st.items():
        lines.append(f"| {name} | {s.wall_s:.1f} | {s.cpu_s:.1f} | {s.env_steps:,} |")
    if total_wall_s is not None:
        lines.append(f"| total (pipeline + report) | {total_wall_s:.1f} | |")
    lines += ["", "## Files", ""]
    try:
        plot_demo_curves(result, out_dir / "learning_curves.png")
        lines.append("![learning curves](learning_curves.png)")
    except ImportError:
        lines.append("learning_curves.png: skipped (install the `plots` extra: matplotlib)")
    lines.append("")
    try:
        agent, level, solved = _write_gif(result, out_dir / "best_agent.gif")
        lines.append(
            f"![best agent](best_agent.gif) — {AGENT_LABELS[agent]} on `{level}` "
            f"({'solved' if solved else 'not solved'} in this episode)."
        )
    except ImportError:
        lines.append("best_agent.gif: skipped (install the `video` extra: imageio, pillow)")
    lines += ["", f"Dataset: `{result.dataset_dir}`. Raw numbers: `results.json`.", ""]
    summary = result.to_json()
    summary["headline"] = hc
    (out_dir / "results.json").write_text(json.dumps(summary, indent=1, default=str))
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
