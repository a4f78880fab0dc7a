from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import FLAT_DIR, TRAJ_DIR, reference_part, rows_as_bytes

from kinetix.data.fields import FieldError, expected_fields
from kinetix.data.released import ReleasedFormatError, open_released, write_released_shard
from kinetix.environment import static_env_params_from_size

KEY_FIELDS = ["action", "env_state/polygon/position", "env_state/timestep", "done"]


def test_open_golden_trajectory_group():
    ds = open_released(TRAJ_DIR)
    assert ds.layout == "trajectory"
    assert ds.shards == ["shard_000", "shard_001", "shard_002", "shard_003"]
    assert ds.empty_shards == ["shard_004_empty"]
    assert [ds.num_records(i) for i in range(4)] == [5, 4, 4, 3]
    assert ds.num_steps == 256
    assert ds.static_env_params == static_env_params_from_size("s")
    assert len(ds.field_names) == 82 + 5  # + action, action_mask, done, mask, level_rngs
    assert ds.record_bytes == 1496  # spec table 1.3, size s


def test_read_shard_equals_what_the_reference_loader_returned(reference):
    """Every trajectory upstream served (3 training batches + validation) is one we read."""
    ds = open_released(TRAJ_DIR)
    ours = {}
    for i in range(len(ds.shards)):
        f = ds.read_shard(i)
        assert f["env_state/polygon/position"].shape == (ds.num_records(i), 256, 5, 2)
        for key, row in zip(rows_as_bytes(f, KEY_FIELDS), range(ds.num_records(i))):
            ours[key] = {k: v[row] for k, v in f.items()}
    seen = 0
    for prefix in ["traj_batch0", "traj_batch1", "traj_batch2", "traj_val"]:
        ref = reference_part(reference, prefix)
        for row, key in enumerate(rows_as_bytes(ref, KEY_FIELDS)):
            assert key in ours, f"{prefix} row {row} not found in our read"
            for name, value in ref.items():
                if name != "mask":
                    np.testing.assert_array_equal(ours[key][name], value[row], err_msg=name)
            seen += 1
    assert seen == 15


def test_read_flat_rows_equal_reference_flat_batches(reference):
    ds = open_released(FLAT_DIR)
    assert ds.layout == "flat" and ds.num_steps is None
    f = {k: np.concatenate([ds.read_shard(i)[k] for i in range(2)]) for k in KEY_FIELDS}
    assert f["action"].shape == (16 * 256, 6)
    ours = set(rows_as_bytes(f, KEY_FIELDS[:3]))
    for prefix in ["flat_batch0", "flat_batch1"]:
        ref = reference_part(reference, prefix)
        assert ref["action"].shape == (64, 6)
        assert set(rows_as_bytes(ref, KEY_FIELDS[:3])) <= ours


def test_partial_reads_match_full_reads_across_multi_row_chunks():
    ds = open_released(TRAJ_DIR)  # shard_001 stores two trajectories per chunk
    full = ds.read_records(1)
    np.testing.assert_array_equal(ds.read_records(1, 1, 3), full[1:3])
    assert ds.shard_info(1).chunks == (2, 256, 1)


def test_write_then_read_is_exact_and_metadata_matches_zarr(tmp_path):
    src = open_released(TRAJ_DIR)
    fields = src.read_shard(0)
    write_released_shard(tmp_path / "g" / "shard_000", fields, "trajectory")
    ours = json.loads((tmp_path / "g" / "shard_000" / ".zarray").read_text())
    theirs = json.loads((TRAJ_DIR / "shard_000" / ".zarray").read_text())
    assert ours == theirs  # dtype strings, shapes, fill value, compressor, chunks
    assert (tmp_path / "g" / ".zgroup").read_text() == (TRAJ_DIR / ".zgroup").read_text()
    back = open_released(tmp_path / "g").read_shard(0)
    for k, v in fields.items():
        np.testing.assert_array_equal(back[k], v, err_msg=k)
    assert sorted(os.listdir(tmp_path / "g" / "shard_000")) == [".zarray"] + [
        f"{i}.0.0" for i in range(5)
    ]


def test_write_flat_round_trip_with_zero_chunks(tmp_path):
    s = static_env_params_from_size("s")
    rng = np.random.default_rng(1)
    fields = {
        k: (rng.random((10,) + shp) * 3).astype(dt) for k, (dt, shp) in expected_fields(s).items()
    }
    fields["mask"] = np.ones(10, bool)
    fields["action"][:] = 0  # an all-zero field must still round-trip
    write_released_shard(tmp_path / "f" / "a", fields, "flat", chunks=(4,), compressor=None)
    ds = open_released(tmp_path / "f")
    assert ds.layout == "flat"
    back = ds.read_shard(0, 2, 9)
    for k, v in fields.items():
        np.testing.assert_array_equal(back[k], v[2:9], err_msg=k)


def test_write_rejects_inconsistent_fields(tmp_path):
    with pytest.raises(ValueError, match="'b'.*leading shape"):
        write_released_shard(
            tmp_path / "x" / "s", {"a": np.zeros((2, 4)), "b": np.zeros((3, 4))}, "trajectory"
        )


# ----------------------------------------------------------------------------- bad input
def test_unreachable_path():
    with pytest.raises(FileNotFoundError, match="/no/such/dir"):
        open_released("/no/such/dir")


def test_missing_zgroup_hints_at_nested_group(tmp_path):
    (tmp_path / "inner").mkdir()
    (tmp_path / "inner" / ".zgroup").write_text('{"zarr_format": 2}')
    with pytest.raises(ReleasedFormatError, match="missing .zgroup.*inner"):
        open_released(tmp_path)


