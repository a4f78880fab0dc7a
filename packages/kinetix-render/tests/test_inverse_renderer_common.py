import jax
import jax.numpy as jnp
import numpy as np

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.render.inverse_renderer_common import (
    features_to_joint,
    features_to_rigidbody,
    features_to_thruster,
)
from kinetix.render.renderer_symbolic_common import (
    make_joint_features,
    make_polygon_features,
    make_thruster_features,
)

PARAMS = EnvParams()
STATIC_S = static_env_params_from_size("s")


def _scene():
    state = create_empty_env(STATIC_S)
    p, j, t = state.polygon, state.joint, state.thruster
    tri = jnp.array([[0.0, 0.5], [0.5, -0.5], [-0.5, -0.5], [0.0, 0.0]])
    return state.replace(
        polygon=p.replace(
            active=p.active.at[4].set(True),
            position=p.position.at[4].set(jnp.array([1.0, 2.0])),
            rotation=p.rotation.at[4].set(-0.5),  # comes back as 2*pi - 0.5
            vertices=p.vertices.at[4].set(tri),
            n_vertices=p.n_vertices.at[4].set(3),
        ),
        polygon_shape_roles=state.polygon_shape_roles.at[4].set(2),
        joint=j.replace(
            active=j.active.at[0].set(True),
            a_index=j.a_index.at[0].set(4),
            b_index=j.b_index.at[0].set(5),
            a_relative_pos=j.a_relative_pos.at[0].set(jnp.array([0.25, 0.0])),
            motor_has_joint_limits=j.motor_has_joint_limits.at[0].set(True),
            min_rotation=j.min_rotation.at[0].set(-1.0),
            max_rotation=j.max_rotation.at[0].set(1.5),
        ),
        motor_bindings=state.motor_bindings.at[0].set(3),
        thruster=t.replace(
            active=t.active.at[0].set(True),
            object_index=t.object_index.at[0].set(4),
            relative_position=t.relative_position.at[0].set(jnp.array([0.0, 0.5])),
            rotation=t.rotation.at[0].set(1.0),
            power=t.power.at[0].set(2.5),
        ),
        thruster_bindings=state.thruster_bindings.at[0].set(1),
    )


@jax.jit
def _round_trip(state):
    rows, _ = make_polygon_features(state, PARAMS, STATIC_S)
    body, roles, dens = features_to_rigidbody(PARAMS, STATIC_S, rows, 5, is_circle=False)
    rebuilt = state.replace(polygon=body)
    jrows, jidx, _ = make_joint_features(state, PARAMS, STATIC_S)
    joint, motor_bindings = features_to_joint(
        STATIC_S, rebuilt, jrows[:1], 7, joint_idxs_override=jidx[:1]
    )
    trows, tidx, _ = make_thruster_features(state, PARAMS, STATIC_S)
    thruster, thruster_bindings = features_to_thruster(
        STATIC_S, rebuilt, trows, 7, thruster_idxs_override=tidx
    )
    return body, roles, joint, motor_bindings, thruster, thruster_bindings


def test_features_back_to_entities():
    state = _scene()
    body, roles, joint, motor_bindings, thruster, thruster_bindings = _round_trip(state)
    assert body.n_vertices[4] == 3 and body.n_vertices[0] == 4
    np.testing.assert_array_equal(body.vertices[4, :3], state.polygon.vertices[4, :3])
    np.testing.assert_allclose(body.rotation[4], 2 * np.pi - 0.5, atol=1e-6)
    assert body.active[:5].tolist() == [True, True, True, True, True]
    assert int(roles[4]) == 2 and body.collision_mode[0] == 2 and body.collision_mode[4] == 1
    assert (int(joint.a_index[0]), int(joint.b_index[0])) == (4, 5) and bool(joint.active[0])
    np.testing.assert_allclose(joint.min_rotation[0], -1.0, atol=1e-6)
    np.testing.assert_allclose(joint.max_rotation[0], 1.5, atol=1e-6)
    assert int(motor_bindings[0]) == 3
    # Anchor recomputed on body a: position + R(rotation) @ relative.
    c, s = np.cos(-0.5), np.sin(-0.5)
    np.testing.assert_allclose(
        joint.global_position[0], [1.0 + 0.25 * c, 2.0 + 0.25 * s], atol=1e-5
    )
    np.testing.assert_allclose(
        thruster.global_position[0], [1.0 - 0.5 * s, 2.0 + 0.5 * c], atol=1e-5
    )
    np.testing.assert_allclose(thruster.rotation[0], 1.0, atol=1e-6)
    assert float(thruster.power[0]) == 2.5 and int(thruster_bindings[0]) == 1
