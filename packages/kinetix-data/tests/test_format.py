"""Manifest schema, field layout and dataset locations of our format."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _d2_fixtures import TINY, random_batch

from kinetix.data.format import (
    FORMAT_NAME,
    DatasetFormatError,
    Manifest,
    env_state_field_specs,
    group_keys,
    kvstore_spec,
    make_field_spec,
    read_manifest,
    shard_keys,
    static_env_params_from_dict,
    static_env_params_to_dict,
)
from kinetix.data.writer import DatasetWriter
from kinetix.environment import static_env_params_from_size


def test_kvstore_spec_locations(tmp_path):
    assert kvstore_spec(tmp_path / "ds") == {"driver": "file", "path": f"{tmp_path}/ds/"}
    assert kvstore_spec("gs://bucket/a/b")["driver"] == "gcs"
    assert kvstore_spec("gs://bucket/a/b")["path"] == "a/b/"
    http = kvstore_spec("http://127.0.0.1:8000/data/ds")
    assert http["driver"] == "http" and http["path"] == "/data/ds/"
    with pytest.raises(DatasetFormatError, match="cannot parse dataset location"):
        kvstore_spec("nosuchdriver://x/y")


def test_static_params_round_trip():
    for size in "sml":
        s = static_env_params_from_size(size)
        d = static_env_params_to_dict(s)
        assert json.loads(json.dumps(d)) == d
        assert static_env_params_from_dict(d) == s
    with pytest.raises(DatasetFormatError, match="unknown keys.*num_wheels"):
        static_env_params_from_dict({"num_wheels": 3})


def _manifest(n=3, length=8):
    fields = {}
    for name, (shape, dtype) in env_state_field_specs(TINY).items():
        fields[name] = make_field_spec(name, dtype, shape, True, length)
    fields["action"] = make_field_spec("action", "int32", (6,), True, length)
    fields["level_id"] = make_field_spec("level_id", "int64", (), False, length)
    return Manifest(
        num_trajectories=n, trajectory_length=length, fields=fields, static_env_params=TINY
    )


def test_manifest_json_round_trip():
    m = _manifest()
    data = json.loads(json.dumps(m.to_json()))
    assert data["format"] == FORMAT_NAME and data["total_steps"] == 24
    back = Manifest.from_json(data)
    assert back == m


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(format="zarr"), "format is 'zarr'"),
        (lambda d: d.update(schema_version=99), "schema_version 99 is not supported"),
        (lambda d: d.pop("trajectory_length"), "'trajectory_length' is missing"),
        (lambda d: d.update(done_convention="sometimes"), "done_convention 'sometimes'"),
        (
            lambda d: [
                f.update(shape=[9, 2])
                for f in d["fields"]
                if f["name"].endswith("polygon/position")
            ],
            r"env_state/polygon/position.*float32\[9, 2\].*imply per-step float32\[5, 2\]",
        ),
        (
            lambda d: d.update(
                fields=[f for f in d["fields"] if f["name"] != "env_state/timestep"]
            ),
            "'env_state/timestep' is missing",
        ),
    ],
)
def test_manifest_errors_name_the_problem(mutate, message):
    data = _manifest().to_json()
    mutate(data)
    with pytest.raises(DatasetFormatError, match=message):
        Manifest.from_json(data, "x/dataset.json")


def test_field_spec_sizes():
    f = make_field_spec("env_state/polygon/vertices", "float32", (6, 4, 2), True, 256)
    assert f.chunk_trajectories == 32
    assert f.shard_trajectories % f.chunk_trajectories == 0
    # about 1 GiB raw per shard: 49152 B per trajectory -> 21845 -> 682 chunks of 32
    assert f.shard_trajectories == (2**30 // (49152 * 32)) * 32
    small = make_field_spec("done", "bool", (), True, 256)
    assert small.shard_trajectories == 1024 * 32  # capped at 1024 chunks per shard
    assert f.array_shape(10, 256) == (10, 256, 6, 4, 2)
    per_traj = make_field_spec("seed", "uint32", (2,), False, 256)
    assert per_traj.array_shape(10, 256) == (10, 2)


def test_shard_keys_match_written_files(tmp_path):
    path = tmp_path / "ds"
    with DatasetWriter(path, TINY, shard_bytes=4096, chunk_trajectories=2) as w:
        w.append(random_batch(7))
    m = read_manifest(path)
    written = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    for field in m.fields.values():
        keys = shard_keys(field, m.num_trajectories)
        assert set(keys) <= written, field.name
        assert bool(keys) == (0 not in field.shape), field.name
    pos = m.fields["env_state/polygon/position"]
    # 5*2*4 B per step * T=8 = 320 B/trajectory, chunks of 2 -> 4096 // 640 = 6 chunks per shard
    assert pos.shard_trajectories == 12 and len(shard_keys(pos, 7)) == 1
    assert "env_state/polygon/position/c/0/0/0/0" in written
    for key in group_keys(list(m.fields)):
        assert key in written
    assert json.loads((path / "env_state" / "zarr.json").read_text())["node_type"] == "group"


def test_read_manifest_errors(tmp_path):
    with pytest.raises(DatasetFormatError, match="dataset.json not found"):
        read_manifest(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_env_state_field_specs_match_static_sizes():
    specs = env_state_field_specs(static_env_params_from_size("m"))
    assert len(specs) == 82
    assert specs["env_state/collision_matrix"] == ((9, 9), "bool")
    assert specs["env_state/acc_rr_manifolds/normal"] == ((9, 2, 2), "float32")
    assert np.dtype(specs["env_state/timestep"][1]) == np.int32
