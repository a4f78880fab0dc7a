"""Side-by-side engine benchmark: our jax2d against the reference jax2d 1.0.1, in the same run.

Each (size, batch) is measured once per engine, alternating engines (and which one goes first),
each measurement in a fresh interpreter (``_engine_worker.py``), so both engines see the same
machine load and neither profits from caches the other filled. The persistent JAX compilation
cache is disabled in the workers: compile time is reported, separately from throughput.

    nox -s bench -- --quick                                   # usual entry point
    python benchmarks/engine.py --ref-python .nox/_ref/bin/python [--sizes s,m --batches 1,64]
    python benchmarks/engine.py --ours-src --ref-python /path/to/ref/python   # ours from source

Writes ``benchmarks/results/engine.json`` and prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKER = HERE / "_engine_worker.py"
RESULT_PREFIX = "@@ENGINE_BENCH_RESULT@@ "  # keep in sync with _engine_worker.py
SIZES = {"s": (5, 2, 1, 1), "m": (6, 3, 2, 2), "l": (12, 4, 6, 2)}
ENGINES = ("ours", "ref")


def default_calls(batch: int) -> int:
    """Calls per timed repeat: enough to dwarf dispatch jitter, few enough for large batches."""
    if batch <= 16:
        return 50
    if batch <= 256:
        return 20
    if batch <= 1024:
        return 5
    return 3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ref-python", required=True, help="interpreter with the reference jax2d")
    p.add_argument("--ours-python", default=sys.executable, help="interpreter with our jax2d")
    p.add_argument(
        "--ours-src",
        action="store_true",
        help="put packages/jax2d/src first on PYTHONPATH for our engine (no install needed)",
    )
    p.add_argument("--sizes", default="s,m,l", help="comma list of s,m,l (default: s,m,l)")
    p.add_argument("--batches", default="1,64,1024,4096", help="comma list of batch sizes")
    p.add_argument("--reps", type=int, default=3, help="timed repeats; the minimum is reported")
    p.add_argument("--calls", type=int, default=None, help="calls per repeat (default: by batch)")
    p.add_argument("--warmup", type=int, default=20, help="warm-up calls before timing")
    p.add_argument("--parity-steps", type=int, default=100, help="0 disables the parity check")
    p.add_argument("--quick", action="store_true", help="size s, batches 1 and 64, fewer calls")
    p.add_argument(
        "--scan",
        type=int,
        default=0,
        help="time N steps per call inside one lax.scan, as in a rollout (0: one step per call)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat every (size, batch) pair of runs this many times, alternating which engine "
        "goes first; the report adds the per-round ratio's median and range (the machine's "
        "speed drifts between runs, so one pair of runs can be off by tens of percent)",
    )
    p.add_argument(
        "--ours-numerics",
        choices=("exact", "fast"),
        default="exact",
        help="our engine's numerics: 'exact' (default, the reference's trajectories) or the "
        "opt-in 'fast'",
    )
    add_compiler_options_arguments(p)
    p.add_argument("--only", choices=ENGINES, default=None, help="run one engine only")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per worker run")
    p.add_argument("--out", default=os.path.relpath(HERE / "results" / "engine.json"))
    p.add_argument("--label", default=None, help="command to print (e.g. the nox invocation)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.batches = "s", "1,64"
        args.calls = args.calls or 10
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.batches = [int(b) for b in args.batches.split(",") if b.strip()]
    bad = [s for s in args.sizes if s not in SIZES]
    if bad:
        p.error(f"unknown size(s) {bad}; expected some of {sorted(SIZES)}")
    return args


def engine_env(engine: str, args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.setdefault("JAX_PLATFORMS", "cpu")
    if engine == "ref":
        env.pop("PYTHONPATH", None)  # never let our sources shadow the reference
    elif args.ours_src:
        src = str(ROOT / "packages" / "jax2d" / "src")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def run_worker(
    engine: str,
    args: argparse.Namespace,
    size: str,
    batch: int,
    *,
    reps: int,
    calls: int,
    parity_steps: int,
) -> dict:
    python = args.ref_python if engine == "ref" else args.ours_python
    cmd = [
        python,
        str(WORKER),
        "--size",
        size,
        "--batch",
        str(batch),
        "--reps",
        str(reps),
        "--calls",
        str(calls),
        "--warmup",
        str(args.warmup),
        "--parity-steps",
        str(parity_steps),
        "--scan",
        str(args.scan if reps else 0),
    ]
    if engine == "ours" and args.ours_numerics != "exact":
        cmd += ["--numerics", args.ours_numerics]
    options = args.ref_compiler_options if engine == "ref" else args.ours_compiler_options
    if options:
        cmd += ["--compiler-options", options]
    return run_json_subprocess(cmd, engine_env(engine, args), args.timeout)


def add_compiler_options_arguments(p: argparse.ArgumentParser) -> None:
    """``--ours-compiler-options`` and ``--ref-compiler-options`` (passed to the workers)."""
    p.add_argument(
        "--ours-compiler-options",
        default="",
        help="XLA options for our jit: a JSON object, or 'jax2d' for "
        "jax2d.compiler_options.cpu_compiler_options() (default: none)",
    )
    p.add_argument(
        "--ref-compiler-options",
        default="",
        help="XLA options (a JSON object) for the reference's jit (default: none)",
    )


def compiler_options_lines(report: dict) -> list[str]:
    """Markdown list lines naming the XLA options each side's jit was compiled with."""
    lines = []
    for side in ENGINES:
        options = report.get("settings", {}).get(f"{side}_compiler_options")
        if options:
            shown = (
                "`jax2d.compiler_options.cpu_compiler_options()`" if options == "jax2d" else options
            )
            lines.append(f"- {side}'s jit is compiled with {shown}")
    return lines


