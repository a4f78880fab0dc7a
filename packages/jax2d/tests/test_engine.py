"""``jax2d.engine``: construction, pair tables, collision matrix, mass formulas and step behaviour.

Spec sections: §1.3–1.6 (layout and pair tables), §3.2 (collision matrix), §4 (mass and inertia),
§5.1 (``create_empty_sim``), §2 and §6 (behaviour of the step). Steps run through a few jitted
functions shared by the module (one compile per static size), so the file stays fast on CI.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2d.engine import (
    PhysicsEngine,
    calc_inverse_inertia_circle,
    calc_inverse_inertia_polygon,
    calc_inverse_mass_circle,
    calc_inverse_mass_polygon,
    calc_nrr,
    calculate_collision_matrix,
    create_empty_sim,
    get_empty_collision_manifolds,
    get_pairwise_interaction_indices,
    recalculate_mass_and_inertia,
    recompute_global_joint_positions,
    select_shape,
)
from jax2d.scene import (
    add_circle_to_scene,
    add_polygon_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimParams, SimState, StaticSimParams

S = StaticSimParams(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2)
P, C, J, T = S.num_polygons, S.num_circles, S.num_joints, S.num_thrusters
NO_WARM = S.replace(do_warm_starting=False)
DT = np.float32(1 / 60)
G = np.float32(-9.81)

Step = Callable[..., tuple[SimState, tuple]]


@pytest.fixture(scope="module")
def step() -> Step:
    """The jitted step for ``S``, compiled once for the module."""
    return jax.jit(PhysicsEngine(S).step)


def _run(step: Step, state: SimState, actions, n: int, params: SimParams | None = None):
    params = params or SimParams()
    actions = jnp.asarray(actions, jnp.float32)
    manifolds = None
    for _ in range(n):
        state, manifolds = step(state, params, actions)
    return state, manifolds


def _v(*xs: float) -> jnp.ndarray:
    return jnp.array(xs, jnp.float32)


def _no_gravity(static: StaticSimParams = S) -> SimState:
    return create_empty_sim(static).replace(gravity=jnp.zeros(2, jnp.float32))


def _all_finite(tree) -> bool:
    return all(
        bool(jnp.all(jnp.isfinite(x)))
        for x in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(x.dtype, jnp.floating)
    )


# --------------------------------------------------------------------------------------------
# create_empty_sim: shapes, dtypes, values (§1.3–1.5, §5.1)
# --------------------------------------------------------------------------------------------


def _expected_layout(static: StaticSimParams) -> dict[str, tuple[tuple[int, ...], str]]:
    p, c, j, t = static.num_polygons, static.num_circles, static.num_joints, static.num_thrusters
    v = static.max_polygon_vertices
    ncc, ncr, nrr, *_ = get_pairwise_interaction_indices(static)
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for name, n in (("polygon", p), ("circle", c)):
        for f, shape, dtype in [
            ("position", (n, 2), "float32"),
            ("rotation", (n,), "float32"),
            ("velocity", (n, 2), "float32"),
            ("angular_velocity", (n,), "float32"),
            ("inverse_mass", (n,), "float32"),
            ("inverse_inertia", (n,), "float32"),
            ("friction", (n,), "float32"),
            ("restitution", (n,), "float32"),
            ("collision_mode", (n,), "int32"),
            ("active", (n,), "bool"),
            ("n_vertices", (n,), "int32"),
            ("vertices", (n, v, 2), "float32"),
            ("radius", (n,), "float32"),
        ]:
            out[f"{name}.{f}"] = (shape, dtype)
    for f, shape, dtype in [
        ("a_index", (j,), "int32"),
        ("b_index", (j,), "int32"),
        ("a_relative_pos", (j, 2), "float32"),
        ("b_relative_pos", (j, 2), "float32"),
        ("global_position", (j, 2), "float32"),
        ("active", (j,), "bool"),
        ("acc_impulse", (j, 2), "float32"),
        ("acc_r_impulse", (j,), "float32"),
        ("motor_speed", (j,), "float32"),
        ("motor_power", (j,), "float32"),
        ("motor_on", (j,), "bool"),
        ("motor_has_joint_limits", (j,), "bool"),
        ("min_rotation", (j,), "float32"),
        ("max_rotation", (j,), "float32"),
        ("is_fixed_joint", (j,), "bool"),
        ("rotation", (j,), "float32"),
    ]:
        out[f"joint.{f}"] = (shape, dtype)
    for f, shape, dtype in [
        ("object_index", (t,), "int32"),
        ("relative_position", (t, 2), "float32"),
        ("rotation", (t,), "float32"),
        ("power", (t,), "float32"),
        ("global_position", (t, 2), "float32"),
        ("active", (t,), "bool"),
    ]:
        out[f"thruster.{f}"] = (shape, dtype)
    out["collision_matrix"] = ((p + c, p + c), "bool")
    out["gravity"] = ((2,), "float32")
    for fam, lead in (("rr", (nrr, 2)), ("cr", (ncr,)), ("cc", (ncc,))):
        for f in ("normal", "collision_point"):
            out[f"acc_{fam}_manifolds.{f}"] = ((*lead, 2), "float32")
        for f in ("penetration", "acc_impulse_normal", "acc_impulse_tangent"):
            out[f"acc_{fam}_manifolds.{f}"] = (lead, "float32")
        out[f"acc_{fam}_manifolds.restitution_velocity_target"] = (lead, "float32")
        out[f"acc_{fam}_manifolds.active"] = (lead, "bool")
    return out


def _flat(state) -> dict[str, jnp.ndarray]:
    return {
        jax.tree_util.keystr(path, simple=True, separator="."): x
        for path, x in jax.tree_util.tree_leaves_with_path(state)
    }


@pytest.mark.parametrize("static", [S, StaticSimParams(12, 4, 6, 2)], ids=["6322", "12462"])
def test_empty_sim_shapes_and_dtypes(static: StaticSimParams) -> None:
    """Every leaf of ``create_empty_sim`` has the shape and dtype of spec §1.3–1.7."""
    got = _flat(jax.eval_shape(lambda: create_empty_sim(static)))
    expected = _expected_layout(static)
    assert set(got) == set(expected)
    for name, (shape, dtype) in expected.items():
        assert (got[name].shape, str(got[name].dtype)) == (shape, dtype), name


def _static_polys(s: float, o: float) -> list[tuple[tuple[float, float], list]]:
    """The four scenery polygons of spec §5.1: (position, vertices)."""
    return [
        ((s / 2, -s + o), [(s / 2, s + o), (s / 2, -s - o), (-s / 2, -s - o), (-s / 2, s + o)]),
        ((0, 0), [(-s, s), (0, s), (0, 0), (-s, 0)]),
        ((0, 0), [(s, s), (2 * s, s), (2 * s, 0), (s, 0)]),
        ((s / 2, 2 * s + o), [(s, s + o), (s / 2, -s - o), (-s / 2, -s - o), (-s / 2, s + o)]),
    ]


@pytest.mark.parametrize("size,offset", [(5, 0.2), (4.0, 0.3)])
def test_empty_sim_static_polygons(size: float, offset: float) -> None:
    """Floor, walls and the ceiling trapezoid sit where spec §5.1 puts them, fixated and active."""
    state = create_empty_sim(S, scene_size=size, floor_offset=offset)
    poly = state.polygon
    for slot, (pos, verts) in enumerate(_static_polys(size, offset)):
        np.testing.assert_allclose(poly.position[slot], pos, rtol=1e-6, err_msg=f"slot {slot}")
        np.testing.assert_allclose(poly.vertices[slot], verts, rtol=1e-6, err_msg=f"slot {slot}")
    np.testing.assert_array_equal(poly.active, [True] * 4 + [False] * (P - 4))
    np.testing.assert_array_equal(poly.position[4:], 0.0)
    np.testing.assert_array_equal(poly.vertices[4:], 0.0)
    np.testing.assert_array_equal(poly.inverse_mass, 0.0)
    np.testing.assert_array_equal(poly.inverse_inertia, 0.0)


def test_empty_sim_values() -> None:
    """Defaults of spec §1.3–1.5: modes, vertex counts, friction, the 256 joint placeholder,
    gravity, an all-inactive 'not identity' collision matrix and empty manifolds."""
    state = create_empty_sim(S)
    poly, circ = state.polygon, state.circle
    np.testing.assert_array_equal(poly.collision_mode, [2, 2, 2, 2, 1, 1])
    np.testing.assert_array_equal(circ.collision_mode, [1, 1, 1])
    np.testing.assert_array_equal(poly.n_vertices, [4] * P)
    np.testing.assert_array_equal(circ.n_vertices, [0] * C)
    for body in (poly, circ):
        np.testing.assert_array_equal(body.friction, 1.0)
        for name in ("rotation", "velocity", "angular_velocity", "restitution", "radius"):
            np.testing.assert_array_equal(getattr(body, name), 0.0, err_msg=name)
    np.testing.assert_array_equal(circ.active, False)
    np.testing.assert_array_equal(circ.position, 0.0)
    np.testing.assert_array_equal(state.joint.global_position, np.full((J, 2), 256.0))
    for name in ("a_index", "b_index", "acc_impulse", "motor_speed", "min_rotation", "rotation"):
        np.testing.assert_array_equal(getattr(state.joint, name), 0, err_msg=name)
    np.testing.assert_array_equal(state.joint.active, False)
    for name in ("object_index", "relative_position", "power", "global_position"):
        np.testing.assert_array_equal(getattr(state.thruster, name), 0, err_msg=name)
    np.testing.assert_array_equal(state.thruster.active, False)
    np.testing.assert_array_equal(state.gravity, np.float32([0.0, -9.81]))
    np.testing.assert_array_equal(state.collision_matrix, ~np.eye(P + C, dtype=bool))
    for m in (state.acc_rr_manifolds, state.acc_cr_manifolds, state.acc_cc_manifolds):
        for x in jax.tree_util.tree_leaves(m):
            assert not np.any(np.asarray(x))


@pytest.mark.parametrize("floor,walls", [(False, True), (True, False), (False, False)])
def test_empty_sim_without_floor_or_walls(floor: bool, walls: bool) -> None:
    """Disabled scenery slots stay inactive with zero geometry but keep collision mode 2."""
    state = create_empty_sim(S, add_floor=floor, add_walls_and_ceiling=walls)
    poly = state.polygon
    expected_active = [floor, walls, walls, walls, False, False]
    np.testing.assert_array_equal(poly.active, expected_active)
    for slot in range(4):
        if not expected_active[slot]:
            np.testing.assert_array_equal(poly.vertices[slot], 0.0)
            np.testing.assert_array_equal(poly.position[slot], 0.0)
    np.testing.assert_array_equal(poly.collision_mode, [2, 2, 2, 2, 1, 1])


# --------------------------------------------------------------------------------------------
# Pair tables and manifolds (§1.6)
# --------------------------------------------------------------------------------------------

PAIR_COUNTS = [((5, 2, 1, 1), 4, 10, 1), ((6, 3, 2, 2), 9, 18, 3), ((12, 4, 6, 2), 60, 48, 6),
               ((12, 12, 12, 12), 60, 144, 66)]  # fmt: skip


@pytest.mark.parametrize("size,nrr,ncr,ncc", PAIR_COUNTS, ids=lambda x: str(x))
def test_pair_counts(size, nrr: int, ncr: int, ncc: int) -> None:
    """NRR, NCR, NCC of the table in spec §1.6, from the function, calc_nrr and the engine."""
    static = StaticSimParams(*size)
    got_ncc, got_ncr, got_nrr, cc, cr, rr = get_pairwise_interaction_indices(static)
    assert (int(got_nrr), int(got_ncr), int(got_ncc)) == (nrr, ncr, ncc)
    assert calc_nrr(static) == nrr
    for table, n in ((rr, nrr), (cr, ncr), (cc, ncc)):
        arr = np.asarray(table)
        assert arr.shape == (n, 2) and arr.dtype == np.int32
    engine = PhysicsEngine(static)
    np.testing.assert_array_equal(engine.poly_poly_pairs, rr)
    np.testing.assert_array_equal(engine.circle_poly_pairs, cr)
    np.testing.assert_array_equal(engine.circle_circle_pairs, cc)


@pytest.mark.parametrize("size", [s for s, *_ in PAIR_COUNTS], ids=str)
def test_pair_order(size) -> None:
    """cc: i<j lexicographic; cr: circle outer, k = c·P + p; rr: i<j without scenery pairs."""
    static = StaticSimParams(*size)
    p, c, nsf = static.num_polygons, static.num_circles, static.num_static_fixated_polys
    *_, cc, cr, rr = get_pairwise_interaction_indices(static)
    assert np.asarray(cc).tolist() == [[i, j] for i in range(c) for j in range(i + 1, c)]
    assert np.asarray(cr).tolist() == [[ci, pi] for ci in range(c) for pi in range(p)]
    expected_rr = [[i, j] for i in range(p) for j in range(i + 1, p) if not (i < nsf and j < nsf)]
    assert np.asarray(rr).tolist() == expected_rr


def test_rr_pairs_6322() -> None:
    """The (6,3,2,2) rr list written out in spec §1.6."""
    rr = get_pairwise_interaction_indices(S)[5]
    assert [tuple(x) for x in np.asarray(rr).tolist()] == [
        (0, 4), (0, 5), (1, 4), (1, 5), (2, 4), (2, 5), (3, 4), (3, 5), (4, 5),
    ]  # fmt: skip


@pytest.mark.parametrize("size,nrr,ncr,ncc", PAIR_COUNTS[:3], ids=lambda x: str(x))
def test_empty_collision_manifolds(size, nrr: int, ncr: int, ncc: int) -> None:
    """rr manifolds are (NRR, 2[, 2]), cr (NCR[, 2]), cc (NCC[, 2]); all zero and inactive."""
    rr, cr, cc = get_empty_collision_manifolds(StaticSimParams(*size))
    for m, lead in ((rr, (nrr, 2)), (cr, (ncr,)), (cc, (ncc,))):
        assert m.normal.shape == m.collision_point.shape == (*lead, 2)
        for name in ("penetration", "acc_impulse_normal", "acc_impulse_tangent", "active"):
            assert getattr(m, name).shape == lead, name
        assert m.restitution_velocity_target.shape == lead
        assert m.active.dtype == jnp.bool_ and m.normal.dtype == jnp.float32
        assert not any(np.any(np.asarray(x)) for x in jax.tree_util.tree_leaves(m))


# --------------------------------------------------------------------------------------------
# Collision matrix (§3.2)
# --------------------------------------------------------------------------------------------


def _union_find_matrix(n: int, a, b, active) -> np.ndarray:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ai, bi, on in zip(a, b, active):
        if on:
            parent[find(int(ai))] = find(int(bi))
    roots = np.array([find(i) for i in range(n)])
    return roots[:, None] != roots[None, :]


def test_collision_matrix_is_connected_components() -> None:
    """On 50 random joint graphs (10 bodies, 6 joints, random active flags, self-loops allowed)
    CM[i, j] is False exactly when i == j or i, j are linked by a chain of active joints."""
    static = StaticSimParams(num_polygons=6, num_circles=4, num_joints=6, num_thrusters=1)
    n = static.num_polygons + static.num_circles
    base = create_empty_sim(static).joint
    rng = np.random.default_rng(1234)
    n_linked = 0
    for _ in range(50):
        a = rng.integers(0, n, 6).astype(np.int32)
        b = rng.integers(0, n, 6).astype(np.int32)
        active = rng.random(6) < 0.7
        joints = base.replace(a_index=jnp.asarray(a), b_index=jnp.asarray(b), active=active)
        got = np.asarray(calculate_collision_matrix(static, joints))
        expected = _union_find_matrix(n, a, b, active)
        np.testing.assert_array_equal(got, expected, err_msg=f"a={a} b={b} active={active}")
        n_linked += int((~expected).sum() - n)
    assert n_linked > 100  # the graphs did link bodies, including through chains


# --------------------------------------------------------------------------------------------
# Mass and inertia (§4)
# --------------------------------------------------------------------------------------------

V4 = StaticSimParams()  # max_polygon_vertices = 4


def _pad(vertices) -> jnp.ndarray:
    v = np.zeros((4, 2), np.float32)
    v[: len(vertices)] = vertices
    return jnp.asarray(v)


def test_quad_mass_and_inertia() -> None:
    """A 2×1 rectangle of density 2: mass 4 and I = m(w²+h²)/12 = 5/3, so 1/I = 0.6 (exact)."""
    verts = _pad([(-1, 0.5), (1, 0.5), (1, -0.5), (-1, -0.5)])
    inv_m, centre = calc_inverse_mass_polygon(verts, 4, V4, 2.0)
    assert float(inv_m) == pytest.approx(0.25, rel=1e-6)
    np.testing.assert_allclose(centre, [0.0, 0.0], atol=1e-7)
    assert float(calc_inverse_inertia_polygon(verts, 4, V4, 2.0)) == pytest.approx(0.6, rel=1e-5)


def test_triangle_inertia_uses_padding_vertex() -> None:
    """Triangle (1,3),(4,0),(1,0): centre (2,1), centred vertices (-1,2),(2,-1),(-1,-1), padding
    slot -centre = (-2,-1). The reference fan uses edges v0v1, v1v2, v2v3 (3 = padding):
    I = 1.5 + 1.5 + 10/12 = 23/6, so 1/I = 6/23 (the true polar inertia 4.5 would give 2/9)."""
    raw = np.array([(1, 3), (4, 0), (1, 0)], np.float32)
    inv_m, centre = calc_inverse_mass_polygon(_pad(raw), 3, V4, 1.0)
    assert float(inv_m) == pytest.approx(1 / 4.5, rel=1e-6)
    np.testing.assert_allclose(centre, [2.0, 1.0], rtol=1e-6)
    centred = _pad(raw) - centre  # all four slots, as the adder does
    np.testing.assert_allclose(centred[3], [-2.0, -1.0], rtol=1e-6)
    inv_i = float(calc_inverse_inertia_polygon(centred, 3, V4, 1.0))
    assert inv_i == pytest.approx(6 / 23, rel=1e-5)
    assert inv_i != pytest.approx(2 / 9, rel=1e-2)
    # Density scales mass and inertia.
    assert float(calc_inverse_inertia_polygon(centred, 3, V4, 2.0)) == pytest.approx(3 / 23)


def test_adder_triangle_inertia_and_centring() -> None:
    """Through add_polygon_to_scene: the same triangle gets 1/m = 2/9, 1/I = 6/23, its position
    moves by the vertex mean and the padding slot holds -centre."""
    state = create_empty_sim(S)
    raw = jnp.array([(1, 3), (4, 0), (1, 0)], jnp.float32)
    state, (slot, _) = add_polygon_to_scene(state, S, _v(0.5, 0.5), raw, 3)
    poly = state.polygon
    assert float(poly.inverse_mass[slot]) == pytest.approx(2 / 9, rel=1e-6)
    assert float(poly.inverse_inertia[slot]) == pytest.approx(6 / 23, rel=1e-5)
    np.testing.assert_allclose(poly.position[slot], [2.5, 1.5], rtol=1e-6)
    np.testing.assert_allclose(
        poly.vertices[slot], [(-1, 2), (2, -1), (-1, -1), (-2, -1)], atol=1e-6
    )


def test_vertex_mean_is_the_centre() -> None:
    """For a trapezoid the centre is the vertex mean (0.75, 0.5), not the area centroid."""
    verts = _pad([(0, 1), (1, 1), (2, 0), (0, 0)])
    inv_m, centre = calc_inverse_mass_polygon(verts, 4, V4, 1.0)
    np.testing.assert_allclose(centre, [0.75, 0.5], rtol=1e-6)
    assert float(inv_m) == pytest.approx(1 / 1.5, rel=1e-6)
    area_centroid_x = (0.5 * 0.5 + 1.0 * (1 + 2 / 3)) / 1.5  # square + triangle
    assert abs(float(centre[0]) - area_centroid_x) > 0.05


def test_circle_formulas() -> None:
    """Circle: 1/m = 1/(π r² ρ), 1/I = 1/(π r⁴ ρ / 4) (half a solid disc), 1 for r = 0."""
    r, rho = 0.5, 2.0
    assert float(calc_inverse_mass_circle(r, rho)) == pytest.approx(2 / math.pi, rel=1e-6)
    assert float(calc_inverse_inertia_circle(r, rho)) == pytest.approx(32 / math.pi, rel=1e-6)
    assert float(calc_inverse_mass_circle(0.0, rho)) == 1.0
    assert float(calc_inverse_inertia_circle(0.0, rho)) == 1.0
    state, (slot, _) = add_circle_to_scene(create_empty_sim(S), S, _v(2.0, 2.0), r, density=rho)
    assert float(state.circle.inverse_mass[slot]) == pytest.approx(2 / math.pi, rel=1e-6)
    assert float(state.circle.inverse_inertia[slot]) == pytest.approx(32 / math.pi, rel=1e-6)


def test_recalculate_mass_and_inertia() -> None:
    """Movable polygons are re-centred and get new masses; fixated ones keep zero inverses and
    stay put; circles are recomputed only where movable."""
    state = create_empty_sim(S)
    quad = jnp.array([(-1, 0.5), (1, 0.5), (1, -0.5), (-1, -0.5)], jnp.float32)
    state, (dyn, _) = add_polygon_to_scene(state, S, _v(2.0, 2.0), quad, 4)
    state, (fix, _) = add_polygon_to_scene(state, S, _v(3.0, 3.0), quad, 4, fixated=True)
    state, (c0, _) = add_circle_to_scene(state, S, _v(1.0, 1.0), 0.5)
    state, (c1, _) = add_circle_to_scene(state, S, _v(1.0, 2.0), 0.5, fixated=True)
    shift = jnp.array([0.5, -0.25], jnp.float32)
    verts = state.polygon.vertices.at[dyn].add(shift).at[fix].add(shift)
    state = state.replace(polygon=state.polygon.replace(vertices=verts))
    out = recalculate_mass_and_inertia(state, S, jnp.full(P, 2.0), jnp.full(C, 2.0))
    poly, circ = out.polygon, out.circle
    np.testing.assert_allclose(poly.position[dyn], [2.5, 1.75], rtol=1e-6)
    np.testing.assert_allclose(poly.vertices[dyn], quad, atol=1e-6)
    assert float(poly.inverse_mass[dyn]) == pytest.approx(0.25, rel=1e-6)
    assert float(poly.inverse_inertia[dyn]) == pytest.approx(0.6, rel=1e-5)
    np.testing.assert_array_equal(poly.position[fix], state.polygon.position[fix])
    np.testing.assert_array_equal(poly.vertices[fix], verts[fix])
    assert float(poly.inverse_mass[fix]) == 0.0 and float(poly.inverse_inertia[fix]) == 0.0
    np.testing.assert_array_equal(poly.inverse_mass[:4], 0.0)
    assert float(circ.inverse_mass[c0]) == pytest.approx(2 / math.pi, rel=1e-6)
    assert float(circ.inverse_inertia[c0]) == pytest.approx(32 / math.pi, rel=1e-6)
    assert float(circ.inverse_mass[c1]) == 0.0 and float(circ.inverse_inertia[c1]) == 0.0


# --------------------------------------------------------------------------------------------
# Step behaviour (§2, §6)
# --------------------------------------------------------------------------------------------


def test_inactive_bodies_still_fall(step: Step) -> None:
    """A deactivated circle and polygon with nonzero inverse mass keep falling, through the floor
    (no contacts), while an active circle at the same height rests on it."""
    state = create_empty_sim(S)
    state, (c_off, _) = add_circle_to_scene(state, S, _v(1.0, 0.65), 0.3)
    state, (c_on, _) = add_circle_to_scene(state, S, _v(3.0, 0.65), 0.3)
    state, (p_off, _) = add_rectangle_to_scene(state, S, _v(2.0, 0.6), _v(0.4, 0.4))
    state = state.replace(
        circle=state.circle.replace(active=state.circle.active.at[c_off].set(False)),
        polygon=state.polygon.replace(active=state.polygon.active.at[p_off].set(False)),
    )
    out, _ = step(state, SimParams(), jnp.zeros(J + T))
    assert float(out.circle.velocity[c_off, 1]) == pytest.approx(G * DT, rel=1e-6)
    assert float(out.polygon.velocity[p_off, 1]) == pytest.approx(G * DT, rel=1e-6)
    out, _ = _run(step, state, jnp.zeros(J + T), 30)
    drop = G * DT * DT * (30 * 31 / 2)  # sum of the 30 post-gravity velocities times dt
    assert float(out.circle.position[c_off, 1]) == pytest.approx(0.65 + drop, rel=1e-4)
    assert float(out.polygon.position[p_off, 1]) == pytest.approx(0.6 + drop, rel=1e-4)
    assert float(out.circle.position[c_on, 1]) > 0.6


def test_fixated_bodies_do_not_move(step: Step) -> None:
    """Fixated bodies keep position and rotation bit for bit, even with a box landing on them."""
    state = create_empty_sim(S)
    state, (plat, _) = add_rectangle_to_scene(
        state, S, _v(2.5, 1.5), _v(2.0, 0.2), rotation=0.1, fixated=True
    )
    state, (peg, _) = add_circle_to_scene(state, S, _v(1.0, 2.0), 0.2, fixated=True)
    state, (box, _) = add_rectangle_to_scene(state, S, _v(2.5, 2.2), _v(0.5, 0.5))
    out, _ = _run(step, state, jnp.zeros(J + T), 60)
    for body, i in ((out.polygon, plat), (out.circle, peg)):
        orig = state.polygon if body is out.polygon else state.circle
        np.testing.assert_array_equal(body.position[i], orig.position[i])
        np.testing.assert_array_equal(body.rotation[i], orig.rotation[i])
        np.testing.assert_array_equal(body.velocity[i], 0.0)
        np.testing.assert_array_equal(body.angular_velocity[i], 0.0)
    assert 1.6 < float(out.polygon.position[box, 1]) < 2.2  # landed on the platform


def _motor_scene() -> tuple[SimState, int]:
    """A wheel hanging from a fixated box on a motorised revolute joint at the wheel's centre."""
    state = create_empty_sim(S)
    state, (box, _) = add_rectangle_to_scene(state, S, _v(2.5, 3.0), _v(1.0, 0.4), fixated=True)
    state, (wheel_slot, wheel) = add_circle_to_scene(state, S, _v(2.5, 2.4), 0.3)
    state, _ = add_revolute_joint_to_scene(
        state, S, box, wheel, _v(0.0, -0.6), _v(0.0, 0.0), motor_on=True
    )
    return state, wheel_slot


