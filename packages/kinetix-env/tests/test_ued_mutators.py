import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.environment.ued import (
    UEDParams,
    mutate_add_connected_shape,
    mutate_add_shape,
    mutate_add_thruster,
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
