"""One env benchmark run inside ONE interpreter; prints a JSON result line.

Run by ``benchmarks/env.py`` once per (implementation, size, batch), with the interpreter that has
the kinetix env under test: ours (``kinetix.environment`` from ``packages/kinetix-env``, on our
jax2d) or the reference ``kinetix-env==3.0.2`` (on ``jax2d==1.0.1``).

    python benchmarks/_env_worker.py --impl ours --size s --batch 256 --steps 50 \
        --level /path/to/levels/s/h0_weak_thrust.json

What is timed: ``jax.jit`` of a ``lax.scan`` over ``--steps`` env steps; each step samples a random
multi-discrete action per env (``env.action_type.random_action``, vmapped) and calls
``jax.vmap(env.step)`` (auto-reset on, ``reset_fn`` returns the fixed level). The observation is the
same on both sides, chosen by ``--obs``: ``"blind"`` (``one_hot(timestep, max_timesteps + 1)``,
the cheapest; isolates physics) or ``"symbolic_flat"`` (the real observation agents use: ours from
kinetix-render through the env's registry, the reference's own renderer). Ours has blind built
in; the reference's ``make_kinetix_env`` rejects ``BLIND`` although its ``spaces.py`` defines a
``BlindObservations`` class with the same ``get_obs``, so the reference env is built with
``make_kinetix_env`` and its observation object is then swapped for ``BlindObservations``. The per-step observation is summed into the
scan output so XLA cannot drop it.

The result is the last stdout line, prefixed with ``RESULT_PREFIX``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

RESULT_PREFIX = "@@ENV_BENCH_RESULT@@ "

IMPLS = ("ours", "ref")
OBS_TYPES = ("blind", "symbolic_flat")
PRESET_FIELDS = ("num_polygons", "num_circles", "num_joints", "num_thrusters", "frame_skip")


def _disable_persistent_cache() -> None:
    # Compile time is one of the things we measure: never read a compiled program from disk.
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"


def build_env(
    impl: str, size: str, level_path: str, obs_type: str = "blind", numerics: str = "exact"
):
    """``(env, level_state, env_params, static_env_params, observation_description)``.

    The level is loaded by the implementation's own JSON loader; the static parameters are the
    size preset (``static_env_params_from_size``), which must agree with the level file's.
    """
    if impl == "ours":
        from kinetix.environment import (
            ActionType,
            load_from_json_file,
            make_kinetix_env,
            static_env_params_from_size,
        )

        level, level_static, params = load_from_json_file(level_path)
        static = static_env_params_from_size(size)
        _check_preset(level_static, static, size, level_path)
        env = make_kinetix_env(
            ActionType.MULTI_DISCRETE,
            obs_type,  # "symbolic_flat" resolves to kinetix-render through the entry points
            reset_fn=lambda rng: level,
            env_params=params,
            static_env_params=static,
            auto_reset=True,
            physics_numerics=numerics,
        )
        if obs_type == "blind":
            obs = "blind (built in: one_hot(timestep, max_timesteps + 1))"
        else:
            obs = "symbolic_flat (kinetix-render, included in the timing)"
        return env, level, params, static, obs

    from kinetix.environment import (
        ActionType,
        ObservationType,
        make_kinetix_env,
        static_env_params_from_size,
    )
    from kinetix.environment.spaces import BlindObservations
    from kinetix.util.saving import load_from_json_file

    level, level_static, params = load_from_json_file(level_path)
    static = static_env_params_from_size(size)
    _check_preset(level_static, static, size, level_path)
    env = make_kinetix_env(
        ActionType.MULTI_DISCRETE,
        ObservationType.SYMBOLIC_FLAT,
        reset_fn=lambda rng: level,
        env_params=params,
        static_env_params=static,
        auto_reset=True,
    )
    if obs_type == "blind":
        # make_kinetix_env raises for BLIND; its BlindObservations class is the same computation
        # as ours. Swap it in before anything is traced (hash_key changes with it, so no stale
        # trace of the symbolic env can be reused).
        env.observation_type = BlindObservations(params, static)
        obs = (
            "blind (reference BlindObservations swapped in after make_kinetix_env, which rejects "
            "BLIND: one_hot(timestep, max_timesteps + 1))"
        )
    else:
        obs = "symbolic_flat (reference renderer, included in the timing)"
    return env, level, params, static, obs


def _check_preset(level_static, preset, size: str, path: str) -> None:
    got = {f: getattr(level_static, f) for f in PRESET_FIELDS}
    want = {f: getattr(preset, f) for f in PRESET_FIELDS}
    if got != want:
        raise SystemExit(f"level {path} has static params {got}, size preset {size} is {want}")


def _versions(impl: str) -> dict:
    from importlib import metadata

    import jax

    import jax2d
    import kinetix.environment as kenv

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {
        "impl": impl,
        "python": platform.python_version(),
        "executable": sys.executable,
        "jax": jax.__version__,
        "jaxlib": version("jaxlib"),
        # The imported module wins over installed metadata (--ours-src shadows an install).
        "jax2d": getattr(jax2d, "__version__", None) or version("jax2d"),
        "jax2d_file": os.path.dirname(os.path.abspath(jax2d.__file__)),
        "kinetix_env": getattr(kenv, "__version__", None) or version("kinetix-env"),
        "kinetix_env_file": os.path.dirname(os.path.abspath(kenv.__file__)),
        "device": str(jax.devices()[0]),
    }


def run(args: argparse.Namespace) -> dict:
    import jax
    import jax.numpy as jnp
    from _engine_worker import compiler_options  # this script's folder is on sys.path

    jax.config.update("jax_enable_compilation_cache", False)

    env, _level, params, static, obs_desc = build_env(
        args.impl, args.size, args.level, args.obs, args.numerics
    )
    batch, steps = args.batch, args.steps

    step_v = jax.vmap(env.step, in_axes=(0, 0, 0, None))
    random_action_v = jax.vmap(env.action_type.random_action)

    def rollout(state, key, env_params):
        def body(carry, _):
            state, key = carry
            key, k_act, k_step = jax.random.split(key, 3)
            actions = random_action_v(jax.random.split(k_act, batch))
            obs, state, reward, done, info = step_v(
                jax.random.split(k_step, batch), state, actions, env_params
            )
            obs_sum = sum(jnp.sum(x, dtype=jnp.float32) for x in jax.tree.leaves(obs))
            stats = (
                jnp.sum(reward),
                jnp.sum(done.astype(jnp.int32)),
                jnp.sum(info["GoalR"].astype(jnp.int32)),
                obs_sum,
            )
            return (state, key), stats

        (state, key), (reward, done, goal, obs_sum) = jax.lax.scan(
            body, (state, key), None, length=steps
        )
        return state, key, (reward.sum(), done.sum(), goal.sum(), obs_sum.sum())

    reset_keys = jax.random.split(jax.random.PRNGKey(args.seed), batch)
    _, state0 = jax.vmap(env.reset, in_axes=(0, None))(reset_keys, params)
    state0 = jax.block_until_ready(state0)
    key0 = jax.random.PRNGKey(args.seed + 1)

    # Compile, measured on its own (tracing + lowering, then XLA compilation).
    fn = jax.jit(rollout)
    options = compiler_options(args.compiler_options)
    t0, c0 = time.perf_counter(), time.process_time()
    lowered = fn.lower(state0, key0, params)
    t1 = time.perf_counter()
    compiled = lowered.compile(options or None)
    t2, c2 = time.perf_counter(), time.process_time()

    result = {
        "impl": args.impl,
        "size": args.size,
        "batch": batch,
        "steps": steps,
        "level": args.level,
        "observation": obs_desc,
        "static": {f: getattr(static, f) for f in PRESET_FIELDS},
        "lower_s": t1 - t0,
        "xla_compile_s": t2 - t1,
        "compile_s": t2 - t0,
        "compile_cpu_s": c2 - c0,
    }

    # The first rollout from the reset state: same keys on both sides, so with matching physics
    # the episode statistics agree (a cheap sanity check that both ran the same task).
    t0 = time.perf_counter()
    state, key, stats = compiled(state0, key0, params)
    stats = jax.device_get(stats)
    result["first_call_s"] = time.perf_counter() - t0
    result["first_rollout"] = {
        "reward_sum": float(stats[0]),
        "dones": int(stats[1]),
        "goals": int(stats[2]),
        "obs_sum": float(stats[3]),
    }
    for _ in range(max(0, args.warmup - 1)):
        state, key, stats = compiled(state, key, params)
    jax.block_until_ready(state)

    if args.reps > 0:
        wall, cpu = [], []
        for _ in range(args.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                state, key, stats = compiled(state, key, params)
            jax.block_until_ready((state, stats))
            wall.append((time.perf_counter() - t0) / (args.calls * steps))
            cpu.append((time.process_time() - c0) / (args.calls * steps))
        result.update(
            calls=args.calls,
            reps=args.reps,
            warmup=args.warmup,
            wall_ms_per_step_all=[w * 1e3 for w in wall],
            cpu_ms_per_step_all=[c * 1e3 for c in cpu],
            wall_ms_per_step=min(wall) * 1e3,
            cpu_ms_per_step=min(cpu) * 1e3,
            env_steps_per_s=batch / min(wall),
            env_steps_per_cpu_s=batch / min(cpu),
        )

    result["versions"] = _versions(args.impl)
    result["compiler_options"] = options
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=IMPLS, required=True, help="which kinetix env API")
    parser.add_argument("--size", choices=("s", "m", "l"), required=True)
    parser.add_argument("--batch", type=int, required=True)
    parser.add_argument("--level", required=True, help="level JSON file (absolute path)")
    parser.add_argument("--steps", type=int, default=100, help="env steps per scan (per call)")
    parser.add_argument("--calls", type=int, default=1, help="scan calls per timed repeat")
    parser.add_argument("--reps", type=int, default=3, help="timed repeats (0: compile only)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls (at least 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--obs", choices=OBS_TYPES, default="blind", help="both sides")
    parser.add_argument(
        "--numerics", choices=("exact", "fast"), default="exact", help="our physics (ours only)"
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