@pytest.mark.parametrize("u", [1.0, -1.0, 0.5, 0.0])
def test_motor_first_step(step: Step, u: float) -> None:
    """One step: Δω_wheel = 15·tanh(0.6·u) (power 900·dt/I_b, dir tanh(−0.1·6u)); 0 for u = 0."""
    state, wheel = _motor_scene()
    out, _ = step(state, SimParams(), jnp.array([u, 0, 0, 0], jnp.float32))
    expected = 900 * (1 / 60) * math.tanh(0.6 * u)
    assert float(out.circle.angular_velocity[wheel]) == pytest.approx(expected, rel=1e-4, abs=0)


@pytest.mark.parametrize("u", [1.0, -1.0])
def test_motor_reaches_target_speed(step: Step, u: float) -> None:
    """Held for 90 steps, the wheel spins at ≈ motor_speed·u·base_motor_speed = 6u rad/s."""
    state, wheel = _motor_scene()
    out, _ = _run(step, state, [u, 0, 0, 0], 90)
    assert float(out.circle.angular_velocity[wheel]) == pytest.approx(6.0 * u, abs=0.3)
    assert math.copysign(1, float(out.circle.rotation[wheel])) == u


def _thruster_scene(body_active: bool = True, thruster_active: bool = True, fixated=False):
    state = _no_gravity()
    state, (s0, c0) = add_circle_to_scene(state, S, _v(1.5, 2.5), 0.3, fixated=fixated)
    state, (s1, c1) = add_circle_to_scene(state, S, _v(3.5, 2.5), 0.3, rotation=math.pi / 4)
    state, _ = add_thruster_to_scene(state, c0, _v(0.0, 0.1), 0.0, power=2.0)
    state, _ = add_thruster_to_scene(state, c1, _v(0.0, 0.0), math.pi / 2, power=1.0)
    circ, thr = state.circle, state.thruster
    state = state.replace(
        circle=circ.replace(active=circ.active.at[s0].set(body_active)),
        thruster=thr.replace(active=thr.active.at[0].set(thruster_active)),
    )
    return state, s0, s1


