"""Scripted physics scenes for the jax2d golden (parity) fixtures.

Every builder uses only the public API shared by the reference ``jax2d==1.0.1`` and our
reimplementation (``jax2d.engine``, ``jax2d.scene``, ``jax2d.sim_state``) plus ``.replace`` on the
state dataclasses, so the same file builds the same initial states with either package on the
path. ``golden/make_jax2d_golden.py`` imports it with the reference installed.

A scene is a :class:`Scene`: a name, a :class:`StaticSimParams`, a builder returning the initial
``SimState``, the ``SimParams`` to step with, and a seed from which a ``(steps, J + T)`` action
array is drawn (motor columns in ``[-1, 1]``, thruster columns in ``[0, 1]``, piecewise constant
with some zero stretches), optionally with some columns pinned to a constant.

Coordinates: with the default ``create_empty_sim`` the floor's top face is at ``y = 0.4``, the
walls' inner faces at ``x = 0`` and ``x = 5`` and the ceiling's bottom face at ``y = 5``. Vertices
are given clockwise (checked).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np

from jax2d.engine import (
    PhysicsEngine,  # noqa: F401  (re-exported for the generator)
    calculate_collision_matrix,
    create_empty_sim,
    recalculate_mass_and_inertia,
)
from jax2d.scene import (
    add_circle_to_scene,
    add_fixed_joint_to_scene,
    add_polygon_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimParams, StaticSimParams

__all__ = [
    "Scene",
    "SCENES",
    "STATICS",
    "random_actions",
    "build_scene",
    "scene_by_name",
]

State = Any  # a jax2d.sim_state.SimState of whichever jax2d is importable

# --------------------------------------------------------------------------------------------
# Static sizes. s, m, l are the Kinetix presets; the others vary batch size, warm starting and
# the iteration count.
# --------------------------------------------------------------------------------------------

STATICS: dict[str, StaticSimParams] = {
    "s": StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1),
    "m": StaticSimParams(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2),
    "l": StaticSimParams(num_polygons=12, num_circles=4, num_joints=6, num_thrusters=2),
    "default": StaticSimParams(),
    "bs4": StaticSimParams(
        num_polygons=8, num_circles=4, num_joints=4, num_thrusters=4, solver_batch_size=4
    ),
    "m_nowarm": StaticSimParams(
        num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2, do_warm_starting=False
    ),
    "bs8": StaticSimParams(
        num_polygons=10, num_circles=4, num_joints=4, num_thrusters=2, solver_batch_size=8
    ),
    "it5_bs2": StaticSimParams(
        num_polygons=7,
        num_circles=2,
        num_joints=2,
        num_thrusters=1,
        num_solver_iterations=5,
        solver_batch_size=2,
    ),
}


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


def random_actions(
    seed: int,
    steps: int,
    num_joints: int,
    num_thrusters: int,
    pinned: Sequence[tuple[int, float]] = (),
    p_zero: float = 0.15,
) -> np.ndarray:
    """Piecewise-constant random actions ``(steps, J + T)`` float32, deterministic in ``seed``.

    Motor columns (the first ``J``) are uniform in ``[-1, 1]``, thruster columns in ``[0, 1]``.
    Each column holds a value for 3..20 steps; with probability ``p_zero`` a hold is exactly 0
    (which disables motors). ``pinned`` sets columns to a constant for the whole rollout.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((steps, num_joints + num_thrusters), dtype=np.float32)
    for col in range(num_joints + num_thrusters):
        lo = -1.0 if col < num_joints else 0.0
        t = 0
        while t < steps:
            hold = int(rng.integers(3, 21))
            value = 0.0 if rng.random() < p_zero else float(rng.uniform(lo, 1.0))
            out[t : t + hold, col] = value
            t += hold
    for col, value in pinned:
        out[:, col] = value
    return out


# --------------------------------------------------------------------------------------------
# Small building helpers (all on the public API)
# --------------------------------------------------------------------------------------------


def _v(x: float, y: float) -> jnp.ndarray:
    return jnp.array([x, y], dtype=jnp.float32)


def _check_clockwise(vertices: np.ndarray) -> None:
    v = np.asarray(vertices, dtype=np.float64)
    w = np.roll(v, -1, axis=0)
    area2 = float(np.sum(v[:, 0] * w[:, 1] - w[:, 0] * v[:, 1]))
    if area2 >= 0:
        raise ValueError(f"vertices must be clockwise, got signed area {area2 / 2}: {v.tolist()}")


def _n_active(state: State) -> int:
    return int(np.sum(np.asarray(state.polygon.active))) + int(
        np.sum(np.asarray(state.circle.active))
    )


def _check_added(before: int, state: State, what: str) -> None:
    if _n_active(state) != before + 1:
        raise ValueError(f"no free slot for {what}: the adder was a no-op (scene too big)")


