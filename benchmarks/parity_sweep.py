"""Large env/engine parity sweep against ``kinetix-env==3.0.2`` on levels no fixture uses.

The golden fixtures cover a few dozen sampled levels; hidden checks replay states recorded with
the reference on other levels. This sweep samples many fresh levels (seeds disjoint from the
fixtures' ``PRNGKey(0)``/``PRNGKey(1)``/``PRNGKey(2..4)``), rolls them out with random actions
and compares our packages with the reference, in two stages (as ``golden/make_jax2d_golden.py``):

1. ``--stage record`` (reference venv: jax 0.9.0, ``jax2d==1.0.1``, ``kinetix-env==3.0.2``):
   per size (s, m, l) sample ``--n`` levels with the reference ``sample_kinetix_level``
   (``jax.random.split(PRNGKey(seed + k), n)``, vmapped), and for each action type roll every level
   out for ``--steps`` env steps with random actions from the action space (blind observations,
   auto-reset to the level itself), vmapped over levels. It writes ``<out>/record_<size>.npz``:

   * ``meta/*``: size, seeds, steps, checkpoints, versions, the 9 static sim fields;
   * ``level/<leaf>``: the sampled ``EnvState`` leaves, stacked over levels;
   * ``<atype>/actions``: ``(n, steps, ...)``;
   * ``<atype>/state/<leaf>``: the free-run state at each checkpoint step ``k`` in
     ``CHECKPOINTS`` (``(n, K, ...)``);
   * ``<atype>/next/<leaf>``, ``/reward``, ``/done``, ``/info/<key>``: the reference's
     ``step_env`` (one env step, ``frame_skip`` substeps, no auto-reset) from that state with the
     free run's action ``k``;
   * ``<atype>/sub/<leaf>`` and ``<atype>/sub_manifolds/{rr,cr,cc}/<field>``: one engine substep
     (``PhysicsEngine.step``) from that state with the processed action, to localise a mismatch;
   * ``<atype>/free/reward``, ``/done`` ``(n, steps)`` and ``<atype>/free/step<j>/<body>/<field>``
     for ``j`` in ``FREE_STEPS``, body ``polygon``/``circle``, field ``position``/``rotation``.

2. ``--stage compare`` (our ``jax2d`` + ``kinetix-env`` on the same jax version): load each
   record, rebuild the states with our ``EnvState`` layout and

   a) re-synchronised checks: from every recorded state, step our env once with the same action;
      every float leaf must satisfy ``|ours - ref| <= atol + rtol |ref|`` (NaN equals NaN, the
      rule of ``packages/jax2d/tests/_golden.py``), int/bool leaves exactly; reward the same
      rule; done exactly. The engine substep is checked the same way (state and manifolds);
   b) free runs: our rollout from the level with the recorded actions; the distribution of the
      max |position/rotation| error at ``FREE_STEPS`` (fraction within 1e-5 and 1e-3), and the
      first step where reward/done differ.

   It prints every failing re-synced case (size, action type, level, step, leaf, max |d|) with
   the level's features for the worst ones, and writes ``<out>/compare_report.json``.

Examples (pinned to one core, own compile cache)::

    taskset -c 1 /work/venvs/ref/bin/python benchmarks/parity_sweep.py --stage record --n 300
    PYTHONPATH=packages/jax2d/src:packages/kinetix-env/src taskset -c 1 \\
        /tmp/ours090/bin/python benchmarks/parity_sweep.py --stage compare
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata as md
import json
import os
import time
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("/tmp/parity_sweep")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(DEFAULT_OUT / "jaxcache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

SIZES = ("s", "m", "l")
ACTION_TYPES = ("continuous", "multi_discrete")
CHECKPOINTS = (0, 25, 50, 75)
FREE_STEPS = (1, 10, 50, 100)
FREE_FIELDS = [f"{b}/{f}" for b in ("polygon", "circle") for f in ("position", "rotation")]
SIM_STATIC_FIELDS = (
    "num_polygons",
    "num_circles",
    "num_joints",
    "num_thrusters",
    "max_polygon_vertices",
    "num_solver_iterations",
    "solver_batch_size",
    "do_warm_starting",
    "num_static_fixated_polys",
)
ARENA = 4  # polygon slots 0..3 are the floor, walls and ceiling


# --------------------------------------------------------------------------------------------
# Flat {path: array} <-> pytrees (the "/"-joined attribute paths of tests/conftest.py)
# --------------------------------------------------------------------------------------------


def _key_name(k: Any) -> str:
    return str(getattr(k, "name", getattr(k, "key", getattr(k, "idx", k))))


def flatten(tree: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """``{prefix + "polygon/position": array, ...}`` for every leaf of ``tree``."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        out[prefix + "/".join(_key_name(k) for k in path)] = np.asarray(leaf)
    return out