@pytest.mark.parametrize("body_active", [True, False])
@pytest.mark.parametrize("u", [1.0, -0.5])
def test_thrusters_push_along_their_direction(step: Step, body_active: bool, u: float) -> None:
    """Δv = m·(cos θ, sin θ)·power·10·u·dt with θ = thruster rotation + body rotation, and a
    spin I·(arm×d)·f from an off-centre thruster; the body's ``active`` flag is ignored."""
    state, s0, s1 = _thruster_scene(body_active=body_active)
    out, _ = step(state, SimParams(), jnp.array([0, 0, u, u], jnp.float32))
    m0, i0 = float(state.circle.inverse_mass[s0]), float(state.circle.inverse_inertia[s0])
    f0 = 2.0 * 10.0 * u / 60
    np.testing.assert_allclose(out.circle.velocity[s0], [m0 * f0, 0.0], rtol=1e-5, atol=1e-7)
    # arm (0, 0.1) × d (1, 0) = -0.1
    assert float(out.circle.angular_velocity[s0]) == pytest.approx(i0 * -0.1 * f0, rel=1e-5)
    m1 = float(state.circle.inverse_mass[s1])
    d = np.array([math.cos(3 * math.pi / 4), math.sin(3 * math.pi / 4)])
    np.testing.assert_allclose(out.circle.velocity[s1], m1 * d * 10 * u / 60, rtol=1e-5)
    assert float(out.circle.angular_velocity[s1]) == pytest.approx(0.0, abs=1e-6)


