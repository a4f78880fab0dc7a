import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LEVELS_DIR

from jax2d.engine import calculate_collision_matrix
from kinetix.environment import (
    EnvParams,
    create_empty_env,
    load_from_json_file,
    make_mutate_env,
    static_env_params_from_size,
)
from kinetix.environment.ued import (
    UEDParams,
    mutate_add_connected_shape,
    mutate_add_shape,
    mutate_add_thruster,
    mutate_change_gravity,
    mutate_change_shape_location,
    mutate_change_shape_rotation,
    mutate_change_shape_size,
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_remove_thruster,
    mutate_swap_role,
    mutate_toggle_fixture,
)

STATIC = static_env_params_from_size("m")  # 2 free polygon slots, 3 circles, 2 joints
PARAMS, UED = EnvParams(), UEDParams()
KEYS = jax.random.split(jax.random.PRNGKey(3), 64)


def _rot(a, v):
    c, s = np.cos(a), np.sin(a)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


@pytest.fixture(scope="module")
def one_shape():
    return mutate_add_shape(jax.random.PRNGKey(11), create_empty_env(STATIC), PARAMS, STATIC, UED,
                            True)  # fmt: skip


def test_add_shape_on_empty_arena():
    empty = create_empty_env(STATIC)
    out = jax.vmap(mutate_add_shape, in_axes=(0, None, None, None, None, None))(
        KEYS, empty, PARAMS, STATIC, UED, True
    )
    pa, ca = np.asarray(out.polygon.active[:, 4:]), np.asarray(out.circle.active)
    assert np.all(pa.sum(1) + ca.sum(1) == 1)
    roles = np.where(pa.any(1), np.asarray(out.polygon_shape_roles[:, 4:]).max(1),
                     np.asarray(out.circle_shape_roles).max(1))  # fmt: skip
    assert set(np.unique(roles)) == {1, 2}
    assert np.all(np.asarray(out.polygon.inverse_mass[:, 4:])[pa] > 0)  # force_no_fixate
    pos = np.concatenate([np.asarray(out.polygon.position[:, 4:])[pa],
                          np.asarray(out.circle.position)[ca]])  # fmt: skip
    assert pos[:, 0].min() > 0 and pos[:, 0].max() < 5 and pos[:, 1].min() > 0.4
    # Masses are consistent with geometry at density 1 (rectangles: 1 / (4 hx hy)).
    verts = np.asarray(out.polygon.vertices[:, 4:])[pa]
    area = 4 * np.abs(verts[:, 0, 0]) * np.abs(verts[:, 0, 1])
    np.testing.assert_allclose(np.asarray(out.polygon.inverse_mass[:, 4:])[pa], 1 / area,
                               rtol=1e-4)  # fmt: skip


def test_fixation_happens_without_force():
    out = jax.vmap(mutate_add_shape, in_axes=(0, None, None, None, None, None))(
        KEYS, create_empty_env(STATIC), PARAMS, STATIC, UED, False
    )
    im = np.concatenate([np.asarray(out.polygon.inverse_mass[:, 4:]),
                         np.asarray(out.circle.inverse_mass)], 1)  # fmt: skip
    act = np.concatenate([np.asarray(out.polygon.active[:, 4:]), np.asarray(out.circle.active)], 1)
    assert 0 < np.sum((im == 0) & act) < len(KEYS)


def test_add_shape_when_full_is_a_no_op():
    s = create_empty_env(STATIC)
    full = s.replace(polygon=s.polygon.replace(active=jnp.ones(6, bool)),
                     circle=s.circle.replace(active=jnp.ones(3, bool)))  # fmt: skip
    out = mutate_add_shape(KEYS[0], full, PARAMS, STATIC, UED, False)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(full)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_add_connected_shape_joins_at_a_common_point(one_shape):
    out, valid = jax.vmap(mutate_add_connected_shape, in_axes=(0, None, None, None, None, None))(
        KEYS, one_shape, PARAMS, STATIC, UED, True
    )
    assert np.asarray(valid).any()
    p = STATIC.num_polygons
    out = jax.tree.map(np.asarray, out)
    for i in range(len(KEYS)):
        st = jax.tree.map(lambda x: x[i], out)
        assert st.joint.active[0] and not st.joint.is_fixed_joint[0]  # forced revolute
        a, b = st.joint.a_index[0], st.joint.b_index[0]
        assert a < b

        def body(idx):
            return (
                (st.polygon.position[idx], st.polygon.rotation[idx])
                if idx < p
                else (st.circle.position[idx - p], st.circle.rotation[idx - p])
            )

        (pa, ra), (pb, rb) = body(a), body(b)
        wa = pa + _rot(ra, st.joint.a_relative_pos[0])
        wb = pb + _rot(rb, st.joint.b_relative_pos[0])
        np.testing.assert_allclose(wa, wb, atol=1e-4)
        assert not st.collision_matrix[a, b]
        roles = np.concatenate([st.polygon_shape_roles, st.circle_shape_roles])
        assert {int(roles[a]), int(roles[b])} not in ({1, 2}, {1, 3}, {2, 3})
        assert 0 <= st.motor_bindings[0] < 4 and 0.4 <= st.joint.motor_speed[0] <= 3.0


