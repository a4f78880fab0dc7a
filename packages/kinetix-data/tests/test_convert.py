"""released <-> ours conversion: exact round trips, resume, and what cannot be converted."""

from __future__ import annotations

import numpy as np
import pytest
from _d2_fixtures import TINY, flat, random_batch

from kinetix.data.convert import ours_to_released, progress_bar, released_to_ours
from kinetix.data.format import DatasetFormatError, read_manifest
from kinetix.data.reader import FormatReader
from kinetix.data.released import open_released, write_released_shard
from kinetix.data.writer import DatasetWriter


def _released(root, sizes=(3, 2), seed=0):
    shards = {}
    for k, n in enumerate(sizes):
        f = flat(random_batch(n, seed=seed + k))
        f.pop("level_id")
        f["action_mask"] = f["action"] > 0
        f["level_rngs"] = np.random.default_rng(k).integers(0, 2**32, (n, 8, 2), dtype=np.uint32)
        name = f"part_{k}"
        write_released_shard(root / name, f, "trajectory", chunks=(2, 8, 1))
        shards[name] = f
    write_released_shard(root / "zz_empty", {k: v[:0] for k, v in f.items()}, "trajectory")
    return shards


def _assert_same_released(a, b):
    ra, rb = open_released(a), open_released(b)
    assert ra.shards == rb.shards and ra.empty_shards == rb.empty_shards
    assert ra.field_names == rb.field_names
    assert ra.shard_info(0).chunks == rb.shard_info(0).chunks
    for i in range(len(ra.shards)):
        fa, fb = ra.read_shard(i), rb.read_shard(i)
        for name in fa:
            assert fa[name].dtype == fb[name].dtype, name
            np.testing.assert_array_equal(fa[name], fb[name], err_msg=name)


def test_released_round_trip_is_exact(tmp_path):
    shards = _released(tmp_path / "rel")
    m = released_to_ours(tmp_path / "rel", tmp_path / "ours", progress=False)
    assert m.num_trajectories == 5 and m.trajectory_length == 8
    assert m.fields["level_rngs"].dtype == "uint32" and m.fields["level_rngs"].per_step
    assert m.provenance["converted_from"]["shards"] == [["part_0", 3], ["part_1", 2]]
    got = FormatReader(tmp_path / "ours").read(0, 5)
    for name in shards["part_0"]:
        want = np.concatenate([shards["part_0"][name], shards["part_1"][name]])
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    names = ours_to_released(tmp_path / "ours", tmp_path / "back", progress=False)
    assert names == ["part_0", "part_1"]
    _assert_same_released(tmp_path / "rel", tmp_path / "back")


def test_ours_round_trip_keeps_step_fields(tmp_path):
    batch = random_batch(5, seed=3)
    with DatasetWriter(tmp_path / "ours", TINY) as w:
        w.append(batch)
    logs = []
    names = ours_to_released(
        tmp_path / "ours",
        tmp_path / "rel",
        trajectories_per_shard=2,
        progress=False,
        log=logs.append,
    )
    assert names == ["shard_00000", "shard_00001", "shard_00002"]
    assert "level_id" in logs[0]  # per-trajectory fields cannot be stored in the released layout
    rel = open_released(tmp_path / "rel")
    assert [rel.num_records(i) for i in range(3)] == [2, 2, 1]
    assert "action_mask" in rel.field_names  # computed from the states
    released_to_ours(tmp_path / "rel", tmp_path / "ours2", progress=False)
    a = FormatReader(tmp_path / "ours").read(0, 5)
    b = FormatReader(tmp_path / "ours2").read(0, 5)
    for name in a:
        if name != "level_id":
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_interrupted_conversion_resumes(tmp_path, monkeypatch):
    _released(tmp_path / "rel", sizes=(3, 3, 2))
    import kinetix.data.convert as convert

    monkeypatch.setattr(convert, "_BLOCK_BYTES", 1)  # one trajectory per append
    calls = {"n": 0}
    real_append = convert.DatasetWriter.append

    def dying_append(self, batch):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real_append(self, batch)

    monkeypatch.setattr(convert.DatasetWriter, "append", dying_append)
    with pytest.raises(KeyboardInterrupt):
        released_to_ours(tmp_path / "rel", tmp_path / "ours", progress=False)
    assert read_manifest(tmp_path / "ours").num_trajectories == 4
    monkeypatch.setattr(convert.DatasetWriter, "append", real_append)
    released_to_ours(tmp_path / "rel", tmp_path / "ours", progress=False)
    ours_to_released(tmp_path / "ours", tmp_path / "back", progress=False)
    _assert_same_released(tmp_path / "rel", tmp_path / "back")


def test_conversion_errors(tmp_path):
    _released(tmp_path / "a", seed=0)
    _released(tmp_path / "b", sizes=(4,), seed=5)
    released_to_ours(tmp_path / "a", tmp_path / "ours", progress=False)
    with pytest.raises(DatasetFormatError, match="not converted from the shards of"):
        released_to_ours(tmp_path / "b", tmp_path / "ours", progress=False)
    f = {"action": np.zeros((4, 6), np.int32), "mask": np.ones(4, bool)}
    f.update({k: v[:, 0] for k, v in flat(random_batch(4)).items() if k.startswith("env_state/")})
    f["action_mask"] = np.ones((4, 6), bool)
    write_released_shard(tmp_path / "flat" / "s0", f, "flat")
    with pytest.raises(DatasetFormatError, match="flat .* cannot become trajectories"):
        released_to_ours(tmp_path / "flat", tmp_path / "x", progress=False)


def test_plain_progress_bar_without_tqdm(capsys, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *a, **k):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    with progress_bar(4, "work") as bar:
        for _ in range(4):
            bar.update(1)
    out = capsys.readouterr().out
    assert "work: 1/4 traj" in out and "work: 4/4 traj" in out


def test_dot_relative_paths_work_for_convert_verify_and_open(tmp_path, monkeypatch):
    from kinetix.data.episodes import open_dataset
    from kinetix.data.verify import verify_dataset

    shards = _released(tmp_path / "rel")
    monkeypatch.chdir(tmp_path)
    up = f"../{tmp_path.name}"
    m = released_to_ours("./rel", f"{up}/ours", progress=False)
    assert m.num_trajectories == 5
    assert ours_to_released("./ours", f"{up}/back", progress=False) == ["part_0", "part_1"]
    _assert_same_released(tmp_path / "rel", tmp_path / "back")
    assert verify_dataset("./rel", progress=False).ok
    assert verify_dataset(f"{up}/ours", progress=False).ok
    for path in ("./rel", "./ours"):
        got = open_dataset(path).read([0])["action"]
        np.testing.assert_array_equal(got[0], shards["part_0"]["action"][0])
