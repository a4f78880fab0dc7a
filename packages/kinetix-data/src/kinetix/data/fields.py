"""The dataset's named fields and how they map onto the ``EnvState`` pytree.

A dataset record stores one time step as named fields: ``action``, ``action_mask``, ``done``,
``mask``, ``level_rngs`` and one ``env_state/<path>`` field per ``EnvState`` leaf, where
``<path>`` is the ``/``-joined attribute path (``env_state/polygon/position``,
``env_state/acc_rr_manifolds/normal``, ``env_state/timestep``). The expected per-step shape of
every field follows from the static sizes; :func:`expected_fields` computes it from the same
constructor the environment uses, so the table is right for any static sizes, not just s/m/l.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import numpy as np

from kinetix.environment import EnvState, StaticEnvParams, create_empty_env
from kinetix.environment.utils import SIZE_PRESETS, static_env_params_from_size

__all__ = [
    "ENV_STATE_PREFIX",
    "FieldError",
    "env_state_field_names",
    "expected_fields",
    "fields_to_env_state",
    "env_state_to_fields",
    "infer_static_env_params",
]

ENV_STATE_PREFIX = "env_state/"


class FieldError(ValueError):
    """A field is missing or has the wrong shape/dtype for the static sizes."""


def _path_name(path: tuple) -> str:
    return "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)


@functools.lru_cache(maxsize=32)
def _template(static_env_params: StaticEnvParams) -> tuple[jax.tree_util.PyTreeDef, tuple]:
    shapes = jax.eval_shape(create_empty_env, static_env_params)
    leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(shapes)
    spec = tuple(
        (ENV_STATE_PREFIX + _path_name(p), np.dtype(s.dtype), tuple(s.shape))
        for p, s in leaves_with_path
    )
    return treedef, spec


def expected_fields(static_env_params: StaticEnvParams) -> dict[str, tuple[np.dtype, tuple]]:
    """Per-step ``{name: (dtype, shape)}`` of every ``env_state/*`` field plus ``action``/``action_mask``.

    Args:
        static_env_params: static sizes of the stored states.

    Example:
        >>> from kinetix.environment import static_env_params_from_size
        >>> expected_fields(static_env_params_from_size("m"))["env_state/polygon/position"]
        (dtype('float32'), (6, 2))
    """
    _, spec = _template(static_env_params)
    out = {name: (dtype, shape) for name, dtype, shape in spec}
    a = static_env_params.num_motor_bindings + static_env_params.num_thruster_bindings
    out["action"] = (np.dtype(np.int32), (a,))
    out["action_mask"] = (np.dtype(bool), (a,))
    return out


def env_state_field_names(static_env_params: StaticEnvParams) -> list[str]:
    """The ``env_state/*`` field names in ``EnvState`` leaf order."""
    return [name for name, _, _ in _template(static_env_params)[1]]


def fields_to_env_state(
    fields: Mapping[str, np.ndarray], static_env_params: StaticEnvParams, *, check: bool = True
) -> EnvState:
    """Build an ``EnvState`` from ``env_state/*`` fields, keeping their leading (batch) axes.

    Args:
        fields: ``{name: array}``; every ``env_state/*`` field of ``static_env_params`` must be
            present with shape ``(*lead, *per_step_shape)``; other names are ignored.
        static_env_params: static sizes the fields must match.
        check: verify per-step shapes and dtypes (cheap; turn off only in hot loops).

    Raises:
        FieldError: a field is missing or its shape/dtype does not match the static sizes.

    Example:
        >>> import numpy as np
        >>> from kinetix.environment import static_env_params_from_size
        >>> s = static_env_params_from_size("s")
        >>> f = {k: np.zeros((3,) + shp, dt) for k, (dt, shp) in expected_fields(s).items()}
        >>> fields_to_env_state(f, s).polygon.position.shape
        (3, 5, 2)
    """
    treedef, spec = _template(static_env_params)
    leaves = []
    lead = None
    for name, dtype, shape in spec:
        if name not in fields:
            raise FieldError(
                f"field {name!r} is missing (expected per-step shape {shape}, dtype {dtype}); "
                f"got fields {sorted(fields)[:5]}... ({len(fields)} in total)"
            )
        x = fields[name]
        if check:
            n = x.ndim - len(shape)
            if n < 0 or tuple(x.shape[n:]) != shape:
                raise FieldError(
                    f"field {name!r} has shape {tuple(x.shape)}, expected (..., {', '.join(map(str, shape))})"
                    f" for static sizes num_polygons={static_env_params.num_polygons}, "
                    f"num_circles={static_env_params.num_circles}, "
                    f"num_joints={static_env_params.num_joints}, "
                    f"num_thrusters={static_env_params.num_thrusters}"
                )
            if np.dtype(x.dtype) != dtype:
                raise FieldError(f"field {name!r} has dtype {x.dtype}, expected {dtype}")
            if lead is None:
                lead = tuple(x.shape[:n])
            elif tuple(x.shape[:n]) != lead:
                raise FieldError(
                    f"field {name!r} has leading shape {tuple(x.shape[:n])}, other fields have {lead}"
                )
        leaves.append(x)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def env_state_to_fields(env_state: EnvState) -> dict[str, np.ndarray]:
    """``{"env_state/<path>": np.ndarray}`` for every leaf of a (batched) ``EnvState``.

    Example:
        >>> from kinetix.environment import create_empty_env, static_env_params_from_size
        >>> f = env_state_to_fields(create_empty_env(static_env_params_from_size("s")))
        >>> f["env_state/collision_matrix"].shape
        (7, 7)
    """
    leaves_with_path, _ = jax.tree_util.tree_flatten_with_path(env_state)
    return {ENV_STATE_PREFIX + _path_name(p): np.asarray(x) for p, x in leaves_with_path}


def infer_static_env_params(
    per_step_shapes: Mapping[str, tuple[int, ...]], source: str = "dataset"
) -> StaticEnvParams:
    """The ``StaticEnvParams`` whose field shapes equal ``per_step_shapes``.

    Entity counts come from ``polygon/position``, ``circle/position``, ``joint/active`` and
    ``thruster/active``; the vertex count from ``polygon/vertices``; the action width from
    ``action``. Counts equal to a size preset give that preset (``frame_skip=2`` etc.);
    others give the presets' common settings with those counts.

    Args:
        per_step_shapes: ``{field name: per-step shape}`` (no record/time axes).
        source: what to name in error messages (a path).

    Raises:
        FieldError: a field needed to infer the sizes is missing, or the other fields do not
            have the shapes those sizes imply.
    """

    def dim(name: str, axis: int) -> int:
        if name not in per_step_shapes:
            raise FieldError(f"{source}: field {name!r} is missing; cannot infer the static sizes")
        return int(per_step_shapes[name][axis])

    counts = dict(
        num_polygons=dim("env_state/polygon/position", 0),
        num_circles=dim("env_state/circle/position", 0),
        num_joints=dim("env_state/joint/active", 0),
        num_thrusters=dim("env_state/thruster/active", 0),
    )
    vertices = dim("env_state/polygon/vertices", 1)
    static = None
    for size, preset in SIZE_PRESETS.items():
        if preset == counts:
            static = static_env_params_from_size(size)
    if static is None:
        static = static_env_params_from_size("s").replace(**counts)
    if vertices != static.max_polygon_vertices:
        static = static.replace(max_polygon_vertices=vertices)
    if "action" in per_step_shapes:
        a = int(per_step_shapes["action"][0])
        if a != static.num_motor_bindings + static.num_thruster_bindings:
            ntb = static.num_thruster_bindings
            static = static.replace(num_motor_bindings=a - ntb)
    for name, (_, shape) in expected_fields(static).items():
        if name not in per_step_shapes:
            raise FieldError(
                f"{source}: field {name!r} is missing (expected per-step shape {shape})"
            )
        if tuple(per_step_shapes[name]) != shape:
            raise FieldError(
                f"{source}: field {name!r} has per-step shape {tuple(per_step_shapes[name])}, "
                f"expected {shape} for num_polygons={static.num_polygons}, "
                f"num_circles={static.num_circles}, num_joints={static.num_joints}, "
                f"num_thrusters={static.num_thrusters} (inferred from the other fields)"
            )
    return static
