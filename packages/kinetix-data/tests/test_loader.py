from __future__ import annotations

import numpy as np
import pytest
from conftest import TRAJ_DIR

from kinetix.data.loader import BufferPool, SourceStream, read_units
from kinetix.data.released import open_released
from kinetix.data.sampling import EpochPlan, Unit, make_units


@pytest.fixture(scope="module")
def ds():
    return open_released(TRAJ_DIR)


def _ids(records: np.ndarray) -> list[bytes]:
    return [records[i].tobytes() for i in range(len(records))]


def _expected(ds, plan: EpochPlan, epoch: int) -> list[bytes]:
    rows = []
    for w, units in enumerate(plan.windows(epoch)):
        window = _ids(read_units(ds, units))
        rows += [window[j] for j in plan.window_permutation(epoch, w, len(window))]
    return rows[: plan.steps_per_epoch * plan.batch_size]


@pytest.mark.parametrize("batch,window", [(3, 5), (4, 4), (2, 7)])
def test_stream_serves_the_plan_across_window_boundaries(ds, batch, window):
    idx = list(range(len(ds.shards)))
    units = make_units(
        idx, [ds.num_records(i) for i in idx], [ds.shard_info(i).chunks[0] for i in idx]
    )
    plan = EpochPlan(units, batch, seed=1, window_rows=window)
    stream = SourceStream(ds, plan)
    for epoch in range(2):
        got = []
        for _ in range(plan.steps_per_epoch):
            rec = stream.next_records()
            assert rec.shape == (batch, 256)
            got += _ids(rec)
        assert got == _expected(ds, plan, epoch)
        assert (stream.epoch, stream.step) == (epoch + 1, 0)


def test_stream_resumes_at_any_step(ds):
    idx = list(range(len(ds.shards)))
    units = make_units(idx, [ds.num_records(i) for i in idx], [1] * len(idx))
    plan = EpochPlan(units, 3, seed=2, window_rows=5)
    full = SourceStream(ds, plan)
    batches = [_ids(full.next_records()) for _ in range(plan.steps_per_epoch + 2)]
    for start in range(plan.steps_per_epoch):
        s = SourceStream(ds, plan, epoch=0, step=start)
        assert _ids(s.next_records()) == batches[start]
    with pytest.raises(ValueError, match="step 99 out of range"):
        SourceStream(ds, plan, step=99)


def test_read_units_keeps_unit_order(ds):
    rec = read_units(ds, [Unit(2, 1, 3), Unit(0, 0, 1)])
    np.testing.assert_array_equal(rec[:2], ds.read_records(2, 1, 3))
    np.testing.assert_array_equal(rec[2:], ds.read_records(0, 0, 1))


def test_buffer_pool_reuses_only_unreferenced_buffers():
    pool = BufferPool(max_buffers=3)
    a = pool.get(4, 8)
    a_id = a.base.ctypes.data if a.base is not None else a.ctypes.data
    view = a[1:3]
    del a
    b = pool.get(4, 8)  # ``view`` keeps the first buffer alive: a new one
    assert b.ctypes.data != a_id
    del view
    c = pool.get(3, 8)  # nothing references the first buffer now: recycled, first 3 rows
    assert c.ctypes.data == a_id and c.shape == (3, 8)
    assert pool.get(5, 8).shape == (5, 8)  # too small to recycle: fresh


def test_batches_kept_by_the_consumer_are_never_overwritten(ds):
    units = make_units(list(range(len(ds.shards))), [ds.num_records(k) for k in range(4)], [1] * 4)
    plan = EpochPlan(units, batch_size=2, seed=1, window_rows=4)
    stream = SourceStream(ds, plan)
    kept, snapshots = [], []
    for _ in range(3 * plan.steps_per_epoch):  # several epochs: buffers would be recycled
        rec = stream.next_records()
        kept.append(rec)
        snapshots.append(_ids(rec))
    assert [_ids(r) for r in kept] == snapshots
