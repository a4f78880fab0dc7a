"""Side-by-side renderer benchmark: our kinetix.render against the reference kinetix-env 3.0.2.

For each size (s, m, l) and renderer (pixels, symbolic_flat, symbolic_entity) it runs
``jax.jit(jax.vmap(render))`` on a batch of states (default 256: the reference's hand-made levels
of that size, first 10 by name, cycled) once per side, alternating which side goes first, each in
a fresh interpreter (``_render_worker.py``) with the persistent compilation cache off. It reports
frames/s (best and median of the timed calls, first call excluded) and compile time
(``.lower().compile()``) separately, and the speed-up ours/reference.

    python benchmarks/render.py --ref-python /work/venvs/ref/bin/python
    python benchmarks/render.py --ref-python /work/venvs/ref/bin/python --quick   # size s only

Writes ``benchmarks/results/render.json`` and prints a Markdown table for BENCHMARKS.md.
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

from engine import fmt, loadavg, machine, run_json_subprocess  # noqa: E402  (shared helpers)

WORKER = HERE / "_render_worker.py"
RESULT_PREFIX = "@@RENDER_BENCH_RESULT@@ "  # keep in sync with _render_worker.py
RENDERERS = ("pixels", "symbolic_flat", "symbolic_entity")
IMPLS = ("ours", "ref")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ref-python", required=True, help="interpreter with kinetix-env 3.0.2")
    p.add_argument("--ours-python", default=sys.executable, help="interpreter with kinetix-render")
    p.add_argument("--sizes", default="s,m,l", help="comma list of s,m,l (default: s,m,l)")
    p.add_argument("--renderers", default=",".join(RENDERERS), help="comma list of renderers")
    p.add_argument("--batch", type=int, default=256, help="states per call (default: 256)")
    p.add_argument("--reps", type=int, default=5, help="timed calls per run (default: 5)")
    p.add_argument("--quick", action="store_true", help="size s only, 3 timed calls")
    p.add_argument("--levels-dir", default=None, help="s/ m/ l/ level JSONs (default: reference's)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per worker run")
    p.add_argument("--out", default=os.path.relpath(HERE / "results" / "render.json"))
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.reps = "s", min(args.reps, 3)
    args.sizes = [s for s in args.sizes.split(",") if s]
    args.renderers = [r for r in args.renderers.split(",") if r]
    bad = [r for r in args.renderers if r not in RENDERERS] + [
        s for s in args.sizes if s not in "sml"
    ]
    if bad:
        p.error(f"unknown size(s)/renderer(s) {bad}")
    return args


def reference_levels_dir(ref_python: str) -> Path:
    code = "import importlib.util as u; print(list(u.find_spec('kinetix').submodule_search_locations)[0])"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [ref_python, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip()) / "levels"


def side_env(impl: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.setdefault("JAX_PLATFORMS", "cpu")
    if impl == "ref":
        env.pop("PYTHONPATH", None)
    return env


def markdown(report: dict) -> str:
    m = report["machine"]
    out = [
        f"Machine: {m['cpu']}, {m['affinity'] or m['cpu_count']} CPU(s), load average "
        f"{report['loadavg_start']} at start, {report['loadavg_end']} at end. Batch "
        f"{report['settings']['batch']}, {report['settings']['reps']} timed calls.",
        "",
        "| size | renderer | ours frames/s (best / median) | ref frames/s (best / median) "
        "| speed-up (best) | ours compile s | ref compile s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        o, f = r.get("ours", {}), r.get("ref", {})
        speed = (
            f"{o['fps_best'] / f['fps_best']:.1f}×" if "fps_best" in o and "fps_best" in f else "–"
        )
        out.append(
            f"| {r['size']} | {r['renderer']} | {fmt(o.get('fps_best'))} / {fmt(o.get('fps_median'))} "
            f"| {fmt(f.get('fps_best'))} / {fmt(f.get('fps_median'))} | {speed} "
            f"| {fmt(o.get('compile_s'))} | {fmt(f.get('compile_s'))} |"
        )
    out += ["", f"Command: `{report['command']}`"]
    for r in report["results"]:
        for impl in IMPLS:
            if "error" in r.get(impl, {}):
                out.append(
                    f"\n**{impl} failed ({r['size']}, {r['renderer']}):** {r[impl]['error']}"
                )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])]
    )
    levels_dir = Path(args.levels_dir) if args.levels_dir else reference_levels_dir(args.ref_python)
    report = {
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "settings": {"batch": args.batch, "reps": args.reps, "levels_dir": str(levels_dir)},
        "results": [],
    }
    turn = 0
    for size in args.sizes:
        for renderer in args.renderers:
            row = {"size": size, "renderer": renderer}
            for impl in IMPLS if turn % 2 == 0 else IMPLS[::-1]:
                python = args.ref_python if impl == "ref" else args.ours_python
                cmd = [
                    python,
                    str(WORKER),
                    "--impl",
                    impl,
                    "--size",
                    size,
                    "--renderer",
                    renderer,
                    "--levels-dir",
                    str(levels_dir),
                    "--batch",
                    str(args.batch),
                    "--reps",
                    str(args.reps),
                ]
                print(f"[{size} {renderer}] {impl} ...", file=sys.stderr, flush=True)
                res = run_json_subprocess(cmd, side_env(impl), args.timeout, RESULT_PREFIX)
                row[impl] = res
                if "error" in res:
                    print(f"  FAILED: {res['error']}", file=sys.stderr, flush=True)
                else:
                    print(
                        f"  {res['fps_best']:,.0f} frames/s best, compile {res['compile_s']:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
            turn += 1
            report["results"].append(row)
    report["loadavg_end"] = loadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\n(raw results: {out})")
    return 1 if any("error" in r.get(i, {}) for r in report["results"] for i in IMPLS) else 0


if __name__ == "__main__":
    sys.exit(main())