def test_empty_group(tmp_path):
    (tmp_path / ".zgroup").write_text('{"zarr_format": 2}')
    with pytest.raises(ReleasedFormatError, match="empty group"):
        open_released(tmp_path)


def test_missing_zarray_names_the_shard(traj_copy: Path):
    (traj_copy / "shard_002" / ".zarray").unlink()
    with pytest.raises(ReleasedFormatError, match=r"shard 'shard_002'.*\.zarray is missing"):
        open_released(traj_copy)


def test_missing_chunk_file_names_shard_file_and_rows(traj_copy: Path):
    (traj_copy / "shard_000" / "3.0.0").unlink()
    ds = open_released(traj_copy)
    ds.read_records(1)  # other shards still read
    with pytest.raises(
        ReleasedFormatError, match=r"shard_000.*1 of 5 chunk files.*3\.0\.0.*rows 3:4"
    ):
        ds.read_records(0)


def test_truncated_chunk_file_names_the_shard_and_rows(traj_copy: Path):
    chunk = traj_copy / "shard_003" / "1.0.0"
    chunk.write_bytes(chunk.read_bytes()[:100])
    ds = open_released(traj_copy)
    with pytest.raises(ReleasedFormatError, match=r"shard 'shard_003'.*rows 0:3.*truncated"):
        ds.read_records(3)


def test_missing_field_in_one_shard(traj_copy: Path):
    meta = json.loads((traj_copy / "shard_001" / ".zarray").read_text())
    # Rename a field: same bytes, but 'done' is no longer there.
    meta["dtype"] = [["renamed", *e[1:]] if e[0] == "done" else e for e in meta["dtype"]]
    (traj_copy / "shard_001" / ".zarray").write_text(json.dumps(meta))
    with pytest.raises(FieldError, match=r"shard_001/\.zarray: field 'done' is missing"):
        open_released(traj_copy)


def test_static_sizes_that_do_not_match_between_shards(traj_copy: Path):
    m = static_env_params_from_size("m")
    fields = {k: np.zeros((1, 256) + shp, dt) for k, (dt, shp) in expected_fields(m).items()}
    fields["done"] = np.zeros((1, 256), bool)
    write_released_shard(traj_copy / "shard_999", fields, "trajectory")
    with pytest.raises(FieldError, match=r"shard_999/\.zarray.*(static sizes|missing)"):
        open_released(traj_copy)


def test_wrong_shard_shape_and_unsupported_codec(traj_copy: Path):
    path = traj_copy / "shard_001" / ".zarray"
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, "shape": [4, 256, 2], "chunks": [2, 256, 2]}))
    with pytest.raises(ReleasedFormatError, match=r"shard_001/\.zarray: shard shape \[4, 256, 2\]"):
        open_released(traj_copy)
    path.write_text(json.dumps({**meta, "compressor": {"id": "lzma"}}))
    with pytest.raises(ReleasedFormatError, match="compressor 'lzma' not supported"):
        open_released(traj_copy)


def test_trajectory_without_done_is_rejected(tmp_path):
    s = static_env_params_from_size("s")
    fields = {k: np.zeros((1, 256) + shp, dt) for k, (dt, shp) in expected_fields(s).items()}
    write_released_shard(tmp_path / "d" / "a", fields, "trajectory")
    with pytest.raises(FieldError, match="field 'done' is missing"):
        open_released(tmp_path / "d")


def test_shards_stored_as_n_t_with_unit_sub_shapes_read_the_same(traj_copy: Path):
    """Spec 1.1: an (N, T) shard whose fields all have a leading 1 reads like (N, T, 1)."""
    before = open_released(traj_copy).read_shard(0)
    path = traj_copy / "shard_000" / ".zarray"
    meta = json.loads(path.read_text())
    meta["shape"], meta["chunks"] = meta["shape"][:2], meta["chunks"][:2]
    meta["dtype"] = [[e[0], e[1], [1, *(e[2] if len(e) == 3 else [])]] for e in meta["dtype"]]
    path.write_text(json.dumps(meta))
    for f in (traj_copy / "shard_000").glob("*.0.0"):
        f.rename(f.with_name(f.name[:-2]))  # chunk keys "i.0.0" -> "i.0"
    after = open_released(traj_copy).read_shard(0)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=k)


def test_open_shard_cache_is_bounded_and_reads_stay_correct():
    first = [open_released(TRAJ_DIR).read_records(i) for i in range(4)]
    ds = open_released(TRAJ_DIR)
    ds.max_open_shards = 1
    for _ in range(2):
        for i in range(len(ds.shards)):
            np.testing.assert_array_equal(ds.read_records(i), first[i])
            assert len(ds._stores) == 1


def test_dot_relative_paths_are_resolved(tmp_path, monkeypatch):
    # tensorstore's file driver rejects "./x" and "../x" ("Invalid file path").
    import shutil

    shutil.copytree(TRAJ_DIR, tmp_path / "rel")
    monkeypatch.chdir(tmp_path)
    for path in ("./rel", f"../{tmp_path.name}/rel"):
        ds = open_released(path)
        assert os.path.isabs(ds.root)
        assert ds.read_shard(0, 0, 1)["action"].shape == (1, 256, 6)
    f = open_released("rel").read_shard(0)
    write_released_shard("./out/shard_0", dict(f), "trajectory")
    np.testing.assert_array_equal(open_released("./out").read_shard(0)["action"], f["action"])