def test_add_connected_shape_needs_a_shape_and_a_joint_slot():
    empty = create_empty_env(STATIC)
    out, valid = jax.vmap(mutate_add_connected_shape, in_axes=(0, None, None, None, None, None))(
        KEYS, empty, PARAMS, STATIC, UED, True
    )  # same signature as above: reuses its compile
    assert not bool(valid.any()) and not bool(out.joint.active.any())


def test_add_thruster(one_shape):
    out = jax.vmap(mutate_add_thruster, in_axes=(0, None, None, None, None))(
        KEYS, one_shape, PARAMS, STATIC, UED
    )
    assert np.all(np.asarray(out.thruster.active[:, 0]))
    idx = np.asarray(out.thruster.object_index[:, 0])
    p = STATIC.num_polygons
    im = np.concatenate([np.asarray(one_shape.polygon.inverse_mass),
                         np.asarray(one_shape.circle.inverse_mass)])  # fmt: skip
    act = np.concatenate(
        [np.asarray(one_shape.polygon.active), np.asarray(one_shape.circle.active)]
    )
    assert np.all(act[idx] & (im[idx] != 0)) and np.all(idx >= 4)
    power = np.asarray(out.thruster.power[:, 0]) * im[idx]  # = multiplier * U[0.5, 2]
    assert power.min() >= 2 * 0.5 - 1e-4 and power.max() <= 2 * 2.0 + 1e-4
    assert set(np.unique(np.asarray(out.thruster_bindings[:, 0]))) <= {0, 1}
    del p
    # Nothing movable: no thruster.
    none = mutate_add_thruster(KEYS[0], create_empty_env(STATIC), PARAMS, STATIC, UED)
    assert not bool(none.thruster.active.any())


# --- ACCEL editing mutators -------------------------------------------------------------------

# Edits without physics (on the m level below); the resize and rotate edits run a few physics
# steps and are tested on a small s level (cheaper compiles).
EDITS = (
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_swap_role,
    mutate_toggle_fixture,
    mutate_remove_thruster,
    mutate_change_gravity,
    mutate_change_shape_location,
)
SETTLING_EDITS = (mutate_change_shape_size, mutate_change_shape_rotation)
SMALL = static_env_params_from_size("s")
UNICYCLE = LEVELS_DIR / "s" / "h6_unicycle_right.json"  # 1 rect, 2 circles, 1 revolute joint
EDIT_KEYS = jax.random.split(jax.random.PRNGKey(21), 8)


@pytest.fixture(scope="module")
def rich_level():
    """An m level with green, blue, two jointed shapes (2 revolute joints), a fixed shape and a
    thruster (same compiled additions as the tests above)."""
    ks = jax.random.split(jax.random.PRNGKey(5), 6)
    st = mutate_add_shape(ks[0], create_empty_env(STATIC), PARAMS, STATIC, UED, True)
    st = mutate_add_shape(ks[1], st, PARAMS, STATIC, UED, True)
    st, _ = mutate_add_connected_shape(ks[2], st, PARAMS, STATIC, UED, True)
    st, _ = mutate_add_connected_shape(ks[3], st, PARAMS, STATIC, UED, True)
    st = mutate_add_shape(ks[4], st, PARAMS, STATIC, UED, False)
    st = mutate_add_thruster(ks[5], st, PARAMS, STATIC, UED)
    st = jax.tree.map(np.asarray, st)
    # The fixture is what the tests below assume.
    assert st.joint.active.sum() == 2 and st.thruster.active.sum() == 1
    assert _n_shapes(st) >= 4 and {1, 2} <= set(_roles(st)[_present(st)].tolist())
    return st


