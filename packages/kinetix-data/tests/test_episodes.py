"""Episode API (open_dataset, episode, iterate/sample/filter) on our format and the released one."""

from __future__ import annotations

import numpy as np
import pytest
from _d2_fixtures import TINY, concat, random_batch

from kinetix.data.episodes import Episode, TrajectoryDataset, episode_lengths, open_dataset
from kinetix.data.format import DatasetFormatError
from kinetix.data.released import write_released_shard
from kinetix.data.writer import DatasetWriter
from kinetix.environment import EnvState

N = 10


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    path = tmp_path_factory.mktemp("episodes") / "ds"
    b1, b2 = random_batch(6, seed=1), random_batch(4, seed=2, first_id=6)
    with DatasetWriter(path, TINY, chunk_trajectories=4) as w:
        w.append(b1)
        w.append(b2)
    return path, concat(b1, b2)


def test_counts_and_describe(written):
    path, _ = written
    ds = open_dataset(path)
    assert isinstance(ds, TrajectoryDataset)
    assert ds.num_trajectories == len(ds) == N
    assert ds.trajectory_length == 8 and ds.total_steps == N * 8
    assert ds.static_env_params == TINY and ds.env_size is None
    text = ds.describe()
    assert "trajectories: 10" in text and "total steps: 80" in text
    assert "env_state/polygon/position" in text and "float32" in text and "(N, T, 5, 2)" in text
    assert "level_id" in text and "(N)" in text
    assert "done convention: reset" in text


def test_episode_matches_written_rows(written):
    path, want = written
    ds = open_dataset(path)
    for i in (0, 5, 9, -1):
        ep = ds.episode(i)
        row = i % N
        assert isinstance(ep, Episode) and ep.index == row
        assert isinstance(ep.env_state, EnvState)
        assert ep.env_state.polygon.position.shape == (8, 5, 2)
        np.testing.assert_array_equal(
            ep.env_state.polygon.position, want["env_state/polygon/position"][row]
        )
        np.testing.assert_array_equal(ep.env_state.timestep, want["env_state/timestep"][row])
        np.testing.assert_array_equal(ep.action, want["action"][row])
        np.testing.assert_array_equal(ep.done, want["done"][row])
        assert ep.extras["level_id"] == row
        # fixture: one True per row at t >= 1 -> reset-convention length is its position
        assert ep.length == int(np.argmax(want["done"][row])) and ep.num_steps == 8
    with pytest.raises(IndexError):
        ds.episode(N)


def test_iterate_in_disk_order_and_sample(written):
    path, want = written
    ds = open_dataset(path, block=3)  # blocks straddle the two appends
    eps = list(ds.iterate_episodes())
    assert [e.index for e in eps] == list(range(N))
    np.testing.assert_array_equal(np.stack([e.action for e in eps]), want["action"])
    a = ds.sample_episodes(4, seed=0)
    b = ds.sample_episodes(4, seed=0)
    assert [e.index for e in a] == [e.index for e in b]
    assert len({e.index for e in a}) == 4
    for e in a:
        np.testing.assert_array_equal(e.action, want["action"][e.index])
    with pytest.raises(ValueError, match="cannot sample 11"):
        ds.sample_episodes(11)


def test_filter_by_length_shapes_size_and_predicate(written):
    path, want = written
    ds = open_dataset(path)
    lengths = want["done"].argmax(1)
    assert len(set(lengths.tolist())) > 3
    np.testing.assert_array_equal(ds.episode_lengths(), lengths)
    short = ds.filter(max_length=3)
    assert short.indices.tolist() == np.flatnonzero(lengths <= 3).tolist()
    assert short.num_trajectories == len(short.indices) and short.total_steps == 8 * len(short)
    assert [e.index for e in short.iterate_episodes()] == short.indices.tolist()
    np.testing.assert_array_equal(short.episode(1).action, want["action"][short.indices[1]])
    assert "view of 10" in short.describe()
    both = short.filter(min_length=2)
    assert both.indices.tolist() == np.flatnonzero((lengths <= 3) & (lengths >= 2)).tolist()
    assert ds.filter(env_size="m").num_trajectories == 0
    odd = ds.filter(lambda e: e.index % 2 == 1)
    assert odd.indices.tolist() == [1, 3, 5, 7, 9]
    active = want["env_state/polygon/active"][:, 0, 4:].sum(-1) + want["env_state/circle/active"][
        :, 0
    ].sum(-1)
    np.testing.assert_array_equal(ds.num_active_shapes(), active)
    assert ds.filter(min_shapes=1).indices.tolist() == np.flatnonzero(active >= 1).tolist()


