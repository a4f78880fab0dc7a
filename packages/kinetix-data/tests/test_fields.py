from __future__ import annotations

import numpy as np
import pytest

from kinetix.data.fields import (
    FieldError,
    env_state_field_names,
    env_state_to_fields,
    expected_fields,
    fields_to_env_state,
    infer_static_env_params,
)
from kinetix.environment import StaticEnvParams, static_env_params_from_size


def test_field_table_matches_the_spec_for_size_m():
    fields = expected_fields(static_env_params_from_size("m"))
    env = {k: v for k, v in fields.items() if k.startswith("env_state/")}
    assert len(env) == 82
    # spec table 1.2: env_state record bytes for m are 2442
    assert sum(dt.itemsize * int(np.prod(shp)) for dt, shp in env.values()) == 2442
    assert fields["env_state/polygon/vertices"] == (np.dtype("float32"), (6, 4, 2))
    assert fields["env_state/collision_matrix"] == (np.dtype(bool), (9, 9))
    assert fields["env_state/acc_rr_manifolds/normal"][1] == (9, 2, 2)
    assert fields["env_state/acc_cr_manifolds/penetration"][1] == (18,)
    assert fields["env_state/acc_cc_manifolds/active"][1] == (3,)
    assert fields["env_state/joint/a_index"] == (np.dtype("int32"), (2,))
    assert fields["env_state/timestep"] == (np.dtype("int32"), ())
    assert fields["action"] == (np.dtype("int32"), (6,))


@pytest.mark.parametrize("size,rr,cr,cc", [("s", 4, 10, 1), ("l", 60, 48, 6)])
def test_manifold_lengths_per_size(size, rr, cr, cc):
    f = expected_fields(static_env_params_from_size(size))
    assert f["env_state/acc_rr_manifolds/active"][1] == (rr, 2)
    assert f["env_state/acc_cr_manifolds/active"][1] == (cr,)
    assert f["env_state/acc_cc_manifolds/active"][1] == (cc,)


def _random_fields(static, lead, seed=0):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.random(lead + shp) * 7).astype(dt)
        for k, (dt, shp) in expected_fields(static).items()
    }


def test_round_trip_keeps_leading_axes_and_values():
    s = static_env_params_from_size("s")
    f = _random_fields(s, (2, 3))
    state = fields_to_env_state(f, s)
    assert state.joint.a_relative_pos.shape == (2, 3, 1, 2)
    back = env_state_to_fields(state)
    assert set(back) == set(env_state_field_names(s))
    for k, v in back.items():
        np.testing.assert_array_equal(v, f[k])


def test_missing_field_is_named():
    s = static_env_params_from_size("s")
    f = _random_fields(s, (2,))
    del f["env_state/thruster/power"]
    with pytest.raises(FieldError, match="env_state/thruster/power"):
        fields_to_env_state(f, s)


def test_wrong_shape_names_field_and_expected_shape():
    s = static_env_params_from_size("s")
    f = _random_fields(s, (2,))
    f["env_state/polygon/position"] = np.zeros((2, 6, 2), np.float32)
    with pytest.raises(FieldError, match=r"polygon/position.*\(2, 6, 2\).*5, 2"):
        fields_to_env_state(f, s)


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_infer_static_env_params_gives_the_preset(size):
    static = static_env_params_from_size(size)
    shapes = {k: shp for k, (_, shp) in expected_fields(static).items()}
    assert infer_static_env_params(shapes) == static


def test_infer_custom_sizes_and_report_inconsistent_fields():
    static = static_env_params_from_size("s").replace(num_polygons=7, num_joints=3)
    assert isinstance(static, StaticEnvParams)
    shapes = {k: shp for k, (_, shp) in expected_fields(static).items()}
    got = infer_static_env_params(shapes)
    assert (got.num_polygons, got.num_circles, got.num_joints) == (7, 2, 3)
    shapes["env_state/collision_matrix"] = (7, 7)
    with pytest.raises(FieldError, match=r"mydata: field 'env_state/collision_matrix'.*\(9, 9\)"):
        infer_static_env_params(shapes, "mydata")