def test_thrusters_inactive_or_on_fixated_body(step: Step) -> None:
    """An inactive thruster does nothing; a thruster on a fixated body moves nothing."""
    for kwargs in (dict(thruster_active=False), dict(fixated=True)):
        state, s0, _ = _thruster_scene(**kwargs)
        out, _ = step(state, SimParams(), jnp.array([0, 0, 1, 1], jnp.float32))
        np.testing.assert_array_equal(out.circle.velocity[s0], 0.0, err_msg=str(kwargs))
        np.testing.assert_array_equal(out.circle.angular_velocity[s0], 0.0, err_msg=str(kwargs))


def test_thruster_global_position_cache(step: Step) -> None:
    """After a step every thruster's global_position = pos + R(rot)·relative_position."""
    state, s0, s1 = _thruster_scene()
    out, _ = step(state, SimParams(), jnp.zeros(J + T))
    circ = out.circle
    c, s = math.cos(float(circ.rotation[s0])), math.sin(float(circ.rotation[s0]))
    expected0 = np.asarray(circ.position[s0]) + [c * 0.0 - s * 0.1, s * 0.0 + c * 0.1]
    np.testing.assert_allclose(out.thruster.global_position[0], expected0, rtol=1e-6)
    np.testing.assert_allclose(out.thruster.global_position[1], circ.position[s1], rtol=1e-6)


