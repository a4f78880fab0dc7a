"""Reading and writing levels in the reference's JSON format (the format its editor saves).

A file is ``{"env_state": {...}, "env_params": {...}, "static_env_params": {...}}``. Vectors and
matrices are objects with string indices (``{"0": x, "1": y}``); ``env_state`` holds lists of
per-entity objects (``polygon``, ``circle``, ``joint``, ``thruster``, three manifold lists), the
collision matrix and gravity.

Import matches the reference's ``load_from_json_file`` on every level it ships: ``max_timesteps``
is reset to 256, ``downscale``/``screen_dim`` to the class defaults, inverse masses are taken
verbatim, the collision matrix is recomputed from the joints, ``motor_auto`` is False,
``timestep`` 0 and ``last_distance`` -1. Three deliberate differences make export/import an exact
round trip: ``gravity`` and ``highlighted`` are read (the reference drops them; every shipped file
has the default values anyway) and polygon-pair manifolds are read pair by pair (the reference
fills pair ``i`` from entry ``i``; shipped files hold all-zero manifolds).

Malformed input raises :class:`LevelFormatError` naming the file, the field and what was expected.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from jax2d.engine import calculate_collision_matrix, get_pairwise_interaction_indices
from jax2d.sim_state import CollisionManifold, Joint, RigidBody, Thruster
from kinetix.environment._level_schema import (
    BODY,
    BODY_EXTRA,
    FORCED_STATIC,
    JOINT,
    MANIFOLD,
    THRUSTER,
    V2,
    LevelFormatError,
    Reader,
    check_range,
    read_entities,
)
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams

__all__ = [
    "LevelFormatError",
    "import_env_state_from_json",
    "env_state_to_json",
    "export_env_state_to_json",
    "load_json_level",
]


def _read_static(r: Reader, raw: Any) -> StaticEnvParams:
    fields = dataclasses.fields(StaticEnvParams)
    raw = r.obj(raw, "static_env_params", [f.name for f in fields])
    defaults = StaticEnvParams()
    values: dict[str, Any] = {}
    for f in fields:
        path = f"static_env_params/{f.name}"
        if f.name in FORCED_STATIC:
            continue
        kind = "b" if isinstance(getattr(defaults, f.name), bool) else "i"
        values[f.name] = r.scalar(raw[f.name], path, kind)
        if kind == "i" and values[f.name] < 0:
            r.fail(path, "a non-negative integer", raw[f.name])
    r.array(raw["screen_dim"], "static_env_params/screen_dim", "i", (2,))
    r.scalar(raw["downscale"], "static_env_params/downscale", "i")
    static = StaticEnvParams(**values)
    if static.num_polygons < static.num_static_fixated_polys:
        r.fail(
            "static_env_params/num_polygons",
            f">= num_static_fixated_polys ({static.num_static_fixated_polys})",
            static.num_polygons,
        )
    if static.frame_skip < 1:
        r.fail("static_env_params/frame_skip", "an integer >= 1", static.frame_skip)
    return static


def _read_params(r: Reader, raw: Any) -> EnvParams:
    fields = dataclasses.fields(EnvParams)
    raw = r.obj(raw, "env_params", [f.name for f in fields])
    values = {}
    for f in fields:
        v = raw[f.name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            r.fail(f"env_params/{f.name}", "a number", v)
        values[f.name] = v
    return EnvParams(**values).replace(max_timesteps=EnvParams().max_timesteps)


def import_env_state_from_json(
    json_dict: Any, source: str = "<level json>"
) -> tuple[EnvState, StaticEnvParams, EnvParams]:
    """Build ``(EnvState, StaticEnvParams, EnvParams)`` from a parsed level file.

    Args:
        json_dict: the parsed JSON (it is not modified).
        source: how to name the input in error messages (usually the file name).

    Raises:
        LevelFormatError: on missing/unknown keys, wrong types, wrong entity counts or indices out
            of range.
    """
    r = Reader(source)
    top = r.obj(json_dict, "<top level>", ["env_state", "env_params", "static_env_params"])
    static = _read_static(r, top["static_env_params"])
    params = _read_params(r, top["env_params"])
    s = static
    v = s.max_polygon_vertices
    n_bodies = s.num_polygons + s.num_circles
    ncc, ncr, nrr, *_ = get_pairwise_interaction_indices(s)
    es = r.obj(
        top["env_state"],
        "env_state",
        [
            "polygon",
            "circle",
            "joint",
            "thruster",
            "collision_matrix",
            "acc_rr_manifolds",
            "acc_cr_manifolds",
            "acc_cc_manifolds",
            "gravity",
        ],
    )

    def entities(key: str, n: int, table: dict, extras: dict, optional: tuple = ()) -> dict:
        items = r.entities(es[key], f"env_state/{key}", n)
        return read_entities(r, items, f"env_state/{key}", table, extras, optional, v)

    poly = entities("polygon", s.num_polygons, BODY, BODY_EXTRA, ("highlighted",))
    circ = entities("circle", s.num_circles, BODY, BODY_EXTRA, ("highlighted",))
    joint = entities("joint", s.num_joints, JOINT, {"motor_binding": ("i", ())})
    thr = entities("thruster", s.num_thrusters, THRUSTER, {"thruster_binding": ("i", ())})
    rr = entities("acc_rr_manifolds", 2 * nrr, MANIFOLD, {})
    cr = entities("acc_cr_manifolds", ncr, MANIFOLD, {})
    cc = entities("acc_cc_manifolds", ncc, MANIFOLD, {})
    r.array(es["collision_matrix"], "env_state/collision_matrix", "b", (n_bodies, n_bodies))
    gravity = np.asarray(r.array(es["gravity"], "env_state/gravity", "f", V2), np.float32)

    for key, body in (("polygon", poly), ("circle", circ)):
        check_range(r, body["collision_mode"], f"env_state/{key}", 0, 3, "collision_mode")
        check_range(r, body["role"], f"env_state/{key}", 0, int(params.num_shape_roles), "role")
    check_range(r, poly["n_vertices"], "env_state/polygon", 0, v + 1, "n_vertices")
    # Indices and bindings of inactive joints/thrusters are never used (and two shipped reference
    # levels hold out-of-range bindings on inactive thrusters), so only active ones are checked.
    jact, tact = joint["active"], thr["active"]
    for name in ("a_index", "b_index"):
        check_range(r, joint[name], "env_state/joint", 0, n_bodies, f"{name} (a body index)", jact)
    check_range(
        r, joint["motor_binding"], "env_state/joint", 0, s.num_motor_bindings, "motor_binding", jact
    )
    check_range(
        r,
        thr["object_index"],
        "env_state/thruster",
        0,
        n_bodies,
        "object_index (a body index)",
        tact,
    )
    check_range(
        r,
        thr["thruster_binding"],
        "env_state/thruster",
        0,
        s.num_thruster_bindings,
        "thruster_binding",
        tact,
    )

    def make(cls: type, cols: dict, lead: tuple[int, ...] | None = None) -> Any:
        arrays = {f.name: cols[f.name] for f in dataclasses.fields(cls)}
        if lead is not None:
            arrays = {k: a.reshape(lead + a.shape[1:]) for k, a in arrays.items()}
        return cls(**{k: jnp.asarray(a) for k, a in arrays.items()})

    joints = make(Joint, joint)
    state = EnvState(
        polygon=make(RigidBody, poly),
        circle=make(RigidBody, circ),
        joint=joints,
        thruster=make(Thruster, thr),
        collision_matrix=calculate_collision_matrix(s, joints),
        acc_rr_manifolds=make(CollisionManifold, rr, (nrr, 2)),
        acc_cr_manifolds=make(CollisionManifold, cr),
        acc_cc_manifolds=make(CollisionManifold, cc),
        gravity=jnp.asarray(gravity),
        thruster_bindings=jnp.asarray(thr["thruster_binding"]),
        motor_bindings=jnp.asarray(joint["motor_binding"]),
        motor_auto=jnp.zeros(s.num_joints, dtype=bool),
        polygon_shape_roles=jnp.asarray(poly["role"]),
        circle_shape_roles=jnp.asarray(circ["role"]),
        polygon_highlighted=jnp.asarray(poly["highlighted"]),
        circle_highlighted=jnp.asarray(circ["highlighted"]),
        polygon_densities=jnp.asarray(poly["density"]),
        circle_densities=jnp.asarray(circ["density"]),
        timestep=jnp.asarray(0, jnp.int32),
        last_distance=jnp.asarray(-1.0, jnp.float32),
    )
    return state, static, params


def load_json_level(path: str | os.PathLike) -> tuple[EnvState, StaticEnvParams, EnvParams]:
    """Read and import one level file (see :func:`import_env_state_from_json`).

    Raises:
        FileNotFoundError: no such file.
        LevelFormatError: invalid JSON or an invalid level (the message names the file).
    """
    path = Path(path)
    text = path.read_text()
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise LevelFormatError(f"{path}: not valid JSON: {e}") from e
    return import_env_state_from_json(raw, source=str(path))


# ----------------------------------------------------------------------------------- export


def _to_json_value(x: Any) -> Any:
    """Lists become ``{"0": ..., "1": ...}`` objects; numpy scalars become Python scalars."""
    if isinstance(x, list):
        return {str(i): _to_json_value(v) for i, v in enumerate(x)}
    return x


def _entity_objects(tree: Any, n: int, extras: dict[str, np.ndarray]) -> list[dict]:
    cols = {f.name: np.asarray(getattr(tree, f.name)) for f in dataclasses.fields(tree)}
    cols.update({k: np.asarray(v) for k, v in extras.items()})
    return [{k: _to_json_value(c[i].tolist()) for k, c in cols.items()} for i in range(n)]


def _param_value(x: Any) -> Any:
    if isinstance(x, tuple):
        return {str(i): _param_value(v) for i, v in enumerate(x)}
    if isinstance(x, (np.ndarray, np.generic)) or hasattr(x, "tolist"):
        return _to_json_value(np.asarray(x).tolist())
    return x


def env_state_to_json(
    env_state: EnvState, static_env_params: StaticEnvParams, env_params: EnvParams
) -> dict[str, Any]:
    """The level-file dict of one (unbatched) state, in the reference's structure and types."""
    s = static_env_params
    sizes = {
        "polygons": (np.shape(env_state.polygon_shape_roles), s.num_polygons),
        "circles": (np.shape(env_state.circle_shape_roles), s.num_circles),
        "joints": (np.shape(env_state.motor_bindings), s.num_joints),
        "thrusters": (np.shape(env_state.thruster_bindings), s.num_thrusters),
    }
    for what, (shape, n) in sizes.items():
        if shape != (n,):
            raise ValueError(
                f"cannot export: the state has {what} of shape {shape} but static_env_params "
                f"says {n} (export takes one unbatched state of the given size)"
            )
    ncc, ncr, nrr, *_ = get_pairwise_interaction_indices(s)
    rr = env_state.acc_rr_manifolds
    rr_flat = CollisionManifold(
        **{
            f.name: np.asarray(getattr(rr, f.name)).reshape(
                (2 * nrr,) + np.shape(getattr(rr, f.name))[2:]
            )
            for f in dataclasses.fields(rr)
        }
    )
    state_json = {
        "polygon": _entity_objects(
            env_state.polygon,
            s.num_polygons,
            {
                "role": env_state.polygon_shape_roles,
                "density": env_state.polygon_densities,
                "highlighted": env_state.polygon_highlighted,
            },
        ),
        "circle": _entity_objects(
            env_state.circle,
            s.num_circles,
            {
                "role": env_state.circle_shape_roles,
                "density": env_state.circle_densities,
                "highlighted": env_state.circle_highlighted,
            },
        ),
        "joint": _entity_objects(
            env_state.joint, s.num_joints, {"motor_binding": env_state.motor_bindings}
        ),
        "thruster": _entity_objects(
            env_state.thruster, s.num_thrusters, {"thruster_binding": env_state.thruster_bindings}
        ),
        "collision_matrix": _to_json_value(np.asarray(env_state.collision_matrix).tolist()),
        "acc_rr_manifolds": _entity_objects(rr_flat, 2 * nrr, {}),
        "acc_cr_manifolds": _entity_objects(env_state.acc_cr_manifolds, ncr, {}),
        "acc_cc_manifolds": _entity_objects(env_state.acc_cc_manifolds, ncc, {}),
        "gravity": _to_json_value(np.asarray(env_state.gravity).tolist()),
    }
    return {
        "env_state": state_json,
        "env_params": {
            f.name: _param_value(getattr(env_params, f.name))
            for f in dataclasses.fields(env_params)
        },
        "static_env_params": {
            f.name: _param_value(getattr(s, f.name)) for f in dataclasses.fields(s)
        },
    }


def export_env_state_to_json(
    filename: str | os.PathLike,
    env_state: EnvState,
    static_env_params: StaticEnvParams,
    env_params: EnvParams,
) -> dict[str, Any]:
    """Write a level file (the reference's format) and return the written dict.

    Floats are written as the exact values of their float32 numbers, so importing the file gives
    back the same state bit for bit.
    """
    out = env_state_to_json(env_state, static_env_params, env_params)
    with open(filename, "w") as f:
        json.dump(out, f)
    return out
