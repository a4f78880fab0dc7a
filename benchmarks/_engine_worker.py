"""One engine benchmark run inside ONE interpreter; prints a JSON result line.

Run by ``benchmarks/engine.py`` once per (engine, size, batch), with whichever interpreter has the
jax2d under test installed (ours or the reference 1.0.1: both expose the same public API). It
only uses that public API, so it must keep working with both.

    python benchmarks/_engine_worker.py --size s --batch 64 --calls 20 [--parity-steps 100]

The result is the last stdout line, prefixed with ``RESULT_PREFIX``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

RESULT_PREFIX = "@@ENGINE_BENCH_RESULT@@ "

# (num_polygons, num_circles, num_joints, num_thrusters): Kinetix sizes s, m, l.
SIZES = {"s": (5, 2, 1, 1), "m": (6, 3, 2, 2), "l": (12, 4, 6, 2)}

WHEEL_RADIUS = 0.35
BOX_POSITION = (2.5, 1.2)
BOX_DIMENSIONS = (1.0, 0.4)
WHEEL_DY = -0.25  # wheel centre below the box centre
WHEEL_DX = {1: (-0.4,), 2: (-0.4, 0.4)}


def _disable_persistent_cache() -> None:
    # Compile time is one of the things we measure: never read a compiled program from disk.
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"


def build_scene(size: str):
    """The car scene of the jax2d spec §7: floor/walls/ceiling, a box on motorised wheels, a thruster.

    Returns (static_sim_params, sim_state). Unused slots stay empty.
    """
    import jax.numpy as jnp

    from jax2d.engine import create_empty_sim
    from jax2d.scene import (
        add_circle_to_scene,
        add_rectangle_to_scene,
        add_revolute_joint_to_scene,
        add_thruster_to_scene,
    )
    from jax2d.sim_state import StaticSimParams

    p, c, j, t = SIZES[size]
    static = StaticSimParams(num_polygons=p, num_circles=c, num_joints=j, num_thrusters=t)
    state = create_empty_sim(static)
    state, (_, box) = add_rectangle_to_scene(
        state, static, jnp.array(BOX_POSITION), jnp.array(BOX_DIMENSIONS)
    )
    for dx in WHEEL_DX[min(2, c, j)]:
        position = jnp.array([BOX_POSITION[0] + dx, BOX_POSITION[1] + WHEEL_DY])
        state, (_, wheel) = add_circle_to_scene(state, static, position, WHEEL_RADIUS)
        state, _ = add_revolute_joint_to_scene(
            state, static, box, wheel, jnp.array([dx, WHEEL_DY]), jnp.zeros(2), motor_on=True
        )
    state, _ = add_thruster_to_scene(state, box, jnp.array([-0.5, 0.0]), 0.0)
    return static, state


def _versions() -> dict:
    from importlib import metadata

    import jax

    import jax2d

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        # The imported module wins over installed metadata (--ours-src shadows an install).
        "jax2d": getattr(jax2d, "__version__", None) or version("jax2d"),
        "jax2d_file": os.path.dirname(os.path.abspath(jax2d.__file__)),
        "device": str(jax.devices()[0]),
    }


def compiler_options(spec: str) -> dict:
    """The XLA options named by ``--compiler-options`` (``{}`` for none)."""
    if not spec:
        return {}
    if spec == "jax2d":
        from jax2d.compiler_options import cpu_compiler_options

        return cpu_compiler_options()
    options = json.loads(spec)
    if not isinstance(options, dict):
        raise SystemExit(f"--compiler-options must be a JSON object or 'jax2d' (got {spec!r})")
    return options


def run(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp

    from jax2d.engine import PhysicsEngine
    from jax2d.sim_state import SimParams

    jax.config.update("jax_enable_compilation_cache", False)

    static, state = build_scene(args.size)
    params = SimParams()
    # The reference has no ``numerics``; ours is asked for it only when it is not the default.
    engine = (
        PhysicsEngine(static, numerics=args.numerics) if args.numerics else PhysicsEngine(static)
    )
    n_actions = static.num_joints + static.num_thrusters

    def batched(tree):
        return jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], args.batch, axis=0), tree)

    init = jax.block_until_ready(batched(state))
    actions = jnp.ones((args.batch, n_actions), dtype=jnp.float32)
    step = jax.jit(jax.vmap(engine.step, in_axes=(0, None, 0)))
    options = compiler_options(args.compiler_options)

    # Compile, measured on its own (tracing + lowering, then XLA compilation).
    t0, c0 = time.perf_counter(), time.process_time()
    lowered = step.lower(init, params, actions)
    t1 = time.perf_counter()
    compiled = lowered.compile(options or None)
    t2, c2 = time.perf_counter(), time.process_time()

    result = {
        "size": args.size,
        "pcjt": list(SIZES[args.size]),
        "batch": args.batch,
        "lower_s": t1 - t0,
        "xla_compile_s": t2 - t1,
        "compile_s": t2 - t0,
        "compile_cpu_s": c2 - c0,
    }

    if args.reps > 0:
        s = init
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            s, _ = compiled(s, params, actions)
        jax.block_until_ready(s)
        result["warmup_s"] = time.perf_counter() - t0

        run_steps, per_call = compiled, 1
        if args.scan > 0:
            # Steps inside one program, as in a rollout: no per-call dispatch in the figure.
            def rollout(s):
                return jax.lax.scan(lambda s, _: (step(s, params, actions)[0], None), s, None,
                                    length=args.scan)[0]  # fmt: skip

            scanned = jax.jit(rollout).lower(s).compile(options or None)
            jax.block_until_ready(scanned(s))

            def run_steps(s, *_):
                return scanned(s), None

            per_call = args.scan

        wall, cpu = [], []
        for _ in range(args.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                s, _ = run_steps(s, params, actions)
            jax.block_until_ready(s)
            wall.append((time.perf_counter() - t0) / (args.calls * per_call))
            cpu.append((time.process_time() - c0) / (args.calls * per_call))
        result.update(
            scan=args.scan,
            calls=args.calls,
            reps=args.reps,
            warmup=args.warmup,
            wall_ms_per_step_all=[w * 1e3 for w in wall],
            cpu_ms_per_step_all=[c * 1e3 for c in cpu],
            wall_ms_per_step=min(wall) * 1e3,
            cpu_ms_per_step=min(cpu) * 1e3,
            env_steps_per_s=args.batch / min(wall),
            env_steps_per_cpu_s=args.batch / min(cpu),
        )

    if args.parity_steps > 0:
        # Positions at a few checkpoints tell a first-step mismatch from slow chaotic drift.
        n = args.parity_steps
        checkpoints = sorted({k for k in (1, 10, n // 2, n) if 1 <= k <= n})
        positions = {}
        s = init
        for i in range(1, n + 1):
            s, _ = compiled(s, params, actions)
            if i in checkpoints:
                positions[str(i)] = jax.device_get([s.polygon.position[0], s.circle.position[0]])
        s = jax.device_get(s)
        result["parity"] = {
            "steps": n,
            "position_at": {k: [p.tolist(), c.tolist()] for k, (p, c) in positions.items()},
            "polygon_position": s.polygon.position[0].tolist(),
            "circle_position": s.circle.position[0].tolist(),
            "polygon_rotation": s.polygon.rotation[0].tolist(),
            "circle_rotation": s.circle.rotation[0].tolist(),
            "polygon_velocity": s.polygon.velocity[0].tolist(),
            "circle_velocity": s.circle.velocity[0].tolist(),
        }

    result["versions"] = _versions()
    result["numerics"] = args.numerics or "default"
    result["compiler_options"] = options
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--calls", type=int, default=10, help="calls per timed repeat")
    parser.add_argument("--reps", type=int, default=3, help="timed repeats (0: compile only)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls before timing")
    parser.add_argument("--parity-steps", type=int, default=0, help="roll this many steps")
    parser.add_argument(
        "--scan", type=int, default=0, help="time N steps per call inside one lax.scan (0: off)"
    )
    parser.add_argument(
        "--numerics", default=None, help="our engine's numerics ('exact' or 'fast'; not for ref)"
    )
    parser.add_argument(
        "--compiler-options",
        default="",
        help="XLA options for the jit: a JSON object, or 'jax2d' for our "
        "jax2d.compiler_options.cpu_compiler_options() (not for ref)",
    )
    args = parser.parse_args(argv)

    _disable_persistent_cache()
    result = run(args)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