def _present(st):
    return np.concatenate([np.asarray(st.polygon.active[..., 4:]), np.asarray(st.circle.active)],
                          -1)  # fmt: skip


def _roles(st):
    return np.concatenate([np.asarray(st.polygon_shape_roles[..., 4:]),
                           np.asarray(st.circle_shape_roles)], -1)  # fmt: skip


def _n_shapes(st):
    return int(_present(st).sum())


def _body(st, name):
    return np.concatenate([np.asarray(getattr(st.polygon, name)),
                           np.asarray(getattr(st.circle, name))])  # fmt: skip


def _unbatch(batch, i):
    return jax.tree.map(lambda x: np.asarray(x)[i], batch)


def assert_valid_level(st, static=STATIC):
    """Roles, active masks, indices and the collision matrix of one level are consistent."""
    p_n = static.num_polygons
    active = _body(st, "active")
    assert active[: static.num_static_fixated_polys].all(), "arena must stay"
    roles = np.concatenate([st.polygon_shape_roles, st.circle_shape_roles])
    assert roles.min() >= 0 and roles.max() <= 3
    for r in (1, 2, 3):
        assert ((roles == r) & active).sum() <= 1, f"more than one shape with role {r}"
    j = st.joint
    for i in np.flatnonzero(j.active):
        a, b = int(j.a_index[i]), int(j.b_index[i])
        assert 0 <= a < b < p_n + static.num_circles and active[a] and active[b]
        assert 0 <= st.motor_bindings[i] < static.num_motor_bindings
    for i in np.flatnonzero(st.thruster.active):
        o = int(st.thruster.object_index[i])
        assert 0 <= o < p_n + static.num_circles and active[o]
        assert 0 <= st.thruster_bindings[i] < static.num_thruster_bindings
    expected = np.asarray(calculate_collision_matrix(static, jax.tree.map(jnp.asarray, j)))
    np.testing.assert_array_equal(np.asarray(st.collision_matrix), expected)
    im = _body(st, "inverse_mass")
    assert np.all(im[active] >= 0) and np.all(_body(st, "inverse_inertia")[active] >= 0)
    for leaf in jax.tree.leaves(st):
        leaf = np.asarray(leaf)
        if np.issubdtype(leaf.dtype, np.floating):
            assert np.isfinite(leaf).all()
    pos = _body(st, "position")[active][static.num_static_fixated_polys :]
    assert np.all(np.abs(pos) < 10)


def _vmapped(f, level, keys=EDIT_KEYS, static=STATIC):
    return jax.vmap(f, in_axes=(0, None, None, None, None))(keys, level, PARAMS, static, UED)


@pytest.fixture(scope="module")
def small_level():
    state, _, _ = load_from_json_file(UNICYCLE, SMALL)
    return jax.tree.map(np.asarray, state)


def _changed(a, b) -> bool:
    return any(not np.array_equal(np.asarray(x), np.asarray(y))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))  # fmt: skip


@pytest.mark.parametrize("mutator", EDITS, ids=lambda f: f.__name__)
def test_edit_keeps_a_valid_level_and_is_deterministic(mutator, rich_level):
    out = _vmapped(mutator, rich_level)
    again = _vmapped(mutator, rich_level)
    assert not _changed(out, again), "same key, same result"
    changed = [_changed(_unbatch(out, i), rich_level) for i in range(len(EDIT_KEYS))]
    assert all(changed), f"{mutator.__name__} left the level unchanged"
    for i in range(len(EDIT_KEYS)):
        assert_valid_level(_unbatch(out, i))
    if mutator is not mutate_remove_thruster:  # (the level has a single thruster)
        assert any(_changed(_unbatch(out, 0), _unbatch(out, i)) for i in (1, 2, 3))


