"""Random jax2d scenes for fuzzing, shared by ``test_fuzz.py`` and ``benchmarks/fuzz.py``.

A scene is described by a *recipe*: a dict of fixed-shape NumPy arrays (one entry per dynamic
polygon slot, circle slot, joint slot and thruster slot of a :class:`StaticSimParams`), so recipes
of one static size stack into a batch. :func:`random_recipe` draws one from a NumPy ``Generator``
(the tests let Hypothesis choose the shape counts and the seed). :func:`make_builder` turns a
recipe into a ``SimState`` with the public adders of :mod:`jax2d.scene`, each wrapped in ``jit``
(and optionally ``vmap``): every polygon slot is built both as a triangle and as a quad and the
recipe's ``kind`` selects one, so one compile of each adder serves every scene.
:func:`make_rollout` steps a state for a fixed number of steps in one ``lax.scan`` and reports
whether any float leaf of the state or of the returned manifolds was ever non-finite, and how
close the moving bodies came to the clip bounds.

Example:
    >>> import numpy as np
    >>> recipe = random_recipe(np.random.default_rng(0), FUZZ_STATIC)
    >>> state = make_builder(FUZZ_STATIC)(recipe)
    >>> actions = random_actions(np.random.default_rng(0), 10, 6)
    >>> bool(make_rollout(FUZZ_STATIC, 10)(state, SimParams(), actions)[1].all_finite)
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import (
    add_circle_to_scene,
    add_fixed_joint_to_scene,
    add_polygon_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimParams, SimState, StaticSimParams

__all__ = [
    "FUZZ_STATIC",
    "PROFILES",
    "RolloutStats",
    "convex_polygon",
    "random_recipe",
    "random_actions",
    "random_params",
    "stack_recipes",
    "make_builder",
    "make_rollout",
]

#: The static size the fuzz test and the fuzz benchmark use: 4 dynamic polygon slots (after the
#: floor, two walls and the ceiling), 4 circles, 4 joints, 2 thrusters.
FUZZ_STATIC = StaticSimParams(num_polygons=8, num_circles=4, num_joints=4, num_thrusters=2)

RECT, TRIANGLE, QUAD = 0, 1, 2

#: Distributions of the scalar scene parameters: ``"typical"`` resembles hand-made Kinetix levels,
#: ``"extreme"`` stresses contacts: high speeds, densities, restitution, slivers, and (with
#: :func:`random_params`) large time steps, but no joints (the reference's joint solver diverges
#: at such speeds and mass ratios, see :func:`random_recipe`).
PROFILES: dict[str, dict[str, tuple[float, float]]] = {
    "typical": {
        "speed": (-4.0, 4.0),
        "spin": (-4.0, 4.0),
        "density": (0.3, 3.0),
        "restitution": (0.0, 0.8),
        "friction": (0.0, 1.5),
        "size": (0.15, 1.2),
        "radius": (0.08, 0.6),
        "motor_power": (0.0, 3.0),
        "thruster_power": (0.0, 3.0),
    },
    "extreme": {
        "speed": (-40.0, 40.0),
        "spin": (-30.0, 30.0),
        "density": (0.02, 20.0),
        "restitution": (0.0, 1.0),
        "friction": (0.0, 3.0),
        "size": (0.03, 2.5),
        "radius": (0.02, 1.2),
        "motor_power": (0.0, 10.0),
        "thruster_power": (0.0, 10.0),
    },
}


class _Draw:
    """The few draws the generator makes, over a ``numpy.random.Generator``."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def integer(self, lo: int, hi: int) -> int:
        """Uniform integer in ``[lo, hi)``."""
        return int(self.rng.integers(lo, hi))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


# --------------------------------------------------------------------------------------------
# Recipes
# --------------------------------------------------------------------------------------------


def convex_polygon(draw: _Draw, n: int, size: tuple[float, float]) -> np.ndarray:
    """``n`` clockwise vertices of a strictly convex polygon, padded with zeros to ``(4, 2)``.

    The vertices lie on a random ellipse (points of a strictly convex curve in angular order form
    a strictly convex polygon) at decreasing angles, i.e. clockwise; the polygon is shifted off
    the origin so the adders' vertex-mean centring has work to do.
    """
    ax, ay = draw.uniform(*size) / 2, draw.uniform(*size) / 2
    phi = draw.uniform(-math.pi, math.pi)
    gaps = np.array([draw.uniform(0.5, 1.0) for _ in range(n)])
    gaps = gaps / gaps.sum() * 2 * math.pi
    start = draw.uniform(0.0, 2 * math.pi)
    theta = start - np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    pts = np.stack([ax * np.cos(theta), ay * np.sin(theta)], -1)
    c, s = math.cos(phi), math.sin(phi)
    pts = pts @ np.array([[c, s], [-s, c]]) + [draw.uniform(-0.3, 0.3), draw.uniform(-0.3, 0.3)]
    out = np.zeros((4, 2), np.float32)
    out[:n] = pts
    return out