def run_json_subprocess(
    cmd: list[str], env: dict[str, str], timeout: float, prefix: str = RESULT_PREFIX
) -> dict:
    """Run one worker interpreter; return its ``prefix``-marked JSON result (or an ``error``)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "cmd": cmd}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(prefix)]
    if proc.returncode != 0 or not lines:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return {"error": f"exit {proc.returncode}: {tail}", "cmd": cmd}
    result = json.loads(lines[-1][len(prefix) :])
    result["process_wall_s"] = time.perf_counter() - t0
    return result


def loadavg() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        mem_gib = None
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "mem_gib": mem_gib,
    }


def _flatten(x) -> list[float]:
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flatten(item)]
    return [float(x)]


def max_abs_diff(a, b) -> float:
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        return float("nan")
    return max((abs(x - y) for x, y in zip(fa, fb)), default=0.0)


def parity_summary(ours: dict, ref: dict) -> dict:
    po, pr = ours.get("parity"), ref.get("parity")
    if not po or not pr:
        return {}
    keys = [k for k in po if k not in ("steps", "position_at")]
    summary = {k: max_abs_diff(po[k], pr[k]) for k in keys}
    at_o, at_r = po.get("position_at", {}), pr.get("position_at", {})
    summary["position_at_step"] = {
        k: max_abs_diff(at_o[k], at_r[k]) for k in sorted(at_o, key=int) if k in at_r
    }
    return summary


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "–"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.1f}"
    return f"{x:.{digits}g}" if x < 1 else f"{x:.{digits - 1}f}"


def ratio(num: float | None, den: float | None) -> str:
    if not num or not den:
        return "–"
    return f"{num / den:.2f}×"


def _speed_key(result: dict) -> tuple[float, float]:
    return result.get("wall_ms_per_step", math.inf), result["compile_s"]


def round_ratios(row: dict) -> tuple[list[float], list[float]]:
    """Per-round (ref/ours wall ms per step, ref/ours compile s) of one (size, batch) row."""
    rounds = row.get("rounds", {})
    steps, comp = [], []
    for o, f in zip(rounds.get("ours", []), rounds.get("ref", [])):
        if "error" in o or "error" in f:
            continue
        if o.get("wall_ms_per_step") and f.get("wall_ms_per_step"):
            steps.append(f["wall_ms_per_step"] / o["wall_ms_per_step"])
        comp.append(f["compile_s"] / o["compile_s"])
    return steps, comp


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    v = sorted(values)
    return f"{statistics.median(v):.2f}× ({v[0]:.2f}–{v[-1]:.2f})"


def markdown(report: dict) -> str:
    rows = report["results"]
    out = []
    m = report["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['affinity'] or m['cpu_count']} CPU(s) available, "
        f"load average {report['loadavg_start']} at start, {report['loadavg_end']} at end. "
        f"Device: {report['engines'].get('ours', {}).get('device', '?')}."
    )
    for engine in ENGINES:
        v = report["engines"].get(engine)
        if v:
            out.append(
                f"- {engine}: jax2d {v['jax2d']} ({v['jax2d_file']}), jax {v['jax']}, "
                f"jaxlib {v['jaxlib']}, Python {v['python']}"
            )
    numerics = report.get("settings", {}).get("ours_numerics", "exact")
    if numerics != "exact":
        out.append(f"- ours runs `PhysicsEngine(static, numerics={numerics!r})` (opt-in)")
    out += compiler_options_lines(report)
    out.append("")
    out.append("Compile time of `jit(vmap(step))` (`.lower().compile()`, persistent cache off):")
    out.append("")
    out.append("| P,C,J,T | B | ours (s) | reference (s) | speed-up (ref/ours) |")
    out.append("|---|---|---|---|---|")
    for r in rows:
        o, f = r.get("ours", {}), r.get("ref", {})
        oc, fc = o.get("compile_s"), f.get("compile_s")
        out.append(f"| {r['pcjt']} | {r['batch']} | {fmt(oc)} | {fmt(fc)} | {ratio(fc, oc)} |")
    out.append("")
    scan = report.get("settings", {}).get("scan", 0)
    how = f"{scan} steps per call in a lax.scan" if scan else "one step per call"
    out.append(
        f"Throughput ({how}; min over repeats; env-steps/s = B × steps / wall s; "
        "CPU = process CPU time):"
    )
    out.append("")
    out.append(
        "| P,C,J,T | B | ours ms/step | ref ms/step | ours env-steps/s | ref env-steps/s "
        "| ours/ref | ours env-steps/CPU-s | ref env-steps/CPU-s | ours/ref (CPU) |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        o, f = r.get("ours", {}), r.get("ref", {})
        if "wall_ms_per_step" not in o and "wall_ms_per_step" not in f:
            continue
        out.append(
            f"| {r['pcjt']} | {r['batch']} "
            f"| {fmt(o.get('wall_ms_per_step'))} | {fmt(f.get('wall_ms_per_step'))} "
            f"| {fmt(o.get('env_steps_per_s'))} | {fmt(f.get('env_steps_per_s'))} "
            f"| {ratio(o.get('env_steps_per_s'), f.get('env_steps_per_s'))} "
            f"| {fmt(o.get('env_steps_per_cpu_s'))} | {fmt(f.get('env_steps_per_cpu_s'))} "
            f"| {ratio(o.get('env_steps_per_cpu_s'), f.get('env_steps_per_cpu_s'))} |"
        )
    if report.get("settings", {}).get("rounds", 1) > 1:
        out.append("")
        out.append(
            "Per-round ratios (each round runs both engines back to back, the first engine "
            "alternating; median and range over rounds):"
        )
        out.append("")
        out.append("| P,C,J,T | B | rounds | ours/ref steps/s | ours/ref compile |")
        out.append("|---|---|---|---|---|")
        for r in rows:
            steps, comp = round_ratios(r)
            out.append(
                f"| {r['pcjt']} | {r['batch']} | {len(comp)} | {spread(steps)} | {spread(comp)} |"
            )
    errors = [
        (r["size"], r["batch"], e, r[e]["error"])
        for r in rows
        for e in ENGINES
        if "error" in r.get(e, {})
    ]
    if report["parity"]:
        out.append("")
        for size, p in report["parity"].items():
            if p:
                final = ", ".join(f"{k} {v:.2e}" for k, v in p.items() if k != "position_at_step")
                by_step = ", ".join(
                    f"{k}: {v:.2e}" for k, v in p.get("position_at_step", {}).items()
                )
                out.append(
                    f"Parity, size {size}, B = 1, max |ours − ref| after "
                    f"{report['parity_steps']} steps: {final}. "
                    f"Max position difference by step: {by_step}."
                )
    out.append("")
    out.append(f"Command: `{report['command']}`")
    for size, batch, engine, err in errors:
        out.append("")
        out.append(f"**{engine} failed at size {size}, B = {batch}:**\n```\n{err}\n```")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engines = [args.only] if args.only else list(ENGINES)
    command = args.label or "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])]
    )
    report = {
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "settings": {
            "sizes": args.sizes,
            "batches": args.batches,
            "reps": args.reps,
            "calls": args.calls,
            "scan": args.scan,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "ours_numerics": args.ours_numerics,
            "ours_compiler_options": args.ours_compiler_options,
            "ref_compiler_options": args.ref_compiler_options,
            "parity_steps": args.parity_steps,
            "jax_platforms": os.environ.get("JAX_PLATFORMS", "cpu"),
        },
        "parity_steps": args.parity_steps,
        "engines": {},
        "results": [],
        "parity": {},
    }

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    turn = 0
    for size in args.sizes:
        parity_runs: dict[str, dict] = {}
        for batch in args.batches:
            calls = args.calls or default_calls(batch)
            parity = args.parity_steps if batch == 1 else 0
            row = {"size": size, "pcjt": ",".join(map(str, SIZES[size])), "batch": batch}
            for rnd in range(args.rounds):
                order = engines if turn % 2 == 0 else engines[::-1]
                turn += 1
                for engine in order:
                    log(f"[{size} B={batch}] {engine} ...")
                    res = run_worker(
                        engine, args, size, batch, reps=args.reps, calls=calls,
                        parity_steps=parity if rnd == 0 else 0,
                    )  # fmt: skip
                    row.setdefault("rounds", {}).setdefault(engine, []).append(res)
                    if "error" in res:
                        log(f"[{size} B={batch}] {engine} FAILED: {res['error']}")
                        continue
                    report["engines"].setdefault(engine, res.get("versions", {}))
                    if parity and rnd == 0:
                        parity_runs[engine] = res
                    timed = (
                        f", {res['wall_ms_per_step']:.3f} ms/step, "
                        f"{res['env_steps_per_s']:,.0f} env-steps/s"
                        if "wall_ms_per_step" in res
                        else ""
                    )
                    log(f"[{size} B={batch}] {engine}: compile {res['compile_s']:.1f} s{timed}")
            for engine, runs in row.get("rounds", {}).items():
                # The best round per engine (fastest step; fastest compile when --reps 0).
                ok = [r for r in runs if "error" not in r]
                row[engine] = min(ok, key=_speed_key) if ok else runs[0]
            report["results"].append(row)
        if args.parity_steps and 1 not in args.batches and len(engines) == 2:
            for engine in engines:  # a separate batch-1 run just for the parity check
                log(f"[{size} parity] {engine} ...")
                res = run_worker(
                    engine, args, size, 1, reps=0, calls=1, parity_steps=args.parity_steps
                )
                if "error" in res:
                    log(f"[{size} parity] {engine} FAILED: {res['error']}")
                else:
                    parity_runs[engine] = res
        if len(parity_runs) == 2:
            report["parity"][size] = parity_summary(parity_runs["ours"], parity_runs["ref"])
            report.setdefault("parity_raw", {})[size] = {
                e: parity_runs[e]["parity"] for e in ENGINES
            }

    report["loadavg_end"] = loadavg()
    ours_v, ref_v = report["engines"].get("ours"), report["engines"].get("ref")
    if ours_v and ref_v and ours_v.get("jax2d_file") == ref_v.get("jax2d_file"):
        log("WARNING: both sides imported the same jax2d; this is a dry run, not a comparison.")
        report["warning"] = "both sides imported the same jax2d (dry run)"

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\n(raw results: {out})")
    failed = any("error" in r.get(e, {}) for r in report["results"] for e in engines)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
