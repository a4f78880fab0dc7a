"""Our engine's variants against the default, in one process: ``numerics="fast"`` and the
per-compilation ``jax2d.compiler_options.cpu_compiler_options()`` (XLA's classic emitters and,
on jax 0.10, YNNPACK fusions off).

All variants are compiled first, then timed in turn round after round (the order alternating),
so all see the same machine state (this kind of VM drifts by tens of percent between processes,
which makes cross-process ratios of similar programs unreliable). Reports each variant's median
process CPU time per step, its compile time, and the median (and range) of the per-round ratio
to the default (``exact``, default compile options).

    python benchmarks/engine_numerics.py --sizes s,m,l --batch 1024 --rounds 7
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _engine_worker import SIZES, build_scene  # noqa: E402


def _timer(compiled, state, params, actions, calls: int):
    import jax

    def run() -> float:
        s = state
        t0 = time.process_time()
        for _ in range(calls):
            s, _ = compiled(s, params, actions)
        jax.block_until_ready(s)
        return (time.process_time() - t0) / calls * 1e3

    return run


VARIANTS = {  # name: (numerics, compiled with cpu_compiler_options())
    "exact": ("exact", False),
    "fast": ("fast", False),
    "exact+opts": ("exact", True),
    "fast+opts": ("fast", True),
}


def measure(size: str, batch: int, rounds: int, calls: int) -> dict:
    import jax
    import jax.numpy as jnp

    from jax2d.compiler_options import cpu_compiler_options
    from jax2d.engine import PhysicsEngine
    from jax2d.sim_state import SimParams

    static, state = build_scene(size)
    init = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], batch, 0), state)
    params = SimParams()
    actions = jnp.ones((batch, static.num_joints + static.num_thrusters))
    timers, compile_s = {}, {}
    for name, (numerics, opts) in VARIANTS.items():
        step = jax.vmap(PhysicsEngine(static, numerics).step, in_axes=(0, None, 0))
        t0 = time.perf_counter()
        lowered = jax.jit(step).lower(init, params, actions)
        compiled = lowered.compile(cpu_compiler_options() if opts else None)
        compile_s[name] = time.perf_counter() - t0
        s = init
        for _ in range(10):  # warm up, and leave the contacts of a settled scene
            s, _ = compiled(s, params, actions)
        timers[name] = _timer(compiled, jax.block_until_ready(s), params, actions, calls)
    ms = {name: [] for name in VARIANTS}
    for r in range(rounds):
        for name in list(VARIANTS) if r % 2 == 0 else list(VARIANTS)[::-1]:
            ms[name].append(timers[name]())
    ratios = {
        name: [v / e for v, e in zip(ms[name], ms["exact"])] for name in VARIANTS if name != "exact"
    }
    return {
        "size": size,
        "batch": batch,
        "cpu_ms_per_step": {k: statistics.median(v) for k, v in ms.items()},
        "over_exact": {k: statistics.median(v) for k, v in ratios.items()},
        "over_exact_range": {k: [min(v), max(v)] for k, v in ratios.items()},
        "compile_s": compile_s,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="s,m,l")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--calls", type=int, default=None, help="steps per timing (default: by batch)")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    calls = args.calls or (3 if args.batch >= 1024 else 10 if args.batch >= 64 else 50)
    rows = []
    print(f"jax {jax.__version__}, B = {args.batch}, {args.rounds} rounds of {calls} steps")
    others = [n for n in VARIANTS if n != "exact"]
    print("| size | " + " | ".join(f"{n} CPU ms/step" for n in VARIANTS) + " | "
          + " | ".join(f"{n} / exact" for n in others) + " | compile s (" + ", ".join(VARIANTS)
          + ") |")  # fmt: skip
    print("|---" * (len(VARIANTS) + len(others) + 2) + "|")
    for size in args.sizes.split(","):
        if size not in SIZES:
            p.error(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
        r = measure(size, args.batch, args.rounds, calls)
        rows.append(r)
        ms = " | ".join(f"{r['cpu_ms_per_step'][n]:.2f}" for n in VARIANTS)
        rat = " | ".join(
            f"{r['over_exact'][n]:.2f} ({r['over_exact_range'][n][0]:.2f}–"
            f"{r['over_exact_range'][n][1]:.2f})"
            for n in others
        )
        comp = ", ".join(f"{r['compile_s'][n]:.1f}" for n in VARIANTS)
        print(f"| {size} | {ms} | {rat} | {comp} |", flush=True)
    if args.out:
        report = {"jax": jax.__version__, "batch": args.batch, "rounds": args.rounds, "rows": rows}
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