def sub(flat: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """Entries under ``prefix/`` with the prefix removed."""
    p = prefix.rstrip("/") + "/"
    return {k[len(p) :]: v for k, v in flat.items() if k.startswith(p)}


def unflatten_like(template: Any, flat: dict[str, np.ndarray], batch_ndim: int) -> Any:
    """``template``'s structure with each leaf ``flat[path]`` (``batch_ndim`` leading axes).

    Raises ``ValueError`` naming the path for a missing/unknown leaf or a shape/dtype mismatch.
    """
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves, used = [], set()
    for path, tmpl in paths:
        name = "/".join(_key_name(k) for k in path)
        if name not in flat:
            raise ValueError(f"recorded state has no leaf {name!r}")
        value, tmpl = np.asarray(flat[name]), np.asarray(tmpl)
        if value.shape[batch_ndim:] != tmpl.shape or value.dtype != tmpl.dtype:
            raise ValueError(
                f"leaf {name!r}: recorded {value.shape[batch_ndim:]} {value.dtype}, "
                f"ours {tmpl.shape} {tmpl.dtype}"
            )
        leaves.append(jnp.asarray(value))
        used.add(name)
    extra = sorted(set(flat) - used)
    if extra:
        raise ValueError(f"recorded leaves our EnvState does not have: {extra}")
    return jax.tree_util.tree_unflatten(treedef, leaves)


def versions() -> dict[str, str]:
    """Installed versions of the packages that matter (ours report ``source``)."""
    out = {}
    for p in ("jax", "jaxlib", "numpy", "jax2d", "kinetix-env"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[p] = md.version(p)
    return out


def take(tree: Any, idx: Any) -> Any:
    return jax.tree.map(lambda x: x[idx], tree)


# --------------------------------------------------------------------------------------------
# Env construction and rollout (the same code drives the reference and ours)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Api:
    """The classes of one implementation (reference or ours), imported per stage."""

    KinetixEnv: Any
    EnvParams: Any
    BlindObservations: Any
    actions: dict[str, Any]
    static_env_params_from_size: Any
    create_empty_env: Any


def reference_api() -> Api:
    import kinetix.environment  # noqa: F401  (before kinetix.render: circular import)
    from kinetix.environment.env import KinetixEnv
    from kinetix.environment.env_state import EnvParams
    from kinetix.environment.spaces import (
        BlindObservations,
        ContinuousActions,
        MultiDiscreteActions,
    )
    from kinetix.environment.utils import create_empty_env, static_env_params_from_size

    acts = {"continuous": ContinuousActions, "multi_discrete": MultiDiscreteActions}
    return Api(
        KinetixEnv,
        EnvParams,
        BlindObservations,
        acts,
        static_env_params_from_size,
        create_empty_env,
    )


def our_api() -> Api:
    from kinetix.environment import (
        BlindObservations,
        ContinuousActions,
        EnvParams,
        KinetixEnv,
        MultiDiscreteActions,
        create_empty_env,
        static_env_params_from_size,
    )

    acts = {"continuous": ContinuousActions, "multi_discrete": MultiDiscreteActions}
    return Api(
        KinetixEnv,
        EnvParams,
        BlindObservations,
        acts,
        static_env_params_from_size,
        create_empty_env,
    )


def make_env(api: Api, atype: str, static: Any, params: Any, numerics: str = "exact") -> Any:
    """Blind-observation env with auto-reset to ``override_reset_state`` (the level).

    ``numerics`` other than ``"exact"`` selects our engine's opt-in mode (compare stage only).
    """
    extra = {}
    if numerics != "exact":
        from jax2d.engine import PhysicsEngine

        extra["physics_engine"] = PhysicsEngine(static, numerics=numerics)
    return api.KinetixEnv(
        action_type=api.actions[atype](params, static),
        observation_type=api.BlindObservations(params, static),
        static_env_params=static,
        reset_function=None,
        auto_reset=True,
        **extra,
    )


def segment_fn(env: Any, params: Any, compiler_options: dict | None = None) -> Any:
    """jit(vmap): run the actions of a segment with auto-reset; per-step pose/reward/done."""

    def one(level: Any, state: Any, actions: Any) -> Any:
        def body(s: Any, a: Any) -> Any:
            _, s, reward, done, _ = env.step(jax.random.PRNGKey(0), s, a, params, level)
            poses = {k: v for k, v in flatten_traced(s).items() if k in FREE_FIELDS}
            return s, (poses, reward, done)

        return jax.lax.scan(body, state, actions)

    return jax.jit(jax.vmap(one), compiler_options=compiler_options or None)


def flatten_traced(tree: Any) -> dict[str, Any]:
    """Like :func:`flatten` but keeps (traced) jax arrays."""
    return {
        "/".join(_key_name(k) for k in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]
    }


def one_step_fn(env: Any, params: Any, compiler_options: dict | None = None) -> Any:
    """jit(vmap): one env step (``step_env``) and one engine substep from a state."""
    engine = env.physics_engine

    def one(state: Any, action: Any) -> Any:
        _, nxt, reward, done, info = env.step_env(jax.random.PRNGKey(0), state, action, params)
        command = env.action_type.process_action(action, state, env.static_env_params)
        sub_state, manifolds = engine.step(state, params, command)
        return nxt, reward, done, info, sub_state, manifolds

    return jax.jit(jax.vmap(one), compiler_options=compiler_options or None)


def free_run(
    env: Any, params: Any, levels: Any, actions: Any, compiler_options: dict | None = None
) -> tuple[dict, list[Any]]:
    """Roll every level out; pose arrays at every step and the full states at ``CHECKPOINTS``."""
    run = segment_fn(env, params, compiler_options)
    n_steps = actions.shape[1]
    bounds = [*CHECKPOINTS, n_steps]
    state, states, poses, rewards, dones = levels, [], [], [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        states.append(state)
        state, (p, r, d) = run(levels, state, actions[:, a:b])
        poses.append(jax.tree.map(np.asarray, p))
        rewards.append(np.asarray(r))
        dones.append(np.asarray(d))
    traj = {k: np.concatenate([p[k] for p in poses], axis=1) for k in FREE_FIELDS}
    traj["reward"] = np.concatenate(rewards, axis=1)
    traj["done"] = np.concatenate(dones, axis=1)
    return traj, states


def stack_checkpoints(states: list[Any]) -> Any:
    """``(n, K, ...)`` from K states of shape ``(n, ...)``."""
    return jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *states)


def checkpoint_actions(actions: np.ndarray) -> np.ndarray:
    """``(n, K, ...)``: the action taken at each checkpoint step."""
    return np.stack([actions[:, k] for k in CHECKPOINTS], axis=1)


def batched_one_step(step: Any, states: Any, actions: Any, chunk: int) -> Any:
    """``step`` over ``(n, K)`` states (flattened to one batch, run in chunks), reshaped back."""
    n, k = actions.shape[:2]
    flat_states = jax.tree.map(lambda x: x.reshape(n * k, *x.shape[2:]), states)
    flat_actions = jnp.asarray(actions).reshape(n * k, *actions.shape[2:])
    outs = []
    for i in range(0, n * k, chunk):
        sl = slice(i, min(i + chunk, n * k))
        outs.append(jax.tree.map(np.asarray, step(take(flat_states, sl), flat_actions[sl])))
    out = jax.tree.map(lambda *xs: np.concatenate(xs), *outs)
    return jax.tree.map(lambda x: x.reshape(n, k, *x.shape[1:]), out)


def _manifolds_flat(manifolds: Any, prefix: str) -> dict[str, np.ndarray]:
    out = {}
    for fam, m in zip(("rr", "cr", "cc"), manifolds):
        out.update(flatten(m, f"{prefix}/{fam}/"))
    return out


def step_outputs_flat(outs: Any, prefix: str) -> dict[str, np.ndarray]:
    """``{prefix/next/..., prefix/reward, ...}`` from :func:`one_step_fn`'s outputs."""
    nxt, reward, done, info, sub_state, manifolds = outs
    out = flatten(nxt, f"{prefix}/next/")
    out[f"{prefix}/reward"] = np.asarray(reward)
    out[f"{prefix}/done"] = np.asarray(done)
    out.update(flatten(info, f"{prefix}/info/"))
    out.update(flatten(sub_state, f"{prefix}/sub/"))
    out.update(_manifolds_flat(manifolds, f"{prefix}/sub_manifolds"))
    return out


# --------------------------------------------------------------------------------------------
# Stage 1: record with the reference
# --------------------------------------------------------------------------------------------


def record(args: argparse.Namespace) -> None:
    from jax2d.engine import PhysicsEngine
    from kinetix.environment.ued.distributions import sample_kinetix_level
    from kinetix.environment.ued.ued_state import UEDParams

    api = reference_api()
    params = api.EnvParams()
    args.out.mkdir(parents=True, exist_ok=True)
    for k, size in enumerate(SIZES):
        if size not in args.sizes:
            continue
        t0 = time.time()
        static = api.static_env_params_from_size(size)
        engine = PhysicsEngine(static)
        seed = args.seed + k

        def sample(rng: Any, engine: Any = engine, static: Any = static) -> Any:
            return sample_kinetix_level(rng, engine, params, static, UEDParams())

        keys = jax.random.split(jax.random.PRNGKey(seed), args.n)
        levels = jax.block_until_ready(jax.jit(jax.vmap(sample))(keys))
        print(f"[{size}] sampled {args.n} levels in {time.time() - t0:.1f}s", flush=True)
        arrays = flatten(levels, "level/")
        arrays["meta/size"] = np.array(size)
        arrays["meta/level_seed"] = np.array(seed)
        arrays["meta/n"] = np.array(args.n)
        arrays["meta/steps"] = np.array(args.steps)
        arrays["meta/checkpoints"] = np.array(CHECKPOINTS)
        arrays["meta/free_steps"] = np.array(FREE_STEPS)
        arrays["meta/versions"] = np.array(json.dumps(versions()))
        for f in SIM_STATIC_FIELDS:
            arrays[f"meta/static/{f}"] = np.array(getattr(static, f))
        for i, atype in enumerate(ACTION_TYPES):
            t1 = time.time()
            env = make_env(api, atype, static, params)
            space = env.action_space(params)
            akeys = jax.random.split(
                jax.random.PRNGKey(args.seed + 100 * (k + 1) + i), args.n * args.steps
            )
            actions = np.asarray(jax.vmap(space.sample)(akeys))
            actions = actions.reshape(args.n, args.steps, *actions.shape[1:])
            traj, states = free_run(env, params, levels, jnp.asarray(actions))
            ckpt_states = stack_checkpoints(states)
            outs = batched_one_step(
                one_step_fn(env, params), ckpt_states, checkpoint_actions(actions), args.chunk
            )
            arrays[f"{atype}/actions"] = actions
            arrays.update(flatten(ckpt_states, f"{atype}/state/"))
            arrays.update(step_outputs_flat(outs, atype))
            arrays[f"{atype}/free/reward"] = traj["reward"]
            arrays[f"{atype}/free/done"] = traj["done"]
            for j in FREE_STEPS:
                for f in FREE_FIELDS:
                    arrays[f"{atype}/free/step{j}/{f}"] = traj[f][:, j - 1]
            print(
                f"[{size}] {atype}: rollout + one-steps in {time.time() - t1:.1f}s, "
                f"done rate {traj['done'].mean():.3f}",
                flush=True,
            )
        path = args.out / f"record_{size}.npz"
        np.savez_compressed(path, **arrays)
        print(f"[{size}] wrote {path} ({path.stat().st_size / 1e6:.1f} MB)", flush=True)


# --------------------------------------------------------------------------------------------
# Stage 2: compare ours against the record
# --------------------------------------------------------------------------------------------


def leaf_excess(ours: np.ndarray, ref: np.ndarray, batch_ndim: int, atol: float, rtol: float):
    """Per batch entry: ``(excess, max |d|)``; excess > 0 means out of tolerance/unequal.

    Float leaves: ``excess = max(|d| - (atol + rtol |ref|))`` with NaN == NaN and NaN vs a number
    giving ``inf``. Exact leaves: the number of unequal entries (``-1`` when all are equal).
    """
    ours, ref = np.asarray(ours), np.asarray(ref)
    axes = tuple(range(batch_ndim, ref.ndim))
    if ref.dtype.kind == "f" or ours.dtype.kind == "f":
        o, r = ours.astype(np.float64), ref.astype(np.float64)
        d = np.abs(o - r)
        d = np.where(np.isnan(o) & np.isnan(r), 0.0, np.where(np.isnan(d), np.inf, d))
        excess = d - (atol + rtol * np.abs(np.nan_to_num(r)))
        if not axes:
            return excess, d
        return excess.max(axis=axes, initial=-np.inf), d.max(axis=axes, initial=0.0)
    bad = (ours != ref).sum(axis=axes) if axes else (ours != ref).astype(np.int64)
    bad = np.asarray(bad, dtype=np.float64)
    return np.where(bad > 0, bad, -1.0), bad


@dataclasses.dataclass
class Failure:
    """One leaf out of tolerance in one re-synced case."""

    size: str
    atype: str
    level: int
    step: int
    check: str  # "env" (one env step) or "substep" (one engine substep)
    leaf: str
    max_abs: float
    exact: bool
    index: tuple[int, ...] = ()  # the entry with the largest |d| (or the first unequal one)
    ours: float = 0.0
    ref: float = 0.0

    def __str__(self) -> str:
        what = f"{int(self.max_abs)} unequal" if self.exact else f"max|d|={self.max_abs:.3g}"
        return (
            f"{self.size} {self.atype:<14} level {self.level:3d} step {self.step:2d} "
            f"{self.check:<7} {self.leaf}: {what} at {self.index}: "
            f"ours={self.ours:.9g} ref={self.ref:.9g}"
        )


def worst_entry(ours: np.ndarray, ref: np.ndarray) -> tuple[tuple[int, ...], float, float]:
    """Index and both values of the entry with the largest |ours - ref| (NaN counts as inf)."""
    o, r = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    if o.ndim == 0:
        return (), float(o), float(r)
    d = np.abs(o - r)
    d = np.where(np.isnan(o) & np.isnan(r), 0.0, np.where(np.isnan(d), np.inf, d))
    idx = np.unravel_index(int(np.argmax(d)), d.shape)
    return tuple(int(i) for i in idx), float(o[idx]), float(r[idx])


def level_features(level: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    """What a level contains (for the failure report)."""
    pa = level["polygon/active"][i].copy()
    pa[:ARENA] = False
    ca = level["circle/active"][i]
    ja = level["joint/active"][i]
    fixed_j = ja & level["joint/is_fixed_joint"][i]
    ta = level["thruster/active"][i]
    p_fixed = pa & (level["polygon/inverse_mass"][i] == 0)
    c_fixed = ca & (level["circle/inverse_mass"][i] == 0)
    modes = np.concatenate(
        [level["polygon/collision_mode"][i][pa], level["circle/collision_mode"][i][ca]]
    )
    return {
        "polygons": int(pa.sum()),
        "circles": int(ca.sum()),
        "fixed_bodies": int(p_fixed.sum() + c_fixed.sum()),
        "revolute_joints": int((ja & ~fixed_j).sum()),
        "fixed_joints": int(fixed_j.sum()),
        "motors_on": int((ja & level["joint/motor_on"][i]).sum()),
        "joint_limits": int((ja & level["joint/motor_has_joint_limits"][i]).sum()),
        "thrusters": int(ta.sum()),
        "collision_modes": {int(m): int((modes == m).sum()) for m in np.unique(modes)},
        "vertices": sorted(int(v) for v in level["polygon/n_vertices"][i][pa]),
    }


def compare_one_steps(
    rec: dict[str, np.ndarray], ours: dict[str, np.ndarray], size: str, atype: str, args: Any
) -> tuple[list[Failure], int, np.ndarray]:
    """Failures of the re-synced checks; number of cases; per-case pass mask ``(n, K)``."""
    ref = sub(rec, atype)
    n, k = ref["reward"].shape
    # (our key, reference array, check, reported name, atol, rtol)
    leaves = []
    for prefix, check in (("next", "env"), ("sub", "substep"), ("sub_manifolds", "substep")):
        for leaf, r in sub(ref, prefix).items():
            name = leaf if prefix != "sub_manifolds" else f"manifolds/{leaf}"
            leaves.append((f"{prefix}/{leaf}", r, check, name, args.atol, args.rtol))
    leaves.append(("reward", ref["reward"], "env", "reward", args.atol, args.rtol))
    leaves.append(("done", ref["done"], "env", "done", 0.0, 0.0))
    for leaf, r in sub(ref, "info").items():
        leaves.append((f"info/{leaf}", r, "env", f"info/{leaf}", args.atol, args.rtol))

    failures = []
    ok = np.ones((n, k), bool)
    for key, r, check, name, atol, rtol in leaves:
        o = ours[f"{atype}/{key}"]
        excess, dmax = leaf_excess(o, r, 2, atol, rtol)
        for li, ci in np.argwhere(excess > 0):
            idx, ov, rv = worst_entry(o[li, ci], r[li, ci])
            failures.append(
                Failure(
                    size,
                    atype,
                    int(li),
                    CHECKPOINTS[ci],
                    check,
                    name,
                    float(dmax[li, ci]),
                    r.dtype.kind != "f",
                    idx,
                    ov,
                    rv,
                )  # fmt: skip
            )
        ok &= ~(excess > 0)
    return failures, n * k, ok


def free_run_stats(rec: dict, traj: dict, atype: str) -> dict[str, Any]:
    """Max |pose error| per level at each ``FREE_STEPS`` step and reward/done divergence."""
    stats: dict[str, Any] = {}
    for j in FREE_STEPS:
        err = np.zeros(traj["reward"].shape[0])
        for f in FREE_FIELDS:
            ref = rec[f"{atype}/free/step{j}/{f}"].astype(np.float64)
            o = traj[f][:, j - 1].astype(np.float64)
            d = np.abs(o - ref).reshape(len(err), -1)
            d = np.where(np.isnan(d), np.inf, d)
            err = np.maximum(err, d.max(axis=1))
        stats[f"step{j}"] = {
            "within_1e-5": float(np.mean(err <= 1e-5)),
            "within_1e-3": float(np.mean(err <= 1e-3)),
            "median": float(np.median(err)),
            "max": float(err.max()),
            "worst_levels": [int(i) for i in np.argsort(-err)[:5]],
        }
    # done flips matter; reward drift is the dense shaping term following the pose drift
    ddiff = traj["done"] != rec[f"{atype}/free/done"]
    first_done = np.where(ddiff.any(axis=1), ddiff.argmax(axis=1), -1)
    rerr = np.abs(traj["reward"].astype(np.float64) - rec[f"{atype}/free/reward"])
    stats["done_diverged_levels"] = int((first_done >= 0).sum())
    stats["first_done_divergence"] = {
        int(i): int(first_done[i]) for i in np.nonzero(first_done >= 0)[0]
    }
    rfirst = np.where((rerr > 1e-5).any(axis=1), (rerr > 1e-5).argmax(axis=1), -1)
    stats["reward_diverged_levels"] = int((rfirst >= 0).sum())
    stats["first_reward_divergence_step"] = sorted(int(x) for x in rfirst[rfirst >= 0])
    stats["reward_max_abs_err"] = float(np.nan_to_num(rerr, nan=np.inf).max())
    return stats


def compare(args: argparse.Namespace) -> int:
    api = our_api()
    params = api.EnvParams()
    report: dict[str, Any] = {"versions": versions(), "atol": args.atol, "rtol": args.rtol}
    all_failures: list[Failure] = []
    total_cases = total_pass = 0
    features: dict[tuple[str, int], dict] = {}
    sizes = [size for size in SIZES if size in args.sizes]
    missing = [str(args.out / f"record_{size}.npz") for size in sizes]
    missing = [p for p in missing if not Path(p).exists()]
    if len(missing) == len(sizes):
        raise FileNotFoundError(
            f"no record to compare against: {', '.join(missing)} missing; run --stage record "
            f"(reference venv) with --out {args.out} first"
        )
    for size in sizes:
        path = args.out / f"record_{size}.npz"
        if not path.exists():
            print(f"[{size}] skipped: {path} missing", flush=True)
            continue
        with np.load(path) as z:
            rec = dict(z)
        static = api.static_env_params_from_size(size)
        for f in SIM_STATIC_FIELDS:
            if getattr(static, f) != rec[f"meta/static/{f}"]:
                raise ValueError(
                    f"{path}: static {f}={rec[f'meta/static/{f}']}, ours {getattr(static, f)}"
                )
        template = api.create_empty_env(static)
        level_flat = sub(rec, "level")
        levels = unflatten_like(template, level_flat, 1)
        n = int(rec["meta/n"])
        for atype in ACTION_TYPES:
            t0 = time.time()
            env = make_env(api, atype, static, params, args.numerics)
            actions = jnp.asarray(rec[f"{atype}/actions"])
            states = unflatten_like(template, sub(rec, f"{atype}/state"), 2)
            outs = batched_one_step(
                one_step_fn(env, params, args.compiler_options),
                states,
                checkpoint_actions(np.asarray(actions)),
                args.chunk,
            )
            ours = step_outputs_flat(outs, atype)
            fails, n_cases, ok = compare_one_steps(rec, ours, size, atype, args)
            traj, _ = free_run(env, params, levels, actions, args.compiler_options)
            free = free_run_stats(rec, traj, atype)
            all_failures += fails
            total_cases += n_cases
            total_pass += int(ok.sum())
            bad_cases = sorted({(f.level, f.step) for f in fails})
            for li, _ in bad_cases:
                features[(size, li)] = level_features(level_flat, li)
            report[f"{size}/{atype}"] = {
                "levels": n,
                "resync_cases": n_cases,
                "resync_pass": int(ok.sum()),
                "failing_cases": [list(c) for c in bad_cases],
                "free_run": free,
            }
            print(
                f"[{size}] {atype}: re-synced {int(ok.sum())}/{n_cases} pass; free run within 1e-5 "
                + ", ".join(f"@{j}: {free[f'step{j}']['within_1e-5']:.3f}" for j in FREE_STEPS)
                + "; within 1e-3 "
                + ", ".join(f"@{j}: {free[f'step{j}']['within_1e-3']:.3f}" for j in FREE_STEPS)
                + f"; done flips on {free['done_diverged_levels']} levels, reward > 1e-5 off on "
                f"{free['reward_diverged_levels']} levels "
                f"({time.time() - t0:.1f}s)",
                flush=True,
            )
    print(f"\nre-synced checks: {total_pass}/{total_cases} cases pass")
    print(f"{len(all_failures)} failing leaves:")
    for f in sorted(all_failures, key=lambda f: (f.size, f.atype, f.level, f.step, f.check)):
        print("  ", f)
    worst = sorted(all_failures, key=lambda f: -(np.inf if f.exact else f.max_abs))
    seen = []
    for f in worst:
        if (f.size, f.level) not in seen:
            seen.append((f.size, f.level))
    if seen:
        print("\nfeatures of the levels with the worst failures:")
        for size, li in seen[: args.show]:
            print(f"   {size} level {li}: {features[(size, li)]}")
    report["total_cases"] = total_cases
    report["total_pass"] = total_pass
    report["failures"] = [dataclasses.asdict(f) for f in all_failures]
    report["features"] = {f"{s}/{i}": v for (s, i), v in features.items()}
    report["numerics"] = args.numerics
    report["compiler_options"] = args.compiler_options
    suffix = "" if args.numerics == "exact" else f"-{args.numerics}"
    suffix += "-opts" if args.compiler_options else ""
    path = args.out / f"compare_report{suffix}.json"
    path.write_text(json.dumps(report, indent=1, default=float))
    print(f"report: {path}")
    return 0 if not all_failures else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=("record", "compare"), required=True)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="record/report folder")
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    ap.add_argument("--n", type=int, default=300, help="levels per size (record)")
    ap.add_argument("--steps", type=int, default=100, help="env steps per rollout (record)")
    ap.add_argument("--seed", type=int, default=12345, help="level seed of size s (m: +1, l: +2)")
    ap.add_argument("--chunk", type=int, default=400, help="batch size of the one-step checks")
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--rtol", type=float, default=1e-5)
    ap.add_argument("--show", type=int, default=8, help="levels whose features are printed")
    ap.add_argument(
        "--numerics",
        choices=("exact", "fast"),
        default="exact",
        help="our engine's numerics in the compare stage (the opt-in 'fast' is not expected to "
        "match bit for bit)",
    )
    ap.add_argument(
        "--compiler-options",
        type=json.loads,
        default={},
        help="XLA options (JSON) for our jits in the compare stage, e.g. "
        "'{\"xla_cpu_use_fusion_emitters\": false}'; the report is then compare_report-opts.json",
    )
    args = ap.parse_args(argv)
    if args.stage == "record":
        if args.steps < max(FREE_STEPS) or args.steps <= max(CHECKPOINTS):
            ap.error(f"--steps must be at least {max(FREE_STEPS)}")
        record(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    raise SystemExit(main())
