"""Generate the jax2d golden (parity) fixtures from the REFERENCE packages.

Two stages, because the reference engine must be stepped on the same JAX version as ours (XLA
rounding differs between JAX releases, e.g. ``jnp.linalg.norm`` in jax 0.9 vs 0.10, and flips
float32 ties that would swamp real engine differences), while the reference level sampler
(``kinetix-env==3.0.2``) only runs on jax 0.9:

1. ``--stage levels`` (venv with ``kinetix-env==3.0.2``, jax 0.9.0): sample the procedural levels
   (40 each of sizes s, m, l) and save their initial ``SimState`` / ``StaticSimParams`` /
   ``SimParams`` to ``golden/_jax2d_levels.npz``.
2. ``--stage fixtures`` (venv with ``jax2d==1.0.1`` on the JAX version our package is tested with;
   jax 0.10 needs the ``jnp.clip`` shim below): build the scripted scenes of
   ``golden/jax2d_scenes.py``, load the sampled levels, step everything with the reference and
   write the fixtures.

``--stage all`` (the default) runs both in one interpreter (for a single venv that has everything).
Examples::

    /work/venvs/ref/bin/python   golden/make_jax2d_golden.py --stage levels
    /work/venvs/ref10/bin/python golden/make_jax2d_golden.py --stage fixtures

Output: one ``np.savez_compressed`` file per scene in ``packages/jax2d/tests/golden/`` plus an
``index.json`` manifest. To keep the files small (an npz member costs ~250 bytes of headers and a
scene has ~500 leaves), the leaves are packed: the npz holds ``index`` (a JSON list of
``[path, dtype, shape, offset]``, or ``[path, "str", value]`` for strings) and one flat array per
dtype (``data/float32``, ``data/int32``, ``data/bool``, ``data/int64``). :func:`unpack` and
``packages/jax2d/tests/_golden.py::load_fixture`` turn it back into ``{path: array}``. The
logical content, keyed by path, is:

* ``meta/*``: name, kind (``scripted`` / ``sampled``), description, seed, static-size key,
  ``jax_version`` (of the stepping run), the format version, and ``ulp_sensitivity``: how far
  the reference's own rollout moves (max |position/rotation| change at steps 10, 50, 100) when
  every initial position is nudged by one float32 ULP, a yardstick for rollout errors.
* ``static/<field>``: the 9 ``StaticSimParams`` fields; ``params/<field>``: the 17 ``SimParams``
  fields (float32).
* ``actions``: ``(steps, J + T)`` float32.
* ``init/<path>``: every leaf of the initial ``SimState`` keyed by dotted path
  (``init/polygon/position``, ``init/acc_rr_manifolds/normal``, ...).
* ``step{1,10,50,51,100}/<path>``: the reference state after that many steps of a free-running
  rollout (``state_k = step(state_{k-1}, actions[k-1])``), so ``step51`` is also the reference's
  one-step result from ``step50`` (the re-synchronised check).
* ``manifolds{1,51}/{rr,cr,cc}/<field>``: the manifolds returned by steps 1 and 51.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata as md
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def _install_clip_shim() -> bool:
    """jax2d 1.0.1 calls ``jnp.clip(x, a_min=..., a_max=...)``, which jax 0.10 removed.

    Map those keywords onto ``min``/``max`` (no change in behaviour). Returns True if installed.
    """
    try:
        jnp.clip(jnp.zeros(1), a_min=0.0, a_max=1.0)
        return False
    except TypeError:
        pass
    original = jnp.clip

    def clip(x: Any, min: Any = None, max: Any = None, *, a_min: Any = None, a_max: Any = None,
             **kw: Any) -> Any:  # fmt: skip
        lo = a_min if a_min is not None else min
        hi = a_max if a_max is not None else max
        return original(x, lo, hi, **kw)

    jnp.clip = clip
    return True


CLIP_SHIM = _install_clip_shim()  # before anything imports jax2d

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import jax2d_scenes as scenes  # noqa: E402

from jax2d.engine import PhysicsEngine, create_empty_sim  # noqa: E402
from jax2d.sim_state import SimParams, SimState, StaticSimParams  # noqa: E402

DEFAULT_OUT = REPO / "packages" / "jax2d" / "tests" / "golden"
DEFAULT_LEVELS = HERE / "_jax2d_levels.npz"
CHECKPOINTS = (1, 10, 50, 51, 100)
MANIFOLD_STEPS = (1, 51)
FORMAT_VERSION = 1
EXPECTED_STEPPING_JAX = "0.10.2"  # the JAX version the dev venv (our package's tests) uses


# --------------------------------------------------------------------------------------------
# Flat {path: array} <-> objects, packing
# --------------------------------------------------------------------------------------------


def flatten(obj: Any, prefix: str) -> dict[str, np.ndarray]:
    """``{path: array}`` for every leaf of a (nested) dataclass, in field order."""
    out: dict[str, np.ndarray] = {}
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            out.update(flatten(getattr(obj, f.name), f"{prefix}/{f.name}"))
    else:
        out[prefix] = np.asarray(obj)
    return out


def manifold_arrays(manifolds: tuple[Any, Any, Any], prefix: str) -> dict[str, np.ndarray]:
    """Flatten the ``(rr, cr, cc)`` manifolds returned by ``step``."""
    out: dict[str, np.ndarray] = {}
    for fam, m in zip(("rr", "cr", "cc"), manifolds, strict=True):
        out.update(flatten(m, f"{prefix}/{fam}"))
    return out


def sub(flat: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """Entries under ``prefix/`` with the prefix removed."""
    p = prefix + "/"
    return {k[len(p) :]: v for k, v in flat.items() if k.startswith(p)}


def state_from_flat(flat: dict[str, np.ndarray], static: StaticSimParams) -> SimState:
    """A reference ``SimState`` whose leaves are ``flat[path]`` (exact shapes and dtypes)."""
    template = create_empty_sim(static, add_floor=False, add_walls_and_ceiling=False)

    def build(obj: Any, prefix: str) -> Any:
        if dataclasses.is_dataclass(obj):
            return obj.replace(
                **{
                    f.name: build(getattr(obj, f.name), f"{prefix}/{f.name}" if prefix else f.name)
                    for f in dataclasses.fields(obj)
                }
            )
        value = np.asarray(flat[prefix])
        tmpl = np.asarray(obj)
        if value.shape != tmpl.shape or value.dtype != tmpl.dtype:
            raise ValueError(f"{prefix}: {value.shape} {value.dtype} vs {tmpl.shape} {tmpl.dtype}")
        return jnp.asarray(value)

    return build(template, "")


def static_to_arrays(static: Any, prefix: str = "static") -> dict[str, np.ndarray]:
    """The 9 StaticSimParams fields (of a StaticSimParams or StaticEnvParams)."""
    out = {}
    for f in dataclasses.fields(StaticSimParams):
        v = getattr(static, f.name)
        out[f"{prefix}/{f.name}"] = np.array(v, dtype=np.bool_ if isinstance(v, bool) else np.int64)
    return out


def static_from_arrays(flat: dict[str, np.ndarray], prefix: str = "static") -> StaticSimParams:
    """Inverse of :func:`static_to_arrays`."""
    kw = {}
    for f in dataclasses.fields(StaticSimParams):
        v = flat[f"{prefix}/{f.name}"]
        kw[f.name] = bool(v) if v.dtype == np.bool_ else int(v)
    return StaticSimParams(**kw)


def params_to_arrays(params: Any, prefix: str = "params") -> dict[str, np.ndarray]:
    """The 17 SimParams fields (of a SimParams or EnvParams) as float32 scalars."""
    return {
        f"{prefix}/{f.name}": np.asarray(getattr(params, f.name), dtype=np.float32)
        for f in dataclasses.fields(SimParams)
    }


def params_from_arrays(flat: dict[str, np.ndarray], prefix: str = "params") -> SimParams:
    """Inverse of :func:`params_to_arrays` (Python floats holding the float32 values)."""
    return SimParams(
        **{f.name: float(flat[f"{prefix}/{f.name}"]) for f in dataclasses.fields(SimParams)}
    )


def pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Pack ``{path: array}`` into a JSON index plus one flat array per dtype."""
    index: list[list[Any]] = []
    chunks: dict[str, list[np.ndarray]] = {}
    sizes: dict[str, int] = {}
    for path, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind == "U":
            index.append([path, "str", str(arr)])
            continue
        dt = arr.dtype.name
        if dt not in ("float32", "int32", "bool", "int64"):
            raise TypeError(f"{path}: unexpected dtype {dt}")
        offset = sizes.get(dt, 0)
        index.append([path, dt, list(arr.shape), offset])
        chunks.setdefault(dt, []).append(arr.ravel())
        sizes[dt] = offset + arr.size
    out = {"index": np.array(json.dumps(index))}
    for dt, parts in chunks.items():
        out[f"data/{dt}"] = np.concatenate(parts).astype(dt)
    return out


