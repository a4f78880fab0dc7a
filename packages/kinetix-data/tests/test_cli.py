"""The kinetix-data CLI: inspect, convert, verify, download (exit codes and what it prints)."""

from __future__ import annotations

import os

import numpy as np
from _d2_fixtures import TINY, flat, random_batch
from _d2_http import HubHandler, serve, url_of

from kinetix.data.cli import find_splits, main
from kinetix.data.format import read_manifest, shard_keys
from kinetix.data.reader import FormatReader
from kinetix.data.released import write_released_shard
from kinetix.data.writer import DatasetWriter


def _make_tree(root):
    with DatasetWriter(root / "ours" / "tiny", TINY) as w:
        w.append(random_batch(6))
    f = flat(random_batch(4, seed=1))
    f.pop("level_id")
    f["action_mask"] = f["action"] > 0
    write_released_shard(root / "10M" / "s" / "shard_000", f, "trajectory")
    write_released_shard(root / "10M" / "s" / "shard_001", f, "trajectory")
    return f


def test_inspect_lists_every_split(tmp_path, capsys):
    _make_tree(tmp_path)
    assert find_splits(tmp_path) == [tmp_path / "10M" / "s", tmp_path / "ours" / "tiny"]
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 datasets below" in out
    assert "trajectories:  8 x T=8" in out and "trajectories:  6 x T=8" in out
    assert "transitions:   64" in out and "transitions:   48" in out
    assert "shards:        2\n" in out  # released: two shard arrays
    assert "bytes on disk:" in out and "compression" in out
    assert "released (zarr v2)" in out and "kinetix-data v1" in out


def test_inspect_fields(tmp_path, capsys):
    _make_tree(tmp_path)
    assert main(["inspect", str(tmp_path / "ours" / "tiny"), "--fields"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "env_state/polygon/position" in x)
    assert "float32" in line and "(N, T, 5, 2)" in line
    assert any("level_id" in x and "int64" in x and "(N)" in x for x in out.splitlines())


def test_inspect_missing_path(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nothing")]) == 2
    assert "no dataset" in capsys.readouterr().err


def test_convert_both_ways_and_verify(tmp_path, capsys):
    f = _make_tree(tmp_path)
    assert main(["convert", str(tmp_path / "10M" / "s"), str(tmp_path / "conv"), "--quiet"]) == 0
    assert "wrote 8 trajectories in our format" in capsys.readouterr().out
    got = FormatReader(tmp_path / "conv").read(4, 8, ["action"])["action"]
    np.testing.assert_array_equal(got, f["action"])
    assert main(["convert", str(tmp_path / "conv"), str(tmp_path / "back"), "--quiet"]) == 0
    assert "wrote 2 released-format shards" in capsys.readouterr().out
    assert sorted(os.listdir(tmp_path / "back")) == [".zgroup", "shard_000", "shard_001"]

    assert main(["verify", str(tmp_path / "conv"), "--quiet"]) == 0
    assert "OK" in capsys.readouterr().out
    m = read_manifest(tmp_path / "conv")
    key = shard_keys(m.fields["action"], 8)[0]
    os.remove(tmp_path / "conv" / key)
    assert main(["verify", str(tmp_path / "conv"), "--quiet"]) == 1
    assert f"DAMAGED: {tmp_path / 'conv'}/{key}: missing" in capsys.readouterr().out


def test_download_command(tmp_path, capsys, monkeypatch):
    _make_tree(tmp_path / "repo")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with serve(HubHandler, tmp_path / "repo", repo_id="mbeukman/Kinetix-Offline") as server:
        monkeypatch.setenv("HF_ENDPOINT", url_of(server))
        assert main(["download", "10M/s", str(tmp_path / "data")]) == 0
    out = capsys.readouterr().out
    assert f"downloaded 10M/s to {tmp_path / 'data' / '10M' / 's'}" in out
    assert "trajectories:  8 x T=8" in out
    assert not (tmp_path / "data" / "ours").exists()
    assert main(["download", "3M/s", str(tmp_path / "data")]) == 2
    assert "unknown split '3M/s'" in capsys.readouterr().err