def _to_local(v: np.ndarray, angle: float) -> np.ndarray:
    """``R(angle)^T v``: a world offset in a body's local frame."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] + s * v[1], -s * v[0] + c * v[1]])


def _mode(draw: _Draw) -> int:
    u = draw.uniform(0.0, 1.0)
    return 0 if u < 0.15 else (2 if u > 0.85 else 1)


def random_recipe(
    rng: np.random.Generator,
    static: StaticSimParams,
    profile: str = "typical",
    counts: tuple[int, int, int, int] | None = None,
) -> dict:
    """A random scene for ``static`` as a dict of fixed-shape NumPy arrays.

    ``counts`` fixes the numbers of polygons, circles, joints (an upper bound: a joint is only
    made where the rules below allow one) and thrusters instead of drawing them; Hypothesis uses
    it to pick structural edge cases while ``rng`` draws everything else.

    Dynamic polygons (rectangles, triangles, quads) fill slots ``NSF..P-1`` and circles fill
    slots ``0..C-1`` from the front (``*_present``); positions lie inside the default arena
    (``x in [0.3, 4.7]``, ``y in [0.5, 4.7]``) and shapes may overlap. Joints (revolute with random
    motors and limits, or fixed) form a forest: a body joined to an earlier one (or the floor) is
    placed so the joint point lies within both shapes; scenes the reference itself blows up on are
    avoided (see the comment in the code). Thrusters sit within their body. ``"extreme"`` scenes
    have no joints.
    A few bodies are deactivated after the joints are built (``*_deactivate``). Fixated bodies
    start at rest, so they must never move.
    """
    draw = _Draw(rng)
    prof = PROFILES[profile]
    nsf, p, c = static.num_static_fixated_polys, static.num_polygons, static.num_circles
    j, t = static.num_joints, static.num_thrusters
    n_dyn = max(p - nsf, 0)
    f32, i32 = np.float32, np.int32
    r: dict[str, Any] = {
        "poly_present": np.zeros(n_dyn, bool),
        "poly_kind": np.zeros(n_dyn, i32),
        "poly_position": np.zeros((n_dyn, 2), f32),
        "poly_vertices": np.zeros((n_dyn, 4, 2), f32),
        "circle_present": np.zeros(c, bool),
        "circle_position": np.zeros((c, 2), f32),
        "circle_radius": np.ones(c, f32),
        "joint_present": np.zeros(j, bool),
        "joint_a": np.zeros(j, i32),
        "joint_b": np.zeros(j, i32),
        "joint_a_rel": np.zeros((j, 2), f32),
        "joint_b_rel": np.zeros((j, 2), f32),
        "joint_fixed": np.zeros(j, bool),
        "joint_motor_on": np.zeros(j, bool),
        "joint_motor_speed": np.zeros(j, f32),
        "joint_motor_power": np.zeros(j, f32),
        "joint_has_limits": np.zeros(j, bool),
        "joint_min_rotation": np.zeros(j, f32),
        "joint_max_rotation": np.zeros(j, f32),
        "joint_rotation": np.zeros(j, f32),
        "thruster_present": np.zeros(t, bool),
        "thruster_body": np.zeros(t, i32),
        "thruster_rel": np.zeros((t, 2), f32),
        "thruster_rotation": np.zeros(t, f32),
        "thruster_power": np.zeros(t, f32),
    }
    for kind, n in (("poly", n_dyn), ("circle", c)):
        for name in ("rotation", "angular_velocity", "density", "friction", "restitution"):
            r[f"{kind}_{name}"] = np.zeros(n, f32)
        r[f"{kind}_velocity"] = np.zeros((n, 2), f32)
        r[f"{kind}_fixated"] = np.zeros(n, bool)
        r[f"{kind}_deactivate"] = np.zeros(n, bool)
        r[f"{kind}_mode"] = np.ones(n, i32)

    def body_common(kind: str, k: int) -> None:
        fixated = draw.chance(0.12)
        r[f"{kind}_present"][k] = True
        r[f"{kind}_rotation"][k] = draw.uniform(-math.pi, math.pi)
        if not fixated:
            r[f"{kind}_velocity"][k] = [draw.uniform(*prof["speed"]), draw.uniform(*prof["speed"])]
            r[f"{kind}_angular_velocity"][k] = draw.uniform(*prof["spin"])
        r[f"{kind}_density"][k] = draw.uniform(*prof["density"])
        r[f"{kind}_friction"][k] = draw.uniform(*prof["friction"])
        r[f"{kind}_restitution"][k] = draw.uniform(*prof["restitution"])
        r[f"{kind}_fixated"][k] = fixated
        r[f"{kind}_mode"][k] = _mode(draw)
        r[f"{kind}_deactivate"][k] = draw.chance(0.05)

    def position() -> list[float]:
        return [draw.uniform(0.3, 4.7), draw.uniform(0.5, 4.7)]

    def in_disc(radius: float) -> np.ndarray:
        phi, rho = draw.uniform(-math.pi, math.pi), draw.uniform(0.0, radius)
        return np.array([rho * math.cos(phi), rho * math.sin(phi)])

    # Shapes first (slots in creation order), then their placement.
    bodies: list[int] = []  # global indices of present bodies, in creation order
    mass: dict[int, float] = {}
    is_fixated: dict[int, bool] = {0: True}
    mean: dict[int, np.ndarray] = {}  # offset from recipe position to the body's centre
    extent: dict[int, float] = {}  # distance from the centre to the farthest point
    n_poly, n_circle, n_joints, n_thrusters = counts or (
        draw.integer(0, n_dyn + 1), draw.integer(0, c + 1), draw.integer(0, j + 1),
        draw.integer(0, t + 1),
    )  # fmt: skip
    for k in range(min(n_poly, n_dyn)):
        shape = draw.integer(0, 3)
        r["poly_kind"][k] = shape
        if shape == RECT:  # the vertices add_rectangle_to_scene builds
            w, h = draw.uniform(*prof["size"]) / 2, draw.uniform(*prof["size"]) / 2
            r["poly_vertices"][k] = [[-w, h], [w, h], [w, -h], [-w, -h]]
        else:
            r["poly_vertices"][k] = convex_polygon(
                draw, 3 if shape == TRIANGLE else 4, prof["size"]
            )
        body_common("poly", k)
        v = r["poly_vertices"][k, : 3 if shape == TRIANGLE else 4].astype(np.float64)
        bodies.append(nsf + k)
        x, y = v[:, 0], v[:, 1]
        area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
        mass[nsf + k] = area * float(r["poly_density"][k])
        is_fixated[nsf + k] = bool(r["poly_fixated"][k])
        mean[nsf + k] = v.mean(0)
        extent[nsf + k] = float(np.linalg.norm(v - v.mean(0), axis=1).max())
    for k in range(min(n_circle, c)):
        r["circle_radius"][k] = draw.uniform(*prof["radius"])
        body_common("circle", k)
        bodies.append(p + k)
        mass[p + k] = math.pi * float(r["circle_radius"][k]) ** 2 * float(r["circle_density"][k])
        is_fixated[p + k] = bool(r["circle_fixated"][k])
        mean[p + k] = np.zeros(2)
        extent[p + k] = float(r["circle_radius"][k])

    # Joints form a forest: each body may attach to one earlier body (or the floor), placed so
    # the joint point lies within both shapes, as in a Kinetix level (a wheel on a car, a limb on
    # a torso). Some jointed scenes make jax2d 1.0.1 itself blow up to inf/NaN (joint impulses
    # grow step after step through the warm start), so they are left out: the fuzz looks for
    # *our* failures on scenes the reference handles. Rates of inf/NaN within 500 steps, measured
    # with our engine (of 18 such scenes re-run on the reference, 15 blew up there too; the other
    # 3 had diverged chaotically, and one of them blew up in 8 of 8 reference runs from states
    # perturbed by 1e-6): random anchors and loops of joints ~20% of scenes; a body joined both to
    # something immovable and to another body 24 of 371; joined masses differing more than
    # 10-fold 15 of 222; joint limits on a pendulum 2 of 2000. With all four rules: 0 of 2000.
    def rotation_of(g: int) -> float:
        if g == 0:
            return 0.0
        kind, k = ("poly", g - nsf) if g < p else ("circle", g - p)
        return float(r[f"{kind}_rotation"][k])

    def can_join(a: int, b: int) -> bool:
        if fixed_body(a) and fixed_body(b):
            return False  # would never act
        if fixed_body(a) or fixed_body(b):  # a pendulum: its body has no other joint
            return degree[b if fixed_body(a) else a] == 0
        if anchored(a) or anchored(b):
            return False
        return max(mass[a], mass[b]) <= 10 * min(mass[a], mass[b])

    def fixed_body(g: int) -> bool:
        return g == 0 or bool(is_fixated[g])

    def anchored(g: int) -> bool:
        return any(fixed_body(x) for x in neighbours[g])

    degree = dict.fromkeys([*bodies, 0], 0)
    neighbours: dict[int, list[int]] = {x: [] for x in [*bodies, 0]}
    centre: dict[int, np.ndarray] = {0: np.array([2.5, -4.8])}  # the floor's position
    n_joints = min(n_joints, j) if profile != "extreme" else 0
    k = 0
    for m, g in enumerate(bodies):
        parents = bodies[:m] + ([0] if nsf > 0 and draw.chance(0.2) else [])
        parents = [x for x in parents if can_join(x, g)]
        if k < n_joints and parents and draw.chance(0.7):
            parent = parents[draw.integer(0, len(parents))]
            if parent == 0:
                centre[g] = np.array(position(), np.float64)
                world = centre[g] + in_disc(0.7 * extent[g])
            else:
                world = centre[parent] + in_disc(0.7 * extent[parent])
                axle = draw.chance(0.5)  # a wheel: the joint at the child's centre
                centre[g] = world if axle else world + in_disc(0.7 * extent[g])
            a, b = (parent, g) if parent == 0 or draw.chance(0.5) else (g, parent)
            degree[a] += 1
            degree[b] += 1
            neighbours[a].append(b)
            neighbours[b].append(a)
            r["joint_present"][k] = True
            r["joint_a"][k], r["joint_b"][k] = a, b
            r["joint_a_rel"][k] = _to_local(world - centre[a], rotation_of(a))
            r["joint_b_rel"][k] = _to_local(world - centre[b], rotation_of(b))
            r["joint_fixed"][k] = draw.chance(0.3)
            r["joint_motor_on"][k] = draw.chance(0.6)
            r["joint_motor_speed"][k] = draw.uniform(-3.0, 3.0)
            r["joint_motor_power"][k] = draw.uniform(*prof["motor_power"])
            # Limits on a pendulum (a joint to something immovable) also diverge in the reference.
            r["joint_has_limits"][k] = draw.chance(0.5) and not (fixed_body(a) or fixed_body(b))
            r["joint_min_rotation"][k] = draw.uniform(-math.pi, 0.0)
            r["joint_max_rotation"][k] = draw.uniform(0.0, math.pi)
            if draw.chance(0.7):  # as the Kinetix editor does: weld/limits relative to now
                r["joint_rotation"][k] = rotation_of(b) - rotation_of(a)
            k += 1
        else:
            centre[g] = np.array(position(), np.float64)
        kind, slot = ("poly", g - nsf) if g < p else ("circle", g - p)
        r[f"{kind}_position"][slot] = centre[g] - mean[g]

    if bodies:
        for k in range(min(n_thrusters, t)):
            r["thruster_present"][k] = True
            g = bodies[draw.integer(0, len(bodies))]
            r["thruster_body"][k] = g
            r["thruster_rel"][k] = in_disc(extent[g])
            r["thruster_rotation"][k] = draw.uniform(-math.pi, math.pi)
            r["thruster_power"][k] = draw.uniform(*prof["thruster_power"])
    return r


def random_actions(rng: np.random.Generator, n_steps: int, n_actions: int) -> np.ndarray:
    """``(n_steps, n_actions)`` float32 actions, piecewise constant (held 1–30 steps).

    Each held value is 0, ±1 or uniform in ``[-1, 1]``, like discrete and continuous Kinetix
    policies.
    """
    out = np.zeros((n_steps, n_actions), np.float32)
    for a in range(n_actions):
        i = 0
        while i < n_steps:
            hold = int(rng.integers(1, 31))
            u = rng.random()
            value = (
                0.0
                if u < 0.25
                else (float(rng.choice([-1.0, 1.0])) if u < 0.6 else rng.uniform(-1, 1))
            )
            out[i : i + hold, a] = value
            i += hold
    return out


def random_params(rng: np.random.Generator, profile: str = "typical") -> SimParams:
    """Default ``SimParams``, or for ``"extreme"`` a random ``dt`` in ``[1/120, 1/20]``."""
    if profile == "extreme":
        return SimParams(dt=float(rng.uniform(1 / 120, 1 / 20)))
    return SimParams()


def stack_recipes(recipes: list[dict]) -> dict:
    """Stack same-size recipes along a new leading batch axis."""
    return {k: np.stack([r[k] for r in recipes]) for k in recipes[0]}


# --------------------------------------------------------------------------------------------
# Building (jitted, vmappable)
# --------------------------------------------------------------------------------------------


def _select(flag, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(flag, a, b), new, old)


def _slot_fns(static: StaticSimParams) -> dict[str, Callable]:
    """One function per adder call kind: ``(state, x) -> state``, ``x`` the slot's recipe values.

    Each adds its shape, joint or thruster only where ``x["present"]``; they are jitted one by one
    (not the whole build) so the compile cost is one call of each kind, not one per slot.
    """

    def poly(state: SimState, x: dict) -> SimState:
        common = dict(
            rotation=x["rotation"],
            velocity=x["velocity"],
            angular_velocity=x["angular_velocity"],
            density=x["density"],
            friction=x["friction"],
            restitution=x["restitution"],
            fixated=x["fixated"],
        )
        pos, verts = x["position"], x["vertices"]
        s_tri, (slot, _) = add_polygon_to_scene(state, static, pos, verts[:3], 3, **common)
        s_quad, _ = add_polygon_to_scene(state, static, pos, verts, 4, **common)
        new = _select(x["kind"] == TRIANGLE, s_tri.polygon, s_quad.polygon)
        new = new.replace(collision_mode=new.collision_mode.at[slot].set(x["mode"]))
        return state.replace(polygon=_select(x["present"], new, state.polygon))

    def circle(state: SimState, x: dict) -> SimState:
        new, (slot, _) = add_circle_to_scene(
            state,
            static,
            x["position"],
            x["radius"],
            rotation=x["rotation"],
            velocity=x["velocity"],
            angular_velocity=x["angular_velocity"],
            density=x["density"],
            friction=x["friction"],
            restitution=x["restitution"],
            fixated=x["fixated"],
        )
        new = new.circle.replace(collision_mode=new.circle.collision_mode.at[slot].set(x["mode"]))
        return state.replace(circle=_select(x["present"], new, state.circle))

    def joint(state: SimState, x: dict) -> SimState:
        a, b, a_rel, b_rel = x["a"], x["b"], x["a_rel"], x["b_rel"]
        s_rev, slot = add_revolute_joint_to_scene(
            state,
            static,
            a,
            b,
            a_rel,
            b_rel,
            motor_on=x["motor_on"],
            motor_speed=x["motor_speed"],
            motor_power=x["motor_power"],
            has_joint_limits=x["has_limits"],
            min_rotation=x["min_rotation"],
            max_rotation=x["max_rotation"],
        )
        s_fix, _ = add_fixed_joint_to_scene(state, static, a, b, a_rel, b_rel)
        new = _select(x["fixed"], s_fix, s_rev)
        new_joint = new.joint.replace(rotation=new.joint.rotation.at[slot].set(x["rotation"]))
        old = (state.joint, state.collision_matrix)
        new_joint, cm = _select(x["present"], (new_joint, new.collision_matrix), old)
        return state.replace(joint=new_joint, collision_matrix=cm)

    def thruster(state: SimState, x: dict) -> SimState:
        new, _ = add_thruster_to_scene(state, x["body"], x["rel"], x["rotation"], x["power"])
        return state.replace(thruster=_select(x["present"], new.thruster, state.thruster))

    def deactivate(state: SimState, poly_off, circle_off) -> SimState:
        nsf = static.num_static_fixated_polys
        active = state.polygon.active.at[nsf:].set(state.polygon.active[nsf:] & ~poly_off)
        return state.replace(
            polygon=state.polygon.replace(active=active),
            circle=state.circle.replace(active=state.circle.active & ~circle_off),
        )

    return dict(poly=poly, circle=circle, joint=joint, thruster=thruster, deactivate=deactivate)


_FAMILIES = (("poly", "poly_present"), ("circle", "circle_present"), ("joint", "joint_present"),
             ("thruster", "thruster_present"))  # fmt: skip


def make_builder(static: StaticSimParams, batched: bool = False) -> Callable[[dict], SimState]:
    """``recipe -> SimState`` built with the public adders (``batched``: stacked recipes).

    Polygons fill slots ``NSF, NSF+1, ...`` and circles, joints and thrusters slots ``0, 1, ...``
    in recipe order, as the adders pick the first free slot. Collision modes are set on each new
    slot and the ``*_deactivate`` flags applied last.
    """
    wrap = (lambda f: jax.jit(jax.vmap(f))) if batched else jax.jit
    fns = {k: wrap(f) for k, f in _slot_fns(static).items()}
    empty = jax.jit(create_empty_sim, static_argnums=0)(static)

    def build(recipe: dict) -> SimState:
        if batched:
            n = recipe["poly_present"].shape[0]
            state = jax.tree_util.tree_map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), empty)
        else:
            state = empty
        for family, present in _FAMILIES:
            keys = [k for k in recipe if k.startswith(family + "_")]
            for slot in range(recipe[present].shape[-1]):
                x = {k[len(family) + 1 :]: recipe[k][:, slot] if batched else recipe[k][slot]
                     for k in keys}  # fmt: skip
                state = fns[family](state, x)
        return fns["deactivate"](state, recipe["poly_deactivate"], recipe["circle_deactivate"])

    return build


# --------------------------------------------------------------------------------------------
# Rolling out
# --------------------------------------------------------------------------------------------


class RolloutStats(NamedTuple):
    """What a rollout saw; every field has the batch shape (``()`` unbatched).

    Attributes:
        all_finite: no float leaf of the state or of the returned manifolds was NaN or inf
            after any step.
        first_nonfinite_step: the first such step (0-based), or ``-1``.
        max_abs_position: largest ``|position|`` component of an active, movable body over all steps.
        max_abs_velocity: largest ``|velocity|`` component of such a body.
        max_abs_angular_velocity: largest ``|angular_velocity|`` of such a body.
    """

    all_finite: jnp.ndarray
    first_nonfinite_step: jnp.ndarray
    max_abs_position: jnp.ndarray
    max_abs_velocity: jnp.ndarray
    max_abs_angular_velocity: jnp.ndarray


def _all_finite(tree) -> jnp.ndarray:
    flags = [
        jnp.all(jnp.isfinite(x))
        for x in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.floating)
    ]
    return jnp.all(jnp.stack(flags))


def _moving_max(values: jnp.ndarray, body) -> jnp.ndarray:
    """Largest ``|component|`` of ``values`` over active, movable (not fixated) bodies."""
    v = jnp.abs(values).reshape(values.shape[0], -1).max(axis=1)
    return jnp.max(jnp.where(body.active & (body.inverse_mass != 0), v, 0.0), initial=0.0)


def make_rollout(static: StaticSimParams, n_steps: int, batched: bool = False):
    """Jitted ``(state, params, actions (n_steps, J+T)) -> (final_state, RolloutStats)``.

    One ``lax.scan`` over ``PhysicsEngine(static).step``. With ``batched``, ``state``, ``params``
    (stacked ``SimParams`` leaves) and ``actions`` carry a leading batch axis.
    """
    engine = PhysicsEngine(static)

    def rollout(state: SimState, params: SimParams, actions: jnp.ndarray):
        def body(carry, x):
            state, finite, first, mp, mv, mw = carry
            i, a = x
            state, manifolds = engine.step(state, params, a)
            ok = _all_finite((state, manifolds))
            first = jnp.where(finite & ~ok, i, first)
            finite = finite & ok
            for shape in (state.polygon, state.circle):
                mp = jnp.maximum(mp, _moving_max(shape.position, shape))
                mv = jnp.maximum(mv, _moving_max(shape.velocity, shape))
                mw = jnp.maximum(mw, _moving_max(shape.angular_velocity, shape))
            return (state, finite, first, mp, mv, mw), None

        zero = jnp.float32(0.0)
        init = (state, jnp.bool_(True), jnp.int32(-1), zero, zero, zero)
        steps = jnp.arange(actions.shape[0], dtype=jnp.int32)
        (state, *stats), _ = jax.lax.scan(body, init, (steps, actions), length=n_steps)
        return state, RolloutStats(*stats)

    fn = jax.vmap(rollout) if batched else rollout
    return jax.jit(fn)