def _resting_scene(static: StaticSimParams) -> SimState:
    """A box and two touching circles resting on the floor (top at y = 0.4), slightly sunk in."""
    state = create_empty_sim(static)
    state, (box, _) = add_rectangle_to_scene(state, static, _v(1.5, 0.59), _v(0.6, 0.4))
    state, (_, c0) = add_circle_to_scene(state, static, _v(3.0, 0.69), 0.3)
    state, (_, c1) = add_circle_to_scene(state, static, _v(3.58, 0.69), 0.3)
    # Anchored at the box's right edge, i.e. at (-1.2, -0.1) from the circle's centre.
    state, _ = add_revolute_joint_to_scene(state, static, box, c0, _v(0.3, 0.0), _v(-1.2, -0.1))
    return state


def test_warm_starting_stores_manifolds(step: Step) -> None:
    """With warm starting the state keeps the post-solve manifolds (every field, full rr)."""
    state = _resting_scene(S)
    out, (rr0, cr, cc) = step(state, SimParams(), jnp.zeros(J + T))
    assert bool(jnp.any(cr.active)) and bool(jnp.any(rr0.active))
    for ours, returned in ((out.acc_cr_manifolds, cr), (out.acc_cc_manifolds, cc)):
        for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(returned)):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(
        jax.tree_util.tree_leaves(out.acc_rr_manifolds), jax.tree_util.tree_leaves(rr0)
    ):
        np.testing.assert_array_equal(a[:, 0], b)
    assert float(jnp.max(out.acc_cr_manifolds.acc_impulse_normal)) > 0