def unpack(npz: Any) -> dict[str, np.ndarray]:
    """Inverse of :func:`pack` (``npz`` is the mapping returned by ``np.load``)."""
    out: dict[str, np.ndarray] = {}
    data = {k[len("data/") :]: npz[k] for k in npz.files if k.startswith("data/")}
    for entry in json.loads(str(npz["index"])):
        if entry[1] == "str":
            out[entry[0]] = np.array(entry[2])
            continue
        path, dt, shape, offset = entry
        n = int(np.prod(shape, dtype=np.int64))
        out[path] = data[dt][offset : offset + n].reshape(shape)
    return out


def save_packed(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a packed npz and check that it reads back identically."""
    np.savez_compressed(path, **pack(arrays))
    with np.load(path) as z:
        back = unpack(z)
    assert back.keys() == arrays.keys()
    for key, val in arrays.items():
        np.testing.assert_array_equal(back[key], np.asarray(val), err_msg=key)


def load_packed(path: Path) -> dict[str, np.ndarray]:
    """Read a packed npz."""
    with np.load(path) as z:
        return unpack(z)


def versions() -> dict[str, str]:
    """Versions of the packages that matter."""
    out = {}
    for p in ("jax2d", "jax", "jaxlib", "numpy", "kinetix-env"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[p] = md.version(p)
    return out


# --------------------------------------------------------------------------------------------
# Stage 1: sampled levels (reference kinetix-env)
# --------------------------------------------------------------------------------------------


def sample_levels(n_per_size: int, steps: int, seed: int) -> dict[str, np.ndarray]:
    """Sample ``n_per_size`` Kinetix levels of each size s, m, l with the reference sampler.

    Returns flat arrays ``<name>/static/*``, ``<name>/params/*``, ``<name>/init/*``,
    ``<name>/actions`` and ``<name>/meta/*`` for ``name = sampled_<size>_<i>``. The EnvState is
    reduced to its SimState fields, StaticEnvParams to the 9 StaticSimParams fields and
    EnvParams to the 17 SimParams fields (kinetix's values).
    """
    from kinetix.environment import (
        EnvParams,
        UEDParams,
        sample_kinetix_level,
        static_env_params_from_size,
    )

    env_params = EnvParams()
    ued_params = UEDParams()
    out: dict[str, np.ndarray] = {}
    vers = versions()
    for k, size in enumerate("sml"):
        t0 = time.time()
        static_env = static_env_params_from_size(size)
        engine = PhysicsEngine(static_env)

        def sample(rng: jax.Array, engine: PhysicsEngine = engine, se: Any = static_env) -> Any:
            return sample_kinetix_level(rng, engine, env_params, se, ued_params)

        rngs = jax.random.split(jax.random.PRNGKey(seed + k), n_per_size)
        levels = jax.block_until_ready(jax.jit(jax.vmap(sample))(rngs))
        static = static_to_arrays(static_env)
        params = params_to_arrays(env_params)
        for i in range(n_per_size):
            name = f"sampled_{size}_{i:03d}"
            level = jax.tree.map(lambda x, i=i: x[i], levels)
            sim_fields = [f.name for f in dataclasses.fields(SimState)]
            sim_state = SimState(**{n: getattr(level, n) for n in sim_fields})
            level_seed = 10_000 * (k + 1) + i
            out.update({f"{name}/{key}": v for key, v in static.items()})
            out.update({f"{name}/{key}": v for key, v in params.items()})
            out.update({f"{name}/{key}": v for key, v in flatten(sim_state, "init").items()})
            out[f"{name}/actions"] = scenes.random_actions(
                level_seed,
                steps,
                int(static["static/num_joints"]),
                int(static["static/num_thrusters"]),
            )
            out[f"{name}/meta/seed"] = np.array(level_seed, dtype=np.int64)
            out[f"{name}/meta/description"] = np.array(
                f"kinetix-env {vers.get('kinetix-env', '?')} sample_kinetix_level "
                f"(jax {vers['jax']}), size {size}, PRNGKey({seed + k}) split {n_per_size}, "
                f"level {i}"
            )
            out[f"{name}/meta/levels_jax_version"] = np.array(vers["jax"])
        print(f"  sampled {n_per_size} levels of size {size} ({time.time() - t0:.1f}s)", flush=True)
    return out


# --------------------------------------------------------------------------------------------
# Stage 2: fixtures (reference jax2d stepping)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Task:
    """One scene to roll out."""

    name: str
    kind: str
    static_key: str
    description: str
    seed: int
    static: StaticSimParams
    params: SimParams
    state: SimState
    actions: np.ndarray
    extra_meta: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


def scripted_tasks(steps: int, only: set[str] | None) -> list[Task]:
    """Build the scripted scenes of ``jax2d_scenes``."""
    tasks = []
    for sc in scenes.SCENES:
        if only and sc.name not in only:
            continue
        t0 = time.time()
        state, params, actions = scenes.build_scene(sc, steps)
        tasks.append(
            Task(
                sc.name,
                "scripted",
                sc.static_key,
                sc.description,
                sc.seed,
                sc.static,
                params,
                state,
                actions,
            )
        )
        print(f"  built {sc.name} ({time.time() - t0:.1f}s)", flush=True)
    return tasks


def level_tasks(levels: dict[str, np.ndarray]) -> list[Task]:
    """Tasks for the sampled levels saved by stage 1."""
    names = sorted({k.split("/", 1)[0] for k in levels})
    tasks = []
    for name in names:
        flat = sub(levels, name)
        static = static_from_arrays(flat)
        tasks.append(
            Task(
                name,
                "sampled",
                name.split("_")[1],
                str(flat["meta/description"]),
                int(flat["meta/seed"]),
                static,
                params_from_arrays(flat),
                state_from_flat(sub(flat, "init"), static),
                np.asarray(flat["actions"], dtype=np.float32),
                {"meta/levels_jax_version": flat["meta/levels_jax_version"]},
            )
        )
    return tasks


def rollout(step_fn: Any, task: Task, every_step: bool = False) -> dict[str, np.ndarray]:
    """Run the free rollout and collect the checkpoint states and manifolds (or all of them)."""
    out: dict[str, np.ndarray] = {}
    state = task.state
    for k in range(1, task.actions.shape[0] + 1):
        state, manifolds = step_fn(state, task.params, jnp.asarray(task.actions[k - 1]))
        if every_step or k in CHECKPOINTS:
            out.update(flatten(state, f"step{k}"))
        if every_step or k in MANIFOLD_STEPS:
            out.update(manifold_arrays(manifolds, f"manifolds{k}"))
    return out


SENSITIVITY_STEPS = (10, 50, 100)
BODY_LEAVES = ("polygon/position", "polygon/rotation", "circle/position", "circle/rotation")


def ulp_sensitivity(step_fn: Any, task: Task, ref: dict[str, np.ndarray]) -> np.ndarray:
    """The reference's own sensitivity to float rounding, for reading rollout errors.

    Re-runs the rollout after moving every polygon and circle position up by one float32 ULP
    (``np.nextafter``) and returns the max |position/rotation difference| to the unperturbed
    rollout ``ref`` at steps ``SENSITIVITY_STEPS``. A scene that diverges by 1e-2 here cannot be
    expected to stay within 1e-3 under any reimplementation that is not bit-exact.
    """
    state = task.state
    bump = {
        "polygon": state.polygon.replace(
            position=jnp.nextafter(state.polygon.position, jnp.float32(np.inf))
        ),
        "circle": state.circle.replace(
            position=jnp.nextafter(state.circle.position, jnp.float32(np.inf))
        ),
    }
    state = state.replace(**bump)
    out = []
    for k in range(1, max(SENSITIVITY_STEPS) + 1):
        state, _ = step_fn(state, task.params, jnp.asarray(task.actions[k - 1]))
        if k in SENSITIVITY_STEPS:
            flat = flatten(state, "s")
            out.append(
                max(
                    float(np.abs(flat[f"s/{leaf}"] - ref[f"step{k}/{leaf}"]).max(initial=0.0))
                    for leaf in BODY_LEAVES
                )
            )
    return np.asarray(out, dtype=np.float32)


def task_arrays(task: Task) -> dict[str, np.ndarray]:
    """Everything about a task except the rollout results."""
    out: dict[str, np.ndarray] = {
        "meta/name": np.array(task.name),
        "meta/kind": np.array(task.kind),
        "meta/description": np.array(task.description),
        "meta/seed": np.array(task.seed, dtype=np.int64),
        "meta/static_key": np.array(task.static_key),
        "meta/format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "meta/jax_version": np.array(jax.__version__),
        **task.extra_meta,
        "actions": np.asarray(task.actions, dtype=np.float32),
    }
    out.update(static_to_arrays(task.static))
    out.update(params_to_arrays(task.params))
    out.update(flatten(task.state, "init"))
    return out


def summary(arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """A few facts about a fixture for the manifest."""
    last = max(CHECKPOINTS)
    finite = all(np.all(np.isfinite(v)) for v in arrays.values() if v.dtype.kind == "f")
    n_contacts = int(sum(arrays[f"manifolds1/{fam}/active"].sum() for fam in ("rr", "cr", "cc")))
    return {
        "finite": bool(finite),
        "active_contacts_step1": n_contacts,
        "max_abs_position_step100": float(
            max(
                np.abs(arrays[f"step{last}/polygon/position"]).max(initial=0.0),
                np.abs(arrays[f"step{last}/circle/position"]).max(initial=0.0),
            )
        ),
    }


def write_fixtures(
    tasks: list[Task], out_dir: Path, partial: bool, steps: int, dump_dir: Path | None = None
) -> None:
    """Step every task with the reference (one jit per static size) and write the fixtures.

    With ``dump_dir``, also write ``<dump_dir>/<scene>.npz`` holding the state and returned
    manifolds after EVERY step (``step<k>/...``, ``manifolds<k>/...``; large, not committed),
    for per-step debugging with ``python packages/jax2d/tests/_golden.py <dump_dir>``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    index_path = out_dir / "index.json"
    index: dict[str, Any] = {"scenes": {}}
    if partial and index_path.exists():  # keep the other scenes' entries
        index = json.loads(index_path.read_text())

    groups: dict[StaticSimParams, list[Task]] = {}
    for t in tasks:
        groups.setdefault(t.static, []).append(t)
    for static, group in groups.items():
        t0 = time.time()
        step_fn = jax.jit(PhysicsEngine(static).step)
        for task in group:
            arrays = task_arrays(task)
            if dump_dir is not None:
                full = rollout(step_fn, task, every_step=True)
                dump_dir.mkdir(parents=True, exist_ok=True)
                save_packed(dump_dir / f"{task.name}.npz", full)
                keep = {f"step{k}/" for k in CHECKPOINTS} | {
                    f"manifolds{k}/" for k in MANIFOLD_STEPS
                }
                arrays.update({k: v for k, v in full.items() if k[: k.index("/") + 1] in keep})
            else:
                arrays.update(rollout(step_fn, task))
            sens = ulp_sensitivity(step_fn, task, arrays)
            arrays["meta/ulp_sensitivity"] = sens
            arrays["meta/ulp_sensitivity_steps"] = np.asarray(SENSITIVITY_STEPS, dtype=np.int64)
            path = out_dir / f"{task.name}.npz"
            save_packed(path, arrays)
            info = summary(arrays)
            info["ulp_sensitivity"] = {str(k): float(v) for k, v in zip(SENSITIVITY_STEPS, sens)}
            if not info["finite"]:
                print(f"  WARNING: {task.name} has non-finite values", file=sys.stderr)
            index["scenes"][task.name] = {
                "file": path.name,
                "kind": task.kind,
                "static_key": task.static_key,
                "description": task.description,
                **info,
            }
        sizes = tuple(dataclasses.astuple(static))
        print(f"  static {sizes}: {len(group)} scenes in {time.time() - t0:.1f}s", flush=True)

    index.update(
        format_version=FORMAT_VERSION,
        generator="golden/make_jax2d_golden.py",
        versions=versions(),
        clip_shim=CLIP_SHIM,
        steps=steps,
        checkpoints=list(CHECKPOINTS),
        manifold_steps=list(MANIFOLD_STEPS),
    )
    index["scenes"] = dict(sorted(index["scenes"].items()))
    index_path.write_text(json.dumps(index, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", choices=("all", "levels", "fixtures"), default="all")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="fixture directory")
    ap.add_argument("--levels-file", type=Path, default=DEFAULT_LEVELS)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--n-sampled", type=int, default=40, help="sampled levels per size s/m/l")
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", default=None, help="only these scripted scene names")
    ap.add_argument("--no-sampled", action="store_true")
    ap.add_argument("--no-scripted", action="store_true")
    ap.add_argument(
        "--allow-jax-mismatch",
        action="store_true",
        help=f"step the reference even though jax != {EXPECTED_STEPPING_JAX}",
    )
    ap.add_argument(
        "--dump-steps",
        type=Path,
        default=None,
        help="also dump every step's reference state here (debugging; not committed)",
    )
    args = ap.parse_args(argv)
    if args.steps < max(CHECKPOINTS):
        ap.error(f"--steps must be >= {max(CHECKPOINTS)}")

    vers = versions()
    print(f"versions: {vers}; jnp.clip shim: {CLIP_SHIM}", flush=True)
    if vers.get("jax2d") != "1.0.1":
        print(f"WARNING: expected the reference jax2d 1.0.1, found {vers.get('jax2d')}")
    t_start = time.time()
    if (
        args.stage != "levels"
        and jax.__version__ != EXPECTED_STEPPING_JAX
        and not args.allow_jax_mismatch
    ):
        ap.error(
            f"the reference must be stepped on jax {EXPECTED_STEPPING_JAX} (the version our "
            f"package is tested on), this is jax {jax.__version__}: float32 rounding differs "
            "between releases. Run '--stage levels' here and '--stage fixtures' in a venv with "
            f"jax=={EXPECTED_STEPPING_JAX} and jax2d==1.0.1 (see golden/README.md), or pass "
            "--allow-jax-mismatch."
        )

    levels: dict[str, np.ndarray] | None = None
    if args.stage in ("all", "levels") and not args.no_sampled:
        levels = sample_levels(args.n_sampled, args.steps, args.sample_seed)
        save_packed(args.levels_file, levels)
        print(f"wrote {args.levels_file} ({args.levels_file.stat().st_size / 1e3:.0f} kB)")
    if args.stage == "levels":
        return 0

    tasks: list[Task] = []
    if not args.no_scripted:
        tasks += scripted_tasks(args.steps, set(args.only) if args.only else None)
    if not args.no_sampled:
        if levels is None:
            if not args.levels_file.exists():
                ap.error(f"{args.levels_file} missing: run --stage levels first (kinetix-env venv)")
            levels = load_packed(args.levels_file)
        tasks += level_tasks(levels)
        if any(t.actions.shape[0] != args.steps for t in tasks if t.kind == "sampled"):
            ap.error("the levels file was made with a different --steps")

    partial = bool(args.only) or args.no_sampled or args.no_scripted
    write_fixtures(tasks, args.out, partial, args.steps, args.dump_steps)
    total = sum(p.stat().st_size for p in args.out.glob("*.npz"))
    print(
        f"wrote {len(tasks)} fixtures to {args.out} ({total / 1e6:.2f} MB in total there) "
        f"in {time.time() - t_start:.0f}s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
