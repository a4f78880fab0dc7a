"""Our engine's opt-in ``numerics="fast"`` against the default ``"exact"``, in one process.

Both variants are compiled first, then timed alternately round after round, so both see the same
machine state (this kind of VM drifts by tens of percent between processes, which makes
cross-process ratios of two similar programs unreliable). Reports the median per-round ratio of
process CPU time per step (fast / exact) and each variant's median.

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


def measure(size: str, batch: int, rounds: int, calls: int) -> dict:
    import jax
    import jax.numpy as jnp

    from jax2d.engine import PhysicsEngine
    from jax2d.sim_state import SimParams

    static, state = build_scene(size)
    init = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], batch, 0), state)
    params = SimParams()
    actions = jnp.ones((batch, static.num_joints + static.num_thrusters))
    timers, compile_s = {}, {}
    for numerics in ("exact", "fast"):
        step = jax.vmap(PhysicsEngine(static, numerics).step, in_axes=(0, None, 0))
        t0 = time.perf_counter()
        compiled = jax.jit(step).lower(init, params, actions).compile()
        compile_s[numerics] = time.perf_counter() - t0
        s = init
        for _ in range(10):  # warm up, and leave the contacts of a settled scene
            s, _ = compiled(s, params, actions)
        timers[numerics] = _timer(compiled, jax.block_until_ready(s), params, actions, calls)
    ms = {"exact": [], "fast": []}
    for r in range(rounds):
        for numerics in ("exact", "fast") if r % 2 == 0 else ("fast", "exact"):
            ms[numerics].append(timers[numerics]())
    ratios = [f / e for f, e in zip(ms["fast"], ms["exact"])]
    return {
        "size": size,
        "batch": batch,
        "cpu_ms_per_step": {k: statistics.median(v) for k, v in ms.items()},
        "fast_over_exact": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
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
    print("| size | exact CPU ms/step | fast CPU ms/step | fast / exact (range) |")
    print("|---|---|---|---|")
    for size in args.sizes.split(","):
        if size not in SIZES:
            p.error(f"unknown size {size!r}; expected one of {sorted(SIZES)}")
        r = measure(size, args.batch, args.rounds, calls)
        rows.append(r)
        lo, hi = r["ratio_range"]
        print(
            f"| {size} | {r['cpu_ms_per_step']['exact']:.2f} | {r['cpu_ms_per_step']['fast']:.2f}"
            f" | {r['fast_over_exact']:.2f} ({lo:.2f}–{hi:.2f}) |",
            flush=True,
        )
    if args.out:
        report = {"jax": jax.__version__, "batch": args.batch, "rounds": args.rounds, "rows": rows}
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
