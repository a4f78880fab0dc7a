"""verify: every damaged file is reported by name; replay re-simulates recorded trajectories."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _d2_fixtures import TINY, flat, random_batch

from kinetix.data.format import read_manifest, shard_keys
from kinetix.data.released import write_released_shard
from kinetix.data.verify import verify_dataset
from kinetix.data.writer import DatasetWriter

POS = "env_state/polygon/position"
GOLDEN = Path(__file__).parent / "golden" / "replay_s.npz"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    path = tmp_path_factory.mktemp("verify") / "ds"
    with DatasetWriter(path, TINY, chunk_trajectories=2, shard_bytes=1024) as w:
        w.append(random_batch(9))
    return path


def test_clean_dataset_is_ok(pristine):
    report = verify_dataset(pristine)
    m = read_manifest(pristine)
    assert report.ok and report.problems == []
    assert report.num_trajectories == 9
    assert report.files_checked == sum(len(shard_keys(f, 9)) for f in m.fields.values())
    assert "OK" in report.summary()


def test_every_damaged_file_is_named(pristine, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    m = read_manifest(ds)
    pos_keys = shard_keys(m.fields[POS], 9)
    act_key = shard_keys(m.fields["action"], 9)[0]
    os.remove(ds / pos_keys[1])  # missing
    data = (ds / act_key).read_bytes()
    (ds / act_key).write_bytes(data[:-40])  # truncated
    done_key = shard_keys(m.fields["done"], 9)[0]
    raw = bytearray((ds / done_key).read_bytes())
    raw[5] ^= 0xFF  # flipped bits inside a chunk: caught by its crc32c
    (ds / done_key).write_bytes(bytes(raw))
    report = verify_dataset(ds)
    assert not report.ok and len(report.problems) == 3
    text = report.summary()
    assert f"{pos_keys[1]}: missing (field '{POS}')" in text
    assert f"{act_key}: cannot be decoded (field 'action'" in text
    assert f"{done_key}: cannot be decoded (field 'done'" in text


def test_unopenable_dataset_is_one_problem(pristine, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(pristine, ds)
    os.remove(ds / "level_id" / "zarr.json")
    report = verify_dataset(ds)
    assert not report.ok and "level_id/zarr.json" in report.problems[0]


def test_released_damage_named_by_shard(tmp_path):
    for k in range(2):
        f = flat(random_batch(4, seed=k))
        f.pop("level_id")
        f["action_mask"] = f["action"] > 0
        write_released_shard(tmp_path / "rel" / f"shard_{k}", f, "trajectory")
    assert verify_dataset(tmp_path / "rel").ok
    os.remove(tmp_path / "rel" / "shard_1" / "2.0.0")
    report = verify_dataset(tmp_path / "rel")
    assert report.format == "released" and report.num_trajectories == 8
    assert len(report.problems) == 1 and "shard 'shard_1'" in report.problems[0]


@pytest.mark.skipif(not GOLDEN.exists(), reason="replay golden fixture not generated")
def test_replay_reaches_goal_like_the_recording(tmp_path):
    """Trajectories recorded with the reference env (golden/make_data_replay_golden.py) replay in
    ours: the same ones reach the goal; corrupting the actions of the solved ones breaks them."""
    from kinetix.environment import static_env_params_from_size

    data = dict(np.load(GOLDEN))
    solved = data.pop("goal_reached")
    static = static_env_params_from_size("s")
    with DatasetWriter(tmp_path / "ds", static) as w:
        w.append(data)
    report = verify_dataset(tmp_path / "ds", replay=len(solved))
    assert report.ok and report.replayed == len(solved)
    assert report.replay_solved == int(solved.sum()) > 0
    assert "reach the goal" in report.summary()
