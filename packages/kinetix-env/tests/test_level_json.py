import copy
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import (
    FIXTURE_LEVELS,
    LEVELS_DIR,
    REFERENCE_LEVELS_DIR,
    assert_state_matches,
    flatten_state,
    golden,
)

from kinetix.environment import (
    EnvParams,
    LevelFormatError,
    export_env_state_to_json,
    import_env_state_from_json,
)
from kinetix.environment.level_json import env_state_to_json, load_json_level


def _read(level):
    return json.loads((LEVELS_DIR / f"{level}.json").read_text())


def test_fixture_levels_present():
    assert len(FIXTURE_LEVELS) == 9


@pytest.mark.parametrize("level", FIXTURE_LEVELS)
def test_load_matches_reference(level):
    state, static, params = load_json_level(LEVELS_DIR / f"{level}.json")
    ref = golden(f"level_{level.replace('/', '_')}")
    assert_state_matches(state, ref)
    for k, v in vars(static).items():
        np.testing.assert_array_equal(np.asarray(v), ref[f"static/{k}"], err_msg=k)
    for k, v in vars(params).items():
        np.testing.assert_array_equal(np.asarray(v), ref[f"params/{k}"], err_msg=k)


def _same_json(a, b, path=""):
    """Exact equality of parsed JSON, including int/float/bool types."""
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a.keys() ^ b.keys())}"
        for k in a:
            _same_json(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_json(x, y, f"{path}[{i}]")
    else:
        assert a == b or (a != a and b != b), f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("level", FIXTURE_LEVELS)
def test_export_reproduces_the_file(level):
    raw = _read(level)
    state, static, params = import_env_state_from_json(raw, source=level)
    _same_json(env_state_to_json(state, static, params), raw)


@pytest.mark.skipif(not REFERENCE_LEVELS_DIR.is_dir(), reason="reference levels not available")
def test_every_reference_level_round_trips():
    files = sorted(REFERENCE_LEVELS_DIR.glob("*/*.json"))
    assert len(files) == 74
    for path in files:
        raw = json.loads(path.read_text())
        state, static, params = import_env_state_from_json(raw, source=str(path))
        _same_json(env_state_to_json(state, static, params), raw, path.name)


def _scrambled(state, seed=0):
    """The state with every float leaf replaced by random values (bools/ints kept)."""
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(state)
    out = [
        (rng.standard_normal(np.shape(x)) * 3).astype(np.float32)
        if np.issubdtype(np.asarray(x).dtype, np.floating)
        else x
        for x in leaves
    ]
    return jax.tree.unflatten(treedef, out)


def test_file_round_trip_is_bit_exact(tmp_path):
    state, static, params = load_json_level(LEVELS_DIR / "m/h7_car_flip.json")
    state = _scrambled(state).replace(
        timestep=jnp.asarray(0, jnp.int32),
        last_distance=jnp.asarray(-1.0, jnp.float32),
        polygon_highlighted=state.polygon_highlighted.at[4].set(True),
        acc_rr_manifolds=state.acc_rr_manifolds.replace(
            active=state.acc_rr_manifolds.active.at[3, 1].set(True)
        ),
    )
    params = params.replace(dense_reward_scale=0.2, dt=0.01)
    written = export_env_state_to_json(tmp_path / "x.json", state, static, params)
    again, static2, params2 = load_json_level(tmp_path / "x.json")
    assert static2 == static
    assert params2 == params  # max_timesteps is 256 in both
    want = flatten_state(state)
    for name, a in flatten_state(again).items():
        if name == "collision_matrix":  # recomputed from the joints on import
            continue
        np.testing.assert_array_equal(a, want[name], err_msg=name)
    assert json.loads((tmp_path / "x.json").read_text()) == written


def test_import_resets_max_timesteps_downscale_and_screen_dim():
    raw = _read("s/h6_unicycle_right")
    raw["env_params"]["max_timesteps"] = 17
    raw["static_env_params"]["downscale"] = 1
    raw["static_env_params"]["screen_dim"] = {"0": 100, "1": 100}
    state, static, params = import_env_state_from_json(raw)
    assert params.max_timesteps == EnvParams().max_timesteps
    assert static.downscale == 4 and static.screen_dim == (500, 500)


def _break(level, edit):
    raw = copy.deepcopy(_read(level))
    edit(raw)
    return raw


def _set(*path_and_value):
    *path, value = path_and_value

    def edit(raw):
        node = raw
        for k in path[:-1]:
            node = node[k]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return edit


_DELETE = object()

MALFORMED = [
    (_set("env_state", "polygon", 4, "role", _DELETE), "env_state/polygon[4]", "keys ['role']"),
    (_set("env_state", "polygon", 4, "active", "yes"), "env_state/polygon[4]/active", "a boolean"),
    (_set("env_state", "circle", 0, "radius", None), "env_state/circle[0]/radius", "a number"),
    (_set("env_state", "joint", 0, "a_index", 1.5), "env_state/joint[0]/a_index", "an integer"),
    (
        _set("env_state", "joint", 0, "b_index", 99),
        "env_state/joint[0]",
        "a_index (a body index) in [0, 6]".replace("a_index", "b_index"),
    ),
    (
        lambda raw: raw["env_state"]["thruster"][0].update(active=True, object_index=-1),
        "env_state/thruster[0]",
        "object_index (a body index) in [0, 6]",
    ),
    (
        _set("env_state", "joint", 0, "motor_binding", 4),
        "env_state/joint[0]",
        "motor_binding in [0, 3]",
    ),
    (
        _set("env_state", "polygon", 4, "position", {"0": 1.0}),
        "env_state/polygon[4]/position",
        "length-2 vector",
    ),
    (
        _set("env_state", "polygon", 4, "vertices", "0", {"0": 1.0, "1": 2.0, "2": 3.0}),
        "env_state/polygon[4]/vertices/0",
        "length-2 vector",
    ),
    (
        _set("env_state", "polygon", 4, "colour", 3),
        "env_state/polygon[4]",
        "unknown keys ['colour']",
    ),
    (
        _set("env_state", "polygon", 4, "collision_mode", 5),
        "env_state/polygon[4]",
        "collision_mode in [0, 2]",
    ),
    (_set("env_state", "circle", 1, "role", 4), "env_state/circle[1]", "role in [0, 3]"),
    (_set("env_params", "dt", "fast"), "env_params/dt", "a number"),
    (_set("static_env_params", "frame_skip", _DELETE), "static_env_params", "keys ['frame_skip']"),
    (
        _set("static_env_params", "num_polygons", 3),
        "static_env_params/num_polygons",
        ">= num_static_fixated_polys",
    ),
    (_set("env_state", "gravity", [0, -9.81]), "env_state/gravity", "length-2 vector"),
    (_set("env_state", "acc_cc_manifolds", []), "env_state/acc_cc_manifolds", "1 entries"),
    (_set("env_state", _DELETE), "<top level>", "keys ['env_state']"),
]


@pytest.mark.parametrize("edit, field, expected", MALFORMED)
def test_malformed_levels_raise_clear_errors(tmp_path, edit, field, expected):
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(_break("s/h6_unicycle_right", edit)))
    with pytest.raises(LevelFormatError) as e:
        load_json_level(path)
    msg = str(e.value)
    assert str(path) in msg and f"field '{field}" in msg and expected in msg, msg


