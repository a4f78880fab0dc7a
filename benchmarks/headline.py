"""Headline at small scale: does BC→PPO reach PPO-from-scratch's final held-out solve rate in
<= 1/3 of the env steps? (Data-collection steps are reported separately, not added.)

Runs the demo pipeline (:func:`kinetix.agents.demo.run_pipeline`) once per seed, each with its
own collected dataset, and writes ``benchmarks/results/headline-<date>.json`` and a PNG of the
held-out solve-rate curves (mean over seeds and each seed), and prints a Markdown table for
BENCHMARKS.md.

    python benchmarks/headline.py --seeds 0,1,2                       # the demo's default sizes
    python benchmarks/headline.py --seeds 0,1,2 --quick               # minutes, meaningless
    python benchmarks/headline.py --seeds 0,1,2 ppo_timesteps=245760 num_collect_levels=16
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _aggregate(per_seed: list[dict]) -> dict:
    ratios = [s["headline"]["ratio"] for s in per_seed]
    reached = [s["headline"]["reached"] for s in per_seed]
    table = {}
    for agent in ("bc", "finetune", "scratch"):
        for split in ("heldout", "handmade"):
            vals = np.array([s["table"][agent][split]["solve_rate"] for s in per_seed])
            table[f"{agent}/{split}"] = {"mean": float(vals.mean()), "std": float(vals.std())}
    ft = np.array([s["curves"]["finetune"]["heldout_solve_rate"] for s in per_seed])
    sc = np.array([s["curves"]["scratch"]["heldout_solve_rate"] for s in per_seed])
    steps = per_seed[0]["curves"]["finetune"]["env_steps"]
    # The mean curves' version of the check.
    target = float(sc[:, -1].mean())
    hit = [st for st, v in zip(steps, ft.mean(0)) if v >= target]
    mean_ratio = (hit[0] / steps[-1]) if hit else float("inf")
    return {
        "seeds": len(per_seed),
        "per_seed_ratio": ratios,
        "per_seed_reached": reached,
        "seeds_reached": int(sum(reached)),
        "mean_curve_ratio": mean_ratio,
        "mean_curve_reached": bool(mean_ratio <= 1 / 3),
        "solve_rates": table,
        "curve_env_steps": steps,
        "finetune_mean_curve": ft.mean(0).tolist(),
        "scratch_mean_curve": sc.mean(0).tolist(),
        "collect_env_steps": [s["stages"]["collect"]["env_steps"] for s in per_seed],
        "collect_solved": [s["stages"]["collect"]["metrics"].get("solved") for s in per_seed],
    }


def _plot(per_seed: list[dict], agg: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    steps = agg["curve_env_steps"]
    for key, label, color in (
        ("finetune", "BC→PPO", "tab:blue"),
        ("scratch", "PPO from scratch", "tab:orange"),
    ):
        for s in per_seed:
            ax.plot(steps, s["curves"][key]["heldout_solve_rate"], color=color, alpha=0.25)
        ax.plot(steps, agg[f"{key}_mean_curve"], color=color, lw=2.5, marker="o", label=label)
    ax.axhline(agg["scratch_mean_curve"][-1], color="tab:orange", ls=":", lw=1)
    ax.axvline(steps[-1] / 3, color="grey", ls="--", lw=1, label="1/3 of the budget")
    ax.set_xlabel("env steps (collection not included)")
    ax.set_ylabel("held-out solve rate")
    ax.set_title(f"BC→PPO vs PPO from scratch, {agg['seeds']} seeds (thin: each seed)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _markdown(per_seed: list[dict], agg: dict) -> str:
    lines = [
        "| seed | scratch's final held-out (curve, the target) | BC held-out (final eval) | "
        "BC→PPO final held-out (final eval) | BC→PPO steps to reach the target on its curve | "
        "ratio | ≤ 1/3? | collection env steps (levels solved) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in per_seed:
        h, t = s["headline"], s["table"]
        steps = h["finetune_steps_to_target"]
        lines.append(
            f"| {s['config']['seed']} | {h['target']:.3f} | {t['bc']['heldout']['solve_rate']:.3f} "
            f"| {t['finetune']['heldout']['solve_rate']:.3f} | "
            f"{'never' if not np.isfinite(steps) else f'{int(steps):,}'} of "
            f"{int(h['scratch_steps']):,} | {h['ratio']:.2f} | {'yes' if h['reached'] else 'no'} "
            f"| {s['stages']['collect']['env_steps']:,} "
            f"({s['stages']['collect']['metrics'].get('solved')}) |"
        )
    lines.append("")
    lines.append(
        f"Mean curves: ratio {agg['mean_curve_ratio']:.2f} "
        f"({'reached' if agg['mean_curve_reached'] else 'not reached'} within 1/3); "
        f"{agg['seeds_reached']}/{agg['seeds']} seeds reached it."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from kinetix.agents.demo import QUICK_CONFIG, DemoConfig, _parse_overrides, run_pipeline
    from kinetix.agents.demo_report import headline_check

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (>= 3 for the claim)")
    p.add_argument("--quick", action="store_true", help="the demo's tiny smoke sizes")
    p.add_argument("--work", default="runs/headline", help="per-seed datasets and outputs")
    p.add_argument("--out", default=None, help="JSON path (default benchmarks/results/...)")
    p.add_argument("overrides", nargs="*", help="DemoConfig fields, e.g. ppo_timesteps=245760")
    args = p.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    base = QUICK_CONFIG if args.quick else DemoConfig()
    base = dataclasses.replace(base, **_parse_overrides(args.overrides))
    date = time.strftime("%Y-%m-%d")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"headline-{date}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    per_seed = []
    for seed in seeds:
        cfg = dataclasses.replace(base, seed=seed)
        work = Path(args.work) / f"seed{seed}"
        done = work / "headline_seed.json"
        # A finished seed is kept on disk, so an interrupted multi-seed run only redoes the rest;
        # it is reused only for the same config.
        if done.exists():
            cached = json.loads(done.read_text())
            if cached.get("config") == json.loads(json.dumps(dataclasses.asdict(cfg), default=str)):
                print(f"[headline] seed {seed}: reusing {done}", flush=True)
                per_seed.append(cached)
                continue
        print(f"[headline] seed {seed}", flush=True)
        result = run_pipeline(cfg, work)
        summary = result.to_json()
        summary["headline"] = headline_check(result.curves)
        done.write_text(json.dumps(summary, default=str))
        per_seed.append(json.loads(json.dumps(summary, default=str)))
    agg = _aggregate(per_seed)
    record = {
        "command": " ".join(["python", "benchmarks/headline.py", *(argv or sys.argv[1:])]),
        "date": date,
        "machine": {
            "node": platform.node(),
            "cpus": os.cpu_count(),
            "load_avg": list(os.getloadavg()),
        },  # fmt: skip
        "wall_s": time.perf_counter() - t0,
        "aggregate": agg,
        "per_seed": per_seed,
    }
    out.write_text(json.dumps(record, indent=1, default=str))
    png = out.with_suffix(".png")
    try:
        _plot(per_seed, agg, png)
    except ImportError:
        png = None
    print(_markdown(per_seed, agg))
    print(f"[headline] wrote {out}" + (f" and {png}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
