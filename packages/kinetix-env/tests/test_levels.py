import os

import jax
import numpy as np
import pytest
from conftest import LEVELS_DIR, flatten_state

from kinetix.environment import (
    LevelTooLargeError,
    expand_env_state,
    load_evaluation_levels,
    load_from_json_file,
    permute_state,
    stack_list_of_pytrees,
    static_env_params_from_size,
)
from kinetix.environment.levels import LEVELS_DIR as PACKAGED
from kinetix.environment.levels import get_correct_path_of_json_level


def test_path_resolution(tmp_path, monkeypatch):
    want = str(PACKAGED / "s/h0_weak_thrust.json")
    assert get_correct_path_of_json_level("s/h0_weak_thrust") == want
    assert get_correct_path_of_json_level("/a/b.json") == "/a/b.json"
    assert get_correct_path_of_json_level("./a/b") == "./a/b.json"
    (tmp_path / "mine.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert get_correct_path_of_json_level("mine") == "mine.json"


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_from_json_file("/nonexistent/level")


def test_load_with_target_size():
    l_static = static_env_params_from_size("l")
    state, static, _ = load_from_json_file(LEVELS_DIR / "s/h6_unicycle_right.json", l_static)
    assert static == l_static
    base, _, _ = load_from_json_file(LEVELS_DIR / "s/h6_unicycle_right.json")
    want = flatten_state(expand_env_state(base, l_static))
    for k, v in flatten_state(state).items():
        np.testing.assert_array_equal(v, want[k], err_msg=k)
    with pytest.raises(LevelTooLargeError, match=r"h6_lorry.json: .*num_polygons: level has 12"):
        load_from_json_file(LEVELS_DIR / "l/h6_lorry.json", static_env_params_from_size("m"))


def test_load_evaluation_levels_pads_permutes_and_stacks():
    names = [
        str(LEVELS_DIR / "s/h6_unicycle_right.json"),
        str(LEVELS_DIR / "m/h7_car_flip.json.permute0"[: -len(".json.permute0")]) + ".permute0",
    ]
    states, static = load_evaluation_levels(names)
    m = static_env_params_from_size("m")
    assert static == m
    assert states.polygon.position.shape == (2, m.num_polygons, 2)
    car, _, _ = load_from_json_file(LEVELS_DIR / "m/h7_car_flip.json")
    key = jax.random.split(jax.random.PRNGKey(0), 2)[1]
    want = flatten_state(permute_state(key, expand_env_state(car, m), m))
    for k, v in flatten_state(states).items():
        np.testing.assert_array_equal(v[1], want[k], err_msg=k)
    # With an explicit target.
    l_static = static_env_params_from_size("l")
    states, static = load_evaluation_levels(names[:1], l_static)
    assert static == l_static and states.polygon_shape_roles.shape == (1, 12)


def test_stack_list_of_pytrees():
    tree = {"a": np.zeros(3), "b": (np.ones(2),)}
    out = stack_list_of_pytrees([tree, tree, tree])
    assert out["a"].shape == (3, 3) and out["b"][0].shape == (3, 2)
    with pytest.raises(ValueError):
        stack_list_of_pytrees([])


def test_packaged_levels_dir_is_inside_the_package():
    assert PACKAGED.parent.name == "environment"
    assert os.path.basename(get_correct_path_of_json_level("x")) == "x.json"
