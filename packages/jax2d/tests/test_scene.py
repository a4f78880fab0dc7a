"""``jax2d.scene`` adders: reference semantics (spec §5.2–5.3) and eager input validation.

Called eagerly, bad input raises ``ValueError`` naming the argument and the allowed range (the
reference silently no-ops or corrupts the state). Under ``jit`` nothing can be checked; there the
adders behave like the reference: a full scene is a no-op that returns slot 0.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2d.engine import create_empty_sim
from jax2d.scene import (
    add_circle_to_scene,
    add_fixed_joint_to_scene,
    add_polygon_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimState, StaticSimParams

S = StaticSimParams(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2)
P = S.num_polygons
QUAD = [(-0.5, 0.25), (0.5, 0.25), (0.5, -0.25), (-0.5, -0.25)]
TRI = [(0.0, 0.4), (0.3, -0.2), (-0.3, -0.2)]


def _v(*xs: float) -> jnp.ndarray:
    return jnp.array(xs, jnp.float32)


@pytest.fixture(scope="module")
def empty() -> SimState:
    return create_empty_sim(S)


@pytest.fixture(scope="module")
def scene(empty: SimState) -> tuple[SimState, dict[str, int]]:
    """Two polygons (slots 4 and 5: every polygon slot used) and two circles (slot 2 free)."""
    state, (b0, _) = add_rectangle_to_scene(empty, S, _v(2.0, 2.0), _v(1.0, 0.5))
    state, (b1, _) = add_polygon_to_scene(state, S, _v(3.0, 2.0), jnp.array(TRI), 3)
    state, (_, c0) = add_circle_to_scene(state, S, _v(1.0, 1.0), 0.3)
    state, (_, c1) = add_circle_to_scene(state, S, _v(4.0, 1.0), 0.2)
    return state, dict(b0=int(b0), b1=int(b1), c0=int(c0), c1=int(c1))


def _full(empty: SimState) -> SimState:
    """Every polygon, circle, joint and thruster slot in use."""
    state = empty
    state, (b0, _) = add_rectangle_to_scene(state, S, _v(2.0, 2.0), _v(1.0, 0.5))
    state, (b1, _) = add_rectangle_to_scene(state, S, _v(3.0, 2.0), _v(1.0, 0.5))
    for k in range(S.num_circles):
        state, _ = add_circle_to_scene(state, S, _v(1.0 + k, 1.0), 0.2)
    state, _ = add_revolute_joint_to_scene(state, S, b0, b1, _v(0.5, 0.0), _v(-0.5, 0.0))
    state, _ = add_fixed_joint_to_scene(state, S, b0, P, _v(0.0, 0.0), _v(0.0, 0.0))
    state, _ = add_thruster_to_scene(state, b0, _v(0.0, 0.0), 0.0)
    state, _ = add_thruster_to_scene(state, b1, _v(0.0, 0.0), 0.0)
    return state


def _assert_trees_equal(a, b, exact_floats: bool = True) -> None:
    for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves(b)):
        msg = jax.tree_util.keystr(path)
        if jnp.issubdtype(x.dtype, jnp.floating) and not exact_floats:
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=msg)
        else:
            np.testing.assert_array_equal(x, y, err_msg=msg)


# --------------------------------------------------------------------------------------------
# Slots and returned indices
# --------------------------------------------------------------------------------------------


def test_polygons_fill_the_first_inactive_slot(empty: SimState) -> None:
    """Polygons go to the first inactive slot (after the 4 scenery slots), returning (slot, slot);
    a slot freed by deactivation is reused first."""
    state, idx0 = add_rectangle_to_scene(empty, S, _v(2.0, 2.0), _v(1.0, 0.5))
    state, idx1 = add_polygon_to_scene(state, S, _v(3.0, 2.0), jnp.array(TRI), 3)
    assert tuple(map(int, idx0)) == (4, 4) and tuple(map(int, idx1)) == (5, 5)
    state = state.replace(
        polygon=state.polygon.replace(active=state.polygon.active.at[4].set(False))
    )
    state, idx2 = add_rectangle_to_scene(state, S, _v(1.0, 3.0), _v(0.2, 0.2))
    assert tuple(map(int, idx2)) == (4, 4)
    np.testing.assert_allclose(state.polygon.position[4], [1.0, 3.0])


def test_polygon_slot_without_walls() -> None:
    """With the walls and ceiling off, their slots are free: the first polygon lands in slot 1."""
    state = create_empty_sim(S, add_walls_and_ceiling=False)
    state, (slot, glob) = add_rectangle_to_scene(state, S, _v(2.0, 2.0), _v(1.0, 0.5))
    assert (int(slot), int(glob)) == (1, 1)
    assert int(state.polygon.collision_mode[1]) == 2  # kept from the scenery slot


def test_circles_return_local_and_global_index(empty: SimState) -> None:
    """Circles fill circle slots from 0 and return (slot, slot + num_polygons)."""
    state, idx0 = add_circle_to_scene(empty, S, _v(1.0, 1.0), 0.3)
    state, idx1 = add_circle_to_scene(state, S, _v(2.0, 1.0), 0.3)
    assert tuple(map(int, idx0)) == (0, P) and tuple(map(int, idx1)) == (1, P + 1)
    state = state.replace(circle=state.circle.replace(active=state.circle.active.at[0].set(False)))
    state, idx2 = add_circle_to_scene(state, S, _v(3.0, 1.0), 0.3)
    assert tuple(map(int, idx2)) == (0, P)


def test_joints_and_thrusters_return_slots(scene) -> None:
    """Joints and thrusters fill their slots in order and return the slot index."""
    state, ix = scene
    state, j0 = add_revolute_joint_to_scene(state, S, ix["b0"], ix["c0"], _v(0, 0), _v(0, 0))
    state, j1 = add_fixed_joint_to_scene(state, S, ix["b1"], ix["c1"], _v(0, 0), _v(0, 0))
    state, t0 = add_thruster_to_scene(state, ix["b0"], _v(0, 0), 0.0)
    state, t1 = add_thruster_to_scene(state, ix["c1"], _v(0, 0), 0.0)
    assert [int(x) for x in (j0, j1, t0, t1)] == [0, 1, 0, 1]


# --------------------------------------------------------------------------------------------
# Polygon and circle fields
# --------------------------------------------------------------------------------------------


def test_polygon_is_centred_on_its_vertex_mean(empty: SimState) -> None:
    """position += vertex mean and every vertex slot -= vertex mean."""
    offset = np.array([0.3, -0.1], np.float32)
    verts = np.array(QUAD, np.float32) + offset
    state, (slot, _) = add_polygon_to_scene(empty, S, _v(2.0, 2.0), jnp.asarray(verts), 4)
    np.testing.assert_allclose(state.polygon.position[slot], [2.3, 1.9], rtol=1e-6)
    np.testing.assert_allclose(state.polygon.vertices[slot], QUAD, atol=1e-6)
    assert int(state.polygon.n_vertices[slot]) == 4


@pytest.mark.parametrize("rows", [3, 4])
def test_triangle_padding_vertex_is_minus_centre(empty: SimState, rows: int) -> None:
    """A triangle's padding slot ends up at -centre (zero padding, then centring), whether the
    vertices come as 3 rows or as 4 rows with an ignored fourth."""
    raw = np.array([(1.0, 3.0), (4.0, 0.0), (1.0, 0.0), (9.0, 9.0)], np.float32)[:rows]
    state, (slot, _) = add_polygon_to_scene(empty, S, _v(0.0, 0.0), jnp.asarray(raw), 3)
    np.testing.assert_allclose(state.polygon.position[slot], [2.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(
        state.polygon.vertices[slot], [(-1, 2), (2, -1), (-1, -1), (-2, -1)], atol=1e-6
    )
    assert int(state.polygon.n_vertices[slot]) == 3


def test_rectangle_vertices(empty: SimState) -> None:
    """Rectangles are (−w/2, h/2), (w/2, h/2), (w/2, −h/2), (−w/2, −h/2): clockwise from the
    top-left; the position is the centre; 1/m and 1/I of a w×h box."""
    state, (slot, _) = add_rectangle_to_scene(
        empty, S, _v(2.0, 3.0), _v(1.0, 0.4), rotation=0.3, density=2.0
    )
    poly = state.polygon
    np.testing.assert_allclose(poly.vertices[slot], [(-0.5, 0.2), (0.5, 0.2), (0.5, -0.2),
                                                     (-0.5, -0.2)], rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(poly.position[slot], [2.0, 3.0], rtol=1e-6)
    assert float(poly.rotation[slot]) == pytest.approx(0.3)
    mass = 0.4 * 2.0
    assert float(poly.inverse_mass[slot]) == pytest.approx(1 / mass, rel=1e-5)
    assert float(poly.inverse_inertia[slot]) == pytest.approx(12 / (mass * 1.16), rel=1e-5)


def test_polygon_sets_only_its_fields(empty: SimState) -> None:
    """The adder writes position, vertices, rotation, velocity, angular velocity, friction,
    restitution, inverses, active and n_vertices; collision_mode and radius stay as they were."""
    poly = empty.polygon
    state = empty.replace(
        polygon=poly.replace(
            collision_mode=poly.collision_mode.at[4].set(0), radius=poly.radius.at[4].set(0.7)
        )
    )
    state, (slot, _) = add_polygon_to_scene(
        state, S, _v(2.0, 2.0), jnp.array(QUAD), 4, rotation=0.5, velocity=_v(1.0, -2.0),
        angular_velocity=3.0, friction=0.25, restitution=0.75,
    )  # fmt: skip
    poly = state.polygon
    assert int(slot) == 4 and bool(poly.active[4])
    assert int(poly.collision_mode[4]) == 0 and float(poly.radius[4]) == pytest.approx(0.7)
    assert float(poly.rotation[4]) == pytest.approx(0.5)
    np.testing.assert_allclose(poly.velocity[4], [1.0, -2.0])
    assert float(poly.angular_velocity[4]) == pytest.approx(3.0)
    assert float(poly.friction[4]) == pytest.approx(0.25)
    assert float(poly.restitution[4]) == pytest.approx(0.75)
    assert float(poly.inverse_mass[4]) == pytest.approx(2.0, rel=1e-6)
    _assert_trees_equal(
        jax.tree_util.tree_map(lambda x: x[5:], poly),
        jax.tree_util.tree_map(lambda x: x[5:], empty.polygon),
    )


def test_circle_fields(empty: SimState) -> None:
    """Circles set position, radius, motion, material and inverses; n_vertices stays 0 and the
    collision mode is kept."""
    circ = empty.circle
    state = empty.replace(circle=circ.replace(collision_mode=circ.collision_mode.at[0].set(2)))
    state, (slot, _) = add_circle_to_scene(
        state, S, _v(1.0, 2.0), 0.5, rotation=1.0, velocity=_v(0.5, 0.0), angular_velocity=-2.0,
        density=2.0, friction=0.1, restitution=0.9,
    )  # fmt: skip
    circ = state.circle
    np.testing.assert_allclose(circ.position[slot], [1.0, 2.0])
    assert float(circ.radius[slot]) == 0.5 and float(circ.rotation[slot]) == 1.0
    np.testing.assert_allclose(circ.velocity[slot], [0.5, 0.0])
    assert float(circ.angular_velocity[slot]) == -2.0
    assert float(circ.friction[slot]) == pytest.approx(0.1)
    assert float(circ.restitution[slot]) == pytest.approx(0.9)
    assert float(circ.inverse_mass[slot]) == pytest.approx(2 / math.pi, rel=1e-6)
    assert float(circ.inverse_inertia[slot]) == pytest.approx(32 / math.pi, rel=1e-6)
    assert int(circ.n_vertices[slot]) == 0 and int(circ.collision_mode[slot]) == 2
    assert bool(circ.active[slot]) and not bool(circ.active[1])


def test_fixated_bodies_have_zero_inverses(empty: SimState) -> None:
    """fixated=True gives zero inverse mass and inertia; the polygon is still centred."""
    verts = jnp.array(QUAD) + _v(0.2, 0.2)
    state, (p, _) = add_polygon_to_scene(empty, S, _v(2.0, 2.0), verts, 4, fixated=True)
    state, (c, _) = add_circle_to_scene(state, S, _v(1.0, 1.0), 0.3, fixated=True)
    assert float(state.polygon.inverse_mass[p]) == 0.0
    assert float(state.polygon.inverse_inertia[p]) == 0.0
    assert float(state.circle.inverse_mass[c]) == 0.0
    assert float(state.circle.inverse_inertia[c]) == 0.0
    np.testing.assert_allclose(state.polygon.position[p], [2.2, 2.2], rtol=1e-6)


# --------------------------------------------------------------------------------------------
# Joints and thrusters
# --------------------------------------------------------------------------------------------


def test_revolute_joint_fields(scene) -> None:
    """A revolute joint sets indices, anchors, motor and limit fields, leaves rotation,
    accumulators and the 256 cache alone."""
    state, ix = scene
    joint = state.joint.replace(rotation=state.joint.rotation.at[0].set(0.4))
    state, j = add_revolute_joint_to_scene(
        state.replace(joint=joint), S, ix["b0"], ix["c0"], _v(0.5, 0.1), _v(-0.1, 0.0),
        motor_on=True, motor_speed=2.0, motor_power=3.0, has_joint_limits=True,
        min_rotation=-0.5, max_rotation=0.25,
    )  # fmt: skip
    jt = state.joint
    assert int(j) == 0 and bool(jt.active[0]) and not bool(jt.is_fixed_joint[0])
    assert (int(jt.a_index[0]), int(jt.b_index[0])) == (ix["b0"], ix["c0"])
    np.testing.assert_allclose(jt.a_relative_pos[0], [0.5, 0.1])
    np.testing.assert_allclose(jt.b_relative_pos[0], [-0.1, 0.0])
    assert bool(jt.motor_on[0]) and bool(jt.motor_has_joint_limits[0])
    assert (float(jt.motor_speed[0]), float(jt.motor_power[0])) == (2.0, 3.0)
    assert (float(jt.min_rotation[0]), float(jt.max_rotation[0])) == (-0.5, 0.25)
    assert float(jt.rotation[0]) == pytest.approx(0.4)
    np.testing.assert_array_equal(jt.global_position[0], [256.0, 256.0])
    np.testing.assert_array_equal(jt.acc_impulse[0], [0.0, 0.0])


def test_revolute_joint_defaults(scene) -> None:
    """Defaults: motor off, speed 1, power 1, no limits, limits ±π."""
    state, ix = scene
    state, _ = add_revolute_joint_to_scene(state, S, ix["b0"], ix["c0"], _v(0, 0), _v(0, 0))
    jt = state.joint
    assert not bool(jt.motor_on[0]) and not bool(jt.motor_has_joint_limits[0])
    assert (float(jt.motor_speed[0]), float(jt.motor_power[0])) == (1.0, 1.0)
    assert float(jt.min_rotation[0]) == pytest.approx(-math.pi)
    assert float(jt.max_rotation[0]) == pytest.approx(math.pi)


def test_joints_recompute_the_collision_matrix(scene) -> None:
    """Each joint adder recomputes the collision matrix: joined bodies, and bodies joined through
    a chain, stop colliding; everything else still collides."""
    state, ix = scene
    b0, b1, c0 = ix["b0"], ix["b1"], ix["c0"]
    state, _ = add_revolute_joint_to_scene(state, S, b0, c0, _v(0, 0), _v(0, 0))
    cm = np.asarray(state.collision_matrix)
    assert not cm[b0, c0] and not cm[c0, b0] and cm[b0, b1] and cm[b1, c0]
    state, _ = add_fixed_joint_to_scene(state, S, c0, b1, _v(0, 0), _v(0, 0))
    cm = np.asarray(state.collision_matrix)
    expected = ~np.eye(P + S.num_circles, dtype=bool)
    for i in (b0, b1, c0):
        for k in (b0, b1, c0):
            expected[i, k] = False
    np.testing.assert_array_equal(cm, expected)


def test_fixed_joint_leaves_rotation(scene) -> None:
    """add_fixed_joint sets is_fixed_joint but not ``rotation``: a fresh slot keeps 0 even for
    rotated bodies, a slot that held 0.7 keeps 0.7."""
    state, ix = scene
    poly = state.polygon
    state = state.replace(polygon=poly.replace(rotation=poly.rotation.at[ix["b0"]].set(1.2)))
    joint = state.joint.replace(rotation=state.joint.rotation.at[1].set(0.7))
    state, j0 = add_fixed_joint_to_scene(
        state.replace(joint=joint), S, ix["b0"], ix["b1"], _v(0.1, 0.0), _v(0.0, 0.2)
    )
    state, j1 = add_fixed_joint_to_scene(state, S, ix["c0"], ix["c1"], _v(0, 0), _v(0, 0))
    jt = state.joint
    assert (int(j0), int(j1)) == (0, 1)
    assert bool(jt.is_fixed_joint[0]) and bool(jt.is_fixed_joint[1]) and bool(jt.active.all())
    assert float(jt.rotation[0]) == 0.0 and float(jt.rotation[1]) == pytest.approx(0.7)
    np.testing.assert_allclose(jt.a_relative_pos[0], [0.1, 0.0])
    np.testing.assert_allclose(jt.b_relative_pos[0], [0.0, 0.2])


def test_thruster_fields(scene) -> None:
    """A thruster sets object index, offset, rotation, power (default 1) and active; its cached
    global position stays stale (0) until the next step."""
    state, ix = scene
    state, t0 = add_thruster_to_scene(state, ix["b1"], _v(0.1, -0.2), 0.5, power=3.0)
    state, t1 = add_thruster_to_scene(state, ix["c0"], _v(0.0, 0.0), -1.0)
    th = state.thruster
    assert (int(t0), int(t1)) == (0, 1)
    assert [int(x) for x in th.object_index] == [ix["b1"], ix["c0"]]
    np.testing.assert_allclose(th.relative_position[0], [0.1, -0.2])
    np.testing.assert_allclose(th.rotation, [0.5, -1.0])
    np.testing.assert_allclose(th.power, [3.0, 1.0])
    assert bool(th.active.all())
    np.testing.assert_array_equal(th.global_position, 0.0)


# --------------------------------------------------------------------------------------------
# Eager validation
# --------------------------------------------------------------------------------------------


def _raises(fn, *substrings: str) -> None:
    with pytest.raises(ValueError) as info:
        fn()
    msg = str(info.value)
    for s in substrings:
        assert s in msg, f"{s!r} not in {msg!r}"


def test_too_many_shapes(empty: SimState) -> None:
    """Adding to a full scene raises, naming the static size that is too small."""
    full = _full(empty)
    _raises(
        lambda: add_rectangle_to_scene(full, S, _v(1, 1), _v(1, 1)), "polygon", "num_polygons=6"
    )
    _raises(lambda: add_polygon_to_scene(full, S, _v(1, 1), jnp.array(TRI), 3), "num_polygons=6")
    _raises(lambda: add_circle_to_scene(full, S, _v(1, 1), 0.2), "circle", "num_circles=3")
    _raises(
        lambda: add_revolute_joint_to_scene(full, S, 4, 5, _v(0, 0), _v(0, 0)),
        "joint",
        "num_joints=2",
    )
    _raises(lambda: add_fixed_joint_to_scene(full, S, 4, 5, _v(0, 0), _v(0, 0)), "num_joints=2")
    _raises(lambda: add_thruster_to_scene(full, 4, _v(0, 0), 0.0), "thruster", "num_thrusters=2")


@pytest.mark.parametrize("n", [0, 2, 5])
def test_n_vertices_out_of_range(empty: SimState, n: int) -> None:
    """n_vertices outside 3..max_polygon_vertices raises, naming both bounds."""
    verts = jnp.zeros((max(n, 1), 2))
    _raises(
        lambda: add_polygon_to_scene(empty, S, _v(1, 1), verts, n),
        f"n_vertices={n}",
        "3 <= n_vertices",
        "max_polygon_vertices=4",
    )


@pytest.mark.parametrize(
    "shape,n", [((3, 3), 3), ((2, 2), 3), ((5, 2), 4), ((4,), 4), ((4, 2, 1), 4)]
)
def test_vertices_of_wrong_shape(empty: SimState, shape: tuple[int, ...], n: int) -> None:
    """Vertices that are not an (n, 2) array with n_vertices <= n <= 4 rows raise."""
    verts = jnp.ones(shape)
    _raises(
        lambda: add_polygon_to_scene(empty, S, _v(1, 1), verts, n),
        "vertices",
        "shape",
        "max_polygon_vertices=4",
    )


@pytest.mark.parametrize(
    "verts,n",
    [
        (TRI[::-1], 3),  # counter-clockwise triangle
        (QUAD[::-1], 4),  # counter-clockwise quad
        ([(-0.5, 0.5), (0.0, -0.1), (0.5, 0.5), (0.0, -0.5)], 4),  # non-convex dart
        ([(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)], 3),  # collinear
        ([(-0.5, 0.5), (0.5, 0.5), (0.5, 0.5), (-0.5, -0.5)], 4),  # repeated vertex
        ([(-1.0, 1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, -1.0)], 4),  # self-intersecting
    ],
    ids=["ccw-tri", "ccw-quad", "dart", "collinear", "repeated", "bowtie"],
)
def test_vertices_must_be_convex_and_clockwise(empty: SimState, verts, n: int) -> None:
    """Counter-clockwise, non-convex or degenerate vertex lists raise."""
    _raises(
        lambda: add_polygon_to_scene(empty, S, _v(1, 1), jnp.array(verts, jnp.float32), n),
        "vertices",
        "convex",
        "clockwise",
    )


def test_non_finite_vertices(empty: SimState) -> None:
    """NaN vertices raise."""
    verts = jnp.array([(0.0, 0.4), (0.3, jnp.nan), (-0.3, -0.2)])
    _raises(lambda: add_polygon_to_scene(empty, S, _v(1, 1), verts, 3), "vertices", "finite")


@pytest.mark.parametrize("radius", [0.0, -0.3, float("nan"), float("inf")])
def test_bad_radius(empty: SimState, radius: float) -> None:
    """Radii that are not finite and > 0 raise."""
    _raises(lambda: add_circle_to_scene(empty, S, _v(1, 1), radius), "radius", "> 0")


@pytest.mark.parametrize("dims", [(0.0, 1.0), (1.0, -0.5), (1.0, 1.0, 1.0)])
def test_bad_rectangle_dimensions(empty: SimState, dims) -> None:
    """Rectangle dimensions must be (width, height), both > 0."""
    _raises(
        lambda: add_rectangle_to_scene(empty, S, _v(1, 1), jnp.array(dims)),
        "dimensions",
        "(width, height)",
        "> 0",
    )


@pytest.mark.parametrize("name", ["a_index", "b_index"])
@pytest.mark.parametrize("bad", [-1, 9, 100])
def test_joint_body_index_out_of_range(scene, name: str, bad: int) -> None:
    """Joint body indices outside 0..P+C-1 raise, naming the index and the bound P+C = 9."""
    state, ix = scene
    idx = {"a_index": ix["b0"], "b_index": ix["c0"], name: bad}
    for adder in (add_revolute_joint_to_scene, add_fixed_joint_to_scene):
        _raises(
            lambda adder=adder: adder(state, S, idx["a_index"], idx["b_index"], _v(0, 0), _v(0, 0)),
            f"{name}={bad}",
            f"0 <= {name} < num_polygons + num_circles = 9",
        )


@pytest.mark.parametrize("name", ["a_index", "b_index"])
@pytest.mark.parametrize("inactive", [5, P + 2], ids=["polygon", "circle"])
def test_joint_on_inactive_body(empty: SimState, name: str, inactive: int) -> None:
    """Joining an inactive body (an empty polygon or circle slot) raises."""
    state, (b0, _) = add_rectangle_to_scene(empty, S, _v(2.0, 2.0), _v(1.0, 0.5))
    state, _ = add_circle_to_scene(state, S, _v(1.0, 1.0), 0.3)
    idx = {"a_index": int(b0), "b_index": P, name: inactive}
    _raises(
        lambda: add_revolute_joint_to_scene(
            state, S, idx["a_index"], idx["b_index"], _v(0, 0), _v(0, 0)
        ),
        f"{name}={inactive}",
        "not active",
    )


def test_joint_needs_two_bodies(scene) -> None:
    """a_index == b_index raises for both joint kinds."""
    state, ix = scene
    for adder in (add_revolute_joint_to_scene, add_fixed_joint_to_scene):
        _raises(
            lambda adder=adder: adder(state, S, ix["b0"], ix["b0"], _v(0, 0), _v(0, 0)),
            "a_index and b_index",
            f"{ix['b0']}",
        )


@pytest.mark.parametrize("bad,text", [(-1, "0 <= object_index < "), (9, "= 9"), (5, "active")])
def test_thruster_body_index(empty: SimState, bad: int, text: str) -> None:
    """Thrusters on an out-of-range or inactive body raise, naming object_index."""
    state, _ = add_rectangle_to_scene(empty, S, _v(2.0, 2.0), _v(1.0, 0.5))  # slot 4 only
    _raises(lambda: add_thruster_to_scene(state, bad, _v(0, 0), 0.0), f"object_index={bad}", text)


def test_valid_input_passes_validation(scene) -> None:
    """Scenery bodies may be joined (a wheel on the floor), and a triangle given as 4 rows and a
    nearly degenerate but strictly convex quad are accepted."""
    state, ix = scene
    add_revolute_joint_to_scene(state, S, 0, ix["c0"], _v(0, 0), _v(0, 0))
    add_thruster_to_scene(state, 0, _v(0, 0), 0.0)
    thin = jnp.array([(-1.0, 0.01), (1.0, 0.01), (1.0, -0.01), (-1.0, -0.01)])
    add_polygon_to_scene(state.replace(polygon=state.polygon.replace(
        active=state.polygon.active.at[5].set(False))), S, _v(1, 1), thin, 4)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Under jit
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jitted():
    """The adders jitted once for the module (sizes and n_vertices static)."""
    return dict(
        rect=jax.jit(add_rectangle_to_scene, static_argnums=1),
        poly=jax.jit(add_polygon_to_scene, static_argnums=(1, 4)),
        circle=jax.jit(add_circle_to_scene, static_argnums=1),
        revolute=jax.jit(add_revolute_joint_to_scene, static_argnums=1),
        fixed=jax.jit(add_fixed_joint_to_scene, static_argnums=1),
        thruster=jax.jit(add_thruster_to_scene),
    )


def _calls(state: SimState):
    """Valid calls of every adder on ``state``: (name, args)."""
    return [
        ("rect", (state, S, _v(2.0, 2.0), _v(1.0, 0.5), 0.3)),
        ("poly", (state, S, _v(3.0, 2.0), jnp.array(TRI), 3)),
        ("circle", (state, S, _v(1.0, 1.0), 0.3)),
        ("revolute", (state, S, 0, P + 0, _v(0.5, 0.0), _v(0.0, 0.0), True)),
        ("fixed", (state, S, 1, P + 0, _v(0.5, 0.0), _v(0.0, 0.0))),
        ("thruster", (state, 0, _v(0.1, 0.0), 0.5, 2.0)),
    ]


def test_jitted_adders_match_eager(empty: SimState, jitted) -> None:
    """Under jit every adder returns what it returns eagerly (same index, same state)."""
    state, _ = add_circle_to_scene(empty, S, _v(1.0, 1.0), 0.3)  # a body for joints/thruster
    eager = dict(
        rect=add_rectangle_to_scene,
        poly=add_polygon_to_scene,
        circle=add_circle_to_scene,
        revolute=add_revolute_joint_to_scene,
        fixed=add_fixed_joint_to_scene,
        thruster=add_thruster_to_scene,
    )
    for name, args in _calls(state):
        got_state, got_idx = jitted[name](*args)
        exp_state, exp_idx = eager[name](*args)
        np.testing.assert_array_equal(np.asarray(got_idx), np.asarray(exp_idx), err_msg=name)
        _assert_trees_equal(got_state, exp_state, exact_floats=False)
        assert not _trees_equal(got_state, state), name  # the adder did something


def _trees_equal(a, b) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    )


def test_jitted_adders_on_a_full_scene_are_no_ops(empty: SimState, jitted) -> None:
    """Under jit a full scene cannot raise: the state comes back unchanged and the returned index
    is slot 0 (global P for circles), as in the reference."""
    full = _full(empty)
    for name, args in _calls(full):
        got_state, got_idx = jitted[name](*args)
        _assert_trees_equal(got_state, full)
        expected = {"rect": (0, 0), "poly": (0, 0), "circle": (0, P)}.get(name, 0)
        np.testing.assert_array_equal(np.asarray(got_idx), np.asarray(expected), err_msg=name)


def test_static_n_vertices_is_checked_under_jit(empty: SimState, jitted) -> None:
    """n_vertices is static, so its range is checked even when the adder is jitted."""
    _raises(lambda: jitted["poly"](empty, S, _v(1, 1), jnp.zeros((4, 2)), 5), "n_vertices=5")


def test_import_does_not_start_the_jax_backend():
    # Multi-process users must call jax.distributed.initialize() after importing our packages and
    # before the backend starts; an array built at import (e.g. a default argument) breaks that.
    import subprocess
    import sys

    code = (
        "import jax._src.xla_bridge as xb\n"
        "started = []\n"
        "orig = xb.backends\n"
        "xb.backends = lambda *a, **k: (started.append(1), orig(*a, **k))[1]\n"
        "import jax2d, jax2d.scene, jax2d.engine, jax2d.sim_state, jax2d.maths\n"
        "print('started' if started else 'clean')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "clean", out.stdout + out.stderr
