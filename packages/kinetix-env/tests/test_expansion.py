import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LEVELS_DIR, assert_state_matches, flatten_state, golden

from kinetix.environment import (
    LevelTooLargeError,
    StaticEnvParams,
    expand_env_state,
    static_env_params_from_size,
)
from kinetix.environment.expansion import env_state_sizes, max_static_env_params
from kinetix.environment.level_json import load_json_level


def _load(level):
    return load_json_level(LEVELS_DIR / f"{level}.json")


@pytest.mark.parametrize(
    "level, target",
    [("s/h6_unicycle_right", "m"), ("s/h0_weak_thrust", "l"), ("m/h7_car_flip", "l")],
)
def test_expand_matches_reference(level, target):
    state, _, _ = _load(level)
    expanded = expand_env_state(state, static_env_params_from_size(target))
    assert_state_matches(expanded, golden(f"expand_{level.replace('/', '_')}_to_{target}"))


def test_expand_shifts_circle_indices():
    state, static, _ = _load("m/h7_car_flip")
    big = static.replace(num_polygons=static.num_polygons + 3, num_circles=5)
    out = expand_env_state(state, big)
    p = static.num_polygons
    for old, new in (
        (state.joint.a_index, out.joint.a_index),
        (state.joint.b_index, out.joint.b_index),
        (state.thruster.object_index, out.thruster.object_index),
    ):
        old, new = np.asarray(old), np.asarray(new)
        np.testing.assert_array_equal(new[: len(old)], np.where(old >= p, old + 3, old))
    assert env_state_sizes(out) == dict(
        num_polygons=p + 3,
        num_circles=5,
        num_joints=static.num_joints,
        num_thrusters=static.num_thrusters,
    )
    # Padded entries are all zero.
    assert not bool(out.polygon.active[p:].any()) and float(out.polygon_densities[p:].sum()) == 0


def test_expand_to_same_size_only_resets_manifolds():
    state, static, _ = _load("l/h6_lorry")
    state = state.replace(
        acc_cr_manifolds=state.acc_cr_manifolds.replace(
            penetration=jnp.ones_like(state.acc_cr_manifolds.penetration)
        )
    )
    out = expand_env_state(state, static)
    assert float(out.acc_cr_manifolds.penetration.sum()) == 0
    a, b = flatten_state(out), flatten_state(state)
    for k in a:
        if "manifolds" not in k:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("field", ["num_polygons", "num_circles", "num_joints", "num_thrusters"])
def test_too_large_raises(field):
    state, static, _ = _load("l/h6_lorry")
    small = static.replace(**{field: getattr(static, field) - 1})
    with pytest.raises(LevelTooLargeError, match=f"{field}: level has"):
        expand_env_state(state, small)


def test_batched_expand_equals_per_state():
    s1, _, _ = _load("s/h6_unicycle_right")
    s2, _, _ = _load("s/h0_weak_thrust")
    batch = jax.tree.map(lambda a, b: jnp.stack([a, b]), s1, s2)
    target = static_env_params_from_size("m")
    out = expand_env_state(batch, target)
    for i, single in enumerate((s1, s2)):
        want = flatten_state(expand_env_state(single, target))
        for k, v in flatten_state(out).items():
            np.testing.assert_array_equal(v[i], want[k], err_msg=k)


def test_ignore_collision_matrix_keeps_and_reindexes():
    state, static, _ = _load("m/h7_car_flip")
    p_old = static.num_polygons
    cm = np.asarray(state.collision_matrix).copy()
    i, j = next((i, j) for i in range(p_old) for j in range(p_old, cm.shape[0]) if cm[i, j])
    cm[i, j] = cm[j, i] = False  # a pair that the joints do not explain
    state = state.replace(collision_matrix=jnp.asarray(cm))
    target = static_env_params_from_size("l")
    out = np.asarray(expand_env_state(state, target, ignore_collision_matrix=True).collision_matrix)
    j_new = j - p_old + target.num_polygons  # circles move behind the added polygons
    assert not out[i, j_new] and not out[j_new, i]
    assert out.shape == (16, 16) and not out.diagonal().any()
    recomputed = np.asarray(expand_env_state(state, target).collision_matrix)
    assert recomputed[i, j_new]


def test_max_static_env_params():
    a = StaticEnvParams(num_polygons=5, num_circles=9, frame_skip=1)
    b = StaticEnvParams(num_polygons=7, num_circles=2, frame_skip=2, screen_dim=(400, 600))
    m = max_static_env_params(a, b)
    assert (m.num_polygons, m.num_circles, m.frame_skip, m.screen_dim) == (7, 9, 2, (500, 600))
