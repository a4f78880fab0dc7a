"""Load the jax2d golden fixtures (written by ``golden/make_jax2d_golden.py``) into our objects.

A fixture file is an ``.npz`` holding a JSON ``index`` and one flat array per dtype; see the
generator's docstring. :func:`load_fixture` turns it into ``{path: array}`` with paths such as
``init/polygon/position``, ``step100/acc_rr_manifolds/normal``, ``manifolds1/cr/active``,
``static/num_polygons``, ``params/dt`` and ``actions``. :class:`Fixture` wraps that dict and builds
our ``StaticSimParams``, ``SimParams`` and ``SimState`` from it. The comparison helpers work on
flat ``{path: array}`` dicts, so they take reference data and our results alike.

Nothing here needs the reference packages.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.sim_state import SimParams, SimState, StaticSimParams

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
CHECKPOINTS = (1, 10, 50, 51, 100)
MANIFOLD_STEPS = (1, 51)

__all__ = [
    "GOLDEN_DIR",
    "Fixture",
    "LeafDiff",
    "compare_flat",
    "fixture_names",
    "flatten",
    "jitted_step",
    "load_fixture",
    "max_abs_diff",
    "read_index",
    "resync_every_step",
    "state_from_flat",
    "sub",
    "tolerance_failures",
]


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _unpack(npz: Any) -> dict[str, np.ndarray]:
    """``{path: array}`` from the packed npz layout (``index`` + ``data/<dtype>``)."""
    data = {k[len("data/") :]: np.asarray(npz[k]) for k in npz.files if k.startswith("data/")}
    out: dict[str, np.ndarray] = {}
    for entry in json.loads(str(npz["index"])):
        if entry[1] == "str":
            out[entry[0]] = np.array(entry[2])
            continue
        path, dt, shape, offset = entry
        n = int(np.prod(shape, dtype=np.int64))
        out[path] = data[dt][offset : offset + n].reshape(shape)
    return out


@cache
def _load_cached(path: str) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        if "index" not in npz.files:
            raise ValueError(f"{path}: not a packed golden fixture (no 'index' member)")
        return _unpack(npz)


def load_fixture(path: str | Path) -> dict[str, np.ndarray]:
    """Read a fixture file into ``{path: array}`` (cached; do not mutate the arrays)."""
    return _load_cached(str(Path(path).resolve()))


def read_index(golden_dir: Path = GOLDEN_DIR) -> dict[str, Any]:
    """The generator's ``index.json`` manifest (empty dict if it is missing)."""
    p = golden_dir / "index.json"
    return json.loads(p.read_text()) if p.exists() else {}


