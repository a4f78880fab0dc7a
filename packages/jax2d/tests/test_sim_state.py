"""State containers (spec §1): frozen dataclass pytrees with the reference's exact field layout.

Kinetix (and recorded datasets) rely on the field names and their order (pytree leaf order), on
``.replace``, on ``StaticSimParams`` being a hashable static jit argument, and on subclasses of
``SimState`` / ``SimParams`` / ``StaticSimParams`` passing straight through the step.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jax2d
from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.sim_state import (
    CollisionManifold,
    Joint,
    RigidBody,
    SimParams,
    SimState,
    StaticSimParams,
    Thruster,
)

SMALL = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)

FIELDS: dict[type, tuple[str, ...]] = {
    RigidBody: (
        "position",
        "rotation",
        "velocity",
        "angular_velocity",
        "inverse_mass",
        "inverse_inertia",
        "friction",
        "restitution",
        "collision_mode",
        "active",
        "n_vertices",
        "vertices",
        "radius",
    ),
    CollisionManifold: (
        "normal",
        "penetration",
        "collision_point",
        "active",
        "acc_impulse_normal",
        "acc_impulse_tangent",
        "restitution_velocity_target",
    ),
    Joint: (
        "a_index",
        "b_index",
        "a_relative_pos",
        "b_relative_pos",
        "global_position",
        "active",
        "acc_impulse",
        "acc_r_impulse",
        "motor_speed",
        "motor_power",
        "motor_on",
        "motor_has_joint_limits",
        "min_rotation",
        "max_rotation",
        "is_fixed_joint",
        "rotation",
    ),
    Thruster: (
        "object_index",
        "relative_position",
        "rotation",
        "power",
        "global_position",
        "active",
    ),
    SimState: (
        "polygon",
        "circle",
        "joint",
        "thruster",
        "collision_matrix",
        "acc_rr_manifolds",
        "acc_cr_manifolds",
        "acc_cc_manifolds",
        "gravity",
    ),
}

SIM_PARAMS_DEFAULTS = {
    "dt": 1 / 60,
    "slop": 0.01,
    "baumgarte_coefficient_joints_v": 2.0,
    "baumgarte_coefficient_joints_p": 0.7,
    "baumgarte_coefficient_fjoint_av": 2.0,
    "baumgarte_coefficient_rjoint_limit_av": 5.0,
    "baumgarte_coefficient_collision": 0.2,
    "joint_stiffness": 0.6,
    "clip_position": 15,
    "clip_velocity": 100,
    "clip_angular_velocity": 50,
    "base_motor_speed": 6.0,
    "base_motor_power": 900.0,
    "base_thruster_power": 10.0,
    "motor_decay_coefficient": 0.1,
    "motor_joint_limit": 0.1,
    "base_friction": 0.4,
}

STATIC_DEFAULTS = {
    "num_polygons": 12,
    "num_circles": 12,
    "num_joints": 12,
    "num_thrusters": 12,
    "max_polygon_vertices": 4,
    "num_solver_iterations": 10,
    "solver_batch_size": 16,
    "do_warm_starting": True,
    "num_static_fixated_polys": 4,
}

# A value different from the default, per StaticSimParams field.
STATIC_CHANGED = {
    "num_polygons": 13,
    "num_circles": 11,
    "num_joints": 3,
    "num_thrusters": 2,
    "max_polygon_vertices": 5,
    "num_solver_iterations": 9,
    "solver_batch_size": 8,
    "do_warm_starting": False,
    "num_static_fixated_polys": 3,
}


@pytest.fixture(scope="module")
def state() -> SimState:
    return create_empty_sim(SMALL)


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _distinct(cls: type):
    """An instance of ``cls`` whose i-th field holds the scalar array ``i``."""
    return cls(*(jnp.array([float(i)]) for i in range(len(dataclasses.fields(cls)))))


# --------------------------------------------------------------------------------------------
# Field layout
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(FIELDS), ids=lambda c: c.__name__)
def test_field_names_and_order(cls: type) -> None:
    """Field names and their order are exactly those of spec §1.3–1.7."""
    assert _names(cls) == FIELDS[cls]


@pytest.mark.parametrize("cls", [RigidBody, CollisionManifold, Joint, Thruster])
def test_leaf_order_is_field_order(cls: type) -> None:
    """Flattening yields one leaf per field, in field order (recorded states depend on it)."""
    leaves = jax.tree_util.tree_leaves(_distinct(cls))
    assert [float(x[0]) for x in leaves] == [float(i) for i in range(len(FIELDS[cls]))]


def test_sim_state_leaves(state: SimState) -> None:
    """SimState flattens to its sub-containers' leaves in field order and unflattens to itself."""
    leaves, treedef = jax.tree_util.tree_flatten(state)
    n_body, n_man = len(FIELDS[RigidBody]), len(FIELDS[CollisionManifold])
    assert (
        len(leaves) == 2 * n_body + len(FIELDS[Joint]) + len(FIELDS[Thruster]) + 1 + 3 * n_man + 1
    )
    assert leaves[0] is state.polygon.position
    assert leaves[n_body] is state.circle.position
    assert leaves[-1] is state.gravity
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert type(rebuilt) is SimState and type(rebuilt.polygon) is RigidBody
    mapped = jax.tree_util.tree_map(jnp.zeros_like, state)
    assert type(mapped) is SimState and type(mapped.acc_rr_manifolds) is CollisionManifold


