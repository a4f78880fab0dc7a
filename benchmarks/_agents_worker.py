"""One agents benchmark run inside ONE interpreter; prints a JSON result line.

Run by ``benchmarks/agents.py`` once per (implementation, task, size), with the interpreter that
has the side under test:

* ``--impl ours``: ``kinetix.agents`` (Equinox networks, ``make_train``, ``make_bc_step``) on our
  env/renderer; the builders are in ``_agents_worker_ours.py``.
* ``--impl ref``: the reference ``kinetix-env==3.0.2`` env and renderer, its flax
  ``kinetix.models`` network and its PPO pieces from ``kinetix.util.learning``, in a PureJaxRL
  loop; the builders are in ``_agents_worker_ref.py``.

Tasks (``--task``):

* ``ppo``: one jitted ``update(carry) -> (carry, metrics)`` doing ``--updates`` whole PPO updates
  (rollout of ``--steps`` x ``--envs`` env steps with auto-reset to freshly sampled random levels,
  GAE, ``--epochs`` x ``--minibatches`` Adam steps). Throughput = env steps per second of the whole
  update (rollout and learning together).
* ``bc``: one jitted BC gradient step (render symbolic-entity observations from the stored
  ``env_state`` ``(B, T)``, network forward/backward, clip + AdamW) on the batch in ``--data``
  (an ``.npz`` written by ``--task extract``). Throughput = transitions (B x T) per second.
* ``extract`` (ours only): read ``--bc-trajectories`` whole trajectories from a released
  trajectory split with ``kinetix.data`` and write them to ``--data`` as plain arrays (env-state
  leaves under their ``/``-joined field paths), so both sides train on the same numbers.

Compile time (``jax.jit(fn).lower(carry).compile()``, persistent cache off) is reported apart
from steady-state throughput (minimum over ``--reps`` timed calls after ``--warmup`` calls).
Process CPU time (all threads) is recorded next to wall time.

    python benchmarks/_agents_worker.py --impl ours --task ppo --size s --envs 16 --steps 16
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time

RESULT_PREFIX = "@@AGENTS_BENCH_RESULT@@ "
IMPLS = ("ours", "ref")
TASKS = ("ppo", "bc", "extract")


def _disable_persistent_cache() -> None:
    # Compile time is one of the things we measure: never read a compiled program from disk.
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"


def _side(impl: str):
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    return importlib.import_module(f"_agents_worker_{impl}")


def time_compiled(fn, carry, args: argparse.Namespace, items_per_call: int) -> dict:
    """Compile ``fn(carry) -> (carry, aux)`` on its own, then time steady-state calls."""
    import jax

    jitted = jax.jit(fn)
    t0, c0 = time.perf_counter(), time.process_time()
    lowered = jitted.lower(carry)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2, c2 = time.perf_counter(), time.process_time()
    out = {
        "lower_s": t1 - t0,
        "xla_compile_s": t2 - t1,
        "compile_s": t2 - t0,
        "compile_cpu_s": c2 - c0,
    }
    t0 = time.perf_counter()
    carry, aux = compiled(carry)
    aux = jax.device_get(aux)
    out["first_call_s"] = time.perf_counter() - t0
    out["first_aux"] = {k: float(v) for k, v in aux.items()}
    for _ in range(max(0, args.warmup - 1)):
        carry, aux = compiled(carry)
    jax.block_until_ready(carry)
    wall, cpu = [], []
    for _ in range(args.reps):
        t0, c0 = time.perf_counter(), time.process_time()
        carry, aux = compiled(carry)
        jax.block_until_ready((carry, aux))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    out["last_aux"] = {k: float(v) for k, v in jax.device_get(aux).items()}
    out.update(
        reps=args.reps,
        warmup=args.warmup,
        items_per_call=items_per_call,
        wall_s_per_call_all=wall,
        cpu_s_per_call_all=cpu,
        wall_s_per_call=min(wall),
        cpu_s_per_call=min(cpu),
        items_per_s=items_per_call / min(wall),
        items_per_cpu_s=items_per_call / min(cpu),
    )
    return out


def env_state_from_arrays(template, arrays, prefix: str = "env_state"):
    """Rebuild an env state with ``template``'s tree from ``arrays[f"{prefix}{keystr(path)}"]``.

    Both sides' ``EnvState`` trees have the same field paths (checked: a missing or extra field
    raises), so one ``.npz`` feeds either.
    """
    import jax
    import jax.numpy as jnp
    from jax.tree_util import keystr, tree_flatten_with_path

    leaves, treedef = tree_flatten_with_path(template)
    keys = [prefix + keystr(path) for path, _ in leaves]
    stored = {k for k in arrays if k.startswith(prefix + ".")}
    if set(keys) != stored:
        raise SystemExit(
            f"env_state fields differ: missing {sorted(set(keys) - stored)}, "
            f"extra {sorted(stored - set(keys))}"
        )
    return jax.tree.unflatten(treedef, [jnp.asarray(arrays[k]) for k in keys])


def versions(impl: str) -> dict:
    from importlib import metadata

    import jax

    import kinetix.environment as kenv

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    dists = ("jaxlib", "jax2d", "kinetix-env", "kinetix-agents", "equinox", "flax", "optax")
    return {
        "impl": impl,
        "python": platform.python_version(),
        "executable": sys.executable,
        "jax": jax.__version__,
        **{d.replace("-", "_"): version(d) for d in dists},
        "kinetix_env_file": os.path.dirname(os.path.abspath(kenv.__file__)),
        "device": str(jax.devices()[0]),
    }


def run(args: argparse.Namespace) -> dict:
    import jax

    jax.config.update("jax_enable_compilation_cache", False)
    side = _side(args.impl)
    if args.task == "extract":
        if args.impl != "ours":
            raise SystemExit("--task extract reads the dataset with kinetix.data: use --impl ours")
        return side.extract_bc_batch(args.dataset, args.data, args.bc_trajectories, args.bc_time)
    if args.task == "ppo":
        built = side.build_ppo(args)
        items = args.updates * args.envs * args.steps
    else:
        built = side.build_bc(args)
        items = built["transitions"]
    result = {
        "impl": args.impl,
        "task": args.task,
        "size": args.size,
        "description": built["description"],
        "num_params": built["num_params"],
    }
    if args.task == "ppo":
        result.update(
            envs=args.envs,
            steps=args.steps,
            minibatches=args.minibatches,
            epochs=args.epochs,
            updates=args.updates,
        )
    else:
        result.update(bc_batch=built["batch_shape"], transitions=built["transitions"])
    result.update(time_compiled(built["fn"], built["carry"], args, items))
    result["versions"] = versions(args.impl)
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--impl", choices=IMPLS, required=True)
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--size", choices=("s", "m", "l"), default="s")
    p.add_argument("--envs", type=int, default=64, help="PPO num_train_envs")
    p.add_argument("--steps", type=int, default=64, help="PPO num_steps")
    p.add_argument("--minibatches", type=int, default=4, help="PPO num_minibatches")
    p.add_argument("--epochs", type=int, default=2, help="PPO update_epochs")
    p.add_argument("--updates", type=int, default=1, help="PPO updates per timed call")
    p.add_argument("--lr", type=float, default=None, help="default 5e-5 (PPO), 3e-4 (BC)")
    p.add_argument("--data", help="BC batch .npz (written by --task extract)")
    p.add_argument("--dataset", help="released trajectory split directory (extract)")
    p.add_argument("--bc-trajectories", type=int, default=8, help="trajectories (extract)")
    p.add_argument("--bc-time", type=int, default=256, help="steps per trajectory (extract)")
    p.add_argument("--reps", type=int, default=3, help="timed calls; the minimum is reported")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls (at least 1)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    args.warmup = max(1, args.warmup)
    if args.task == "bc" and not args.data:
        p.error("--task bc needs --data")
    if args.task == "extract" and not (args.data and args.dataset):
        p.error("--task extract needs --dataset and --data")
    if args.envs % args.minibatches:
        p.error(f"--envs {args.envs} must be divisible by --minibatches {args.minibatches}")

    _disable_persistent_cache()
    result = run(args)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
