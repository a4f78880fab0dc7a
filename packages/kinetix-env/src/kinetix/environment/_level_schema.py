"""Schema of the reference level JSON format and validating readers (private helpers).

Used by :mod:`kinetix.environment.level_json`; errors are :class:`LevelFormatError` naming the
source, the field path and what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

V2 = (2,)
# name -> (kind, per-entity shape); kinds: "f" float32, "i" int32, "b" bool. The vertex shape's
# first entry is filled from max_polygon_vertices.
BODY = {
    "position": ("f", V2),
    "rotation": ("f", ()),
    "velocity": ("f", V2),
    "angular_velocity": ("f", ()),
    "inverse_mass": ("f", ()),
    "inverse_inertia": ("f", ()),
    "friction": ("f", ()),
    "restitution": ("f", ()),
    "collision_mode": ("i", ()),
    "active": ("b", ()),
    "n_vertices": ("i", ()),
    "vertices": ("f", (-1, 2)),
    "radius": ("f", ()),
}
BODY_EXTRA = {"role": ("i", ()), "density": ("f", ())}
JOINT = {
    "a_index": ("i", ()),
    "b_index": ("i", ()),
    "a_relative_pos": ("f", V2),
    "b_relative_pos": ("f", V2),
    "global_position": ("f", V2),
    "active": ("b", ()),
    "acc_impulse": ("f", V2),
    "acc_r_impulse": ("f", ()),
    "motor_speed": ("f", ()),
    "motor_power": ("f", ()),
    "motor_on": ("b", ()),
    "motor_has_joint_limits": ("b", ()),
    "min_rotation": ("f", ()),
    "max_rotation": ("f", ()),
    "is_fixed_joint": ("b", ()),
    "rotation": ("f", ()),
}
THRUSTER = {
    "object_index": ("i", ()),
    "relative_position": ("f", V2),
    "rotation": ("f", ()),
    "power": ("f", ()),
    "global_position": ("f", V2),
    "active": ("b", ()),
}
MANIFOLD = {
    "normal": ("f", V2),
    "penetration": ("f", ()),
    "collision_point": ("f", V2),
    "active": ("b", ()),
    "acc_impulse_normal": ("f", ()),
    "acc_impulse_tangent": ("f", ()),
    "restitution_velocity_target": ("f", ()),
}
DTYPES = {"f": np.float32, "i": np.int32, "b": np.bool_}
KIND_NAMES = {"f": "a number", "i": "an integer", "b": "a boolean"}
FORCED_STATIC = ("downscale", "screen_dim")  # reset to class defaults on import


class LevelFormatError(ValueError):
    """A level file or dict does not have the expected structure or values."""


class Reader:
    """Validating accessors that report ``source: field 'path': expected X, got Y``."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, expected: str, got: Any) -> None:
        shown = repr(got)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise LevelFormatError(f"{self.source}: field '{path}': expected {expected}, got {shown}")

    def obj(self, value: Any, path: str, required: list[str], optional: tuple = ()) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "a JSON object", value)
        missing = [k for k in required if k not in value]
        if missing:
            self.fail(path, f"an object with keys {missing}", f"keys {sorted(value)}")
        unknown = sorted(set(value) - set(required) - set(optional))
        if unknown:
            self.fail(
                path, f"only the keys {list(required) + list(optional)}", f"unknown keys {unknown}"
            )
        return value

    def entities(self, value: Any, path: str, n: int) -> list:
        if not isinstance(value, list):
            self.fail(path, f"a list of {n} objects", value)
        if len(value) != n:
            self.fail(path, f"{n} entries (from static_env_params)", f"{len(value)} entries")
        return value

    def scalar(self, value: Any, path: str, kind: str) -> Any:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if kind == "f":
            if not ok:
                self.fail(path, KIND_NAMES[kind], value)
            return float(value)
        if kind == "i":
            if not ok or (isinstance(value, float) and not float(value).is_integer()):
                self.fail(path, KIND_NAMES[kind], value)
            return int(value)
        if isinstance(value, bool):
            return value
        if ok and value in (0, 1):
            return bool(value)
        self.fail(path, KIND_NAMES[kind], value)

    def array(self, value: Any, path: str, kind: str, shape: tuple[int, ...]) -> Any:
        if not shape:
            return self.scalar(value, path, kind)
        n = shape[0]
        keys = [str(i) for i in range(n)]
        if not isinstance(value, dict) or sorted(value, key=index_key) != keys:
            self.fail(
                path, f"an object with keys {keys[0]}..{keys[-1]} (a length-{n} vector)", value
            )
        return [self.array(value[k], f"{path}/{k}", kind, shape[1:]) for k in keys]


def index_key(k: Any) -> tuple:
    return (0, int(k), "") if isinstance(k, str) and k.isdigit() else (1, 0, str(k))


def read_entities(
    r: Reader, items: list, path: str, table: dict, extras: dict, optional: tuple, vmax: int
) -> dict[str, np.ndarray]:
    columns: dict[str, list] = {k: [] for k in (*table, *extras, *optional)}
    for i, item in enumerate(items):
        p = f"{path}[{i}]"
        item = r.obj(item, p, [*table, *extras], optional)
        for name, (kind, shape) in {**table, **extras}.items():
            shape = tuple(vmax if s == -1 else s for s in shape)
            columns[name].append(r.array(item[name], f"{p}/{name}", kind, shape))
        for name in optional:
            columns[name].append(r.scalar(item.get(name, False), f"{p}/{name}", "b"))
    out = {}
    for name, values in columns.items():
        kind = {**table, **extras}.get(name, ("b",))[0]
        out[name] = np.asarray(values, dtype=DTYPES[kind])
    return out


def check_range(
    r: Reader,
    values: np.ndarray,
    path: str,
    lo: int,
    hi: int,
    what: str,
    where: np.ndarray | None = None,
) -> None:
    bad = (values < lo) | (values >= hi)
    if where is not None:
        bad &= where
    bad = np.flatnonzero(bad)
    if bad.size:
        i = int(bad[0])
        r.fail(f"{path}[{i}]", f"{what} in [{lo}, {hi - 1}]", int(values[i]))
