"""The physics step and the scene-construction utilities of ``jax2d.engine``.

``PhysicsEngine(static).step(state, params, actions)`` reproduces ``jax2d==1.0.1`` to float32
tolerance: same phase order, solver order and constants (spec §2). Everything is a pure function
of explicit state; jit and vmap it yourself, e.g.
``jax.jit(jax.vmap(engine.step, in_axes=(0, None, 0)))``.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jax2d.engine import PhysicsEngine, create_empty_sim
    >>> from jax2d.scene import add_circle_to_scene
    >>> from jax2d.sim_state import SimParams, StaticSimParams
    >>> static = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    >>> state = create_empty_sim(static)
    >>> state, _ = add_circle_to_scene(state, static, jnp.array([2.5, 2.0]), 0.3)
    >>> engine = PhysicsEngine(static)
    >>> step = jax.jit(engine.step)
    >>> for _ in range(60):
    ...     state, _ = step(state, SimParams(), jnp.zeros(2))
    >>> bool(state.circle.position[0, 1] < 2.0)
    True
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jax2d import solver
from jax2d._bodies import Bodies
from jax2d._contact_plan import make_contact_plan
from jax2d._mass import (
    calc_inverse_inertia_circle,
    calc_inverse_inertia_polygon,
    calc_inverse_mass_circle,
    calc_inverse_mass_polygon,
)
from jax2d._pairs import calc_nrr, get_pairwise_interaction_indices
from jax2d._solve_loop import solve_velocities
from jax2d._vector_ops import EXACT, VectorOps, vector_ops
from jax2d.collision import detect_cc, detect_cr, detect_rr
from jax2d.maths import rmat
from jax2d.maths import rotate as _rot
from jax2d.sim_state import (
    CollisionManifold,
    Joint,
    RigidBody,
    SimState,
    StaticSimParams,
    Thruster,
)

__all__ = [
    "PhysicsEngine",
    "create_empty_sim",
    "recalculate_mass_and_inertia",
    "calculate_collision_matrix",
    "get_empty_collision_manifolds",
    "get_pairwise_interaction_indices",
    "calc_nrr",
    "select_shape",
    "recompute_global_joint_positions",
    "clip_state",
    "calc_inverse_mass_polygon",
    "calc_inverse_inertia_polygon",
    "calc_inverse_mass_circle",
    "calc_inverse_inertia_circle",
    "CollisionManifold",
    "Joint",
    "RigidBody",
    "Thruster",
    "rmat",
]


# --------------------------------------------------------------------------- construction


def _empty_manifold(shape: tuple[int, ...]) -> CollisionManifold:
    z = jnp.zeros(shape, jnp.float32)
    return CollisionManifold(
        normal=jnp.zeros(shape + (2,), jnp.float32),
        penetration=z,
        collision_point=jnp.zeros(shape + (2,), jnp.float32),
        active=jnp.zeros(shape, bool),
        acc_impulse_normal=z,
        acc_impulse_tangent=z,
        restitution_velocity_target=z,
    )


def get_empty_collision_manifolds(static_sim_params: StaticSimParams):
    """All-zero, inactive ``(rr (NRR, 2), cr (NCR,), cc (NCC,))`` manifolds."""
    ncc, ncr, nrr, *_ = get_pairwise_interaction_indices(static_sim_params)
    return _empty_manifold((nrr, 2)), _empty_manifold((ncr,)), _empty_manifold((ncc,))


@partial(jax.jit, static_argnums=0)
def calculate_collision_matrix(static_sim_params: StaticSimParams, joints: Joint) -> jnp.ndarray:
    """``(P+C, P+C)`` bool: False on the diagonal and between bodies linked by active joints.

    Any chain of active joints connects bodies (connected components), exactly as the reference's
    repeated row/column AND produces.
    """
    n = static_sim_params.num_polygons + static_sim_params.num_circles
    a = jnp.where(joints.active, joints.a_index, n)
    b = jnp.where(joints.active, joints.b_index, n)
    adj = jnp.eye(n, dtype=bool)
    adj = adj.at[a, b].set(True, mode="drop").at[b, a].set(True, mode="drop")
    reach = adj.astype(jnp.int32)
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2)))))):
        reach = jnp.minimum(reach @ reach, 1)
    return reach == 0


def _empty_bodies(n: int, v: int, collision_mode) -> RigidBody:
    f = jnp.float32
    return RigidBody(
        position=jnp.zeros((n, 2), f),
        rotation=jnp.zeros((n,), f),
        velocity=jnp.zeros((n, 2), f),
        angular_velocity=jnp.zeros((n,), f),
        inverse_mass=jnp.zeros((n,), f),
        inverse_inertia=jnp.zeros((n,), f),
        friction=jnp.ones((n,), f),
        restitution=jnp.zeros((n,), f),
        collision_mode=jnp.asarray(collision_mode, jnp.int32),
        active=jnp.zeros((n,), bool),
        n_vertices=jnp.full((n,), 4 if collision_mode is not None else 0, jnp.int32),
        vertices=jnp.zeros((n, v, 2), f),
        radius=jnp.zeros((n,), f),
    )


def create_empty_sim(
    static_sim_params: StaticSimParams,
    add_floor: bool = True,
    add_walls_and_ceiling: bool = True,
    scene_size: float = 5,
    floor_offset: float = 0.2,
) -> SimState:
    """An empty scene: optional floor (slot 0), walls (1, 2) and ceiling (3) as fixated polygons.

    The floor's top surface is at ``y = 2 * floor_offset``; walls span ``x in [-s, 0]`` and
    ``[s, 2s]``; the ceiling is the reference's trapezoid with its bottom face at ``y = s``.
    """
    st = static_sim_params
    p, c, v = st.num_polygons, st.num_circles, st.max_polygon_vertices
    s, o = scene_size, floor_offset
    modes = np.where(np.arange(p) < st.num_static_fixated_polys, 2, 1)
    poly = _empty_bodies(p, v, modes)
    circ = _empty_bodies(c, v, np.ones(c, np.int32))
    circ = circ.replace(n_vertices=jnp.zeros((c,), jnp.int32))

    pos = np.zeros((p, 2), np.float32)
    verts = np.zeros((p, v, 2), np.float32)
    active = np.zeros((p,), bool)
    fixed = []
    if add_floor:
        fixed.append((0, (s / 2, -s + o), [(s / 2, s + o), (s / 2, -s - o), (-s / 2, -s - o),
                                            (-s / 2, s + o)]))  # fmt: skip
    if add_walls_and_ceiling:
        fixed.append((1, (0, 0), [(-s, s), (0, s), (0, 0), (-s, 0)]))
        fixed.append((2, (0, 0), [(s, s), (2 * s, s), (2 * s, 0), (s, 0)]))
        fixed.append((3, (s / 2, 2 * s + o), [(s, s + o), (s / 2, -s - o), (-s / 2, -s - o),
                                              (-s / 2, s + o)]))  # fmt: skip
    for slot, position, vertices in fixed:
        if slot < p:
            pos[slot] = position
            verts[slot, :4] = vertices
            active[slot] = True
    poly = poly.replace(
        position=jnp.asarray(pos), vertices=jnp.asarray(verts), active=jnp.asarray(active)
    )
    f = jnp.float32
    j, t = st.num_joints, st.num_thrusters
    joint = Joint(
        a_index=jnp.zeros((j,), jnp.int32),
        b_index=jnp.zeros((j,), jnp.int32),
        a_relative_pos=jnp.zeros((j, 2), f),
        b_relative_pos=jnp.zeros((j, 2), f),
        global_position=jnp.full((j, 2), 256.0, f),
        active=jnp.zeros((j,), bool),
        acc_impulse=jnp.zeros((j, 2), f),
        acc_r_impulse=jnp.zeros((j,), f),
        motor_speed=jnp.zeros((j,), f),
        motor_power=jnp.zeros((j,), f),
        motor_on=jnp.zeros((j,), bool),
        motor_has_joint_limits=jnp.zeros((j,), bool),
        min_rotation=jnp.zeros((j,), f),
        max_rotation=jnp.zeros((j,), f),
        is_fixed_joint=jnp.zeros((j,), bool),
        rotation=jnp.zeros((j,), f),
    )
    thruster = Thruster(
        object_index=jnp.zeros((t,), jnp.int32),
        relative_position=jnp.zeros((t, 2), f),
        rotation=jnp.zeros((t,), f),
        power=jnp.zeros((t,), f),
        global_position=jnp.zeros((t, 2), f),
        active=jnp.zeros((t,), bool),
    )
    rr, cr, cc = get_empty_collision_manifolds(st)
    state = SimState(
        polygon=poly,
        circle=circ,
        joint=joint,
        thruster=thruster,
        collision_matrix=calculate_collision_matrix(st, joint),
        acc_rr_manifolds=rr,
        acc_cr_manifolds=cr,
        acc_cc_manifolds=cc,
        gravity=jnp.array([0.0, -9.81], f),
    )
    return recalculate_mass_and_inertia(state, st, jnp.ones(p), jnp.ones(c))


def recalculate_mass_and_inertia(state, static_params, polygon_densities, circle_densities):
    """Recompute masses and inertias from shapes and densities; re-centre movable polygons.

    Polygons with nonzero inverse mass move their reference point to the vertex mean. Bodies with
    zero inverse mass (or inertia) keep it zero: fixation survives the recomputation.
    """
    poly = state.polygon
    inv_m, centre = jax.vmap(calc_inverse_mass_polygon, (0, 0, None, 0))(
        poly.vertices, poly.n_vertices, static_params, polygon_densities
    )
    movable = poly.inverse_mass != 0
    centre = jnp.where(movable[:, None], centre, 0.0)
    position = jnp.where(movable[:, None], poly.position + centre, poly.position)
    vertices = jnp.where(movable[:, None, None], poly.vertices - centre[:, None, :], poly.vertices)
    inv_i = jax.vmap(calc_inverse_inertia_polygon, (0, 0, None, 0))(
        vertices, poly.n_vertices, static_params, polygon_densities
    )
    poly = poly.replace(
        inverse_mass=jnp.where(movable, inv_m, 0.0),
        position=position,
        vertices=vertices,
        inverse_inertia=jnp.where(poly.inverse_inertia != 0, inv_i, 0.0),
    )
    circ = state.circle
    cm = circ.inverse_mass != 0
    circ = circ.replace(
        inverse_mass=jnp.where(cm, calc_inverse_mass_circle(circ.radius, circle_densities), 0.0),
        inverse_inertia=jnp.where(
            cm, calc_inverse_inertia_circle(circ.radius, circle_densities), 0.0
        ),
    )
    return state.replace(polygon=poly, circle=circ)


def select_shape(state, index, static_sim_params) -> RigidBody:
    """The record of body ``index`` (global): polygon ``index`` if ``< P``, else circle ``index - P``."""
    p = static_sim_params.num_polygons
    is_poly = index < p
    pi = jnp.clip(index, 0, p - 1)
    ci = jnp.clip(index - p, 0, static_sim_params.num_circles - 1)
    return jax.tree_util.tree_map(
        lambda a, b: jnp.where(is_poly, a[pi], b[ci]), state.polygon, state.circle
    )


def _thruster_positions(b: Bodies, thruster: Thruster, ops: VectorOps = EXACT) -> jnp.ndarray:
    g = thruster.object_index
    rot = b.rotation[g]
    return b.position[g] + ops.rotate_cs(jnp.cos(rot), jnp.sin(rot), thruster.relative_position)


def recompute_global_joint_positions(state, static_params):
    """Refresh the joint (anchor on body a) and thruster world-position caches."""
    b = Bodies.from_state(state.polygon, state.circle)
    j = state.joint
    gp = b.position[j.a_index] + _rot(b.rotation[j.a_index], j.a_relative_pos)
    return state.replace(
        joint=j.replace(global_position=gp),
        thruster=state.thruster.replace(global_position=_thruster_positions(b, state.thruster)),
    )


def _clip_bodies(body: RigidBody, params) -> RigidBody:
    return body.replace(
        position=jnp.clip(body.position, -params.clip_position, params.clip_position),
        velocity=jnp.clip(body.velocity, -params.clip_velocity, params.clip_velocity),
        angular_velocity=jnp.clip(
            body.angular_velocity, -params.clip_angular_velocity, params.clip_angular_velocity
        ),
    )


def clip_state(state, params):
    """Clamp positions, velocities and angular velocities per component."""
    return state.replace(
        polygon=_clip_bodies(state.polygon, params), circle=_clip_bodies(state.circle, params)
    )


# --------------------------------------------------------------------------- the step


class PhysicsEngine:
    """The rigid-body step for one set of static sizes.

    Args:
        static_sim_params: sizes and solver settings; the step's graph depends only on these and
            on ``numerics``.
        numerics: ``"exact"`` (default) reproduces jax2d 1.0.1's trajectories: dot products,
            norms and rotations use the reference's ops so they round as the reference does.
            ``"fast"`` (opt-in) writes them out elementwise, which XLA fuses into the surrounding
            kernels: 1.4-1.6x faster steps on jax 0.10 under default compile options, no
            measurable gain on jax 0.9 or with
            :func:`jax2d.compiler_options.cpu_compiler_options` (which speeds up the exact
            engine more; see BENCHMARKS.md). Same model and same contacts, but results differ
            in the last bits and trajectories drift apart from the reference's over time: use
            it for training on fresh levels, not to replay recorded data.

    Attributes:
        poly_poly_pairs, circle_poly_pairs, circle_circle_pairs: the ``(n, 2)`` int32 pair tables.
        numerics: ``"exact"`` or ``"fast"``.

    Raises:
        ValueError: ``numerics`` is neither ``"exact"`` nor ``"fast"``.

    Example:
        >>> from jax2d.engine import PhysicsEngine
        >>> from jax2d.sim_state import StaticSimParams
        >>> PhysicsEngine(StaticSimParams(), numerics="fast").numerics
        'fast'
    """

    def __init__(self, static_sim_params: StaticSimParams, numerics: str = "exact"):
        self._ops = vector_ops(numerics)
        self.numerics = numerics
        self.static_sim_params = static_sim_params
        ncc, ncr, nrr, cc, cr, rr = get_pairwise_interaction_indices(static_sim_params)
        self.num_cc, self.num_cr, self.num_rr = ncc, ncr, nrr
        self.circle_circle_pairs = cc
        self.circle_poly_pairs = cr
        self.poly_poly_pairs = rr
        self._plan = make_contact_plan(
            rr, cr, cc, static_sim_params.num_polygons, static_sim_params.solver_batch_size
        )

    # Engines with equal static params and numerics trace identically, so they compare and hash
    # equal: a bound ``engine.step`` can be a static jit argument without recompiling per instance.
    def hash_key(self) -> tuple:
        """Everything the step's trace depends on (``KinetixEnv`` keys its jit cache on it)."""
        return (type(self).__qualname__, self.static_sim_params, self.numerics)

    def __eq__(self, other):
        return type(other) is type(self) and other.hash_key() == self.hash_key()

    def __hash__(self):
        return hash(self.hash_key())

    def __repr__(self) -> str:
        return f"PhysicsEngine({self.static_sim_params!r}, numerics={self.numerics!r})"

    def calculate_collision_manifolds(self, state):
        """Detect all contacts: ``(rr (NRR, 2), cr (NCR,), cc (NCC,))`` with warm-start carry-over."""
        ops = self._ops
        rr = detect_rr(state.polygon, self.poly_poly_pairs, state.acc_rr_manifolds, ops)
        cr = detect_cr(
            state.circle, state.polygon, self.circle_poly_pairs, state.acc_cr_manifolds, ops
        )
        cc = detect_cc(state.circle, self.circle_circle_pairs, state.acc_cc_manifolds, ops)
        return rr, cr, cc

    def step(self, state, params, actions):
        """Advance ``state`` by ``params.dt``.

        Args:
            state: a :class:`~jax2d.sim_state.SimState` (or subclass; extra fields are kept).
            params: :class:`~jax2d.sim_state.SimParams` (or subclass).
            actions: ``(J + T,)``: motor actions per joint slot, then thruster actions.

        Returns:
            ``(state, (rr, cr, cc))``: the new state and the post-solve manifolds, rr reduced to
            its first contact slot.
        """
        st = self.static_sim_params
        nj = st.num_joints
        actions = jnp.asarray(actions, jnp.float32)

        def gravity(body):
            g = state.gravity * params.dt * (body.inverse_mass != 0)[:, None]
            return body.replace(velocity=body.velocity + g)

        state = state.replace(polygon=gravity(state.polygon), circle=gravity(state.circle))
        rr, cr, cc = self.calculate_collision_manifolds(state)

        b = Bodies.from_state(state.polygon, state.circle)
        b = solver.apply_motors(b, state.joint, actions[:nj], params)
        b = solver.apply_thrusters(b, state.thruster, actions[nj:], params, self._ops)

        friction = jnp.concatenate([state.polygon.friction, state.circle.friction])
        plan = self._plan
        # All contacts in solve order: rr slot 0, rr slot 1, cr, cc.
        flat = jax.tree_util.tree_map(
            lambda r, c, k: jnp.concatenate([r[:, 0], r[:, 1], c, k]), rr, cr, cc
        )
        cs = solver.contact_set(b, friction, flat, plan.ga, plan.gb, state.collision_matrix, params)
        acc_n, acc_t = flat.acc_impulse_normal, flat.acc_impulse_tangent
        arms = solver.joint_arms(b, state.joint, self._ops)
        if st.do_warm_starting:
            # One ordered scatter performs the reference's family-by-family additions.
            b = solver.warm_start_contacts(b, cs, acc_n, acc_t)
            b = solver.warm_start_joints(b, state.joint, arms)

        rr_act = rr.active[:, 0] | rr.active[:, 1]
        act = jnp.concatenate([rr_act, rr_act, cr.active, cc.active])
        b, j_gp, j_acc, j_acc_r, acc_n, acc_t = solve_velocities(
            b, state.joint, arms, plan, cs, act, acc_n, acc_t, st.num_solver_iterations, params,
            self._ops,
        )  # fmt: skip
        nrr, ncr = self.num_rr, self.num_cr
        rr = rr.replace(
            acc_impulse_normal=jnp.stack([acc_n[:nrr], acc_n[nrr : 2 * nrr]], 1),
            acc_impulse_tangent=jnp.stack([acc_t[:nrr], acc_t[nrr : 2 * nrr]], 1),
        )
        o = 2 * nrr
        cr = cr.replace(
            acc_impulse_normal=acc_n[o : o + ncr], acc_impulse_tangent=acc_t[o : o + ncr]
        )
        o += ncr
        cc = cc.replace(acc_impulse_normal=acc_n[o:], acc_impulse_tangent=acc_t[o:])
        joint = state.joint
        if st.do_warm_starting:
            state = state.replace(acc_rr_manifolds=rr, acc_cr_manifolds=cr, acc_cc_manifolds=cc)

        b = b._replace(
            position=b.position + b.velocity * params.dt,
            rotation=b.rotation + b.angular_velocity * params.dt,
        )
        polygon, circle = b.write_back(state.polygon, state.circle)
        state = clip_state(state.replace(polygon=polygon, circle=circle), params)
        b = Bodies.from_state(state.polygon, state.circle)
        state = state.replace(
            joint=joint.replace(global_position=j_gp, acc_impulse=j_acc, acc_r_impulse=j_acc_r),
            thruster=state.thruster.replace(
                global_position=_thruster_positions(b, state.thruster, self._ops)
            ),
        )
        rr0 = jax.tree_util.tree_map(lambda x: x[:, 0], rr)
        return state, (rr0, cr, cc)
