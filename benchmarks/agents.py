"""Side-by-side agents benchmark: PPO env-steps/s and BC samples/s, ours vs the reference.

reference = reference env + reference flax model in an equivalent PureJaxRL loop (the
reference's ``experiments/ppo.py`` and ``offline_bc.py`` are not distributed on PyPI; only
``kinetix-env==3.0.2`` is, which ships the env, the renderer, ``kinetix.models`` and the PPO pieces
in ``kinetix.util.learning``). See ``_agents_worker_ref.py`` for exactly what it runs and
``_agents_worker_ours.py`` for our side (``kinetix.agents.ppo.make_train``,
``kinetix.agents.bc.make_bc_step``).

Same configuration on both sides: the default entity transformer (786,369 parameters, checked
per run), multi-discrete actions, ``symbolic_entity`` observations, ``dense_reward_scale=0.2``,
auto-reset to a freshly sampled random level (``train_levels=random``), and PPO sizes scaled
down for a CPU (default 64 envs x 64 steps, 4 minibatches, 2 epochs; ``ppo-base`` otherwise:
gamma 0.995, lambda 0.9, clip 0.2, ent 0.01, vf 0.5, lr 5e-5, clip-norm 1.0, Adam eps 1e-5).

* PPO: throughput = env steps per second of whole jitted updates (rollout + GAE + all gradient
  steps), compile time of that update function reported apart.
* BC: samples (transitions) per second of one jitted gradient step: render symbolic-entity
  observations from stored ``env_state`` ``(B, T)``, network forward/backward, clip + AdamW,
  disentangled loss. The batch is read once from a released trajectory split with
  ``kinetix.data`` (default: the test fixture ``traj_s``) into an ``.npz`` that both sides load,
  so both train on the same numbers.

Each (task, size) is measured once per side, alternating which side goes first, each in a fresh
interpreter with the persistent compilation cache off. Figures are the minimum over repeats of
wall time, with process CPU time (all threads) beside it.

    python benchmarks/agents.py --ours-src --ref-python /work/venvs/ref/bin/python --quick
    python benchmarks/agents.py --ours-python .nox/bench_agents/bin/python \
        --ref-python .nox/_ref_agents/bin/python --sizes s,m

Writes ``benchmarks/results/agents.json`` and prints Markdown tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from engine import fmt, loadavg, machine, ratio, run_json_subprocess  # noqa: E402  (shared helpers)

WORKER = HERE / "_agents_worker.py"
RESULT_PREFIX = "@@AGENTS_BENCH_RESULT@@ "  # keep in sync with _agents_worker.py
IMPLS = ("ours", "ref")
DEFAULT_DATASET = ROOT / "packages" / "kinetix-data" / "tests" / "data" / "released" / "traj_s"
OUR_SRCS = ("jax2d", "kinetix-env", "kinetix-render", "kinetix-data", "kinetix-agents")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--ref-python", required=True, help="interpreter with kinetix-env 3.0.2 + flax")
    p.add_argument("--ours-python", default=sys.executable, help="interpreter for our packages")
    p.add_argument(
        "--ours-src",
        action="store_true",
        help="put every packages/*/src first on PYTHONPATH for ours",
    )
    p.add_argument("--tasks", default="ppo,bc", help="comma list of ppo,bc")
    p.add_argument("--sizes", default="s,m", help="PPO env sizes (comma list of s,m,l)")
    p.add_argument("--envs", type=int, default=64, help="PPO num_train_envs")
    p.add_argument("--steps", type=int, default=64, help="PPO num_steps")
    p.add_argument("--minibatches", type=int, default=4, help="PPO num_minibatches")
    p.add_argument("--epochs", type=int, default=2, help="PPO update_epochs")
    p.add_argument("--updates", type=int, default=1, help="PPO updates per timed call")
    p.add_argument("--dataset", default=str(DEFAULT_DATASET), help="released trajectory split")
    p.add_argument("--bc-size", default="s", help="env size of --dataset")
    p.add_argument("--bc-trajectories", type=int, default=8, help="BC batch: trajectories")
    p.add_argument("--bc-time", type=int, default=256, help="BC batch: steps per trajectory")
    p.add_argument("--reps", type=int, default=3, help="timed calls; the minimum is reported")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls (at least 1)")
    p.add_argument("--quick", action="store_true", help="size s, 16 envs x 16 steps, B 2 x 64")
    p.add_argument("--only", choices=IMPLS, default=None, help="run one side only")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per worker run")
    p.add_argument("--out", default=os.path.relpath(HERE / "results" / "agents.json"))
    p.add_argument("--label", default=None, help="command to print (e.g. a nox invocation)")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.envs, args.steps, args.minibatches, args.epochs = "s", 16, 16, 2, 1
        args.bc_trajectories, args.bc_time, args.reps = 2, 64, min(args.reps, 2)
    args.tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if bad := [t for t in args.tasks if t not in ("ppo", "bc")]:
        p.error(f"unknown task(s) {bad}; expected ppo and/or bc")
    if bad := [s for s in args.sizes if s not in ("s", "m", "l")]:
        p.error(f"unknown size(s) {bad}; expected some of s, m, l")
    if args.envs % args.minibatches:
        p.error(f"--envs {args.envs} must be divisible by --minibatches {args.minibatches}")
    return args


def side_env(impl: str, args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.setdefault("JAX_PLATFORMS", "cpu")
    if impl == "ref":
        env.pop("PYTHONPATH", None)  # never let our sources shadow the reference
    elif args.ours_src:
        srcs = [str(ROOT / "packages" / p / "src") for p in OUR_SRCS]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [*srcs, env.get("PYTHONPATH")]))
    return env


def run_worker(impl: str, args: argparse.Namespace, task: str, extra: list[str]) -> dict:
    python = args.ref_python if impl == "ref" else args.ours_python
    cmd = [python, str(WORKER), "--impl", impl, "--task", task, *extra]
    cmd += ["--reps", str(args.reps), "--warmup", str(args.warmup)]
    return run_json_subprocess(cmd, side_env(impl, args), args.timeout, RESULT_PREFIX)


def ppo_flags(args: argparse.Namespace, size: str) -> list[str]:
    return [
        "--size", size, "--envs", str(args.envs), "--steps", str(args.steps),
        "--minibatches", str(args.minibatches), "--epochs", str(args.epochs),
        "--updates", str(args.updates),
    ]  # fmt: skip


def markdown(report: dict) -> str:
    out = []
    m = report["machine"]
    out.append(
        f"Machine: {m['cpu']}, {m['affinity'] or m['cpu_count']} CPU(s) available, "
        f"load average {report['loadavg_start']} at start, {report['loadavg_end']} at end."
    )
    for impl in IMPLS:
        v = report["impls"].get(impl)
        if v:
            out.append(
                f"- {impl}: jax {v['jax']}, jaxlib {v['jaxlib']}, kinetix-env {v['kinetix_env']} "
                f"({v['kinetix_env_file']}), kinetix-agents {v['kinetix_agents']}, "
                f"equinox {v['equinox']}, flax {v['flax']}, optax {v['optax']}, "
                f"Python {v['python']}"
            )
    out.append("")
    for impl in IMPLS:
        for r in report["results"]:
            d = r.get(impl, {}).get("description")
            if d:
                out.append(f"- {impl} {r['task']}: {d}")
                break
    rows = report["results"]
    ppo = [r for r in rows if r["task"] == "ppo"]
    if ppo:
        s = report["settings"]
        out.append("")
        out.append(
            f"PPO, {s['envs']} envs x {s['steps']} steps per update, {s['minibatches']} "
            f"minibatches x {s['epochs']} epochs, {s['updates']} update(s) per timed call "
            "(env-steps/s = envs x steps x updates / wall s of the whole jitted update; CPU = "
            "process CPU time):"
        )
        out.append("")
        out.append(
            "| size | ours compile (s) | ref compile (s) | ref/ours | ours env-steps/s "
            "| ref env-steps/s | ours/ref | ours env-steps/CPU-s | ref env-steps/CPU-s "
            "| ours/ref (CPU) |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in ppo:
            out.append(_row(r["size"], r.get("ours", {}), r.get("ref", {})))
    bc = [r for r in rows if r["task"] == "bc"]
    if bc:
        out.append("")
        out.append(
            "BC gradient step (render + forward/backward + clip/AdamW; samples/s = B x T / wall s):"
        )
        out.append("")
        out.append(
            "| size, B x T | ours compile (s) | ref compile (s) | ref/ours | ours samples/s "
            "| ref samples/s | ours/ref | ours samples/CPU-s | ref samples/CPU-s "
            "| ours/ref (CPU) |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in bc:
            o = r.get("ours", {})
            shape = o.get("bc_batch") or r.get("ref", {}).get("bc_batch") or ["?", "?"]
            out.append(_row(f"{r['size']}, {shape[0]} x {shape[1]}", o, r.get("ref", {})))
        first = [
            (r["ours"]["first_aux"], r["ref"]["first_aux"])
            for r in bc
            if "first_aux" in r.get("ours", {}) and "first_aux" in r.get("ref", {})
        ]
        if first:
            o, f = first[0]
            out.append("")
            out.append(
                "Same-data check, first BC step (different random initialisations): loss "
                f"{o['loss']:.3f} vs {f['loss']:.3f}, entropy {o['entropy']:.3f} vs "
                f"{f['entropy']:.3f} (ours vs ref)."
            )
    out.append("")
    out.append(f"Command: `{report['command']}`")
    for r in rows:
        for impl in IMPLS:
            if "error" in r.get(impl, {}):
                out.append("")
                out.append(
                    f"**{impl} failed at {r['task']} size {r['size']}:**\n"
                    f"```\n{r[impl]['error']}\n```"
                )
    return "\n".join(out)


def _row(label: str, o: dict, f: dict) -> str:
    oc, fc = o.get("compile_s"), f.get("compile_s")
    return (
        f"| {label} | {fmt(oc)} | {fmt(fc)} | {ratio(fc, oc)} "
        f"| {fmt(o.get('items_per_s'))} | {fmt(f.get('items_per_s'))} "
        f"| {ratio(o.get('items_per_s'), f.get('items_per_s'))} "
        f"| {fmt(o.get('items_per_cpu_s'))} | {fmt(f.get('items_per_cpu_s'))} "
        f"| {ratio(o.get('items_per_cpu_s'), f.get('items_per_cpu_s'))} |"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    impls = [args.only] if args.only else list(IMPLS)
    command = args.label or "python " + " ".join(
        shlex.quote(a) for a in [os.path.relpath(__file__, ROOT), *(argv or sys.argv[1:])]
    )
    report = {
        "command": command,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "loadavg_start": loadavg(),
        "settings": {
            k: getattr(args, k)
            for k in (
                "tasks",
                "sizes",
                "envs",
                "steps",
                "minibatches",
                "epochs",
                "updates",
                "dataset",
                "bc_size",
                "bc_trajectories",
                "bc_time",
                "reps",
                "warmup",
                "quick",
                "ours_src",
            )
        },  # fmt: skip
        "impls": {},
        "results": [],
    }

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    jobs: list[tuple[str, str, list[str]]] = []
    if "ppo" in args.tasks:
        jobs += [("ppo", size, ppo_flags(args, size)) for size in args.sizes]
    tmp = tempfile.TemporaryDirectory(prefix="kinetix-agents-bench-")
    if "bc" in args.tasks:
        data = str(Path(tmp.name) / "bc_batch.npz")
        extract = [
            "--dataset", args.dataset, "--data", data,
            "--bc-trajectories", str(args.bc_trajectories), "--bc-time", str(args.bc_time),
        ]  # fmt: skip
        log(f"extracting the BC batch from {args.dataset} ...")
        res = run_worker("ours", args, "extract", extract)
        if "error" in res:
            log(f"BC batch extraction FAILED: {res['error']}")
            report["bc_extract"] = res
        else:
            report["bc_extract"] = res
            jobs.append(("bc", args.bc_size, ["--size", args.bc_size, "--data", data]))

    for turn, (task, size, flags) in enumerate(jobs):
        row: dict = {"task": task, "size": size}
        order = impls if turn % 2 == 0 else impls[::-1]
        for impl in order:
            log(f"[{task} {size}] {impl} ... (load {loadavg()})")
            res = run_worker(impl, args, task, flags)
            res["loadavg_after"] = loadavg()
            row[impl] = res
            if "error" in res:
                log(f"[{task} {size}] {impl} FAILED: {res['error']}")
                continue
            report["impls"].setdefault(impl, res.get("versions", {}))
            log(
                f"[{task} {size}] {impl}: compile {res['compile_s']:.1f} s, "
                f"{res['items_per_s']:,.0f}/s ({res['items_per_cpu_s']:,.0f} per CPU-s), "
                f"params {res['num_params']:,}, process {res['process_wall_s']:.0f} s"
            )
        o, f = row.get("ours", {}), row.get("ref", {})
        if "num_params" in o and "num_params" in f and o["num_params"] != f["num_params"]:
            log(f"WARNING [{task} {size}]: parameter counts differ")
            row["warning"] = "parameter counts differ"
        report["results"].append(row)
    tmp.cleanup()

    report["loadavg_end"] = loadavg()
    ours_v, ref_v = report["impls"].get("ours"), report["impls"].get("ref")
    if ours_v and ref_v and ours_v.get("jax") != ref_v.get("jax"):
        log(f"NOTE: different jax on the two sides (ours {ours_v['jax']}, ref {ref_v['jax']}).")
        report["note_jax"] = f"ours on jax {ours_v['jax']}, reference on jax {ref_v['jax']}"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    print(f"\n(raw results: {out})")
    failed = any("error" in r.get(e, {}) for r in report["results"] for e in impls)
    return 1 if failed or "error" in report.get("bc_extract", {}) else 0


if __name__ == "__main__":
    sys.exit(main())