def test_no_warm_starting_leaves_manifolds_untouched() -> None:
    """``do_warm_starting=False``: state.acc_* stay exactly as given (here: arbitrary sentinel
    values) although contacts are active and returned; joint acc_impulse still accumulates."""
    state = _resting_scene(NO_WARM)
    rng = np.random.default_rng(7)

    def sentinel(x):
        if x.dtype == jnp.bool_:
            return jnp.asarray(rng.random(x.shape) < 0.5)
        return jnp.asarray(rng.uniform(-3, 3, x.shape).astype(np.float32))

    state = state.replace(
        acc_rr_manifolds=jax.tree_util.tree_map(sentinel, state.acc_rr_manifolds),
        acc_cr_manifolds=jax.tree_util.tree_map(sentinel, state.acc_cr_manifolds),
        acc_cc_manifolds=jax.tree_util.tree_map(sentinel, state.acc_cc_manifolds),
    )
    step = jax.jit(PhysicsEngine(NO_WARM).step)
    out, (rr0, cr, cc) = step(state, SimParams(), jnp.zeros(J + T))
    assert bool(jnp.any(cr.active)) and bool(jnp.any(rr0.active))
    for name in ("acc_rr_manifolds", "acc_cr_manifolds", "acc_cc_manifolds"):
        before, after = getattr(state, name), getattr(out, name)
        for a, b in zip(jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(after)):
            np.testing.assert_array_equal(a, b, err_msg=name)
    assert float(jnp.abs(out.joint.acc_impulse[0]).sum()) > 0
    assert _all_finite(out)