def test_sim_params_defaults() -> None:
    """SimParams fields, order and defaults are those of spec §1.2."""
    assert _names(SimParams) == tuple(SIM_PARAMS_DEFAULTS)
    values = dataclasses.asdict(SimParams())
    for name, expected in SIM_PARAMS_DEFAULTS.items():
        assert values[name] == pytest.approx(expected, rel=1e-12), name


def test_sim_params_are_leaves() -> None:
    """Every SimParams field is a pytree leaf, in field order (dynamic, not static)."""
    leaves = jax.tree_util.tree_leaves(SimParams())
    assert len(leaves) == len(SIM_PARAMS_DEFAULTS)
    assert leaves[0] == pytest.approx(1 / 60) and leaves[-1] == pytest.approx(0.4)


def test_static_sim_params_defaults() -> None:
    """StaticSimParams fields, order and defaults are those of spec §1.1."""
    assert _names(StaticSimParams) == tuple(STATIC_DEFAULTS)
    assert dataclasses.asdict(StaticSimParams()) == STATIC_DEFAULTS
    assert jax.tree_util.tree_leaves(StaticSimParams()) == []


# --------------------------------------------------------------------------------------------
# Frozen, replace
# --------------------------------------------------------------------------------------------


def test_frozen(state: SimState) -> None:
    """Every container rejects attribute assignment."""
    for obj, name in [
        (state, "gravity"),
        (state.polygon, "position"),
        (state.joint, "active"),
        (state.thruster, "power"),
        (state.acc_cr_manifolds, "normal"),
        (SimParams(), "dt"),
        (StaticSimParams(), "num_polygons"),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, 0)


def test_replace(state: SimState) -> None:
    """``.replace`` returns a new instance of the same class and leaves the original as it was."""
    g = jnp.array([0.0, -1.0])
    new = state.replace(gravity=g)
    assert type(new) is SimState and new.gravity is g
    np.testing.assert_array_equal(state.gravity, np.float32([0.0, -9.81]))
    assert new.polygon is state.polygon

    body = state.circle.replace(radius=jnp.ones(2))
    assert type(body) is RigidBody and float(state.circle.radius.sum()) == 0.0

    params = SimParams().replace(dt=0.5)
    assert params.dt == 0.5 and SimParams().dt == pytest.approx(1 / 60)

    static = SMALL.replace(num_joints=3)
    assert static.num_joints == 3 and SMALL.num_joints == 1
    with pytest.raises(TypeError):
        SimParams().replace(no_such_field=1.0)


# --------------------------------------------------------------------------------------------
# StaticSimParams: hashable, equal by value, a static jit argument
# --------------------------------------------------------------------------------------------


def test_static_equal_by_value() -> None:
    """Two separately built StaticSimParams with the same values are equal with equal hashes."""
    a = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    b = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    assert a is not b and a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1


@pytest.mark.parametrize("field", list(STATIC_CHANGED))
def test_static_every_field_affects_eq_and_hash(field: str) -> None:
    """Changing any single field makes the params unequal and changes the hash."""
    base = StaticSimParams()
    other = base.replace(**{field: STATIC_CHANGED[field]})
    assert other != base
    assert hash(other) != hash(base)
    assert len({base, other}) == 2


