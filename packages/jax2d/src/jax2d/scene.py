"""Scene building: add polygons, circles, joints and thrusters to the first free slot.

Semantics follow ``jax2d==1.0.1``: each adder fills the first inactive slot and returns
``(state, index)``. Called eagerly (outside ``jit``), bad input raises ``ValueError`` naming the
argument and the allowed range, instead of silently returning a corrupted or unchanged state. Under
``jit`` values are tracers and cannot be checked; there a full scene is a no-op returning index 0,
as in the reference.

Example:
    >>> import jax.numpy as jnp
    >>> from jax2d.engine import create_empty_sim
    >>> from jax2d.scene import add_rectangle_to_scene, add_circle_to_scene, add_revolute_joint_to_scene
    >>> from jax2d.sim_state import StaticSimParams
    >>> static = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    >>> state = create_empty_sim(static)
    >>> state, (body, _) = add_rectangle_to_scene(state, static, jnp.array([2.5, 1.0]), jnp.array([1.0, 0.4]))
    >>> state, (_, wheel) = add_circle_to_scene(state, static, jnp.array([2.0, 0.7]), 0.35)
    >>> state, j = add_revolute_joint_to_scene(state, static, body, wheel, jnp.array([-0.5, -0.3]),
    ...                                        jnp.zeros(2), motor_on=True)
    >>> int(j), int(wheel)
    (0, 5)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax2d._mass import (
    calc_inverse_inertia_circle,
    calc_inverse_inertia_polygon,
    calc_inverse_mass_circle,
    calc_inverse_mass_polygon,
)
from jax2d.engine import calculate_collision_matrix
from jax2d.sim_state import SimState, StaticSimParams

__all__ = [
    "add_polygon_to_scene",
    "add_rectangle_to_scene",
    "add_circle_to_scene",
    "add_revolute_joint_to_scene",
    "add_fixed_joint_to_scene",
    "add_thruster_to_scene",
]


def _concrete(x):
    """``x`` as a numpy array, or None when it is traced (inside jit/vmap)."""
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except Exception:  # tracers of other kinds
        return None


def _free_slot(active, what: str, size_name: str, size: int):
    act = _concrete(active)
    if act is not None and act.ndim == 1 and act.all():
        raise ValueError(
            f"cannot add a {what}: all {size} slots are in use ({size_name}={size}); "
            f"create the scene with a larger {size_name}"
        )
    slot = jnp.argmin(active)
    return slot, ~active[slot]


def _set(arr, slot, value, ok):
    value = jnp.asarray(value, arr.dtype)
    return arr.at[slot].set(jnp.where(ok, value, arr[slot]))


def _check_polygon_vertices(vertices, n_vertices: int, max_vertices: int):
    if not 3 <= n_vertices <= max_vertices:
        raise ValueError(
            f"n_vertices={n_vertices} is out of range: expected 3 <= n_vertices <= "
            f"max_polygon_vertices={max_vertices}"
        )
    v = _concrete(vertices)
    if v is None:
        return
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < n_vertices or v.shape[0] > max_vertices:
        raise ValueError(
            f"vertices has shape {v.shape}: expected (n, 2) with n_vertices={n_vertices} <= n <= "
            f"max_polygon_vertices={max_vertices}"
        )
    v = v[:n_vertices].astype(np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"vertices must be finite, got {v.tolist()}")
    e = np.roll(v, -1, axis=0) - v
    turn = e[:, 0] * np.roll(e, -1, axis=0)[:, 1] - e[:, 1] * np.roll(e, -1, axis=0)[:, 0]
    if np.any(turn >= 0):
        raise ValueError(
            f"vertices {v.tolist()} must form a convex polygon wound clockwise with no "
            "repeated or collinear vertices (every turn must be clockwise; reverse the order "
            "of counter-clockwise input)"
        )


def _check_body_index(state, index, name: str):
    idx = _concrete(index)
    if idx is None:
        return
    p, c = state.polygon.active.shape[0], state.circle.active.shape[0]
    i = int(idx)
    if not 0 <= i < p + c:
        raise ValueError(
            f"{name}={i} is out of range: expected a global body index 0 <= {name} < "
            f"num_polygons + num_circles = {p + c}"
        )
    active = _concrete(state.polygon.active if i < p else state.circle.active)
    if active is not None and not bool(active[i if i < p else i - p]):
        kind = f"polygon {i}" if i < p else f"circle {i - p} (global {i})"
        raise ValueError(f"{name}={i} refers to {kind}, which is not active; add the body first")


def add_polygon_to_scene(
    sim_state: SimState,
    static_sim_params: StaticSimParams,
    position,
    vertices,
    n_vertices: int,
    rotation: float = 0.0,
    velocity=(0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
):
    """Add a convex polygon with clockwise local ``vertices``; returns ``(state, (slot, slot))``.

    The polygon is re-centred on its vertex mean (``position`` moves by it). ``fixated`` bodies
    get zero inverse mass and inertia.
    """
    v_max = static_sim_params.max_polygon_vertices
    _check_polygon_vertices(vertices, n_vertices, v_max)
    poly = sim_state.polygon
    slot, ok = _free_slot(poly.active, "polygon", "num_polygons", static_sim_params.num_polygons)
    verts = jnp.zeros((v_max, 2), jnp.float32)
    verts = verts.at[:n_vertices].set(jnp.asarray(vertices, jnp.float32)[:n_vertices])
    inv_mass, centre = calc_inverse_mass_polygon(verts, n_vertices, static_sim_params, density)
    position = jnp.asarray(position, jnp.float32) + centre
    verts = verts - centre
    inv_inertia = calc_inverse_inertia_polygon(verts, n_vertices, static_sim_params, density)
    free = jnp.logical_not(fixated)
    poly = poly.replace(
        position=_set(poly.position, slot, position, ok),
        vertices=_set(poly.vertices, slot, verts, ok),
        rotation=_set(poly.rotation, slot, rotation, ok),
        velocity=_set(poly.velocity, slot, velocity, ok),
        angular_velocity=_set(poly.angular_velocity, slot, angular_velocity, ok),
        friction=_set(poly.friction, slot, friction, ok),
        restitution=_set(poly.restitution, slot, restitution, ok),
        inverse_mass=_set(poly.inverse_mass, slot, inv_mass * free, ok),
        inverse_inertia=_set(poly.inverse_inertia, slot, inv_inertia * free, ok),
        active=_set(poly.active, slot, True, ok),
        n_vertices=_set(poly.n_vertices, slot, n_vertices, ok),
    )
    return sim_state.replace(polygon=poly), (slot, slot)


def add_rectangle_to_scene(
    sim_state: SimState,
    static_sim_params: StaticSimParams,
    position,
    dimensions,
    rotation: float = 0.0,
    velocity=(0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
):
    """Add a ``dimensions = (width, height)`` box centred at ``position``."""
    d = _concrete(dimensions)
    if d is not None and (d.shape != (2,) or not np.all(d > 0)):
        raise ValueError(f"dimensions={d.tolist()}: expected (width, height), both > 0")
    half = jnp.asarray(dimensions, jnp.float32) / 2
    w, h = half[0], half[1]
    vertices = jnp.array([[-w, h], [w, h], [w, -h], [-w, -h]])
    return add_polygon_to_scene(
        sim_state, static_sim_params, position, vertices, 4, rotation, velocity,
        angular_velocity, density, friction, restitution, fixated,
    )  # fmt: skip


def add_circle_to_scene(
    sim_state: SimState,
    static_sim_params: StaticSimParams,
    position,
    radius: float,
    rotation: float = 0.0,
    velocity=(0.0, 0.0),
    angular_velocity: float = 0.0,
    density: float = 1.0,
    friction: float = 1.0,
    restitution: float = 0.0,
    fixated: bool = False,
):
    """Add a circle; returns ``(state, (circle_slot, global_index))``."""
    r = _concrete(radius)
    if r is not None and not (np.isfinite(r) and r > 0):
        raise ValueError(f"radius={float(r)} is invalid: expected a finite radius > 0")
    circ = sim_state.circle
    slot, ok = _free_slot(circ.active, "circle", "num_circles", static_sim_params.num_circles)
    free = jnp.logical_not(fixated)
    circ = circ.replace(
        position=_set(circ.position, slot, position, ok),
        radius=_set(circ.radius, slot, radius, ok),
        rotation=_set(circ.rotation, slot, rotation, ok),
        velocity=_set(circ.velocity, slot, velocity, ok),
        angular_velocity=_set(circ.angular_velocity, slot, angular_velocity, ok),
        friction=_set(circ.friction, slot, friction, ok),
        restitution=_set(circ.restitution, slot, restitution, ok),
        inverse_mass=_set(
            circ.inverse_mass, slot, calc_inverse_mass_circle(radius, density) * free, ok
        ),
        inverse_inertia=_set(
            circ.inverse_inertia, slot, calc_inverse_inertia_circle(radius, density) * free, ok
        ),
        active=_set(circ.active, slot, True, ok),
    )
    return sim_state.replace(circle=circ), (slot, slot + static_sim_params.num_polygons)


def _add_joint(sim_state, static_sim_params, a_index, b_index, a_rel, b_rel, fields):
    _check_body_index(sim_state, a_index, "a_index")
    _check_body_index(sim_state, b_index, "b_index")
    ai, bi = _concrete(a_index), _concrete(b_index)
    if ai is not None and bi is not None and int(ai) == int(bi):
        raise ValueError(f"a_index and b_index are both {int(ai)}: a joint needs two bodies")
    joint = sim_state.joint
    slot, ok = _free_slot(joint.active, "joint", "num_joints", static_sim_params.num_joints)
    values = dict(
        a_index=a_index, b_index=b_index, a_relative_pos=a_rel, b_relative_pos=b_rel, active=True
    )
    values.update(fields)
    joint = joint.replace(**{k: _set(getattr(joint, k), slot, v, ok) for k, v in values.items()})
    state = sim_state.replace(
        joint=joint, collision_matrix=calculate_collision_matrix(static_sim_params, joint)
    )
    return state, slot


def add_revolute_joint_to_scene(
    sim_state: SimState,
    static_sim_params: StaticSimParams,
    a_index: int,
    b_index: int,
    a_relative_pos,
    b_relative_pos,
    motor_on: bool = False,
    motor_speed: float = 1.0,
    motor_power: float = 1.0,
    has_joint_limits: bool = False,
    min_rotation: float = -np.pi,
    max_rotation: float = np.pi,
):
    """Pin ``a_relative_pos`` on body ``a_index`` to ``b_relative_pos`` on ``b_index``.

    Relative positions are in each body's local frame. Limits constrain
    ``rot_b - rot_a - joint.rotation`` to ``[min_rotation, max_rotation]``. Returns
    ``(state, joint_slot)`` and recomputes the collision matrix (jointed bodies stop colliding).
    """
    fields = dict(
        is_fixed_joint=False,
        motor_on=motor_on,
        motor_speed=motor_speed,
        motor_power=motor_power,
        motor_has_joint_limits=has_joint_limits,
        min_rotation=min_rotation,
        max_rotation=max_rotation,
    )
    return _add_joint(
        sim_state, static_sim_params, a_index, b_index, a_relative_pos, b_relative_pos, fields
    )


def add_fixed_joint_to_scene(
    sim_state: SimState,
    static_sim_params: StaticSimParams,
    a_index: int,
    b_index: int,
    a_relative_pos,
    b_relative_pos,
):
    """Weld two bodies. The weld holds ``rot_b - rot_a`` at ``joint.rotation`` (0 for a fresh
    slot), not at the angle the bodies had when joined, as in the reference."""
    return _add_joint(
        sim_state, static_sim_params, a_index, b_index, a_relative_pos, b_relative_pos,
        dict(is_fixed_joint=True),
    )  # fmt: skip


def add_thruster_to_scene(
    sim_state: SimState, object_index: int, relative_position, rotation: float, power=1.0
):
    """Attach a thruster to body ``object_index`` (global); thrust direction is ``rotation``
    relative to the body. Returns ``(state, thruster_slot)``."""
    _check_body_index(sim_state, object_index, "object_index")
    thr = sim_state.thruster
    n = thr.active.shape[0]
    slot, ok = _free_slot(thr.active, "thruster", "num_thrusters", n)
    values = dict(
        object_index=object_index,
        relative_position=relative_position,
        rotation=rotation,
        power=power,
        active=True,
    )
    thr = thr.replace(**{k: _set(getattr(thr, k), slot, v, ok) for k, v in values.items()})
    return sim_state.replace(thruster=thr), slot
