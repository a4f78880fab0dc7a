"""The dataset managers on our format (dataset.json + zarr v3), and mixed with the released one."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import FLAT_DIR, TRAJ_DIR, rows_as_bytes

from kinetix.data import (
    DatasetWriter,
    ShuffledDatasetManager,
    TrajectoryDatasetManager,
    env_state_to_fields,
    open_released,
    released_to_ours,
)
from kinetix.data.ours_source import OursDataset

KEYS = ["action", "env_state/polygon/position", "env_state/timestep"]
ALL = ["action", "action_mask", "done", "env_state/polygon/position", "env_state/joint/rotation"]


def _fields(batch) -> dict[str, np.ndarray]:
    f = {"action": batch.action, "action_mask": batch.action_mask, "done": batch.done}
    f.update({f"env_state/{k[10:]}": v for k, v in env_state_to_fields(batch.env_state).items()})
    return f


def _keys(batch, names=KEYS) -> list[bytes]:
    return rows_as_bytes(_fields(batch), names)


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("ours") / "traj_s"
    released_to_ours(str(TRAJ_DIR), str(dst), progress=False)
    return dst


def _released_rows(names=ALL) -> Counter:
    ds = open_released(str(TRAJ_DIR))
    out: Counter = Counter()
    for k in range(len(ds.shards)):
        f = ds.read_shard(k)
        out.update(rows_as_bytes(f, names))
    return out


def test_an_epoch_of_our_format_serves_every_trajectory_once_with_its_data(ours):
    m = TrajectoryDatasetManager(str(ours), batch_size=4, seed=0)
    assert m.length == 4 and m.batches_per_epoch == 4
    served: Counter = Counter()
    for _ in range(4):
        b = m.load_next_batch()
        assert b.action.shape == (4, 256, 6) and b.action.dtype == np.int32
        assert b.done.shape == (4, 256) and b.mask.shape == (4, 256) and b.mask.all()
        assert b.env_state.polygon.position.shape == (4, 256, 5, 2)
        served.update(_keys(b, ALL))
    m.close()
    assert served == _released_rows()


def test_validation_split_by_blocks_is_disjoint_from_training(ours):
    m = TrajectoryDatasetManager(
        str(ours), batch_size=2, seed=3, n_val_shards=2, block_trajectories=2, val_batch_size=None
    )
    assert len(m.all_shard_names) == 8 and len(m.shard_names) == 6
    val = Counter(_keys(m.validation_batch))
    assert sum(val.values()) == 4
    train: Counter = Counter()
    for _ in range(m.batches_per_epoch):
        train.update(_keys(m.load_next_batch()))
    m.close()
    assert not set(val) & set(train)
    assert val + train == _released_rows(KEYS)


def test_epochs_are_remixed_and_state_dict_resumes(ours):
    m = TrajectoryDatasetManager(str(ours), batch_size=4, seed=0, block_trajectories=1)
    epochs = [[tuple(_keys(m.load_next_batch())) for _ in range(4)] for _ in range(2)]
    assert epochs[0] != epochs[1] and sorted(sum(epochs[0], ())) == sorted(sum(epochs[1], ()))
    m2 = TrajectoryDatasetManager(str(ours), batch_size=4, seed=0, block_trajectories=1)
    m2.load_next_batch()
    state = m2.state_dict()
    m2.close()
    m3 = TrajectoryDatasetManager(str(ours), batch_size=4, seed=0, block_trajectories=1)
    m3.load_state_dict(state)
    assert [tuple(_keys(m3.load_next_batch())) for _ in range(3)] == epochs[0][1:]
    m.close()
    m3.close()


def test_processes_read_disjoint_blocks(ours):
    seen = []
    for p in range(2):
        m = TrajectoryDatasetManager(
            str(ours),
            batch_size=2,
            seed=0,
            shard_index=p,
            total_shard_count=2,
            block_trajectories=2,
        )
        seen.append(set(sum((_keys(m.load_next_batch()) for _ in range(m.batches_per_epoch)), [])))
        m.close()
    assert seen[0] and seen[1] and not seen[0] & seen[1]


def test_shuffled_manager_serves_every_transition_of_our_format_once(ours):
    m = ShuffledDatasetManager(str(ours), batch_size=512, seed=0)
    assert m.batches_per_epoch == 8
    served: Counter = Counter()
    for _ in range(8):
        b = m.load_next_batch()
        assert b.action.shape == (512, 6) and b.done is None and b.mask.all()
        assert b.env_state.polygon.position.shape == (512, 5, 2)
        served.update(_keys(b))
    m.close()
    flat = open_released(str(FLAT_DIR))
    want: Counter = Counter()
    for k in range(len(flat.shards)):
        want.update(rows_as_bytes(flat.read_shard(k), KEYS))
    assert served == want


def test_mixing_a_released_and_an_our_format_directory(ours):
    m = TrajectoryDatasetManager(
        [str(TRAJ_DIR), str(ours)], batch_size=4, seed=0, dataset_proportions=[0.5, 0.5]
    )
    b = m.load_next_batch()
    m.close()
    assert b.action.shape == (4, 256, 6)
    rows = _released_rows(KEYS)
    assert all(k in rows for k in _keys(b))


def test_terminal_done_convention_is_served_as_reset(tmp_path):
    ds = open_released(str(TRAJ_DIR))
    f = ds.read_shard(0)
    batch = {k: np.asarray(v) for k, v in f.items() if k != "level_rngs"}
    reset_done = batch["done"].copy()
    terminal = np.zeros_like(reset_done)
    terminal[:, :-1] = reset_done[:, 1:]
    batch["done"] = terminal
    with DatasetWriter(
        str(tmp_path / "term"), ds.static_env_params, done_convention="terminal"
    ) as w:
        w.append(batch)
    m = TrajectoryDatasetManager(str(tmp_path / "term"), batch_size=len(reset_done), seed=0)
    b = m.load_next_batch()
    m.close()
    order = [_keys(b).index(k) for k in rows_as_bytes(dict(f), KEYS)]
    expect = reset_done.copy()
    expect[:, 0] = False
    np.testing.assert_array_equal(b.done[order], expect)


def test_missing_done_field_is_reported(ours, tmp_path):
    import json

    shutil.copytree(ours, tmp_path / "nodone")
    manifest = json.loads((tmp_path / "nodone" / "dataset.json").read_text())
    manifest["fields"] = [f for f in manifest["fields"] if f["name"] != "done"]
    (tmp_path / "nodone" / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="'done' is missing"):
        OursDataset(str(tmp_path / "nodone"), layout="trajectory")
    m = ShuffledDatasetManager(str(tmp_path / "nodone"), batch_size=256, seed=0)  # flat: optional
    assert m.load_next_batch().done is None
    m.close()


def test_relative_paths_work_for_both_formats(ours, tmp_path, monkeypatch):
    shutil.copytree(TRAJ_DIR, tmp_path / "rel")
    shutil.copytree(ours, tmp_path / "ours")
    monkeypatch.chdir(tmp_path)
    # "./x" and "../x" are what tensorstore's file driver rejects ("Invalid file path").
    for d in ("./rel", f"../{tmp_path.name}/ours"):
        m = TrajectoryDatasetManager(d, batch_size=4, seed=0)
        assert m.load_next_batch().action.shape == (4, 256, 6)
        m.close()


def test_dropping_a_manager_at_interpreter_exit_prints_nothing(tmp_path):
    import os
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from kinetix.data import TrajectoryDatasetManager\n"
        "m = TrajectoryDatasetManager(sys.argv[1], batch_size=4, seed=0, shard_index=0,"
        " total_shard_count=1)\n"
        "m.load_next_batch()\n"
        "print('served')\n"
    )
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(TRAJ_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "served" in out.stdout
    assert "Exception ignored" not in out.stderr and "Error" not in out.stderr, out.stderr


def test_mixing_datasets_of_different_trajectory_lengths_is_reported(tmp_path):
    from _d2_fixtures import TINY, random_batch

    for name, t in (("t8", 8), ("t6", 6)):
        batch = random_batch(4, t=t)
        batch["action_mask"] = batch["action"] > 0
        with DatasetWriter(str(tmp_path / name), TINY) as w:
            w.append(batch)
    with pytest.raises(ValueError, match=r"different trajectory lengths \[6, 8\]"):
        TrajectoryDatasetManager(
            [str(tmp_path / "t8"), str(tmp_path / "t6")], batch_size=2, seed=0, prefetch=1
        )
    m = TrajectoryDatasetManager(str(tmp_path / "t6"), batch_size=2, seed=0)
    b = m.load_next_batch()
    m.close()
    assert b.action.shape == (2, 6, 6) and b.done.shape == (2, 6)