def test_joint_global_position_after_step(step: Step) -> None:
    """Inactive joints go from the 256 placeholder to 0 (with zero accumulators) after a step;
    an active joint caches the joint point (here both anchors coincide at the wheel centre)."""
    state, wheel = _motor_scene()
    np.testing.assert_array_equal(state.joint.global_position, np.full((J, 2), 256.0))
    out, _ = step(state, SimParams(), jnp.zeros(J + T))
    np.testing.assert_array_equal(out.joint.global_position[1], [0.0, 0.0])
    np.testing.assert_array_equal(out.joint.acc_impulse[1], [0.0, 0.0])
    assert float(out.joint.acc_r_impulse[1]) == 0.0
    np.testing.assert_allclose(out.joint.global_position[0], [2.5, 2.4], atol=1e-5)


def test_clipping(step: Step) -> None:
    """After integration positions clip to ±15 and velocities to ±100 per component, angular
    velocity to ±50; rotation integrates the unclipped angular velocity and is never clipped."""
    state = _no_gravity()
    state, (a, _) = add_circle_to_scene(state, S, _v(14.9, 3.0), 0.2, velocity=_v(100.0, 0.0))
    state, (b, _) = add_circle_to_scene(
        state, S, _v(-14.0, -14.0), 0.2, velocity=_v(-1000.0, -1000.0)
    )
    state, (c, _) = add_circle_to_scene(state, S, _v(1.0, 1.0), 0.2, angular_velocity=80.0)
    state, (p, _) = add_rectangle_to_scene(
        state, S, _v(7.0, 7.0), _v(0.2, 0.2), angular_velocity=-80.0
    )
    state = state.replace(
        circle=state.circle.replace(active=jnp.zeros(C, bool)),
        polygon=state.polygon.replace(active=state.polygon.active.at[p].set(False)),
    )
    out, _ = step(state, SimParams(), jnp.zeros(J + T))
    circ = out.circle
    np.testing.assert_array_equal(circ.position[a], np.float32([15.0, 3.0]))
    np.testing.assert_array_equal(circ.position[b], [-15.0, -15.0])
    np.testing.assert_array_equal(circ.velocity[b], [-100.0, -100.0])
    assert float(circ.angular_velocity[c]) == 50.0
    assert float(circ.rotation[c]) == pytest.approx(80.0 / 60, rel=1e-6)
    assert float(out.polygon.angular_velocity[p]) == -50.0
    # The clip bounds are ordinary (traced) parameters.
    out, _ = step(state, SimParams(clip_position=5), jnp.zeros(J + T))  # int like the default
    np.testing.assert_array_equal(out.circle.position[a], np.float32([5.0, 3.0]))
    np.testing.assert_array_equal(out.polygon.position[p], np.float32([5.0, 5.0]))


# --------------------------------------------------------------------------------------------
# Utilities: select_shape, recompute_global_joint_positions
# --------------------------------------------------------------------------------------------


def _rich_scene() -> SimState:
    state = create_empty_sim(S)
    state, (b0, _) = add_rectangle_to_scene(state, S, _v(2.0, 2.0), _v(1.0, 0.5), rotation=0.4)
    state, (b1, _) = add_polygon_to_scene(
        state, S, _v(3.0, 3.0), jnp.array([(0, 0.4), (0.3, -0.2), (-0.3, -0.2)]), 3, rotation=-1.0
    )
    state, (_, c0) = add_circle_to_scene(state, S, _v(1.0, 3.0), 0.25, rotation=2.0)
    state, (_, c1) = add_circle_to_scene(state, S, _v(4.0, 1.0), 0.35, friction=0.3)
    state, _ = add_revolute_joint_to_scene(state, S, b0, c0, _v(-0.5, 0.2), _v(0.1, 0.0))
    state, _ = add_revolute_joint_to_scene(state, S, c1, b1, _v(0.2, -0.1), _v(0.0, 0.1))
    state, _ = add_thruster_to_scene(state, b1, _v(0.1, -0.2), 0.5)
    state, _ = add_thruster_to_scene(state, c0, _v(0.25, 0.0), 0.0)
    return state


def test_select_shape() -> None:
    """select_shape returns polygon ``i`` for i < P and circle ``i - P`` otherwise (also jitted)."""
    state = _rich_scene()
    select = jax.jit(select_shape, static_argnums=2)
    for g in range(P + C):
        body = select(state, jnp.int32(g), S)
        src, k = (state.polygon, g) if g < P else (state.circle, g - P)
        for name, x in zip(type(body).__dataclass_fields__, jax.tree_util.tree_leaves(body)):
            np.testing.assert_array_equal(x, getattr(src, name)[k], err_msg=f"{g}.{name}")


def _rot(angle: float, v) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def test_recompute_global_joint_positions() -> None:
    """Joint cache = pos_a + R(rot_a)·a_relative_pos (body a only); thruster cache likewise."""
    state = _rich_scene()
    out = recompute_global_joint_positions(state, S)

    def body(g: int):
        src, k = (state.polygon, g) if g < P else (state.circle, g - P)
        return np.asarray(src.position[k]), float(src.rotation[k])

    for j in range(J):
        pos, rot = body(int(state.joint.a_index[j]))
        expected = pos + _rot(rot, np.asarray(state.joint.a_relative_pos[j]))
        np.testing.assert_allclose(out.joint.global_position[j], expected, rtol=1e-5, atol=1e-6)
    for t in range(T):
        pos, rot = body(int(state.thruster.object_index[t]))
        expected = pos + _rot(rot, np.asarray(state.thruster.relative_position[t]))
        np.testing.assert_allclose(out.thruster.global_position[t], expected, rtol=1e-5)
    assert float(jnp.abs(out.joint.global_position[0] - out.joint.global_position[1]).sum()) > 0.1