def test_more_shapes_than_static_sizes(tmp_path):
    raw = _read("s/h6_unicycle_right")
    raw["env_state"]["polygon"].append(copy.deepcopy(raw["env_state"]["polygon"][4]))
    path = tmp_path / "six.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(LevelFormatError, match=r"'env_state/polygon': expected 5 entries .*6 "):
        load_json_level(path)


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"env_state": ')
    with pytest.raises(LevelFormatError, match="bad.json: not valid JSON"):
        load_json_level(path)


def test_inactive_entities_may_hold_unused_indices():
    raw = _read("s/h6_unicycle_right")
    raw["env_state"]["thruster"][0].update(active=False, object_index=77, thruster_binding=3)
    state, _, _ = import_env_state_from_json(raw)
    assert int(state.thruster.object_index[0]) == 77


def test_export_checks_sizes(tmp_path):
    state, static, params = load_json_level(LEVELS_DIR / "s/h6_unicycle_right.json")
    with pytest.raises(ValueError, match="polygons of shape"):
        env_state_to_json(state, static.replace(num_polygons=6), params)


def test_schema_tables_follow_the_dataclasses():
    import dataclasses

    from jax2d.sim_state import CollisionManifold, Joint, RigidBody, Thruster
    from kinetix.environment import _level_schema as schema

    for cls, table in (
        (RigidBody, schema.BODY),
        (Joint, schema.JOINT),
        (Thruster, schema.THRUSTER),
        (CollisionManifold, schema.MANIFOLD),
    ):
        assert [f.name for f in dataclasses.fields(cls)] == list(table), cls.__name__
