import jax
import numpy as np
import pytest
from conftest import LEVELS_DIR, assert_state_matches, golden

from kinetix.environment import (
    StaticEnvParams,
    create_empty_env,
    load_from_json_file,
    permute_state,
    static_env_params_from_size,
)


@pytest.mark.parametrize(
    "size, counts",
    [("s", (5, 2, 1, 1)), ("m", (6, 3, 2, 2)), ("l", (12, 4, 6, 2))],
)
def test_size_presets(size, counts):
    s = static_env_params_from_size(size)
    assert (s.num_polygons, s.num_circles, s.num_joints, s.num_thrusters) == counts
    assert (s.num_motor_bindings, s.num_thruster_bindings, s.frame_skip, s.downscale) == (
        4,
        2,
        2,
        4,
    )
    base = StaticEnvParams()
    assert (s.max_polygon_vertices, s.num_solver_iterations, s.solver_batch_size) == (
        base.max_polygon_vertices,
        base.num_solver_iterations,
        base.solver_batch_size,
    )
    assert (s.screen_dim, s.max_shape_size, s.num_static_fixated_polys) == ((500, 500), 2, 4)
    static, config = static_env_params_from_size(size, return_dict=True)
    assert static == s
    assert config == dict(
        num_polygons=counts[0],
        num_circles=counts[1],
        num_joints=counts[2],
        num_thrusters=counts[3],
        num_motor_bindings=4,
        num_thruster_bindings=2,
        frame_skip=2,
    )


def test_unknown_size():
    with pytest.raises(ValueError, match="unknown env size 'xl'"):
        static_env_params_from_size("xl")


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_create_empty_env_matches_reference(size):
    state = create_empty_env(static_env_params_from_size(size))
    assert_state_matches(state, golden(f"empty_{size}"))


@pytest.mark.parametrize("level, seed", [("m/h7_car_flip", 3), ("l/h6_lorry", 7)])
def test_permute_state_matches_reference(level, seed):
    state, static, _ = load_from_json_file(LEVELS_DIR / f"{level}.json")
    permuted = permute_state(jax.random.PRNGKey(seed), state, static)
    assert_state_matches(permuted, golden(f"permute_{level.replace('/', '_')}_seed{seed}"))


def _bodies(state):
    """Per global body index: (position, role, density) for checking a permutation."""
    pos = np.concatenate([np.asarray(state.polygon.position), np.asarray(state.circle.position)])
    roles = np.concatenate(
        [np.asarray(state.polygon_shape_roles), np.asarray(state.circle_shape_roles)]
    )
    return pos, roles


@pytest.mark.parametrize("seed", range(4))
def test_permute_state_keeps_the_scene(seed):
    state, static, _ = load_from_json_file(LEVELS_DIR / "l/h6_lorry.json")
    permuted = permute_state(jax.random.PRNGKey(seed), state, static)
    # Arena slots stay put.
    np.testing.assert_array_equal(
        np.asarray(permuted.polygon.position[:4]), np.asarray(state.polygon.position[:4])
    )
    pos0, roles0 = _bodies(state)
    pos1, roles1 = _bodies(permuted)

    # Each active joint still joins the same two bodies, with the same binding.
    def joints(s, pos, roles):
        out = set()
        for j in range(static.num_joints):
            if bool(s.joint.active[j]):
                a, b = int(s.joint.a_index[j]), int(s.joint.b_index[j])
                out.add(
                    (
                        tuple(pos[a]),
                        tuple(pos[b]),
                        int(roles[a]),
                        int(roles[b]),
                        int(s.motor_bindings[j]),
                    )
                )
        return out

    assert joints(state, pos0, roles0) == joints(permuted, pos1, roles1)
    for t in range(static.num_thrusters):
        if bool(permuted.thruster.active[t]):
            i = int(permuted.thruster.object_index[t])
            assert tuple(pos1[i]) in {tuple(p) for p in pos0}
    assert sorted(map(tuple, pos0)) == sorted(map(tuple, pos1))