def test_episode_lengths_conventions():
    done = np.zeros((3, 5), bool)
    done[0, 0] = True  # t=0 is never a boundary in the reset convention
    done[1, 2] = True
    assert episode_lengths(done, "reset").tolist() == [5, 2, 5]
    assert episode_lengths(done, "terminal").tolist() == [1, 3, 5]
    with pytest.raises(ValueError, match="'later'"):
        episode_lengths(done, "later")


def test_empty_and_missing_datasets(tmp_path):
    with DatasetWriter(tmp_path / "empty", TINY) as w:
        b = random_batch(2)
        b["level_id"] = b["level_id"][:0]  # inconsistent: rejected, nothing committed
        with pytest.raises(DatasetFormatError):
            w.append(b)
    assert not (tmp_path / "empty").exists()  # a rejected first batch creates nothing
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hi")
    with pytest.raises(DatasetFormatError, match="neither our format"):
        open_dataset(tmp_path / "other")
    with pytest.raises(DatasetFormatError, match="no such file"):
        open_dataset(tmp_path / "nope")


def test_empty_dataset_is_an_error_unless_allowed(tmp_path):
    path = tmp_path / "ds"
    with DatasetWriter(path, TINY, dedup_key="level_id") as w:
        w.append(random_batch(2))
    # craft an empty committed dataset: same layout, zero trajectories
    import json

    manifest = json.loads((path / "dataset.json").read_text())
    manifest["num_trajectories"] = 0
    (path / "dataset.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetFormatError, match="empty.*0 committed trajectories"):
        open_dataset(path)
    assert open_dataset(path, allow_empty=True).num_trajectories == 0


def _write_released(root, batches, terminal=False):
    for k, b in enumerate(batches):
        f = {kk: v for kk, v in b.items() if kk != "level_id"}
        f["action_mask"] = np.ones(f["action"].shape, bool)
        write_released_shard(root / f"shard_{k:03d}", f, "trajectory")


def test_released_format_through_the_same_api(tmp_path):
    b1, b2 = random_batch(3, seed=1), random_batch(2, seed=2)
    for b in (b1, b2):  # timesteps consistent with done (reset convention)
        ts = np.zeros(b["done"].shape, np.int32)
        for i in range(len(ts)):
            cut = int(np.argmax(b["done"][i]))
            ts[i, :cut] = np.arange(cut)
            ts[i, cut:] = np.arange(8 - cut)
        b["env_state"] = b["env_state"].replace(timestep=ts)
    from _d2_fixtures import flat

    _write_released(tmp_path / "rel", [flat(b1), flat(b2)])
    ds = open_dataset(tmp_path / "rel")
    assert ds.num_trajectories == 5 and ds.trajectory_length == 8
    assert ds.done_convention == "reset"
    assert "released" in ds.describe()
    want = concat(b1, b2)
    eps = list(ds.iterate_episodes())
    np.testing.assert_array_equal(np.stack([e.action for e in eps]), want["action"])
    ep = ds.episode(4)  # second shard
    np.testing.assert_array_equal(
        ep.env_state.polygon.position, want["env_state/polygon/position"][4]
    )
    np.testing.assert_array_equal(ds.episode_lengths(), episode_lengths(want["done"], "reset"))
    assert ds.sample_episodes(2, seed=1)[0].index in range(5)
