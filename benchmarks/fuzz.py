"""Robustness fuzz of our jax2d engine: many random scenes, long rollouts, count what went wrong.

Scenes come from ``packages/jax2d/tests/_random_scenes.py`` (the generator ``test_fuzz.py``
uses): random rectangles, convex triangles and quads, circles, revolute and fixed joints with
random motors and limits, thrusters, collision modes, restitution, friction and fixated bodies,
and piecewise-constant random actions. Scene ``i`` is drawn from ``numpy.random.default_rng([seed,
i])``, so it is the same whatever the batch size. Each batch of scenes is built with the vmapped
adders and rolled out with one jitted ``vmap(lax.scan(step))``.

Reported per run: scenes where any float leaf of the state or of the returned manifolds became
NaN or inf at any step, and scenes where an active, movable body reached the position, velocity
or angular-velocity clip bound (``SimParams.clip_*``; bodies escaping the arena or the solver
blowing up), the wall time and a one-line Markdown summary for ``BENCHMARKS.md``.

    python benchmarks/fuzz.py                          # 10000 scenes x 500 steps, batches of 500
    python benchmarks/fuzz.py --scenes 500 --src       # quick check from the source tree
    python benchmarks/fuzz.py --profile extreme        # high speeds, densities, restitution, dt
    python benchmarks/fuzz.py --replay 1234            # step scene 1234 alone, name bad leaves

A replay steps the scene unbatched; XLA rounds some fused float ops differently with and without
``vmap`` (1 ulp), so a chaotic scene can blow up in one and not in the other.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import platform
import sys
import time
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JAX2D_SRC = ROOT / "packages" / "jax2d" / "src"
SCENES_PY = ROOT / "packages" / "jax2d" / "tests" / "_random_scenes.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--scenes", type=int, default=10000, help="number of scenes (default 10000)")
    p.add_argument("--batch", type=int, default=500, help="scenes per vmapped batch (default 500)")
    p.add_argument("--steps", type=int, default=500, help="steps per scene (default 500)")
    p.add_argument("--seed", type=int, default=0, help="scene i uses default_rng([seed, i])")
    p.add_argument("--profile", default="typical", help="typical or extreme (see _random_scenes)")
    p.add_argument(
        "--size", default="8,4,4,2", help="num_polygons,num_circles,num_joints,num_thrusters"
    )
    p.add_argument("--src", action="store_true", help="import jax2d from packages/jax2d/src")
    p.add_argument(
        "--out",
        default=str(HERE / "results" / "fuzz.json"),
        help="JSON results path ('' to skip; default benchmarks/results/fuzz.json)",
    )
    p.add_argument("--show", type=int, default=20, help="list at most this many bad scenes")
    p.add_argument("--replay", type=int, default=None, help="step one scene alone and report")
    return p.parse_args(argv)


def load_scenes_module(src: bool) -> ModuleType:
    """Import ``_random_scenes.py`` (and with ``src`` our jax2d from the source tree)."""
    if src:
        sys.path.insert(0, str(JAX2D_SRC))
    spec = importlib.util.spec_from_file_location("jax2d_fuzz_random_scenes", SCENES_PY)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def scene_inputs(R: ModuleType, static, args: argparse.Namespace, index: int):
    """Recipe, params and actions of scene ``index`` (reproducible on its own)."""
    import numpy as np

    rng = np.random.default_rng([args.seed, index])
    recipe = R.random_recipe(rng, static, args.profile)
    params = R.random_params(rng, args.profile)
    n_act = static.num_joints + static.num_thrusters
    return recipe, params, R.random_actions(rng, args.steps, n_act)


def replay(R: ModuleType, static, args: argparse.Namespace) -> int:
    """Step one scene with a jitted single step; print where it first went non-finite."""
    import jax
    import jax.numpy as jnp

    from jax2d.engine import PhysicsEngine

    recipe, params, actions = scene_inputs(R, static, args, args.replay)
    state = R.make_builder(static)(recipe)
    step = jax.jit(PhysicsEngine(static).step)
    print(f"scene {args.replay}: dt={float(params.dt):.6g}")
    for k, v in recipe.items():
        print(f"  {k} = {v.tolist()}")
    for i in range(args.steps):
        state, manifolds = step(state, params, actions[i])
        bad = [
            jax.tree_util.keystr(path)
            for path, x in jax.tree_util.tree_leaves_with_path((state, manifolds))
            if jnp.issubdtype(x.dtype, jnp.floating) and not bool(jnp.all(jnp.isfinite(x)))
        ]
        if bad:
            print(f"first non-finite after step {i}: {', '.join(bad)}")
            return 1
    print(f"all finite for {args.steps} steps")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    R = load_scenes_module(args.src)

    import jax
    import jax.numpy as jnp
    import numpy as np

    from jax2d.sim_state import StaticSimParams

    p, c, j, t = (int(x) for x in args.size.split(","))
    static = StaticSimParams(num_polygons=p, num_circles=c, num_joints=j, num_thrusters=t)
    if args.replay is not None:
        return replay(R, static, args)

    build = R.make_builder(static, batched=True)
    rollout = R.make_rollout(static, args.steps, batched=True)
    clip = R.SimParams()
    names = ("nonfinite", "position_clip", "velocity_clip", "angular_velocity_clip")
    bad: dict[str, list[int]] = {k: [] for k in names}
    first_batch_s = None
    t0 = time.perf_counter()
    for start in range(0, args.scenes, args.batch):
        idx = list(range(start, min(start + args.batch, args.scenes)))
        inputs = [scene_inputs(R, static, args, i) for i in idx]
        recipes = R.stack_recipes([x[0] for x in inputs])
        params = jax.tree_util.tree_map(
            lambda *v: jnp.asarray(np.stack(v), jnp.float32), *[x[1] for x in inputs]
        )
        actions = np.stack([x[2] for x in inputs])
        tb = time.perf_counter()
        _, stats = rollout(build(recipes), params, actions)
        stats = jax.tree_util.tree_map(np.asarray, stats)
        if first_batch_s is None:
            first_batch_s = time.perf_counter() - tb
        flags = {
            "nonfinite": ~stats.all_finite,
            "position_clip": stats.max_abs_position >= clip.clip_position,
            "velocity_clip": stats.max_abs_velocity >= clip.clip_velocity,
            "angular_velocity_clip": stats.max_abs_angular_velocity >= clip.clip_angular_velocity,
        }
        for k, f in flags.items():
            bad[k].extend(int(idx[n]) for n in np.flatnonzero(f))
        done = idx[-1] + 1
        print(
            f"{done}/{args.scenes} scenes, {time.perf_counter() - t0:.0f} s: "
            + ", ".join(f"{k} {len(v)}" for k, v in bad.items()),
            flush=True,
        )
    wall = time.perf_counter() - t0

    n = args.scenes
    pct = {k: 100.0 * len(v) / n for k, v in bad.items()}
    print()
    for k, v in bad.items():
        shown = ", ".join(map(str, v[: args.show])) + (" ..." if len(v) > args.show else "")
        print(f"{k}: {len(v)} of {n} ({pct[k]:.2f}%){': ' + shown if v else ''}")
    if bad["nonfinite"]:
        print(f"reproduce one with: python {Path(__file__).name} --replay {bad['nonfinite'][0]}")
    env_steps = n * args.steps
    print(
        f"wall {wall:.1f} s (first batch incl. compile {first_batch_s:.1f} s), "
        f"{env_steps / wall:,.0f} scene-steps/s"
    )
    summary = (
        f"| fuzz ({args.profile}) | {n} scenes x {args.steps} steps, (P,C,J,T)=({args.size}), "
        f"batch {args.batch}, seed {args.seed} | NaN/inf: {len(bad['nonfinite'])} "
        f"({pct['nonfinite']:.2f}%) | position clip: {len(bad['position_clip'])} | "
        f"velocity clip: {len(bad['velocity_clip'])} | angular clip: "
        f"{len(bad['angular_velocity_clip'])} | {wall:.0f} s, jax {jax.__version__} "
        f"{jax.default_backend()} |"
    )
    print("\nMarkdown (BENCHMARKS.md):")
    print(summary)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:],
            "scenes": n,
            "steps": args.steps,
            "batch": args.batch,
            "seed": args.seed,
            "profile": args.profile,
            "size": [p, c, j, t],
            "bad_scenes": bad,
            "wall_s": wall,
            "first_batch_s": first_batch_s,
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "machine": platform.platform(),
            "markdown": summary,
        }
        out.write_text(json.dumps(record, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
