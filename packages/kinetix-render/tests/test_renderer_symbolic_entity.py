import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import ENTITY_FIELDS, SIZES, golden, golden_states, index_state, jitted_renderer

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.render import EntityObservation, make_inverse_render_entity, make_render_entities

PARAMS = EnvParams()
STATIC_S = static_env_params_from_size("s")

# The reference's measured shapes (spec section 1).
SHAPES = {
    "s": dict(
        polygons=(5, 27),
        circles=(2, 19),
        joints=(2, 22),
        thrusters=(1, 8),
        attention_mask=(4, 7, 7),
    ),
    "m": dict(
        polygons=(6, 27),
        circles=(3, 19),
        joints=(4, 22),
        thrusters=(2, 8),
        attention_mask=(4, 9, 9),
    ),
    "l": dict(
        polygons=(12, 27),
        circles=(4, 19),
        joints=(12, 22),
        thrusters=(2, 8),
        attention_mask=(4, 16, 16),
    ),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("prefix", ["state/", "edge_state/"])
def test_entity_observation_equals_reference_exactly(size, prefix):
    states = golden_states(size, prefix)
    data = golden(size)
    obs_prefix = prefix.replace("state/", "obs/") + "entity/"
    ours = jitted_renderer("entity", size)(states)
    assert isinstance(ours, EntityObservation)
    for field in ENTITY_FIELDS:
        a, b = np.asarray(getattr(ours, field)), data[obs_prefix + field]
        assert a.dtype == b.dtype and a.shape == b.shape, (
            field,
            a.dtype,
            b.dtype,
            a.shape,
            b.shape,
        )
        bad = np.argwhere(a != b)
        assert len(bad) == 0, f"{field} {size}: {len(bad)} entries differ, first at {bad[:5]}"


@pytest.mark.parametrize("size", SIZES)
def test_shapes_match_reference(size):
    static = static_env_params_from_size(size)
    out = jax.eval_shape(make_render_entities(PARAMS, static), create_empty_env(static))
    for field, shape in SHAPES[size].items():
        assert getattr(out, field).shape == shape, field
    n_joint_rows = SHAPES[size]["joints"][0]
    assert out.joint_indexes.shape == (n_joint_rows, 2) and out.joint_indexes.dtype == jnp.int32
    assert out.joint_mask.shape == (n_joint_rows,) and out.joint_mask.dtype == jnp.bool_
    assert out.thruster_indexes.shape == (static.num_thrusters,)


def test_fixtures_cover_every_attention_channel():
    att = golden("m")["obs/entity/attention_mask"]
    assert all(att[:, :, c].any() for c in range(4)), "fixture lacks an attention channel"


def test_attention_channels_follow_their_definitions():
    states = golden_states("m")
    obs = jitted_renderer("entity", "m")(states)
    att = np.asarray(obs.attention_mask)
    active = np.concatenate([np.asarray(obs.polygon_mask), np.asarray(obs.circle_mask)], -1)
    both = active[..., :, None] & active[..., None, :]
    np.testing.assert_array_equal(att[:, :, 0], both)
    np.testing.assert_array_equal(att[:, :, 1], ~np.asarray(states.collision_matrix) & both)
    assert not att[:, :, 2, 0, 0].any()
    # Every joint row of an active joint (both directions) is an edge of channel 2.
    idx, jm = np.asarray(obs.joint_indexes), np.asarray(obs.joint_mask)
    for i, t, r in zip(*np.nonzero(jm)):
        f, to = idx[i, t, r]
        if (f, to) != (0, 0):
            assert att[i, t, 2, f, to]


def test_joint_rows_and_indexes():
    static = static_env_params_from_size("m")
    state = create_empty_env(static)
    j = state.joint
    state = state.replace(
        joint=j.replace(
            active=j.active.at[0].set(True),
            a_index=j.a_index.at[0].set(4).at[1].set(5),
            b_index=j.b_index.at[0].set(7).at[1].set(8),
            a_relative_pos=j.a_relative_pos.at[0].set(jnp.array([0.5, -0.25])),
            b_relative_pos=j.b_relative_pos.at[0].set(jnp.array([1.5, 2.0])),
            motor_on=j.motor_on.at[0].set(True),
        ),
        motor_bindings=state.motor_bindings.at[0].set(2),
    )
    obs = jitted_renderer("entity", "m")(state)
    np.testing.assert_array_equal(obs.joint_indexes, [[7, 4], [0, 0], [4, 7], [0, 0]])
    np.testing.assert_array_equal(obs.joint_mask, [True, False, True, False])
    rows = np.asarray(obs.joints)
    np.testing.assert_array_equal(rows[0, 2:6], [1.5, 2.0, 0.5, -0.25])  # from b, to a
    np.testing.assert_array_equal(rows[2, 2:6], [0.5, -0.25, 1.5, 2.0])  # from a, to b
    np.testing.assert_array_equal(rows[0, 12:16], [0, 0, 1, 0])  # motor binding 2
    assert rows[0, 10] == 1.0 and rows[0, 0] == 1.0 and rows[1, 0] == 0.0
    # Fixed joints zero the motor block.
    fixed = state.replace(
        joint=state.joint.replace(is_fixed_joint=state.joint.is_fixed_joint.at[0].set(True))
    )
    rows = np.asarray(jitted_renderer("entity", "m")(fixed).joints)
    assert rows[0, 1] == 1.0 and np.all(rows[0, 8:] == 0)


def test_nan_state_gives_finite_features_and_gravity_column():
    state = create_empty_env(STATIC_S).replace(gravity=jnp.array([0.0, -7.0]))
    poly = state.polygon
    state = state.replace(polygon=poly.replace(position=poly.position.at[4, 0].set(jnp.nan)))
    obs = jitted_renderer("entity", "s")(state)
    assert np.isfinite(np.asarray(obs.polygons)).all()
    assert obs.polygons[4, 0] == 0.0
    np.testing.assert_array_equal(obs.polygons[:, -1], np.float32(-7.0) / np.float32(10))
    np.testing.assert_array_equal(obs.circles[:, -1], np.float32(-7.0) / np.float32(10))


def test_ignore_attention_mask_and_batching():
    states = golden_states("s")
    full = jitted_renderer("entity", "s")(states)
    light = jitted_renderer("entity", "s", ignore_attention_mask=True)(states)
    assert light.attention_mask is None
    for field in ENTITY_FIELDS:
        if field != "attention_mask":
            np.testing.assert_array_equal(getattr(light, field), getattr(full, field))
    one = jitted_renderer("entity", "s")(index_state(states, 3, 2))
    for field in ENTITY_FIELDS:
        np.testing.assert_array_equal(getattr(one, field), np.asarray(getattr(full, field))[3, 2])


def test_fields_are_subscriptable():
    obs = make_render_entities(PARAMS, STATIC_S, ignore_attention_mask=True)(
        create_empty_env(STATIC_S)
    )
    assert obs["polygons"] is obs.polygons
    with pytest.raises(KeyError, match="no field 'pixels'"):
        obs["pixels"]


@pytest.mark.parametrize("size", ["s", "m"])
def test_inverse_round_trip(size):
    static = static_env_params_from_size(size)
    states = golden_states(size)
    render = jitted_renderer("entity", size)
    obs = render(states)
    back = jax.jit(make_inverse_render_entity(None, PARAMS, static))(obs)
    for body in ("polygon", "circle"):
        ours, ref = getattr(back, body), getattr(states, body)
        for name in ("active", "position", "velocity", "inverse_mass", "friction"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(ref, name), err_msg=name)
    np.testing.assert_array_equal(back.polygon.vertices, states.polygon.vertices)
    np.testing.assert_array_equal(back.circle.radius, states.circle.radius)
    np.testing.assert_array_equal(back.polygon_shape_roles, states.polygon_shape_roles)
    np.testing.assert_array_equal(back.joint.active, states.joint.active)
    np.testing.assert_array_equal(back.thruster.object_index, states.thruster.object_index)
    np.testing.assert_array_equal(back.collision_matrix, states.collision_matrix)
    ja = np.asarray(states.joint.active)
    for name in ("a_index", "b_index", "a_relative_pos", "b_relative_pos"):
        np.testing.assert_array_equal(
            np.asarray(getattr(back.joint, name))[ja], np.asarray(getattr(states.joint, name))[ja]
        )
    again = render(back)
    for field in ("polygons", "circles", "joints", "thrusters"):
        np.testing.assert_allclose(getattr(again, field), getattr(obs, field), atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match="expected"):
        make_inverse_render_entity(None, PARAMS, static_env_params_from_size("l"))(obs)