@pytest.mark.slow  # compiles physics steps
@pytest.mark.parametrize("mutator", SETTLING_EDITS, ids=lambda f: f.__name__)
def test_settling_edit_keeps_a_valid_level(mutator, small_level):
    out = _vmapped(mutator, small_level, static=SMALL)
    assert not _changed(out, _vmapped(mutator, small_level, static=SMALL))
    for i in range(len(EDIT_KEYS)):
        st = _unbatch(out, i)
        assert _changed(st, small_level)
        assert_valid_level(st, SMALL)
        # The settle steps leave everything at rest and the joint closed.
        assert np.all(_body(st, "velocity") == 0) and np.all(_body(st, "angular_velocity") == 0)
        a, b = int(st.joint.a_index[0]), int(st.joint.b_index[0])
        pos, rot = _body(st, "position"), _body(st, "rotation")
        wa = pos[a] + _rot(rot[a], st.joint.a_relative_pos[0])
        wb = pos[b] + _rot(rot[b], st.joint.b_relative_pos[0])
        assert np.linalg.norm(wa - wb) < 0.1
    assert any(_changed(_unbatch(out, 0), _unbatch(out, i)) for i in (1, 2, 3))


def test_remove_joint_and_thruster(rich_level):
    out = _vmapped(mutate_remove_joint, rich_level)
    assert np.all(np.asarray(out.joint.active).sum(1) == 1)
    thr = _vmapped(mutate_remove_thruster, rich_level)
    assert not np.asarray(thr.thruster.active).any()
    # Nothing to remove: unchanged.
    empty = jax.tree.map(jnp.asarray, create_empty_env(STATIC))
    assert not _changed(mutate_remove_joint(KEYS[0], empty, PARAMS, STATIC, UED), empty)


def test_remove_shape_takes_its_joints_and_thrusters(rich_level):
    out = _vmapped(mutate_remove_shape, rich_level)
    before = _present(rich_level)
    for i in range(len(EDIT_KEYS)):
        st = _unbatch(out, i)
        gone = np.flatnonzero(before & ~_present(st))
        assert len(gone) == 1 and _n_shapes(st) == _n_shapes(rich_level) - 1
        idx = gone[0] + 4  # _present skips the 4 arena polygons
        used = np.concatenate([st.joint.a_index[st.joint.active], st.joint.b_index[st.joint.active],
                               st.thruster.object_index[st.thruster.active]])  # fmt: skip
        assert idx not in used


def test_swap_role_exchanges_two_different_roles(rich_level):
    out = _vmapped(mutate_swap_role, rich_level)
    r0 = _roles(rich_level)
    for i in range(len(EDIT_KEYS)):
        r = _roles(_unbatch(out, i))
        diff = np.flatnonzero(r != r0)
        assert len(diff) == 2 and r[diff[0]] == r0[diff[1]] and r[diff[1]] == r0[diff[0]]
    # All shapes neutral: nothing to swap.
    same = rich_level.replace(polygon_shape_roles=np.zeros_like(rich_level.polygon_shape_roles),
                              circle_shape_roles=np.zeros_like(rich_level.circle_shape_roles))  # fmt: skip
    same = jax.tree.map(jnp.asarray, same)
    assert not _changed(mutate_swap_role(KEYS[0], same, PARAMS, STATIC, UED), same)


def test_toggle_fixture_flips_one_shape(rich_level):
    out = _vmapped(mutate_toggle_fixture, rich_level)
    fixed0 = _body(rich_level, "inverse_mass") == 0
    dens = np.concatenate([rich_level.polygon_densities, rich_level.circle_densities])
    for i in range(len(EDIT_KEYS)):
        st = _unbatch(out, i)
        im = _body(st, "inverse_mass")
        flipped = np.flatnonzero((im == 0) != fixed0)
        assert len(flipped) == 1 and flipped[0] >= 4
        k = flipped[0]
        if im[k] > 0:  # freed: mass from density and geometry
            if k < STATIC.num_polygons:
                v = st.polygon.vertices[k]
                area = np.ptp(v[:, 0]) * np.ptp(v[:, 1])
            else:
                area = np.pi * st.circle.radius[k - STATIC.num_polygons] ** 2
            np.testing.assert_allclose(im[k], 1 / (dens[k] * area), rtol=1e-4)
    assert len({int(np.flatnonzero((_body(_unbatch(out, i), "inverse_mass") == 0) != fixed0)[0])
                for i in range(len(EDIT_KEYS))}) > 1  # fmt: skip


def test_change_gravity():
    out = _vmapped(mutate_change_gravity, create_empty_env(STATIC),
                   jax.random.split(jax.random.PRNGKey(0), 64))  # fmt: skip
    g = np.asarray(out.gravity)
    assert np.all(g[:, 0] == 0) and np.all((g[:, 1] >= -9.8) & (g[:, 1] <= 0))
    assert 10 < np.sum(np.isclose(g[:, 1], -9.8)) < 54