def rect(
    state: State,
    static: StaticSimParams,
    pos: tuple[float, float],
    dims: tuple[float, float],
    rotation: float = 0.0,
    velocity: tuple[float, float] = (0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
) -> tuple[State, int]:
    """Add a rectangle; returns ``(state, global_index)``."""
    before = _n_active(state)
    state, (_, g) = add_rectangle_to_scene(
        state,
        static,
        _v(*pos),
        _v(*dims),
        rotation=rotation,
        velocity=_v(*velocity),
        angular_velocity=angular_velocity,
        density=density,
        friction=friction,
        restitution=restitution,
        fixated=fixated,
    )
    _check_added(before, state, "rectangle")
    return state, int(g)


def poly(
    state: State,
    static: StaticSimParams,
    pos: tuple[float, float],
    vertices: Sequence[tuple[float, float]],
    rotation: float = 0.0,
    velocity: tuple[float, float] = (0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
) -> tuple[State, int]:
    """Add a 3- or 4-vertex polygon (clockwise vertices); returns ``(state, global_index)``."""
    verts = np.asarray(vertices, dtype=np.float32)
    _check_clockwise(verts)
    before = _n_active(state)
    state, (_, g) = add_polygon_to_scene(
        state,
        static,
        _v(*pos),
        jnp.asarray(verts),
        int(verts.shape[0]),
        rotation=rotation,
        velocity=_v(*velocity),
        angular_velocity=angular_velocity,
        density=density,
        friction=friction,
        restitution=restitution,
        fixated=fixated,
    )
    _check_added(before, state, "polygon")
    return state, int(g)


def circ(
    state: State,
    static: StaticSimParams,
    pos: tuple[float, float],
    radius: float,
    rotation: float = 0.0,
    velocity: tuple[float, float] = (0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
) -> tuple[State, int]:
    """Add a circle; returns ``(state, global_index)``."""
    before = _n_active(state)
    state, (_, g) = add_circle_to_scene(
        state,
        static,
        _v(*pos),
        radius,
        rotation=rotation,
        velocity=_v(*velocity),
        angular_velocity=angular_velocity,
        density=density,
        friction=friction,
        restitution=restitution,
        fixated=fixated,
    )
    _check_added(before, state, "circle")
    return state, int(g)


def rjoint(
    state: State,
    static: StaticSimParams,
    a: int,
    b: int,
    a_rel: tuple[float, float],
    b_rel: tuple[float, float],
    motor_on: bool = False,
    motor_speed: float = 1.0,
    motor_power: float = 1.0,
    limits: tuple[float, float] | None = None,
) -> State:
    """Add a revolute joint between global indices ``a`` and ``b``."""
    kwargs: dict[str, Any] = {}
    if limits is not None:
        kwargs = {"has_joint_limits": True, "min_rotation": limits[0], "max_rotation": limits[1]}
    state, _ = add_revolute_joint_to_scene(
        state,
        static,
        a,
        b,
        _v(*a_rel),
        _v(*b_rel),
        motor_on=motor_on,
        motor_speed=motor_speed,
        motor_power=motor_power,
        **kwargs,
    )
    return state


def fjoint(
    state: State,
    static: StaticSimParams,
    a: int,
    b: int,
    a_rel: tuple[float, float],
    b_rel: tuple[float, float],
) -> State:
    """Add a fixed (welded) joint between global indices ``a`` and ``b``."""
    state, _ = add_fixed_joint_to_scene(state, static, a, b, _v(*a_rel), _v(*b_rel))
    return state


def body_local(
    state: State, static: StaticSimParams, g: int, world: tuple[float, float]
) -> tuple[float, float]:
    """The point ``world`` in the local frame of global body ``g`` (as the state holds it)."""
    if g < static.num_polygons:
        pos = np.asarray(state.polygon.position[g], dtype=np.float64)
        rot = float(state.polygon.rotation[g])
    else:
        pos = np.asarray(state.circle.position[g - static.num_polygons], dtype=np.float64)
        rot = float(state.circle.rotation[g - static.num_polygons])
    d = np.asarray(world, dtype=np.float64) - pos
    c, s_ = math.cos(rot), math.sin(rot)
    return (float(c * d[0] + s_ * d[1]), float(-s_ * d[0] + c * d[1]))


def _world_pos(state: State, static: StaticSimParams, g: int) -> tuple[float, float]:
    if g < static.num_polygons:
        p = np.asarray(state.polygon.position[g])
    else:
        p = np.asarray(state.circle.position[g - static.num_polygons])
    return (float(p[0]), float(p[1]))


def rjoint_at(
    state: State,
    static: StaticSimParams,
    a: int,
    b: int,
    world: tuple[float, float],
    **kwargs: Any,
) -> State:
    """Revolute joint whose two anchors coincide at the world point ``world``."""
    return rjoint(
        state,
        static,
        a,
        b,
        body_local(state, static, a, world),
        body_local(state, static, b, world),
        **kwargs,
    )


def fjoint_at(
    state: State, static: StaticSimParams, a: int, b: int, world: tuple[float, float]
) -> State:
    """Fixed joint whose two anchors coincide at the world point ``world``."""
    return fjoint(
        state,
        static,
        a,
        b,
        body_local(state, static, a, world),
        body_local(state, static, b, world),
    )


def thruster(
    state: State, obj: int, rel: tuple[float, float], rotation: float, power: float = 1.0
) -> State:
    """Add a thruster on global body ``obj``."""
    state, _ = add_thruster_to_scene(state, obj, _v(*rel), rotation, power)
    return state


def _set_body_field(state: State, static: StaticSimParams, g: int, name: str, value: Any) -> State:
    """Set one field of the body with global index ``g`` (polygon or circle) via ``replace``."""
    if g < static.num_polygons:
        body = state.polygon
        arr = getattr(body, name).at[g].set(value)
        return state.replace(polygon=body.replace(**{name: arr}))
    body = state.circle
    arr = getattr(body, name).at[g - static.num_polygons].set(value)
    return state.replace(circle=body.replace(**{name: arr}))


def set_mode(state: State, static: StaticSimParams, g: int, mode: int) -> State:
    """Set the collision mode (0, 1 or 2) of global body ``g``."""
    return _set_body_field(state, static, g, "collision_mode", mode)


def set_active(state: State, static: StaticSimParams, g: int, active: bool) -> State:
    """Activate or deactivate global body ``g`` (a deactivated dynamic body still falls)."""
    return _set_body_field(state, static, g, "active", active)


def set_joint_rotation(state: State, slot: int, rotation: float) -> State:
    """Set ``joint.rotation`` (weld target / limit offset) of a joint slot."""
    j = state.joint
    return state.replace(joint=j.replace(rotation=j.rotation.at[slot].set(rotation)))


def _random_convex(
    rng: np.random.Generator, n: int, sx: float, sy: float
) -> list[tuple[float, float]]:
    """A random convex ``n``-gon (clockwise), inscribed in an ellipse with half-axes sx, sy."""
    step = 2 * math.pi / n
    start = rng.uniform(0, 2 * math.pi)
    angles = [start - k * step + rng.uniform(-0.25, 0.25) * step for k in range(n)]
    return [(sx * math.cos(a), sy * math.sin(a)) for a in angles]


TRI = [(0.0, 0.35), (0.4, -0.25), (-0.4, -0.25)]  # clockwise isoceles triangle
TRI_RIGHT = [(-0.4, 0.4), (0.4, -0.4), (-0.4, -0.4)]  # right-angled, clockwise
TRAPEZOID = [(-0.3, 0.25), (0.3, 0.25), (0.6, -0.25), (-0.6, -0.25)]  # not a parallelogram
KITE = [(0.0, 0.5), (0.3, 0.0), (0.0, -0.3), (-0.3, 0.0)]

# --------------------------------------------------------------------------------------------
# Scene type
# --------------------------------------------------------------------------------------------

Builder = Callable[[StaticSimParams], State]


@dataclasses.dataclass(frozen=True)
class Scene:
    """A scripted golden scene."""

    name: str
    static_key: str
    build: Builder
    description: str
    seed: int
    params: dict[str, float] = dataclasses.field(default_factory=dict)
    pinned_actions: tuple[tuple[int, float], ...] = ()

    @property
    def static(self) -> StaticSimParams:
        """The static sizes of this scene."""
        return STATICS[self.static_key]

    def sim_params(self) -> SimParams:
        """The SimParams to step with (defaults, overridden by ``params``)."""
        return SimParams(**self.params)

    def actions(self, steps: int = 100) -> np.ndarray:
        """The ``(steps, J + T)`` action array."""
        st = self.static
        return random_actions(
            self.seed, steps, st.num_joints, st.num_thrusters, pinned=self.pinned_actions
        )


def build_scene(scene: Scene, steps: int = 100) -> tuple[State, SimParams, np.ndarray]:
    """Build ``(initial_state, sim_params, actions)`` for ``scene``."""
    return scene.build(scene.static), scene.sim_params(), scene.actions(steps)


# --------------------------------------------------------------------------------------------
# Builders: size s (P=5: one dynamic polygon slot, C=2, J=1, T=1)
# --------------------------------------------------------------------------------------------


def s_box_drop(st: StaticSimParams) -> State:
    """A spinning box and a circle dropping onto the floor; thruster on the box."""
    s = create_empty_sim(st)
    s, b = rect(s, st, (2.5, 1.6), (1.0, 0.5), rotation=0.3, angular_velocity=1.0)
    s, _ = circ(s, st, (1.0, 2.0), 0.3, velocity=(0.5, 0.0))
    s = thruster(s, b, (0.5, 0.0), math.pi / 2)
    return s


def s_car(st: StaticSimParams) -> State:
    """Chassis + motorised wheel (revolute), a thruster on the chassis, a loose ball."""
    s = create_empty_sim(st)
    s, ch = rect(s, st, (2.5, 0.9), (1.2, 0.4))
    s, w = circ(s, st, (2.1, 0.75), 0.35, friction=1.0)
    s, _ = circ(s, st, (4.0, 1.5), 0.25)
    s = rjoint_at(s, st, ch, w, (2.1, 0.75), motor_on=True, motor_power=1.5)
    s = thruster(s, ch, (-0.6, 0.0), 0.0, power=1.5)
    return s


def s_padding_alias(st: StaticSimParams) -> State:
    """Circle 1 rests on polygon 4: the last cr pair (c1, p4), hit by the padding alias."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (2.5, 0.65), (2.0, 0.5))
    s, c0 = circ(s, st, (1.0, 1.5), 0.3)
    s, _ = circ(s, st, (2.5, 1.148), 0.25)
    s = thruster(s, c0, (0.0, 0.0), math.pi / 2, power=0.5)
    return s


def s_circle_inside_box(st: StaticSimParams) -> State:
    """Circle centres inside a box and inside the floor (the `inside` branch of cr)."""
    s = create_empty_sim(st)
    s, b = rect(s, st, (2.5, 0.64), (1.5, 0.5))
    s, _ = circ(s, st, (2.6, 0.7), 0.2)
    s, _ = circ(s, st, (1.0, 0.3), 0.3)
    s = thruster(s, b, (0.0, 0.0), math.pi / 2)
    return s


def s_custom_params(st: StaticSimParams) -> State:
    """Non-default SimParams and gravity; motor between box and circle."""
    s = create_empty_sim(st)
    s = s.replace(gravity=_v(0.7, -6.0))
    s, b = rect(s, st, (2.0, 1.2), (0.8, 0.6), rotation=-0.2, friction=0.7)
    s, c = circ(s, st, (2.6, 1.2), 0.3, restitution=0.4)
    s, _ = circ(s, st, (3.8, 2.5), 0.2, restitution=0.7)
    s = rjoint_at(s, st, b, c, (2.4, 1.12), motor_on=True, motor_speed=-1.5)
    s = thruster(s, c, (0.0, 0.3), 0.5 * math.pi, power=2.0)
    return s


def s_high_speed(st: StaticSimParams) -> State:
    """Velocities and spins above the clip limits; bodies slam into walls."""
    s = create_empty_sim(st)
    s, b = rect(s, st, (2.5, 2.5), (0.6, 0.6), velocity=(120.0, 30.0), angular_velocity=70.0)
    s, _ = circ(s, st, (1.0, 3.0), 0.3, velocity=(-50.0, 80.0), angular_velocity=-60.0)
    s, _ = circ(s, st, (4.0, 1.0), 0.3, velocity=(-8.0, -3.0))
    s = thruster(s, b, (0.3, 0.0), 0.0, power=3.0)
    return s


# --------------------------------------------------------------------------------------------
# Size m (P=6: dynamic polygon slots 4, 5; C=3; J=2; T=2)
# --------------------------------------------------------------------------------------------


def m_stack_exact(st: StaticSimParams) -> State:
    """Two axis-aligned boxes stacked exactly (zero gap) on the floor, a ball on top."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (2.5, 0.65), (1.0, 0.5))
    s, _ = rect(s, st, (2.5, 1.15), (1.0, 0.5))
    s, _ = circ(s, st, (2.5, 1.7), 0.3)
    return s


def m_stack_overlap(st: StaticSimParams) -> State:
    """Two boxes stacked with a small overlap, offset in x; rr last pair (4, 5)."""
    s = create_empty_sim(st)
    s, a = rect(s, st, (2.5, 0.645), (1.2, 0.5), friction=0.8)
    s, b = rect(s, st, (2.7, 1.14), (0.8, 0.5), friction=0.8, restitution=0.2)
    s, _ = circ(s, st, (1.0, 0.69), 0.3)
    s = thruster(s, b, (0.0, 0.25), -math.pi / 2, power=0.5)
    s = thruster(s, a, (0.6, 0.0), math.pi, power=0.5)
    return s


def m_triangle_triangle(st: StaticSimParams) -> State:
    """A triangle falling tilted onto another resting triangle; a circle on a triangle side."""
    s = create_empty_sim(st)
    s, _ = poly(s, st, (2.5, 0.633), TRI)
    s, t2 = poly(s, st, (2.6, 1.22), [(-0.35, 0.3), (0.45, 0.0), (-0.2, -0.35)], rotation=0.25)
    s, _ = circ(s, st, (1.6, 0.9), 0.3)
    s, _ = circ(s, st, (3.6, 0.72), 0.3)
    s = thruster(s, t2, (0.0, 0.0), math.pi / 2, power=0.3)
    return s


def m_limits_both(st: StaticSimParams) -> State:
    """Revolute limits violated above max (joint 0) and below min (joint 1), motors pushing on.

    The anchors deliberately start 0.2-0.35 apart, so the joints also snap together.
    """
    s = create_empty_sim(st)
    s, anchor = rect(s, st, (2.5, 3.5), (0.6, 0.3), fixated=True)
    s, arm = rect(s, st, (3.3, 3.5), (1.0, 0.2), rotation=-0.7, angular_velocity=-1.0)
    s, wheel = circ(s, st, (1.8, 3.5), 0.3, rotation=0.8, angular_velocity=1.0)
    s = rjoint(s, st, anchor, wheel, (-0.3, 0.0), (0.3, 0.0), motor_on=True, limits=(-0.3, 0.3))
    s = rjoint(
        s,
        st,
        anchor,
        arm,
        (0.3, 0.0),
        (-0.5, 0.0),
        motor_on=True,
        motor_speed=2.0,
        limits=(0.2, 0.9),
    )
    s, _ = circ(s, st, (1.0, 0.8), 0.25)
    return s


def m_limit_band(st: StaticSimParams) -> State:
    """Motors inside the fade band next to a limit: one pushing into it, one pushing away.

    Joint 0: relative angle 0.45 in the band (0.4, 0.5] below max 0.5, action +1 (faded).
    Joint 1: relative angle -0.65 in the band next to min -0.7, action +1 (full power).
    """
    s = create_empty_sim(st)
    s, anchor = circ(s, st, (2.5, 3.0), 0.25, fixated=True)
    c1, s1 = math.cos(0.45), math.sin(0.45)
    c2, s2 = math.cos(-0.65), math.sin(-0.65)
    s, a1 = rect(s, st, (2.2 - 0.4 * c1, 3.0 - 0.4 * s1), (0.8, 0.2), rotation=0.45)
    s, a2 = rect(s, st, (2.8 + 0.4 * c2, 3.0 + 0.4 * s2), (0.8, 0.2), rotation=-0.65)
    s = rjoint_at(s, st, anchor, a1, (2.2, 3.0), motor_on=True, limits=(-1.0, 0.5))
    s = rjoint_at(s, st, anchor, a2, (2.8, 3.0), motor_on=True, limits=(-0.7, 1.0))
    s, _ = circ(s, st, (2.5, 1.0), 0.3)
    return s


def m_fixed_joints(st: StaticSimParams) -> State:
    """Welded box-box (rotated, target 0) and box-circle (target 0.3 via joint.rotation)."""
    s = create_empty_sim(st)
    s, a = rect(s, st, (2.2, 2.0), (0.8, 0.4))
    s, b = rect(s, st, (2.9, 2.2), (0.6, 0.3), rotation=0.4)
    s, c = circ(s, st, (1.6, 2.0), 0.25)
    s = fjoint_at(s, st, a, b, (2.6, 2.1))
    s = fjoint_at(s, st, a, c, (1.8, 2.0))
    s = set_joint_rotation(s, 1, 0.3)
    s = thruster(s, b, (0.3, 0.0), math.pi / 2, power=0.7)
    return s


def m_thrusters(st: StaticSimParams) -> State:
    """A box lifted by two angled thrusters; a ball nearby."""
    s = create_empty_sim(st)
    s, b = rect(s, st, (2.5, 0.7), (1.0, 0.5), rotation=0.05)
    s, _ = rect(s, st, (1.0, 0.7), (0.5, 0.5))
    s, _ = circ(s, st, (3.8, 0.7), 0.3)
    s = thruster(s, b, (-0.45, -0.2), math.pi / 2 + 0.2, power=1.0)
    s = thruster(s, b, (0.45, -0.2), math.pi / 2 - 0.2, power=1.2)
    return s


def m_collision_modes(st: StaticSimParams) -> State:
    """Collision modes 0/1/2: 0-0 overlap ignored, 0-2 collides, 0-1 ignored."""
    s = create_empty_sim(st)
    s, b0 = rect(s, st, (2.0, 0.64), (1.0, 0.5))
    s, b1 = rect(s, st, (2.5, 0.74), (1.0, 0.5))
    s = set_mode(s, st, b0, 0)
    s = set_mode(s, st, b1, 0)
    s, c0 = circ(s, st, (1.8, 0.8), 0.3)
    s = set_mode(s, st, c0, 0)
    s, c1 = circ(s, st, (2.9, 1.2), 0.3)
    s = set_mode(s, st, c1, 2)
    s, _ = circ(s, st, (1.3, 1.0), 0.3)
    return s


def m_restitution_friction(st: StaticSimParams) -> State:
    """Bouncy balls and sliding boxes with low and high friction."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (1.0, 0.65), (0.6, 0.5), velocity=(3.0, 0.0), friction=0.2)
    s, _ = rect(s, st, (4.0, 0.66), (0.6, 0.5), velocity=(-3.0, 0.0), friction=2.0, restitution=0.3)
    s, _ = circ(s, st, (2.5, 2.5), 0.3, velocity=(0.3, -2.0), restitution=0.9)
    s, _ = circ(s, st, (1.5, 3.0), 0.2, velocity=(1.0, 0.0), restitution=0.5, friction=0.1)
    s, _ = circ(s, st, (3.5, 3.0), 0.25, angular_velocity=8.0, restitution=0.0, friction=1.5)
    return s


def m_fixated(st: StaticSimParams) -> State:
    """A fixated tilted ramp and a fixated circle; a ball rolls down, a box falls on the peg."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (2.0, 1.5), (2.5, 0.2), rotation=-0.35, fixated=True)
    s, _ = rect(s, st, (3.9, 2.4), (0.5, 0.4), rotation=0.3)
    s, _ = circ(s, st, (1.2, 2.4), 0.25)
    s, _ = circ(s, st, (3.8, 1.2), 0.3, fixated=True)
    s, _ = circ(s, st, (2.5, 2.8), 0.2)
    return s


def m_deactivated(st: StaticSimParams) -> State:
    """A deactivated dynamic box keeps falling (through the floor), its thruster still pushes."""
    s = create_empty_sim(st)
    s, ghost = rect(s, st, (2.5, 2.0), (0.8, 0.4))
    s, b = rect(s, st, (2.5, 0.65), (1.5, 0.5))
    s, c0 = circ(s, st, (2.3, 0.9), 0.3)
    s, c1 = circ(s, st, (3.0, 2.0), 0.25)
    s = rjoint_at(s, st, ghost, c1, (2.85, 2.0), motor_on=True)
    s = rjoint_at(s, st, b, c0, (2.3, 0.9), motor_on=True)
    s = thruster(s, ghost, (0.0, 0.0), math.pi / 2, power=1.0)
    s = thruster(s, c0, (0.0, 0.0), 0.0, power=1.0)
    # Deactivate last: the state is the same either way (the collision matrix ignores body
    # activity), but our adders refuse joints on inactive bodies while the reference allows it.
    s = set_active(s, st, ghost, False)
    s = set_active(s, st, c0, False)
    return s


def m_walls_off(st: StaticSimParams) -> State:
    """No walls: dynamic polygons land in static slots 1..3 (mode 2, no pair with the floor)."""
    s = create_empty_sim(st, add_floor=True, add_walls_and_ceiling=False)
    s, _ = rect(s, st, (1.0, 1.0), (0.6, 0.4))  # slot 1
    s, _ = poly(s, st, (2.0, 1.2), TRI)  # slot 2
    s, _ = rect(s, st, (2.2, 1.7), (0.5, 0.5), rotation=0.3)  # slot 3
    s, _ = rect(s, st, (3.5, 0.8), (1.0, 0.4))  # slot 4, mode 1
    s, _ = circ(s, st, (1.0, 1.6), 0.25)
    s, _ = circ(s, st, (3.5, 1.5), 0.3)
    return s


def m_no_floor_zero_g(st: StaticSimParams) -> State:
    """No scenery, zero gravity: free bodies collide (slots 0..3 never pair with each other)."""
    s = create_empty_sim(st, add_floor=False, add_walls_and_ceiling=False)
    s = s.replace(gravity=_v(0.0, 0.0))
    s, _ = rect(s, st, (1.0, 2.0), (0.6, 0.6), velocity=(2.0, 0.1))  # slot 0
    s, _ = rect(s, st, (2.0, 2.05), (0.6, 0.4), rotation=0.5, velocity=(-1.0, 0.0))  # slot 1
    s, _ = rect(s, st, (3.0, 2.0), (0.5, 0.5), angular_velocity=3.0)  # slot 2
    s, _ = poly(s, st, (4.0, 2.0), TRI, velocity=(-2.0, 0.0))  # slot 3
    s, _ = rect(s, st, (3.0, 1.2), (0.8, 0.3), velocity=(0.0, 1.5), rotation=0.1)  # slot 4
    s, _ = poly(s, st, (1.3, 1.0), TRI_RIGHT, velocity=(0.0, 2.0), angular_velocity=1.0)
    s, _ = circ(s, st, (1.0, 3.0), 0.3, velocity=(1.5, 0.0), restitution=0.5)
    s, _ = circ(s, st, (2.0, 3.0), 0.3, velocity=(-1.5, 0.0), restitution=0.5)
    s, _ = circ(s, st, (3.0, 2.6), 0.2, velocity=(0.0, -1.0))
    return s


def m_car_two_motors(st: StaticSimParams) -> State:
    """A car: two motorised wheels on one chassis (motor deltas add up), two thrusters."""
    s = create_empty_sim(st)
    s, ch = rect(s, st, (2.5, 1.0), (1.4, 0.4))
    s, _ = poly(s, st, (4.0, 0.8), [(-0.5, 0.4), (0.5, -0.4), (-0.5, -0.4)], fixated=True)
    s, w1 = circ(s, st, (2.0, 0.75), 0.35)
    s, w2 = circ(s, st, (3.0, 0.75), 0.35)
    s, _ = circ(s, st, (1.0, 2.0), 0.2)
    s = rjoint_at(s, st, ch, w1, (2.0, 0.75), motor_on=True, motor_power=2.0)
    s = rjoint_at(s, st, ch, w2, (3.0, 0.75), motor_on=True, motor_speed=-1.0, motor_power=2.0)
    s = thruster(s, ch, (-0.7, 0.0), 0.0, power=1.0)
    s = thruster(s, ch, (0.0, 0.2), -math.pi / 2, power=2.0)
    return s


# --------------------------------------------------------------------------------------------
# Size l (P=12: dynamic polygon slots 4..11; C=4; J=6; T=2)
# --------------------------------------------------------------------------------------------


def l_box_stack(st: StaticSimParams) -> State:
    """A stack of five boxes with small gaps and offsets, two balls on top."""
    s = create_empty_sim(st)
    y = 0.4
    for k, (w, h) in enumerate([(1.4, 0.4), (1.2, 0.4), (1.0, 0.4), (0.8, 0.4), (0.6, 0.4)]):
        s, _ = rect(s, st, (2.5 + 0.05 * (k % 2), y + h / 2 + 0.005), (w, h), friction=0.6)
        y += h + 0.01
    s, _ = circ(s, st, (2.5, y + 0.25), 0.22)
    s, _ = circ(s, st, (2.75, y + 0.75), 0.2)
    return s


def l_car(st: StaticSimParams) -> State:
    """Chassis, two motor wheels, a limited motor arm, a plain revolute link, fixed parts."""
    s = create_empty_sim(st)
    s, ch = rect(s, st, (2.5, 1.0), (1.4, 0.3))
    s, arm = rect(s, st, (2.5, 1.6), (0.15, 0.8))
    s, link = rect(s, st, (2.5, 2.2), (0.6, 0.12))
    s, fin = poly(s, st, (1.7, 1.2), TRI_RIGHT, density=0.5)
    s, w1 = circ(s, st, (1.9, 0.8), 0.3)
    s, w2 = circ(s, st, (3.1, 0.8), 0.3)
    s, knob = circ(s, st, (2.85, 2.2), 0.12)
    s, _ = circ(s, st, (4.2, 3.0), 0.3)
    s = rjoint_at(s, st, ch, w1, (1.9, 0.8), motor_on=True, motor_power=2.0)
    s = rjoint_at(s, st, ch, w2, (3.1, 0.8), motor_on=True, motor_power=2.0)
    s = rjoint_at(s, st, ch, arm, (2.5, 1.2), motor_on=True, motor_speed=0.5, limits=(-1.0, 1.0))
    s = rjoint_at(s, st, arm, link, (2.5, 2.0))
    s = fjoint_at(s, st, ch, fin, (1.8, 1.15))
    s = fjoint_at(s, st, link, knob, (2.8, 2.2))
    s = thruster(s, ch, (-0.7, 0.0), 0.0, power=2.0)
    s = thruster(s, link, (-0.3, 0.0), math.pi / 2, power=0.5)
    return s


def l_random_pile(st: StaticSimParams) -> State:
    """Eight random convex polygons (triangles and quads) and four circles, overlapping."""
    rng = np.random.default_rng(1234)
    s = create_empty_sim(st)
    for k in range(8):
        n = 3 if k % 3 == 0 else 4
        verts = _random_convex(rng, n, rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.5))
        pos = (float(rng.uniform(0.8, 4.2)), float(rng.uniform(0.9, 4.0)))
        s, _ = poly(
            s,
            st,
            pos,
            verts,
            rotation=float(rng.uniform(-math.pi, math.pi)),
            density=float(rng.uniform(0.5, 2.0)),
            friction=float(rng.uniform(0.2, 1.0)),
            restitution=float(rng.uniform(0.0, 0.3)),
        )
    for _ in range(4):
        pos = (float(rng.uniform(0.8, 4.2)), float(rng.uniform(0.9, 4.0)))
        s, _ = circ(s, st, pos, float(rng.uniform(0.15, 0.4)), restitution=0.2)
    return s


def l_pendulum_chain(st: StaticSimParams) -> State:
    """A chain of links hanging from a fixated anchor, one limited joint, a ball at the end."""
    s = create_empty_sim(st)
    s, prev = rect(s, st, (1.0, 4.5), (0.3, 0.3), fixated=True)
    x = 1.0
    links = []
    for k in range(4):
        s, g = rect(s, st, (x + 0.35 + 0.6 * k, 4.5), (0.6, 0.12), angular_velocity=0.5 * k)
        links.append(g)
    for k, g in enumerate(links):
        a_rel = (0.15, 0.0) if k == 0 else (0.3, 0.0)
        lim = (-0.5, 0.5) if k == 2 else None
        s = rjoint(s, st, prev, g, a_rel, (-0.3, 0.0), limits=lim)
        prev = g
    s, ball = circ(s, st, (3.85, 4.5), 0.25, density=2.0)
    s = rjoint(s, st, prev, ball, (0.3, 0.0), (-0.25, 0.0), motor_on=True)
    s, _ = rect(s, st, (3.0, 0.7), (0.8, 0.6))
    s, _ = circ(s, st, (2.0, 0.7), 0.3)
    s = thruster(s, ball, (0.0, 0.0), 0.0, power=3.0)
    return s


def l_odd_shapes(st: StaticSimParams) -> State:
    """Trapezoids, kites and triangles (vertex-mean centre, triangle inertia quirk) on a ramp."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (2.5, 1.2), (4.0, 0.2), rotation=0.2, fixated=True)
    s, _ = poly(s, st, (1.0, 2.5), TRAPEZOID, rotation=0.1)
    s, _ = poly(s, st, (2.0, 2.7), KITE, rotation=-0.4, angular_velocity=2.0)
    s, _ = poly(s, st, (3.0, 3.0), TRI_RIGHT, rotation=1.0)
    s, _ = poly(s, st, (4.0, 3.2), TRI, restitution=0.5)
    s, _ = poly(s, st, (1.5, 4.0), [(-0.2, 0.3), (0.5, 0.1), (0.3, -0.3), (-0.4, -0.2)])
    s, _ = circ(s, st, (3.5, 4.3), 0.25)
    s, _ = circ(s, st, (0.6, 3.6), 0.2)
    return s


# --------------------------------------------------------------------------------------------
# Default sizes (12, 12, 12, 12)
# --------------------------------------------------------------------------------------------


def default_circles(st: StaticSimParams) -> State:
    """Ten circles piled in a bin (many cc contacts), two boxes."""
    rng = np.random.default_rng(77)
    s = create_empty_sim(st)
    s, _ = rect(s, st, (1.2, 0.7), (0.8, 0.6))
    s, _ = rect(s, st, (3.8, 0.7), (0.8, 0.6), rotation=0.1)
    for k in range(10):
        pos = (0.6 + 0.42 * k, float(1.2 + 0.7 * (k % 3) + rng.uniform(0.0, 0.1)))
        s, _ = circ(
            s,
            st,
            pos,
            float(rng.uniform(0.15, 0.3)),
            velocity=(float(rng.uniform(-1, 1)), 0.0),
            restitution=float(rng.uniform(0, 0.5)),
            friction=float(rng.uniform(0.3, 1.0)),
        )
    return s


def default_mixed(st: StaticSimParams) -> State:
    """Polygons, circles, revolute/fixed joints of every kind (incl. circle-circle), thrusters."""
    s = create_empty_sim(st)
    s, ch = rect(s, st, (2.5, 1.2), (1.6, 0.3))
    s, p1 = poly(s, st, (1.3, 1.6), TRI)
    s, p2 = rect(s, st, (3.7, 1.6), (0.5, 0.5))
    s, p3 = poly(s, st, (2.5, 2.5), TRAPEZOID)
    s, _ = rect(s, st, (0.7, 3.5), (0.4, 0.4), fixated=True)
    s, _ = poly(s, st, (4.3, 3.5), KITE)
    s, w1 = circ(s, st, (1.8, 0.9), 0.3)
    s, w2 = circ(s, st, (3.2, 0.9), 0.3)
    s, c3 = circ(s, st, (2.5, 3.3), 0.25)
    s, c4 = circ(s, st, (3.0, 3.3), 0.2)
    s, _ = circ(s, st, (1.0, 4.4), 0.3)
    s, _ = circ(s, st, (4.0, 4.4), 0.3, restitution=0.6)
    s = rjoint_at(s, st, ch, w1, (1.8, 0.9), motor_on=True)
    s = rjoint_at(s, st, ch, w2, (3.2, 0.9), motor_on=True, motor_speed=-1.0)
    s = rjoint_at(s, st, ch, p1, (1.6, 1.35), limits=(-0.4, 0.4))
    s = fjoint_at(s, st, ch, p2, (3.5, 1.35))
    s = rjoint_at(s, st, ch, p3, (2.5, 1.35), motor_on=True, limits=(-0.6, 0.6))
    s = fjoint_at(s, st, c3, c4, (2.75, 3.3))
    s = rjoint(s, st, p3, c3, (0.0, 0.25), (0.0, 0.0))  # anchors 0.55 apart: snaps
    s = thruster(s, ch, (-0.8, 0.0), 0.0)
    s = thruster(s, ch, (0.8, 0.0), math.pi)
    s = thruster(s, p3, (0.0, 0.0), math.pi / 2, power=0.5)
    s = thruster(s, c4, (0.0, 0.0), 1.0, power=0.3)
    return s


# --------------------------------------------------------------------------------------------
# bs4 (8, 4, 4, 4, batch 4), m_nowarm, bs8 (10, 4, 4, 2, batch 8), it5_bs2
# --------------------------------------------------------------------------------------------


def bs4_stack_restitution(st: StaticSimParams) -> State:
    """Four-box stack with restitution, circles, a fixed circle-box joint (batch size 4)."""
    s = create_empty_sim(st)
    ys = [0.652, 1.155, 1.658, 2.161]
    gs = []
    for k, y in enumerate(ys):
        s, g = rect(s, st, (2.5 + 0.03 * k, y), (1.0 - 0.1 * k, 0.5), restitution=0.1 * k)
        gs.append(g)
    s, c0 = circ(s, st, (2.5, 2.8), 0.2, restitution=0.5)
    s, _ = circ(s, st, (1.0, 1.0), 0.3, restitution=0.8, velocity=(0.0, -1.0))
    s, _ = circ(s, st, (4.0, 0.7), 0.3)
    s, _ = circ(s, st, (4.1, 1.35), 0.3)
    s = fjoint_at(s, st, gs[3], c0, (2.5, 2.5))
    s = thruster(s, gs[0], (0.5, 0.0), math.pi, power=0.5)
    return s


def bs4_car(st: StaticSimParams) -> State:
    """A car with two motor wheels, a bumper on a limited joint, four thrusters (batch 4)."""
    s = create_empty_sim(st)
    s, ch = rect(s, st, (2.0, 1.0), (1.2, 0.35))
    s, bump = rect(s, st, (2.75, 1.0), (0.2, 0.4))
    s, box = rect(s, st, (4.0, 0.7), (0.6, 0.6))
    s, tri = poly(s, st, (3.8, 1.25), TRI)
    s, w1 = circ(s, st, (1.6, 0.75), 0.3)
    s, w2 = circ(s, st, (2.4, 0.75), 0.3)
    s, _ = circ(s, st, (1.0, 2.5), 0.25)
    s = rjoint_at(s, st, ch, w1, (1.6, 0.75), motor_on=True, motor_power=1.5)
    s = rjoint_at(s, st, ch, w2, (2.4, 0.75), motor_on=True, motor_power=1.5)
    s = rjoint_at(s, st, ch, bump, (2.65, 1.0), motor_on=True, limits=(-0.5, 0.5))
    s = thruster(s, ch, (-0.6, 0.0), 0.0, power=1.0)
    s = thruster(s, ch, (0.0, 0.17), -math.pi / 2, power=1.0)
    s = thruster(s, box, (0.0, 0.0), math.pi, power=0.5)
    s = thruster(s, tri, (0.0, 0.0), math.pi / 2, power=0.3)
    return s


def nowarm_stack(st: StaticSimParams) -> State:
    """A two-box stack and a ball on top, without warm starting."""
    s = create_empty_sim(st)
    s, _ = rect(s, st, (2.5, 0.648), (1.0, 0.5))
    s, _ = rect(s, st, (2.55, 1.145), (0.7, 0.5))
    s, _ = circ(s, st, (2.5, 1.69), 0.3)
    s, _ = circ(s, st, (1.0, 0.7), 0.3)
    return s


def nowarm_car(st: StaticSimParams) -> State:
    """The two-motor car without warm starting."""
    return m_car_two_motors(st)


def bs8_random(st: StaticSimParams) -> State:
    """Triangles, quads, a fixated tilted box, joints of every kind, mode-0 bodies, thrusters."""
    rng = np.random.default_rng(4321)
    s = create_empty_sim(st)
    s, fx = rect(s, st, (3.5, 1.5), (1.5, 0.2), rotation=0.4, fixated=True)
    gs = []
    for k in range(5):
        n = 3 if k % 2 else 4
        verts = _random_convex(rng, n, rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.4))
        pos = (0.7 + 0.8 * k, float(rng.uniform(2.0, 4.0)))
        s, g = poly(s, st, pos, verts, rotation=float(rng.uniform(-1, 1)))
        gs.append(g)
    cs = []
    for k in range(4):
        pos = (0.8 + 1.1 * k, float(rng.uniform(0.8, 1.5)))
        s, c = circ(s, st, pos, float(rng.uniform(0.15, 0.3)))
        cs.append(c)
    s = set_mode(s, st, gs[1], 0)
    s = set_mode(s, st, cs[2], 0)
    s = set_mode(s, st, gs[3], 2)

    def mid(a: int, b: int) -> tuple[float, float]:
        pa, pb = _world_pos(s, st, a), _world_pos(s, st, b)
        return ((pa[0] + pb[0]) / 2, (pa[1] + pb[1]) / 2)

    s = rjoint_at(s, st, gs[0], cs[0], mid(gs[0], cs[0]), motor_on=True)
    s = rjoint_at(s, st, gs[1], gs[2], mid(gs[1], gs[2]), limits=(-0.3, 0.2))
    s = fjoint_at(s, st, gs[3], cs[2], mid(gs[3], cs[2]))
    s = rjoint_at(s, st, fx, gs[4], _world_pos(s, st, gs[4]))
    s = thruster(s, gs[2], (0.1, 0.0), math.pi / 2, power=0.8)
    s = thruster(s, cs[1], (0.0, 0.1), 2.0, power=0.5)
    return s


def bs8_ragdoll(st: StaticSimParams) -> State:
    """A ragdoll of boxes with limited joints falling onto a pile of balls (batch 8)."""
    s = create_empty_sim(st)
    s, torso = rect(s, st, (2.5, 3.0), (0.4, 0.8), rotation=0.2)
    s, la = rect(s, st, (2.05, 3.2), (0.5, 0.12))
    s, ra = rect(s, st, (2.95, 3.2), (0.5, 0.12))
    s, ll = rect(s, st, (2.4, 2.25), (0.12, 0.7))
    s, rl = rect(s, st, (2.6, 2.25), (0.12, 0.7))
    s, head = circ(s, st, (2.5, 3.65), 0.2)
    for k in range(3):
        s, _ = circ(s, st, (2.0 + 0.5 * k, 0.7), 0.25)
    s = rjoint_at(s, st, torso, la, (2.3, 3.2), limits=(-1.0, 1.0), motor_on=True)
    s = rjoint_at(s, st, torso, ra, (2.7, 3.2), limits=(-1.0, 1.0), motor_on=True)
    s = rjoint_at(s, st, torso, ll, (2.4, 2.6), limits=(-0.5, 0.8))
    s = fjoint_at(s, st, torso, head, (2.5, 3.45))
    s = thruster(s, torso, (0.0, 0.0), math.pi / 2, power=1.0)
    s = thruster(s, rl, (0.0, -0.35), 0.0, power=0.5)
    return s


def it5_mixed(st: StaticSimParams) -> State:
    """Five iterations, batch size 2: boxes, a triangle, circles, a motor and a weld."""
    s = create_empty_sim(st)
    s, a = rect(s, st, (2.0, 0.9), (1.0, 0.4))
    s, b = poly(s, st, (2.2, 1.5), TRI)
    s, _ = rect(s, st, (3.6, 0.65), (0.6, 0.5), restitution=0.3)
    s, w = circ(s, st, (1.6, 0.75), 0.3)
    s, _ = circ(s, st, (3.6, 1.5), 0.3)
    s = rjoint_at(s, st, a, w, (1.6, 0.75), motor_on=True)
    s = fjoint_at(s, st, a, b, (2.2, 1.1))
    s = thruster(s, a, (0.5, 0.0), math.pi, power=0.8)
    return s


def it5_recalculated(st: StaticSimParams) -> State:
    """Densities changed after building via recalculate_mass_and_inertia; CM recomputed."""
    s = create_empty_sim(st)
    s, a = rect(s, st, (1.5, 1.0), (0.8, 0.4))
    s, b = rect(s, st, (3.0, 1.2), (0.6, 0.6), rotation=0.5)
    s, _ = poly(s, st, (2.3, 2.0), TRAPEZOID)
    s, c = circ(s, st, (1.5, 2.0), 0.3)
    s, _ = circ(s, st, (3.0, 2.5), 0.2)
    s = rjoint_at(s, st, a, c, (1.5, 1.5), motor_on=True, limits=(-0.2, 0.2))
    s = thruster(s, b, (0.0, 0.0), math.pi / 2)
    pd = jnp.ones(st.num_polygons, dtype=jnp.float32).at[4].set(3.0).at[5].set(0.5)
    cd = jnp.ones(st.num_circles, dtype=jnp.float32).at[0].set(2.0)
    s = recalculate_mass_and_inertia(s, st, pd, cd)
    s = s.replace(collision_matrix=calculate_collision_matrix(st, s.joint))
    return s


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _scenes() -> list[Scene]:
    custom = {
        "dt": 1 / 30,
        "base_friction": 0.8,
        "slop": 0.02,
        "baumgarte_coefficient_collision": 0.3,
        "baumgarte_coefficient_joints_v": 1.5,
        "baumgarte_coefficient_joints_p": 0.5,
        "joint_stiffness": 0.8,
        "base_motor_speed": 4.0,
        "base_motor_power": 600.0,
        "base_thruster_power": 15.0,
        "motor_decay_coefficient": 0.2,
        "clip_velocity": 20.0,
        "clip_angular_velocity": 30.0,
        "clip_position": 8.0,
    }
    specs: list[tuple[str, str, Builder, dict[str, float], tuple[tuple[int, float], ...]]] = [
        ("s_box_drop", "s", s_box_drop, {}, ()),
        ("s_car", "s", s_car, {}, ()),
        ("s_padding_alias", "s", s_padding_alias, {}, ()),
        ("s_circle_inside_box", "s", s_circle_inside_box, {}, ()),
        ("s_custom_params", "s", s_custom_params, custom, ()),
        ("s_high_speed", "s", s_high_speed, {}, ()),
        ("m_stack_exact", "m", m_stack_exact, {}, ()),
        ("m_stack_overlap", "m", m_stack_overlap, {}, ()),
        ("m_triangle_triangle", "m", m_triangle_triangle, {}, ()),
        ("m_limits_both", "m", m_limits_both, {}, ((0, 1.0), (1, -1.0))),
        ("m_limit_band", "m", m_limit_band, {}, ((0, 1.0), (1, 1.0))),
        ("m_fixed_joints", "m", m_fixed_joints, {}, ()),
        ("m_thrusters", "m", m_thrusters, {}, ()),
        ("m_collision_modes", "m", m_collision_modes, {}, ()),
        ("m_restitution_friction", "m", m_restitution_friction, {}, ()),
        ("m_fixated", "m", m_fixated, {}, ()),
        ("m_deactivated", "m", m_deactivated, {}, ()),
        ("m_walls_off", "m", m_walls_off, {}, ()),
        ("m_no_floor_zero_g", "m", m_no_floor_zero_g, {}, ()),
        ("m_car_two_motors", "m", m_car_two_motors, {}, ()),
        ("l_box_stack", "l", l_box_stack, {}, ()),
        ("l_car", "l", l_car, {}, ()),
        ("l_random_pile", "l", l_random_pile, {}, ()),
        ("l_pendulum_chain", "l", l_pendulum_chain, {}, ()),
        ("l_odd_shapes", "l", l_odd_shapes, {}, ()),
        ("default_circles", "default", default_circles, {}, ()),
        ("default_mixed", "default", default_mixed, {}, ()),
        ("bs4_stack_restitution", "bs4", bs4_stack_restitution, {}, ()),
        ("bs4_car", "bs4", bs4_car, {}, ()),
        ("nowarm_stack", "m_nowarm", nowarm_stack, {}, ()),
        ("nowarm_car", "m_nowarm", nowarm_car, {}, ()),
        ("bs8_random", "bs8", bs8_random, {}, ()),
        ("bs8_ragdoll", "bs8", bs8_ragdoll, {}, ()),
        ("it5_mixed", "it5_bs2", it5_mixed, {}, ()),
        ("it5_recalculated", "it5_bs2", it5_recalculated, {}, ()),
    ]
    out = []
    for k, (name, key, fn, params, pinned) in enumerate(specs):
        doc = (fn.__doc__ or "").strip().splitlines()[0]
        out.append(Scene(name, key, fn, doc, seed=1000 + k, params=params, pinned_actions=pinned))
    return out


SCENES: list[Scene] = _scenes()


def scene_by_name(name: str) -> Scene:
    """Look a scripted scene up by name."""
    for sc in SCENES:
        if sc.name == name:
            return sc
    raise KeyError(f"no scripted scene named {name!r}; known: {[s.name for s in SCENES]}")


def _self_check(scenes: Sequence[Scene] = SCENES) -> None:
    names = [s.name for s in scenes]
    if len(set(names)) != len(names):
        raise ValueError("duplicate scene names")
    for sc in scenes:
        if sc.static_key not in STATICS:
            raise ValueError(f"{sc.name}: unknown static key {sc.static_key}")


_self_check()

if __name__ == "__main__":  # pragma: no cover - manual inspection aid
    for sc in SCENES:
        print(f"{sc.name:28s} {sc.static_key:9s} {sc.description}")