# --------------------------------------------------------------------------------------------
# Batching
# --------------------------------------------------------------------------------------------


def _env(k: int) -> SimState:
    """Env ``k`` of the batch: a car-like body with a motorised wheel, a thruster, a loose ball."""
    state = create_empty_sim(S)
    state, (body, _) = add_rectangle_to_scene(
        state, S, _v(1.0 + 0.7 * k, 1.2 + 0.1 * k), _v(0.8 + 0.1 * k, 0.3), rotation=0.2 * k
    )
    state, (_, wheel) = add_circle_to_scene(state, S, _v(0.7 + 0.7 * k, 0.9), 0.2 + 0.03 * k)
    state, _ = add_circle_to_scene(state, S, _v(3.5, 1.0 + 0.5 * k), 0.25, restitution=0.3 * k)
    if k % 2 == 0:
        state, _ = add_polygon_to_scene(
            state, S, _v(3.8, 2.5), jnp.array([(0, 0.3), (0.3, -0.2), (-0.3, -0.2)]), 3
        )
    state, _ = add_revolute_joint_to_scene(
        state, S, body, wheel, _v(-0.3, -0.3), _v(0.0, 0.0), motor_on=True
    )
    state, _ = add_thruster_to_scene(state, body, _v(0.0, 0.1), 0.3 * k, power=1.0)
    return state


def test_vmapped_step_matches_single_env_steps(step: Step) -> None:
    """jit(vmap(step)) over 4 different scenes with different actions matches stepping each env
    on its own for 30 steps: int/bool leaves exactly, floats to 1e-5.

    Not bit for bit: XLA CPU fuses ``x*x + y*y`` into an FMA in some unbatched loops but not in
    the vectorised ones (1-ulp differences in jax 0.10.2 on an AVX-512 CPU, already in one step
    of a joint solve), which no engine code controls.
    """
    n_env, n_steps = 4, 30
    envs = [_env(k) for k in range(n_env)]
    actions = np.array([[1, 0, 0.5, 0], [-1, 0, 1, 0], [0.3, 0, 0, 0], [1, 0, -1, 0]], np.float32)
    batched = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *envs)
    vstep = jax.jit(jax.vmap(PhysicsEngine(S).step, in_axes=(0, None, 0)))
    params = SimParams()
    for _ in range(n_steps):
        batched, b_manifolds = vstep(batched, params, jnp.asarray(actions))
    for k in range(n_env):
        single, s_manifolds = _run(step, envs[k], actions[k], n_steps)
        got = jax.tree_util.tree_map(lambda x: x[k], (batched, b_manifolds))
        for (path, a), b in zip(
            jax.tree_util.tree_leaves_with_path(got),
            jax.tree_util.tree_leaves((single, s_manifolds)),
        ):
            msg = f"env {k} {jax.tree_util.keystr(path)}"
            if jnp.issubdtype(a.dtype, jnp.floating):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=msg)
            else:
                np.testing.assert_array_equal(a, b, err_msg=msg)
    assert len({float(batched.polygon.position[k, 4, 0]) for k in range(n_env)}) == n_env


# --------------------------------------------------------------------------------------------
# Sizes the reference rejects (§1.6, §8)
# --------------------------------------------------------------------------------------------


def test_sizes_the_reference_rejects() -> None:
    """num_circles == 1 with num_polygons <= num_static_fixated_polys, (4, 1, 1, 1), constructs and
    steps (the reference raises IndexError): a thruster-driven pendulum hanging from the floor
    body swings, keeps its length and stays finite."""
    static = StaticSimParams(4, 1, 1, 1)
    state = create_empty_sim(static)
    state, (slot, circle) = add_circle_to_scene(state, static, _v(2.5, 1.5), 0.3)
    # Pivot at (2.5, 2.5): the floor body sits at (2.5, -4.8).
    state, _ = add_revolute_joint_to_scene(state, static, 0, circle, _v(0.0, 7.3), _v(0.0, 1.0))
    state, _ = add_thruster_to_scene(state, circle, _v(0.0, 0.0), 0.0)
    step = jax.jit(PhysicsEngine(static).step)
    out, manifolds = _run(step, state, jnp.ones(2), 30)
    assert _all_finite((out, manifolds))
    pos = np.asarray(out.circle.position[slot])
    assert np.linalg.norm(pos - [2.5, 1.5]) > 0.05
    assert np.linalg.norm(pos - [2.5, 2.5]) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("size", [(4, 1, 1, 1), (3, 2, 1, 1), (5, 1, 2, 1), (2, 0, 1, 0)], ids=str)
def test_odd_sizes_construct(size) -> None:
    """Sizes outside the reference's limits build an engine, an empty scene and consistent
    (possibly empty) pair tables."""
    static = StaticSimParams(*size)
    p, c, nsf = static.num_polygons, static.num_circles, static.num_static_fixated_polys
    engine = PhysicsEngine(static)
    ncc, ncr, nrr, cc, cr, rr = get_pairwise_interaction_indices(static)
    assert (int(ncc), int(ncr)) == (c * (c - 1) // 2, c * p)
    assert int(nrr) == p * (p - 1) // 2 - min(p, nsf) * (min(p, nsf) - 1) // 2
    assert np.asarray(engine.poly_poly_pairs).shape == (int(nrr), 2)
    shapes = jax.eval_shape(lambda: create_empty_sim(static))
    assert shapes.collision_matrix.shape == (p + c, p + c)
    assert shapes.acc_rr_manifolds.normal.shape == (int(nrr), 2, 2)
    assert shapes.acc_cc_manifolds.normal.shape == (int(ncc), 2)