def test_change_shape_location_moves_a_jointed_group_inside_the_arena(rich_level):
    lo, hi = _bbox(rich_level)
    assert np.all(lo >= np.array([0.0, 0.4])) and np.all(hi <= 5.0)  # the premise
    out = _vmapped(mutate_change_shape_location, rich_level)
    pos0 = _body(rich_level, "position")
    cm = np.asarray(rich_level.collision_matrix)
    present = np.concatenate([[False] * 4, _present(rich_level)])
    for i in range(len(EDIT_KEYS)):
        st = _unbatch(out, i)
        moved = np.flatnonzero(np.any(_body(st, "position") != pos0, axis=1))
        assert len(moved) >= 1 and present[moved].all()
        group = np.flatnonzero(~cm[moved[0]] & present)
        np.testing.assert_array_equal(moved, group)  # the whole joint component moves...
        d = _body(st, "position")[moved] - pos0[moved]
        np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), atol=1e-5)  # ...rigidly
        np.testing.assert_array_equal(st.collision_matrix, cm)
        lo, hi = _bbox(st)
        assert np.all(lo >= np.array([0.0, 0.4]) - 1e-5) and np.all(hi <= 5.0 + 1e-5)


def _bbox(st):
    """Bounding box of all non-arena shapes (unrotated local extents, as the mutator uses)."""
    pa = np.flatnonzero(st.polygon.active[4:]) + 4
    ca = np.flatnonzero(st.circle.active)
    v = st.polygon.vertices[pa]
    pos_p, pos_c, r = st.polygon.position[pa], st.circle.position[ca], st.circle.radius[ca, None]
    lo = np.concatenate([pos_p + v.min(1), pos_c - r]).min(0)
    hi = np.concatenate([pos_p + v.max(1), pos_c + r]).max(0)
    return lo, hi


@pytest.mark.slow  # compiles physics steps
def test_change_shape_size_scales_anchors(small_level):
    out = _vmapped(mutate_change_shape_size, small_level, static=SMALL)
    v0, r0 = small_level.polygon.vertices[4], small_level.circle.radius
    for i in range(len(EDIT_KEYS)):
        st = _unbatch(out, i)
        half = np.abs(st.polygon.vertices[4, 0, :])
        assert np.all(half >= 0.05 - 1e-6) and np.all(half <= 2 * 0.5 / np.sqrt(2) + 1e-6)
        assert np.all(st.circle.radius >= 0.1 - 1e-6) and np.all(st.circle.radius <= 0.4 + 1e-6)
        changed = [not np.allclose(st.polygon.vertices[4], v0)] + list(st.circle.radius != r0)
        assert sum(changed) == 1  # exactly one shape resized
        # The joint anchor on each body scales with it (and so stays on the shape).
        for idx, rel, rel0 in (
            (st.joint.a_index[0], st.joint.a_relative_pos[0], small_level.joint.a_relative_pos[0]),
            (st.joint.b_index[0], st.joint.b_relative_pos[0], small_level.joint.b_relative_pos[0]),
        ):
            if idx < SMALL.num_polygons:
                scale = np.abs(st.polygon.vertices[idx, 0]) / np.abs(v0[0])
                assert np.all(np.abs(rel) <= np.abs(st.polygon.vertices[idx, 0]) + 1e-4)
            else:
                c = idx - SMALL.num_polygons
                scale = st.circle.radius[c] / r0[c]
            np.testing.assert_allclose(rel, rel0 * scale, atol=1e-5)


@pytest.mark.slow  # compiles physics steps and every edit
def test_mutate_env_edits_and_respects_the_weights(small_level):
    mutate = make_mutate_env(SMALL, PARAMS, UED)
    keys = jax.random.split(jax.random.PRNGKey(8), 12)
    run = jax.jit(jax.vmap(mutate, in_axes=(0, None, None)), static_argnums=2)
    out = run(keys, small_level, 5)
    again = run(keys, small_level, 5)
    assert not _changed(out, again)
    for i in range(len(keys)):
        st = _unbatch(out, i)
        assert _changed(st, small_level)
        assert_valid_level(st, SMALL)
        # Removing joints and shapes has weight 0 in the ACCEL mix.
        assert st.joint.active.sum() >= small_level.joint.active.sum()
        assert _n_shapes(st) >= _n_shapes(small_level)
    assert _changed(_unbatch(out, 0), _unbatch(out, 1))