def fixture_names(golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """Names (file stems) of all fixture files, scripted scenes first, then sampled levels."""
    names = sorted(p.stem for p in golden_dir.glob("*.npz"))
    return sorted(names, key=lambda n: (n.startswith("sampled_"), n))


# --------------------------------------------------------------------------------------------
# Flat <-> objects
# --------------------------------------------------------------------------------------------


def flatten(obj: Any, prefix: str = "") -> dict[str, np.ndarray]:
    """``{path: np.ndarray}`` for every leaf of a (nested) dataclass or tuple of dataclasses.

    A tuple ``(rr, cr, cc)`` of manifolds (what ``step`` returns) is keyed ``rr/...``,
    ``cr/...``, ``cc/...``.
    """
    out: dict[str, np.ndarray] = {}
    join = (lambda a, b: f"{a}/{b}") if prefix else (lambda a, b: b)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            out.update(flatten(getattr(obj, f.name), join(prefix, f.name)))
    elif isinstance(obj, tuple) and len(obj) == 3 and not prefix:
        for fam, m in zip(("rr", "cr", "cc"), obj):
            out.update(flatten(m, fam))
    else:
        out[prefix] = np.asarray(obj)
    return out


def sub(flat: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The entries of ``flat`` under ``prefix/``, with the prefix removed."""
    p = prefix.rstrip("/") + "/"
    return {k[len(p) :]: v for k, v in flat.items() if k.startswith(p)}


def state_from_flat(
    flat: Mapping[str, np.ndarray], static: StaticSimParams, template: SimState | None = None
) -> SimState:
    """Our ``SimState`` with every leaf replaced by ``flat[path]`` (paths without prefix).

    The structure comes from ``template`` (default: ``create_empty_sim(static, add_floor=False,
    add_walls_and_ceiling=False)``). Values are cast to the template's dtypes (a dtype
    mismatch is reported by the layout test, not here); a missing path, an unknown path or a
    shape mismatch raises ``ValueError`` naming the path.
    """
    if template is None:
        template = create_empty_sim(static, add_floor=False, add_walls_and_ceiling=False)
    used: set[str] = set()

    def build(obj: Any, prefix: str) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            changes = {
                f.name: build(getattr(obj, f.name), f"{prefix}/{f.name}" if prefix else f.name)
                for f in dataclasses.fields(obj)
            }
            return obj.replace(**changes)
        if prefix not in flat:
            raise ValueError(f"fixture has no leaf {prefix!r}")
        value = np.asarray(flat[prefix])
        tmpl = np.asarray(obj)
        if value.shape != tmpl.shape:
            raise ValueError(
                f"leaf {prefix!r}: fixture shape {value.shape} != our shape {tmpl.shape}"
            )
        used.add(prefix)
        return jnp.asarray(value, dtype=tmpl.dtype)

    state = build(template, "")
    extra = sorted(set(flat) - used)
    if extra:
        raise ValueError(f"fixture leaves our SimState does not have: {extra}")
    return state


@dataclasses.dataclass(frozen=True)
class Fixture:
    """One golden scene: the flat arrays plus constructors for our objects."""

    name: str
    arrays: Mapping[str, np.ndarray]

    @classmethod
    def load(cls, name: str, golden_dir: Path = GOLDEN_DIR) -> Fixture:
        """Load ``<golden_dir>/<name>.npz``."""
        return cls(name, load_fixture(golden_dir / f"{name}.npz"))

    @property
    def kind(self) -> str:
        """``scripted`` or ``sampled``."""
        return str(self.arrays["meta/kind"])

    @property
    def description(self) -> str:
        """One-line description of the scene."""
        return str(self.arrays["meta/description"])

    @property
    def static(self) -> StaticSimParams:
        """Our ``StaticSimParams`` (the 9 stored fields)."""
        kw = {}
        for f in dataclasses.fields(StaticSimParams):
            v = self.arrays[f"static/{f.name}"]
            kw[f.name] = bool(v) if v.dtype == np.bool_ else int(v)
        return StaticSimParams(**kw)

    @property
    def params(self) -> SimParams:
        """Our ``SimParams`` (the 17 stored fields, as Python floats holding float32 values)."""
        return SimParams(
            **{
                f.name: float(self.arrays[f"params/{f.name}"])
                for f in dataclasses.fields(SimParams)
            }
        )

    @property
    def actions(self) -> np.ndarray:
        """``(steps, J + T)`` float32 actions."""
        return np.asarray(self.arrays["actions"], dtype=np.float32)

    def flat(self, prefix: str) -> dict[str, np.ndarray]:
        """Reference leaves under ``prefix`` (``init``, ``step51``, ``manifolds1``, ...)."""
        out = sub(self.arrays, prefix)
        if not out:
            raise KeyError(f"{self.name}: no leaves under {prefix!r}")
        return out

    def state(self, prefix: str = "init") -> SimState:
        """Our ``SimState`` holding the reference state stored under ``prefix``."""
        return state_from_flat(self.flat(prefix), self.static)


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def _is_float(a: np.ndarray) -> bool:
    return np.asarray(a).dtype.kind == "f"


def max_abs_diff(ours: Mapping[str, np.ndarray], ref: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Per leaf: max |ours - ref| for float leaves, mismatch count for int/bool leaves.

    Both NaN counts as equal; NaN against a number gives ``inf``. A missing leaf or a shape
    mismatch gives ``inf``.
    """
    out: dict[str, float] = {}
    for path, r in ref.items():
        r = np.asarray(r)
        if path not in ours or np.shape(ours[path]) != r.shape:
            out[path] = float("inf")
            continue
        o = np.asarray(ours[path])
        if _is_float(r) or _is_float(o):
            of, rf = o.astype(np.float64), r.astype(np.float64)
            d = np.abs(of - rf)
            both_nan = np.isnan(of) & np.isnan(rf)
            d = np.where(both_nan, 0.0, np.where(np.isnan(d), np.inf, d))
            out[path] = float(d.max(initial=0.0))
        else:
            out[path] = float(np.count_nonzero(o != r))
    return out


@dataclasses.dataclass(frozen=True)
class LeafDiff:
    """How one leaf differs: worst entry, its index and both values."""

    path: str
    exact: bool  # int/bool leaf (compared exactly)
    max_abs: float  # float leaves: max |ours - ref|; exact leaves: mismatch count
    excess: float  # float leaves: max(|d| - (atol + rtol |ref|)); > 0 means out of tolerance
    index: tuple[int, ...]  # the entry worst against the tolerance (or the largest |d|)
    ours: Any
    ref: Any

    def __str__(self) -> str:
        if self.exact:
            return (
                f"{self.path}: {int(self.max_abs)} mismatching entries, first at "
                f"{self.index}: ours={self.ours} ref={self.ref}"
            )
        return (
            f"{self.path}: max|d|={self.max_abs:.3g}; at {self.index}: "
            f"ours={self.ours:.9g} ref={self.ref:.9g} (|d|={abs(self.ours - self.ref):.3g})"
        )


def compare_flat(
    ours: Mapping[str, np.ndarray],
    ref: Mapping[str, np.ndarray],
    atol: float = 1e-5,
    rtol: float = 1e-5,
) -> dict[str, LeafDiff]:
    """A :class:`LeafDiff` for every leaf of ``ref`` (float leaves: abs/rel tolerance)."""
    out: dict[str, LeafDiff] = {}
    for path, r in ref.items():
        r = np.asarray(r)
        if path not in ours or np.shape(ours[path]) != r.shape:
            shape = None if path not in ours else np.shape(ours[path])
            out[path] = LeafDiff(path, True, float("inf"), float("inf"), (), shape, r.shape)
            continue
        o = np.asarray(ours[path])
        if r.size == 0:
            out[path] = LeafDiff(path, not _is_float(r), 0.0, -atol, (), None, None)
            continue
        if _is_float(r) or _is_float(o):
            of, rf = o.astype(np.float64), r.astype(np.float64)
            d = np.abs(of - rf)
            both_nan = np.isnan(of) & np.isnan(rf)
            d = np.where(both_nan, 0.0, np.where(np.isnan(d), np.inf, d))
            excess = d - (atol + rtol * np.abs(np.nan_to_num(rf)))
            # show the entry worst against the tolerance if any is out of it, else the largest |d|
            k = int(np.argmax(excess))
            if excess.flat[k] <= 0:
                k = int(np.argmax(d))
            idx = tuple(int(i) for i in np.unravel_index(k, r.shape))
            out[path] = LeafDiff(
                path, False, float(d.max()), float(excess.max()), idx, of.flat[k], rf.flat[k]
            )
        else:
            bad = np.argwhere(o != r)
            n = len(bad)
            idx = tuple(int(i) for i in bad[0]) if n else ()
            out[path] = LeafDiff(
                path,
                True,
                float(n),
                float(n) if n else -1.0,
                idx,
                o[idx].item() if n else None,
                r[idx].item() if n else None,
            )
    return out


def tolerance_failures(
    ours: Mapping[str, np.ndarray],
    ref: Mapping[str, np.ndarray],
    atol: float = 1e-5,
    rtol: float = 1e-5,
    skip: Iterable[str] = (),
) -> list[LeafDiff]:
    """Leaves out of tolerance (float) or not equal (int/bool), worst first."""
    skip = set(skip)
    diffs = [
        d for p, d in compare_flat(ours, ref, atol, rtol).items() if p not in skip and d.excess > 0
    ]
    return sorted(diffs, key=lambda d: (not d.exact, -d.excess))


# --------------------------------------------------------------------------------------------
# Per-step debugging against a full reference dump
# --------------------------------------------------------------------------------------------


def resync_every_step(
    name: str, dump_dir: Path, atol: float = 1e-5, rtol: float = 1e-5
) -> list[tuple[int, list[LeafDiff]]]:
    """Step our engine from EVERY reference state of a dumped trajectory; the steps that fail.

    ``dump_dir`` comes from ``make_jax2d_golden.py --stage fixtures --dump-steps DIR``. Returns
    ``[(k, failures)]`` for each step ``k -> k + 1`` with leaves out of tolerance (state leaves,
    then returned manifolds prefixed ``returned/``).
    """
    fx = Fixture.load(name)
    full = load_fixture(dump_dir / f"{name}.npz")
    step = jitted_step(fx.static)
    out = []
    n = fx.actions.shape[0]
    for k in range(n):
        start = fx.flat("init") if k == 0 else sub(full, f"step{k}")
        state = state_from_flat(start, fx.static)
        new_state, manifolds = step(state, fx.params, jnp.asarray(fx.actions[k]))
        fails = tolerance_failures(flatten(new_state), sub(full, f"step{k + 1}"), atol, rtol)
        ret = tolerance_failures(flatten(manifolds), sub(full, f"manifolds{k + 1}"), atol, rtol)
        for d in ret:
            fails.append(dataclasses.replace(d, path=f"returned/{d.path}"))
        if fails:
            out.append((k, fails))
    return out


def jitted_step(
    static: StaticSimParams, numerics: str = "exact", compiler_options: dict | None = None
) -> Any:
    """``jax.jit(PhysicsEngine(static, numerics).step)``, compiled once per static size.

    ``compiler_options`` are XLA options for that jit. Without them,
    ``JAX2D_GOLDEN_COMPILER_OPTIONS`` (a JSON object, e.g. ``'{"xla_cpu_use_fusion_emitters":
    false}'``) is used, to run the whole golden suite under a compile option.
    """
    if compiler_options is None:
        compiler_options = json.loads(os.environ.get("JAX2D_GOLDEN_COMPILER_OPTIONS", "") or "{}")
    return _jitted_step(static, numerics, tuple(sorted(compiler_options.items())))


@cache
def _jitted_step(static: StaticSimParams, numerics: str, options: tuple) -> Any:
    return jax.jit(PhysicsEngine(static, numerics).step, compiler_options=dict(options) or None)


def main(argv: list[str] | None = None) -> int:
    """``python _golden.py DUMP_DIR [SCENE ...]``: per-step resync report for dumped scenes."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("dump_dir", type=Path)
    ap.add_argument("names", nargs="*")
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--rtol", type=float, default=1e-5)
    args = ap.parse_args(argv)
    names = args.names or sorted(p.stem for p in args.dump_dir.glob("*.npz"))
    n_bad = 0
    for name in names:
        bad = resync_every_step(name, args.dump_dir, args.atol, args.rtol)
        n_bad += bool(bad)
        print(f"== {name}: {len(bad)} of 100 steps out of tolerance", flush=True)
        for k, fails in bad[:5]:
            print(f"   step {k} -> {k + 1}:")
            for d in fails[:4]:
                print(f"     {d}")
    print(f"{n_bad} of {len(names)} scenes have at least one step out of tolerance")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