def test_static_is_a_jit_static_argument() -> None:
    """Equal StaticSimParams share one trace; a different one retraces and sees its own values."""
    traces = []

    def f(static: StaticSimParams, x: jnp.ndarray) -> jnp.ndarray:
        traces.append(static)
        return x + static.num_polygons * 10 + static.num_circles

    g = jax.jit(f, static_argnums=0)
    a = StaticSimParams(num_polygons=5, num_circles=2)
    assert float(g(a, jnp.float32(0.5))) == 52.5
    assert float(g(StaticSimParams(num_polygons=5, num_circles=2), jnp.float32(1.0))) == 53.0
    assert len(traces) == 1
    assert float(g(a.replace(num_circles=3), jnp.float32(0.0))) == 53.0
    assert len(traces) == 2


def test_sim_params_do_not_retrace() -> None:
    """Different SimParams values reuse one trace (they are leaves) and arrive as float32."""
    traces = []

    @jax.jit
    def f(params: SimParams) -> jnp.ndarray:
        traces.append(params)
        return params.dt * params.base_motor_speed

    assert float(f(SimParams())) == pytest.approx(0.1)
    assert float(f(SimParams(dt=0.5))) == pytest.approx(3.0)
    assert len(traces) == 1
    assert traces[0].dt.dtype == jnp.float32


# --------------------------------------------------------------------------------------------
# Subclasses (Kinetix's EnvState / EnvParams / StaticEnvParams)
# --------------------------------------------------------------------------------------------


@jax2d.pytree_dataclass
class _EnvLikeState(SimState):
    timestep: jnp.ndarray = 0
    last_distance: jnp.ndarray = -1.0


@jax2d.pytree_dataclass
class _EnvLikeParams(SimParams):
    max_timesteps: int = 256


@jax2d.static_dataclass
class _EnvLikeStatic(StaticSimParams):
    frame_skip: int = 1


def _sub_state(state: SimState) -> _EnvLikeState:
    fields = {f.name: getattr(state, f.name) for f in dataclasses.fields(SimState)}
    return _EnvLikeState(**fields, timestep=jnp.int32(7), last_distance=jnp.float32(2.5))


def test_subclass_adds_leaves(state: SimState) -> None:
    """A SimState subclass flattens to the base leaves followed by its own fields' leaves."""
    sub = _sub_state(state)
    base_leaves = jax.tree_util.tree_leaves(state)
    sub_leaves = jax.tree_util.tree_leaves(sub)
    assert len(sub_leaves) == len(base_leaves) + 2
    assert all(a is b for a, b in zip(sub_leaves, base_leaves))
    assert int(sub_leaves[-2]) == 7 and float(sub_leaves[-1]) == 2.5
    moved = sub.replace(timestep=jnp.int32(8), gravity=jnp.zeros(2))
    assert type(moved) is _EnvLikeState and int(moved.timestep) == 8
    assert float(moved.last_distance) == 2.5


def test_step_keeps_subclass_and_extra_fields(state: SimState) -> None:
    """The step returns the subclass and forwards its extra fields untouched (read from the
    traced program: the output leaves are the very input variables), given subclassed params."""
    sub = _sub_state(state)
    params = _EnvLikeParams()
    actions = jnp.zeros(SMALL.num_joints + SMALL.num_thrusters)
    closed, out_shape = jax.make_jaxpr(PhysicsEngine(SMALL).step, return_shape=True)(
        sub, params, actions
    )
    out_state = out_shape[0]
    assert type(out_state) is _EnvLikeState
    n_state = len(jax.tree_util.tree_leaves(sub))
    invars, outvars = closed.jaxpr.invars, closed.jaxpr.outvars
    for k in (n_state - 2, n_state - 1):  # timestep, last_distance
        assert outvars[k] is invars[k]
    # Leaves the step computes are new variables, so the check above can tell them apart.
    assert outvars[2] is not invars[2]  # polygon.velocity


def test_static_subclass() -> None:
    """A hashable StaticSimParams subclass works as engine sizes; its extra field counts in eq."""
    a = _EnvLikeStatic(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    b = a.replace(frame_skip=2)
    assert a != b and hash(a) != hash(b)
    assert a == _EnvLikeStatic(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    engine = PhysicsEngine(a)
    assert np.asarray(engine.poly_poly_pairs).shape == (4, 2)
    state = create_empty_sim(a)
    assert state.polygon.position.shape == (5, 2)
    assert math.isclose(float(state.gravity[1]), -9.81, rel_tol=1e-6)
