"""DatasetWriter: appends, resume with dedup, validation, and crash safety (SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from _d2_fixtures import TINY, concat, random_batch

from kinetix.data.format import DatasetFormatError, read_manifest
from kinetix.data.reader import FormatReader
from kinetix.data.writer import DatasetWriter
from kinetix.environment import static_env_params_from_size


def _assert_rows_equal(path, expected: dict[str, np.ndarray]):
    reader = FormatReader(path)
    got = reader.read(0, reader.num_trajectories)
    assert set(got) == set(expected)
    for name, arr in expected.items():
        np.testing.assert_array_equal(got[name], arr, err_msg=name)


def test_append_and_read_back_exactly(tmp_path):
    path = tmp_path / "ds"
    b1, b2 = random_batch(5, seed=1), random_batch(3, seed=2, first_id=5)
    with DatasetWriter(path, TINY, provenance={"policy": "test"}, chunk_trajectories=2) as w:
        assert w.append(b1) == 5
        assert w.append(b2) == 3
        assert w.num_trajectories == 8 and len(w) == 8
    m = read_manifest(path)
    assert m.num_trajectories == 8 and m.total_steps == 8 * 8 and m.trajectory_length == 8
    assert m.provenance == {"policy": "test"} and m.env_size is None
    assert m.action_type == "multi_discrete" and m.done_convention == "reset"
    assert m.fields["level_id"].per_step is False and m.fields["action"].per_step is True
    assert set(m.engine_version) >= {"jax2d", "kinetix-env"}
    _assert_rows_equal(path, concat(b1, b2))


def test_env_size_inferred_and_float_actions_are_continuous(tmp_path):
    s = static_env_params_from_size("s")
    b = random_batch(2, static=s)
    b["action"] = b["action"].astype(np.float32)
    with DatasetWriter(tmp_path / "ds", s) as w:
        w.append(b)
    m = read_manifest(tmp_path / "ds")
    assert m.env_size == "s" and m.action_type == "continuous"
    assert m.fields["action"].dtype == "float32"


def test_all_zero_fields_are_stored(tmp_path):
    b = random_batch(3)
    b["env_state"] = b["env_state"].replace(timestep=np.zeros((3, 8), np.int32))
    with DatasetWriter(tmp_path / "ds", TINY) as w:
        w.append(b)
    assert (tmp_path / "ds" / "env_state" / "timestep" / "c" / "0" / "0").is_file()
    reader = FormatReader(tmp_path / "ds")  # checks every shard file exists
    assert reader.read(0, 3, ["env_state/timestep"])["env_state/timestep"].sum() == 0


def test_resume_dedups_by_key(tmp_path):
    path = tmp_path / "ds"
    with DatasetWriter(path, TINY, dedup_key="level_id") as w:
        w.append(random_batch(4, seed=1))
    with DatasetWriter(path, TINY, dedup_key="level_id") as w:
        assert w.num_trajectories == 4
        assert 3 in w and 4 not in w
        overlap = random_batch(4, seed=2, first_id=2)  # ids 2..5: 2 and 3 already stored
        assert w.append(overlap) == 2
        assert w.append(overlap) == 0
        assert w.num_trajectories == 6
    ids = FormatReader(path).read(0, 6, ["level_id"])["level_id"]
    assert ids.tolist() == [0, 1, 2, 3, 4, 5]
    # the kept rows are the new ones, intact
    pos = FormatReader(path).read(4, 6, ["env_state/polygon/position"])
    want = np.asarray(overlap["env_state"].polygon.position)[2:]
    np.testing.assert_array_equal(pos["env_state/polygon/position"], want)


def test_duplicate_ids_within_a_batch_are_dropped(tmp_path):
    b = random_batch(4)
    b["level_id"] = np.array([7, 7, 8, 7])
    with DatasetWriter(tmp_path / "ds", TINY, dedup_key="level_id") as w:
        assert w.append(b) == 2
    assert FormatReader(tmp_path / "ds").read(0, 2, ["level_id"])["level_id"].tolist() == [7, 8]


def test_resume_with_other_static_sizes_fails(tmp_path):
    with DatasetWriter(tmp_path / "ds", TINY) as w:
        w.append(random_batch(2))
    with pytest.raises(DatasetFormatError, match=r"num_circles.*\(1, 2\)"):
        DatasetWriter(tmp_path / "ds", TINY.replace(num_circles=2))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b.update(action=b["action"][:, :, :4]), r"'action': batch shape \(3, 8, 4\)"),
        (lambda b: b.update(done=b["done"][:2]), r"'done': batch shape \(2, 8\)"),
        (lambda b: b.pop("level_id"), r"missing \['level_id'\]"),
        (lambda b: b.update(extra=np.zeros(3)), r"unexpected \['extra'\]"),
        (lambda b: b.update(action=b["action"] + 0.5), "float64 cannot be stored as int32"),
    ],
)
def test_bad_batch_leaves_dataset_intact(tmp_path, mutate, message):
    path = tmp_path / "ds"
    first = random_batch(3, seed=1)
    with DatasetWriter(path, TINY) as w:
        w.append(first)
        bad = random_batch(3, seed=2, first_id=3)
        mutate(bad)
        with pytest.raises(DatasetFormatError, match=message):
            w.append(bad)
        assert w.num_trajectories == 3
    _assert_rows_equal(path, concat(first))


def test_batch_of_another_env_size_is_rejected(tmp_path):
    with DatasetWriter(tmp_path / "ds", TINY) as w:
        with pytest.raises(DatasetFormatError, match="does not match static_env_params"):
            w.append(random_batch(2, static=static_env_params_from_size("s")))
        assert w.num_trajectories == 0


def test_dedup_key_must_be_stored_per_trajectory(tmp_path):
    w = DatasetWriter(tmp_path / "a", TINY, dedup_key="seed")
    with pytest.raises(DatasetFormatError, match="dedup_key 'seed'"):
        w.append(random_batch(2))
    w = DatasetWriter(tmp_path / "b", TINY, dedup_key="done")
    with pytest.raises(DatasetFormatError, match="must be a per-trajectory field"):
        w.append(random_batch(2))


_CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from _d2_fixtures import TINY, random_batch
    from kinetix.data.writer import DatasetWriter

    w = DatasetWriter({path!r}, TINY, dedup_key="level_id", chunk_trajectories=4, shard_bytes=1 << 16)
    for k in range({start}, {stop}):
        w.append(random_batch({n}, seed=k, first_id=k * {n}))
        print("committed", k, flush=True)
    """
)


