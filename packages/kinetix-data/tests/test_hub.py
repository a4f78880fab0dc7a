"""Hub download (snapshot_download against a loopback Hub emulation) and HTTP range streaming.

Nothing is mocked: huggingface_hub and tensorstore talk HTTP to servers started in the test.
"""

from __future__ import annotations

import os
import shutil
import socket

import numpy as np
import pytest
from _d2_fixtures import TINY, concat, flat, random_batch
from _d2_http import HubHandler, RangeFileHandler, serve, url_of

from kinetix.data.episodes import open_dataset
from kinetix.data.format import DatasetFormatError, read_manifest, shard_keys
from kinetix.data.hub import REPO_ID, SPLITS, download, find_dataset_root, hub_resolve_url
from kinetix.data.released import write_released_shard
from kinetix.data.writer import DatasetWriter


def _released_split(root, seed):
    fields = flat(random_batch(3, seed=seed))
    fields.pop("level_id")
    fields["action_mask"] = fields["action"] > 0
    write_released_shard(root / "shard_000", fields, "trajectory")
    return fields


@pytest.fixture()
def hub_repo(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    want = _released_split(repo / "10M" / "s", seed=1)
    _released_split(repo / "1M" / "m", seed=2)
    (repo / "README.md").write_text("dataset card")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with serve(HubHandler, repo, repo_id=REPO_ID) as server:
        monkeypatch.setenv("HF_ENDPOINT", url_of(server))
        yield server, want, tmp_path


def test_download_fetches_only_the_split(hub_repo):
    server, want, tmp = hub_repo
    root = download("10M/s", tmp / "local")
    assert root == tmp / "local" / "10M" / "s"
    assert not (tmp / "local" / "1M").exists() and not (tmp / "local" / "README.md").exists()
    ds = open_dataset(root)
    assert ds.num_trajectories == 3
    np.testing.assert_array_equal(ds.episode(2).action, want["action"][2])
    routes = {
        (method, path.split("/resolve/")[0] + ("/resolve" if "/resolve/" in path else ""))
        for method, path in server.requests
    }
    assert ("GET", f"/api/datasets/{REPO_ID}/revision/main") in routes
    assert any(p.startswith(f"/api/datasets/{REPO_ID}/tree/") for _, p in routes)
    assert ("GET", f"/datasets/{REPO_ID}/resolve") in routes
    # a second call finds everything in place and returns the same root
    assert download("10M/s", tmp / "local") == root


def test_download_rejects_unknown_split(hub_repo):
    with pytest.raises(ValueError, match=r"unknown split '2M/s'.*1M/s"):
        download("2M/s", hub_repo[2] / "local")
    assert "10M/l" not in SPLITS and len(SPLITS) == 5


def test_download_our_format_from_another_repo(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    batch = random_batch(4)
    with DatasetWriter(repo / "expert" / "tiny", TINY) as w:
        w.append(batch)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    with serve(HubHandler, repo, repo_id="me/kinetix-expert") as server:
        root = download(
            "expert/tiny", tmp_path / "local", repo_id="me/kinetix-expert", endpoint=url_of(server)
        )
    got = open_dataset(root).read(slice(0, 4), ["action", "level_id"])
    np.testing.assert_array_equal(got["action"], batch["action"])
    np.testing.assert_array_equal(got["level_id"], batch["level_id"])


def test_find_dataset_root(tmp_path):
    _released_split(tmp_path / "a" / "b", seed=0)
    assert find_dataset_root(tmp_path / "a") == tmp_path / "a" / "b"
    with pytest.raises(FileNotFoundError, match="no dataset found"):
        find_dataset_root(tmp_path / "a" / "b" / "shard_000")


def test_hub_resolve_url():
    assert hub_resolve_url("x/s", repo_id="me/d", endpoint="http://h:1/") == (
        "http://h:1/datasets/me/d/resolve/main/x/s/"
    )


@pytest.fixture(scope="module")
def served_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    b1, b2 = random_batch(6, seed=1), random_batch(5, seed=2, first_id=6)
    with DatasetWriter(root / "ds", TINY, chunk_trajectories=2, shard_bytes=2048) as w:
        w.append(b1)
        w.append(b2)
    return root, concat(b1, b2)


def test_stream_over_http_with_ranges(served_dataset):
    root, want = served_dataset
    with serve(RangeFileHandler, root) as server:
        ds = open_dataset(url_of(server) + "/ds")
        assert ds.num_trajectories == 11 and ds.total_steps == 88
        opened = len(server.requests)
        ep = ds.episode(7)
        np.testing.assert_array_equal(ep.action, want["action"][7])
        np.testing.assert_array_equal(
            ep.env_state.polygon.position, want["env_state/polygon/position"][7]
        )
        chunk_gets = [r for r in server.requests[opened:] if "/c/" in r[1]]
        ranged = [r for r in chunk_gets if r[2] is not None]
        assert len(ranged) > len(chunk_gets) // 2
        assert any(r[2].startswith("bytes=-") for r in ranged)  # shard index read from the end
        # only the shard holding row 7 of a multi-shard field is touched
        field = read_manifest(root / "ds").fields["env_state/polygon/position"]
        keys = shard_keys(field, 11)
        assert len(keys) > 1
        touched = {r[1][len("ds/") :] for r in chunk_gets if "polygon/position/" in r[1]}
        assert touched == {keys[7 // field.shard_trajectories]}
        got = ds.read(slice(0, 11))
        for name, arr in want.items():
            np.testing.assert_array_equal(got[name], arr, err_msg=name)


def test_stream_reports_missing_shard_by_name(served_dataset, tmp_path):
    root, _ = served_dataset
    shutil.copytree(root / "ds", tmp_path / "ds")
    m = read_manifest(tmp_path / "ds")
    key = shard_keys(m.fields["env_state/polygon/position"], m.num_trajectories)[-1]
    os.remove(tmp_path / "ds" / key)
    match = f"env_state/polygon/position.*{key}.*missing"
    with (
        serve(RangeFileHandler, tmp_path) as server,
        pytest.raises(DatasetFormatError, match=match),
    ):
        open_dataset(url_of(server) + "/ds")


def test_unreachable_url_names_the_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DatasetFormatError, match=f"127.0.0.1:{port}/nowhere/dataset.json"):
        open_dataset(f"http://127.0.0.1:{port}/nowhere")
    with (
        serve(RangeFileHandler, "/nonexistent-root") as server,
        pytest.raises(DatasetFormatError, match="dataset.json not found"),
    ):
        open_dataset(url_of(server) + "/ds")
