"""Side-by-side env benchmark: our kinetix env against the reference kinetix-env 3.0.2, in the same run.

What is timed: ``jax.jit`` of a ``lax.scan`` of ``jax.vmap(env.step)`` with auto-reset, random
multi-discrete actions drawn with ``jax.random`` inside the scan, on a fixed hand-made level per
size (the first JSON, sorted by name, in the reference's shipped ``kinetix/levels/{s,m,l}/``),
loaded by each side's own loader, with ``reset_fn`` returning that level. The observation is
``"blind"`` on both sides (see ``_env_worker.py``: the reference's own ``BlindObservations`` is
swapped in because its ``make_kinetix_env`` rejects BLIND), so the timing is physics + env logic.

Each (size, batch) is measured once per side, alternating sides (and which one goes first), each
measurement in a fresh interpreter (``_env_worker.py``), so both see the same machine load and
neither profits from caches the other filled. The persistent JAX compilation cache is disabled
in the workers; compile time (``.lower().compile()``) is reported separately from throughput.

    python benchmarks/env.py --ours-src --ref-python /work/venvs/ref/bin/python --quick
    python benchmarks/env.py --ours-src --ours-python .nox/bench/bin/python \
        --ref-python /work/venvs/ref/bin/python --sizes s,m --batches 1,256

Writes ``benchmarks/results/env.json`` and prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from engine import (  # noqa: E402  (shared helpers)
    add_compiler_options_arguments,
    compiler_options_lines,
    fmt,
    loadavg,
    machine,
    ratio,
    run_json_subprocess,
)

WORKER = HERE / "_env_worker.py"
RESULT_PREFIX = "@@ENV_BENCH_RESULT@@ "  # keep in sync with _env_worker.py
SIZES = {"s": (5, 2, 1, 1), "m": (6, 3, 2, 2), "l": (12, 4, 6, 2)}
IMPLS = ("ours", "ref")


def default_steps(batch: int, quick: bool = False) -> int:
    """Env steps per scan call: long enough to dwarf dispatch, short enough for big batches."""
    if batch <= 16:
        steps = 500
    elif batch <= 256:
        steps = 50
    elif batch <= 1024:
        steps = 20
    else:
        steps = 10
    return max(5, steps // 5) if quick else steps


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ref-python", required=True, help="interpreter with kinetix-env 3.0.2")
    p.add_argument("--ours-python", default=sys.executable, help="interpreter for our env")
    p.add_argument(
        "--ours-src",
        action="store_true",
        help="put packages/jax2d/src and packages/kinetix-env/src first on PYTHONPATH for ours",
    )
    p.add_argument("--sizes", default="s,m,l", help="comma list of s,m,l (default: s,m,l)")
    p.add_argument("--batches", default="1,256,2048", help="comma list of batch sizes")
    p.add_argument("--steps", type=int, default=None, help="env steps per scan (default: by batch)")
    p.add_argument("--calls", type=int, default=1, help="scan calls per timed repeat")
    p.add_argument("--reps", type=int, default=3, help="timed repeats; the minimum is reported")
    p.add_argument("--warmup", type=int, default=1, help="untimed scan calls (at least 1)")
    p.add_argument(
        "--levels-dir",
        default=None,
        help="directory with s/ m/ l/ level JSONs (default: the reference's kinetix/levels)",
    )
    p.add_argument(
        "--obs",
        choices=("blind", "symbolic_flat"),
        default="blind",
        help="observation on both sides: blind (physics only) or symbolic_flat (ours needs "
        "kinetix-render installed)",
    )
    p.add_argument(
        "--ours-numerics",
        choices=("exact", "fast"),
        default="exact",
        help="our physics engine's numerics: 'exact' (default) or the opt-in 'fast'",
    )
    add_compiler_options_arguments(p)
    p.add_argument("--quick", action="store_true", help="size s, batches 1 and 256, short scans")
    p.add_argument("--only", choices=IMPLS, default=None, help="run one side only")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per worker run")
    p.add_argument("--out", default=os.path.relpath(HERE / "results" / "env.json"))
    p.add_argument("--label", default=None, help="command to print (e.g. a nox invocation)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.batches = "s", "1,256"
        args.reps = min(args.reps, 2)
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
    bad = [s for s in args.sizes if s not in SIZES]
    if bad:
        p.error(f"unknown size(s) {bad}; expected some of {sorted(SIZES)}")
    args.warmup = max(1, args.warmup)
    return args


def side_env(impl: str, args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.setdefault("JAX_PLATFORMS", "cpu")
    if impl == "ref":
        env.pop("PYTHONPATH", None)  # never let our sources shadow the reference
    elif args.ours_src:
        srcs = [str(ROOT / "packages" / p / "src") for p in ("jax2d", "kinetix-env")]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [*srcs, env.get("PYTHONPATH")]))
    return env


def reference_levels_dir(ref_python: str) -> Path:
    """The reference's packaged ``kinetix/levels`` directory (found without importing kinetix)."""
    code = (
        "import importlib.util as u; "
        "print(list(u.find_spec('kinetix').submodule_search_locations)[0])"
    )
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [ref_python, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return Path(out.strip()) / "levels"


def pick_level(levels_dir: Path, size: str) -> Path:
    files = sorted((levels_dir / size).glob("*.json"))
    if not files:
        raise SystemExit(f"no level JSON files in {levels_dir / size}")
    return files[0].resolve()


def run_worker(impl: str, args: argparse.Namespace, size: str, batch: int, level: Path) -> dict:
    python = args.ref_python if impl == "ref" else args.ours_python
    steps = args.steps or default_steps(batch, args.quick)
    cmd = [
        python,
        str(WORKER),
        "--impl",
        impl,
        "--size",
        size,
        "--batch",
        str(batch),
        "--level",
        str(level),
        "--steps",
        str(steps),
        "--calls",
        str(args.calls),
        "--reps",
        str(args.reps),
        "--warmup",
        str(args.warmup),
        "--obs",
        args.obs,
    ]
    if impl == "ours" and args.ours_numerics != "exact":
        cmd += ["--numerics", args.ours_numerics]
    options = args.ref_compiler_options if impl == "ref" else args.ours_compiler_options
    if options:
        cmd += ["--compiler-options", options]
    return run_json_subprocess(cmd, side_env(impl, args), args.timeout, RESULT_PREFIX)


def markdown(report: dict) -> str:
    rows = report["results"]
    out = []
    m = report["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['affinity'] or m['cpu_count']} CPU(s) available, "
        f"load average {report['loadavg_start']} at start, {report['loadavg_end']} at end. "
        f"Device: {report['impls'].get('ours', {}).get('device', '?')}."
    )
    for impl in IMPLS:
        v = report["impls"].get(impl)
        if v:
            out.append(
                f"- {impl}: kinetix-env {v['kinetix_env']} ({v['kinetix_env_file']}), "
                f"jax2d {v['jax2d']} ({v['jax2d_file']}), jax {v['jax']}, jaxlib {v['jaxlib']}, "
                f"Python {v['python']}"
            )
    if report.get("note_jax"):
        out.append(f"- **Different jax versions: {report['note_jax']}.**")
    out += compiler_options_lines(report)
    out.append("")
    out.append("Levels (each side's own JSON loader, `reset_fn` returns the level, auto-reset on):")
    for size, path in report["levels"].items():
        out.append(f"- {size}: `{path}`")
    out.append("")
    out.append("Observations:")
    for impl in IMPLS:
        obs = report["observation"].get(impl)
        if obs:
            out.append(f"- {impl}: {obs}")
    out.append("")
    out.append(
        "Compile time of `jit(scan(vmap(env.step)))` (`.lower().compile()`, persistent cache off):"
    )
    out.append("")
    out.append("| size | B | steps/scan | ours (s) | reference (s) | speed-up (ref/ours) |")
    out.append("|---|---|---|---|---|---|")
    for r in rows:
        o, f = r.get("ours", {}), r.get("ref", {})
        oc, fc = o.get("compile_s"), f.get("compile_s")
        out.append(
            f"| {r['size']} | {r['batch']} | {r['steps']} | {fmt(oc)} | {fmt(fc)} "
            f"| {ratio(fc, oc)} |"
        )
    out.append("")
    out.append(
        "Throughput (min over repeats; env-steps/s = B × steps / wall s; CPU = process CPU time, "
        "all threads):"
    )
    out.append("")
    out.append(
        "| size | B | ours ms/step | ref ms/step | ours env-steps/s | ref env-steps/s "
        "| ours/ref | ours env-steps/CPU-s | ref env-steps/CPU-s | ours/ref (CPU) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o, f = r.get("ours", {}), r.get("ref", {})
        if "wall_ms_per_step" not in o and "wall_ms_per_step" not in f:
            continue
        out.append(
            f"| {r['size']} | {r['batch']} "
            f"| {fmt(o.get('wall_ms_per_step'))} | {fmt(f.get('wall_ms_per_step'))} "
            f"| {fmt(o.get('env_steps_per_s'))} | {fmt(f.get('env_steps_per_s'))} "
            f"| {ratio(o.get('env_steps_per_s'), f.get('env_steps_per_s'))} "
            f"| {fmt(o.get('env_steps_per_cpu_s'))} | {fmt(f.get('env_steps_per_cpu_s'))} "
            f"| {ratio(o.get('env_steps_per_cpu_s'), f.get('env_steps_per_cpu_s'))} |"
        )
    sanity = [
        r
        for r in rows
        if "first_rollout" in r.get("ours", {}) and "first_rollout" in r.get("ref", {})
    ]
    if sanity:
        out.append("")
        out.append(
            "Sanity check, first scan from the reset state (same keys on both sides): "
            "episodes ended / goals reached / summed reward, ours vs ref:"
        )
        parts = []
        for r in sanity:
            o, f = r["ours"]["first_rollout"], r["ref"]["first_rollout"]
            parts.append(
                f"{r['size']} B={r['batch']}: {o['dones']}/{o['goals']}/{o['reward_sum']:.3f} vs "
                f"{f['dones']}/{f['goals']}/{f['reward_sum']:.3f}"
            )
        out.append("; ".join(parts) + ".")
    out.append("")
    out.append(f"Command: `{report['command']}`")
    for r in rows:
        for impl in IMPLS:
            if "error" in r.get(impl, {}):
                out.append("")
                out.append(
                    f"**{impl} failed at size {r['size']}, B = {r['batch']}:**\n"
                    f"```\n{r[impl]['error']}\n```"
                )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    impls = [args.only] if args.only else list(IMPLS)
    command = args.label or "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])]
    )
    levels_dir = Path(args.levels_dir) if args.levels_dir else reference_levels_dir(args.ref_python)
    levels = {size: pick_level(levels_dir, size) for size in args.sizes}
    report = {
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "settings": {
            "sizes": args.sizes,
            "batches": args.batches,
            "steps": args.steps,
            "quick": args.quick,
            "calls": args.calls,
            "reps": args.reps,
            "warmup": args.warmup,
            "obs": args.obs,
            "ours_numerics": args.ours_numerics,
            "ours_compiler_options": args.ours_compiler_options,
            "ref_compiler_options": args.ref_compiler_options,
            "action_type": "multi_discrete (env.action_type.random_action per env per step)",
            "ours_src": args.ours_src,
            "jax_platforms": os.environ.get("JAX_PLATFORMS", "cpu"),
        },
        "levels": {size: str(path) for size, path in levels.items()},
        "observation": {},
        "impls": {},
        "results": [],
    }

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    turn = 0
    for size in args.sizes:
        for batch in args.batches:
            steps = args.steps or default_steps(batch, args.quick)
            row = {"size": size, "pcjt": ",".join(map(str, SIZES[size])), "batch": batch}
            row["steps"] = steps
            order = impls if turn % 2 == 0 else impls[::-1]
            turn += 1
            for impl in order:
                log(f"[{size} B={batch}] {impl} ...")
                res = run_worker(impl, args, size, batch, levels[size])
                row[impl] = res
                if "error" in res:
                    log(f"[{size} B={batch}] {impl} FAILED: {res['error']}")
                    continue
                report["impls"].setdefault(impl, res.get("versions", {}))
                report["observation"].setdefault(impl, res.get("observation"))
                log(
                    f"[{size} B={batch}] {impl}: compile {res['compile_s']:.1f} s, "
                    f"{res['wall_ms_per_step']:.3f} ms/step, "
                    f"{res['env_steps_per_s']:,.0f} env-steps/s "
                    f"({res['env_steps_per_cpu_s']:,.0f} per CPU-s), "
                    f"process {res['process_wall_s']:.0f} s"
                )
            report["results"].append(row)

    report["loadavg_end"] = loadavg()
    ours_v, ref_v = report["impls"].get("ours"), report["impls"].get("ref")
    if ours_v and ref_v and ours_v.get("kinetix_env_file") == ref_v.get("kinetix_env_file"):
        log("WARNING: both sides imported the same kinetix env; a dry run, not a comparison.")
        report["warning"] = "both sides imported the same kinetix.environment (dry run)"
    if ours_v and ref_v and ours_v.get("jax") != ref_v.get("jax"):
        log(f"NOTE: different jax on the two sides (ours {ours_v['jax']}, ref {ref_v['jax']}).")
        report["note_jax"] = f"ours on jax {ours_v['jax']}, reference on jax {ref_v['jax']}"

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\n(raw results: {out})")
    failed = any("error" in r.get(e, {}) for r in report["results"] for e in impls)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