def _child(path, start, stop, n):
    code = _CHILD.format(
        tests=os.path.dirname(__file__), path=str(path), start=start, stop=stop, n=n
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )


def test_sigkill_mid_append_then_resume(tmp_path):
    """Kill a writer at an arbitrary moment of an append: the dataset still opens with a whole
    number of committed batches, and a rerun completes it without duplicates."""
    path, n, batches = tmp_path / "ds", 24, 6
    proc = _child(path, 0, 1000, n)
    times = []
    for _ in range(3):  # let three appends commit; time them to aim the kill mid-append
        line = proc.stdout.readline()
        assert line.startswith("committed"), line
        times.append(time.monotonic())
    time.sleep(0.5 * (times[2] - times[1]))
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    reader = FormatReader(path)
    committed = reader.num_trajectories
    assert committed % n == 0 and committed >= 3 * n
    k_done = committed // n
    _assert_rows_equal(
        path, concat(*[random_batch(n, seed=k, first_id=k * n) for k in range(k_done)])
    )

    # Rerun the whole collection: committed batches are skipped, the rest appended once.
    target = max(batches, k_done + 2)
    rerun = _child(path, 0, target, n)
    out, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, out
    expected = concat(*[random_batch(n, seed=k, first_id=k * n) for k in range(target)])
    _assert_rows_equal(path, expected)
    assert read_manifest(path).num_trajectories == target * n
