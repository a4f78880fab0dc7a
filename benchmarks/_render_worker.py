"""One renderer benchmark inside ONE interpreter; prints a JSON result line.

Run by ``benchmarks/render.py`` once per (implementation, size, renderer) with the interpreter
that has the renderer under test: ours (``kinetix.render`` from ``packages/kinetix-render``) or the
reference ``kinetix-env==3.0.2`` (its bundled ``kinetix.render``).

    python benchmarks/_render_worker.py --impl ours --size s --renderer pixels --batch 256 --reps 5

What is timed: ``jax.jit(jax.vmap(render))`` on ``--batch`` states (the reference's hand-made
levels of that size, ``kinetix/levels/<size>/*.json`` in the reference wheel, first 10 by name,
cycled to the batch; each side loads them with its own JSON loader). The first call is excluded;
compile time (``.lower().compile()``, persistent cache off) is reported separately. Renderers:
``pixels`` (``make_render_pixels``, raw 0-255 RGB), ``symbolic_flat`` (``make_render_symbolic``),
``symbolic_entity`` (``make_render_entities``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import sys
import time

RESULT_PREFIX = "@@RENDER_BENCH_RESULT@@ "
RENDERERS = ("pixels", "symbolic_flat", "symbolic_entity")


def build(impl: str, size: str, renderer: str, levels_dir: str):
    import jax.numpy as jnp

    if impl == "ref":
        import kinetix.environment  # noqa: F401  (the reference needs it before kinetix.render)
        from kinetix.environment import EnvParams, static_env_params_from_size
        from kinetix.render import make_render_entities, make_render_pixels, make_render_symbolic
        from kinetix.util.saving import load_from_json_file
    else:
        from kinetix.environment import EnvParams, load_from_json_file, static_env_params_from_size
        from kinetix.render import make_render_entities, make_render_pixels, make_render_symbolic
    import jax

    params = EnvParams()
    static = static_env_params_from_size(size)
    files = sorted(glob.glob(os.path.join(levels_dir, size, "*.json")))[:10]
    if not files:
        raise SystemExit(f"no level files in {os.path.join(levels_dir, size)}")
    levels = [load_from_json_file(f)[0] for f in files]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *levels)
    factory = {
        "pixels": lambda: make_render_pixels(params, static),
        "symbolic_flat": lambda: make_render_symbolic(params, static),
        "symbolic_entity": lambda: make_render_entities(params, static),
    }[renderer]
    return factory(), stacked, len(files)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impl", choices=("ours", "ref"), required=True)
    p.add_argument("--size", choices=("s", "m", "l"), required=True)
    p.add_argument("--renderer", choices=RENDERERS, required=True)
    p.add_argument("--levels-dir", required=True)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"

    import jax
    import jax.numpy as jnp

    render, levels, n_levels = build(args.impl, args.size, args.renderer, args.levels_dir)
    states = jax.tree.map(lambda x: x[jnp.arange(args.batch) % n_levels], levels)
    fn = jax.jit(jax.vmap(render))
    t0 = time.perf_counter()
    compiled = fn.lower(states).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(compiled(states))
    times = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(states))
        times.append(time.perf_counter() - t0)
    times.sort()
    best, median = times[0], times[len(times) // 2]
    import kinetix.render as kr

    result = {
        "impl": args.impl,
        "size": args.size,
        "renderer": args.renderer,
        "batch": args.batch,
        "reps": args.reps,
        "compile_s": compile_s,
        "best_ms": best * 1e3,
        "median_ms": median * 1e3,
        "fps_best": args.batch / best,
        "fps_median": args.batch / median,
        "levels": n_levels,
        "versions": {
            "jax": jax.__version__,
            "python": platform.python_version(),
            "kinetix_render_file": os.path.dirname(kr.__file__),
        },
        "loadavg": list(os.getloadavg()),
    }
    print(RESULT_PREFIX + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
