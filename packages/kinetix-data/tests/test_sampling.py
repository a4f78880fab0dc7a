from __future__ import annotations

import numpy as np
import pytest

from kinetix.data.sampling import EpochPlan, Unit, make_units, split_shards


def test_split_matches_the_reference_shard_order(reference_meta):
    names = ["shard_000", "shard_001", "shard_002", "shard_003"]
    train, val = split_shards(names, seed=0, n_val_shards=1)
    assert train == reference_meta["traj"]["shard_names"]
    assert val == sorted(set(names) - set(train))
    train, _ = split_shards(["part_b", "part_a"], seed=3)
    assert train == reference_meta["flat"]["shard_names"]


def test_split_caps_and_validates():
    names = [f"s{i}" for i in range(6)]
    train, val = split_shards(names, seed=1, maximum_number_of_shards=3, n_val_shards=1)
    assert len(train) == 2 and len(val) == 1 and not set(train) & set(val)
    with pytest.raises(ValueError, match="n_val_shards=3 must be less than the number of shards"):
        split_shards(names, seed=1, maximum_number_of_shards=3, n_val_shards=3)


def test_make_units_aligns_to_chunks():
    units = make_units([0, 3], [5, 4], [2, 4])
    assert units == [Unit(0, 0, 2), Unit(0, 2, 4), Unit(0, 4, 5), Unit(3, 0, 4)]


def _epoch_rows(plan: EpochPlan, epoch: int) -> list[tuple[int, int]]:
    rows = []
    for w, units in enumerate(plan.windows(epoch)):
        window = [(u.shard, r) for u in units for r in range(u.start, u.stop)]
        rows += [window[i] for i in plan.window_permutation(epoch, w, len(window))]
    return rows[: plan.steps_per_epoch * plan.batch_size]


def test_epoch_is_a_permutation_and_changes_every_epoch():
    units = make_units([0, 1, 2], [8, 8, 8], [1, 1, 1])
    plan = EpochPlan(units, batch_size=4, seed=5)
    e0, e1 = _epoch_rows(plan, 0), _epoch_rows(plan, 1)
    assert sorted(e0) == sorted((s, r) for s in range(3) for r in range(8))
    assert sorted(e1) == sorted(e0) and e1 != e0
    # trajectories are re-mixed: batch compositions differ between epochs
    b0 = {frozenset(e0[i : i + 4]) for i in range(0, 24, 4)}
    b1 = {frozenset(e1[i : i + 4]) for i in range(0, 24, 4)}
    assert b0 != b1
    assert _epoch_rows(EpochPlan(units, 4, seed=5), 0) == e0  # deterministic
    assert _epoch_rows(EpochPlan(units, 4, seed=6), 0) != e0


def test_processes_read_disjoint_rows_and_equal_step_counts():
    units = make_units([0, 1], [10, 9], [2, 3])
    plans = [EpochPlan(units, 3, seed=0, shard_index=p, shard_count=3) for p in range(3)]
    assert len({p.steps_per_epoch for p in plans}) == 1 and plans[0].steps_per_epoch >= 1
    for epoch in range(3):
        rows = [set(_epoch_rows(p, epoch)) for p in plans]
        assert not (rows[0] & rows[1]) and not (rows[0] & rows[2]) and not (rows[1] & rows[2])


def test_windows_bound_read_ahead():
    units = make_units([0], [100], [1])
    plan = EpochPlan(units, batch_size=5, seed=0, window_rows=20)
    sizes = [sum(u.size for u in w) for w in plan.windows(0)]
    assert sizes == [20] * 5


def test_too_small_for_a_batch():
    with pytest.raises(ValueError, match="cannot fill one batch of 8"):
        EpochPlan(make_units([0], [5], [1]), batch_size=8, seed=0)
    with pytest.raises(ValueError, match="shard_index=2"):
        EpochPlan(make_units([0], [5], [1]), batch_size=1, seed=0, shard_index=2, shard_count=2)


def test_window_permutation_is_seeded():
    plan = EpochPlan(make_units([0], [10], [1]), 2, seed=0)
    np.testing.assert_array_equal(
        plan.window_permutation(1, 0, 10), plan.window_permutation(1, 0, 10)
    )
    assert not np.array_equal(plan.window_permutation(1, 0, 10), plan.window_permutation(2, 0, 10))
