from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import TRAJ_DIR, reference_part, rows_as_bytes

from kinetix.data import (
    FieldError,
    ReleasedFormatError,
    TrajectoryDatasetManager,
    env_state_to_fields,
    valid_action_mask_np,
)
from kinetix.environment import static_env_params_from_size

KEYS = ["action", "env_state/polygon/position", "env_state/timestep"]


def _keys(batch) -> list[bytes]:
    f = {"action": batch.action, **env_state_to_fields(batch.env_state)}
    return rows_as_bytes(f, KEYS)


def _manager(**kw) -> TrajectoryDatasetManager:
    args = dict(dataset_dir=str(TRAJ_DIR), batch_size=4, seed=0, n_val_shards=1, val_batch_size=3)
    return TrajectoryDatasetManager(**{**args, **kw})


def test_dataset_card_api_shapes_and_dtypes():
    m = TrajectoryDatasetManager(dataset_dir=str(TRAJ_DIR), batch_size=4, val_batch_size=4, seed=0)
    b = m.load_next_batch()
    assert b.action.shape == (4, 256, 6) and b.action.dtype == np.int32
    assert b.action_mask.shape == (4, 256, 6) and b.action_mask.dtype == bool
    assert b.done.shape == (4, 256) and b.done.dtype == bool
    assert b.mask.shape == (4, 256) and b.mask.all()
    assert b.env_state.polygon.position.shape == (4, 256, 5, 2)
    assert b.env_state.collision_matrix.shape == (4, 256, 7, 7)
    assert b.env_state.timestep.shape == (4, 256)
    assert m.validation_batch is None  # n_val_shards=0, as upstream
    assert m.length == 16 // 4
    m.close()


def test_validation_batch_equals_the_reference(reference, reference_meta):
    m = _manager()
    assert m.length == reference_meta["traj"]["length"]
    assert m.shard_names == reference_meta["traj"]["shard_names"]
    ref = reference_part(reference, "traj_val")
    v = m.validation_batch
    ours = {"action": v.action, "action_mask": v.action_mask, "done": v.done, "mask": v.mask}
    ours.update({f"env_state/{k[10:]}": x for k, x in env_state_to_fields(v.env_state).items()})
    assert set(ours) == set(ref)
    for k, x in ref.items():
        np.testing.assert_array_equal(ours[k], x, err_msg=k)


def test_one_epoch_serves_exactly_the_reference_training_trajectories(reference):
    """Upstream's 3 batches cover the 12 training trajectories; so does our epoch (remixed)."""
    m = _manager()
    assert m.batches_per_epoch == 3
    ref = Counter(
        k
        for i in range(3)
        for k in rows_as_bytes(reference_part(reference, f"traj_batch{i}"), KEYS)
    )
    epochs = [Counter(k for _ in range(3) for k in _keys(m.load_next_batch())) for _ in range(2)]
    assert epochs[0] == ref and epochs[1] == ref
    m.close()


def test_batches_are_remixed_across_epochs():
    m = _manager(n_val_shards=0, batch_size=4)
    per_epoch = m.batches_per_epoch
    groups = [{frozenset(_keys(m.load_next_batch())) for _ in range(per_epoch)} for _ in range(3)]
    assert groups[0] != groups[1] or groups[1] != groups[2]
    m.close()


def test_done_mask_and_action_mask_semantics():
    m = _manager()
    b = m.load_next_batch()
    ts = b.env_state.timestep
    np.testing.assert_array_equal(b.done[:, 1:], ts[:, 1:] == 0)  # reset convention
    assert not b.done[:, 0].any()
    static = static_env_params_from_size("s")
    np.testing.assert_array_equal(valid_action_mask_np(b.env_state, static), b.action_mask)
    m.close()


def test_same_seed_same_order_other_seed_other_order():
    a, b, c = _manager(seed=3), _manager(seed=3), _manager(seed=4)
    ka = [_keys(a.load_next_batch()) for _ in range(5)]
    assert ka == [_keys(b.load_next_batch()) for _ in range(5)]
    assert ka != [_keys(c.load_next_batch()) for _ in range(5)]
    for m in (a, b, c):
        m.close()


def test_state_dict_resumes_mid_epoch():
    a = _manager(n_val_shards=0, batch_size=3)
    for _ in range(4):
        a.load_next_batch()
    state = json.loads(json.dumps(a.state_dict()))
    expected = [_keys(a.load_next_batch()) for _ in range(4)]
    b = _manager(n_val_shards=0, batch_size=3)
    b.load_next_batch()  # its own prefetch state must be discarded
    b.load_state_dict(state)
    assert [_keys(b.load_next_batch()) for _ in range(4)] == expected
    assert b.state_dict()["batches_served"] == 8
    with pytest.raises(ValueError, match="seed=0"):
        _manager(seed=1, n_val_shards=0, batch_size=3).load_state_dict(state)
    a.close()
    b.close()


def test_processes_get_disjoint_trajectories():
    ms = [
        _manager(n_val_shards=0, batch_size=2, shard_index=p, total_shard_count=2) for p in (0, 1)
    ]
    assert ms[0].batches_per_epoch == ms[1].batches_per_epoch
    seen = [{k for _ in range(m.batches_per_epoch) for k in _keys(m.load_next_batch())} for m in ms]
    assert seen[0] and not seen[0] & seen[1]
    for m in ms:
        m.close()


def test_expansion_works_for_trajectory_batches():
    m_static = static_env_params_from_size("m")
    m = _manager(static_env_params=m_static, should_expand_static_env_params=True, prefetch=1)
    b = m.load_next_batch()
    s = b.env_state
    assert s.polygon.position.shape == (4, 256, 6, 2)
    assert s.collision_matrix.shape == (4, 256, 9, 9)
    assert s.acc_rr_manifolds.normal.shape == (4, 256, 9, 2, 2)
    assert not s.polygon.active[..., 5].any()
    assert m.validation_batch.env_state.circle.position.shape == (3, 256, 3, 2)
    m.close()


def test_static_sizes_that_do_not_match_are_reported():
    with pytest.raises(FieldError, match="do not match static_env_params"):
        _manager(static_env_params=static_env_params_from_size("m"))


def test_flat_dataset_is_rejected_with_its_layout():
    from conftest import FLAT_DIR

    with pytest.raises(ValueError, match="flat layout"):
        TrajectoryDatasetManager(str(FLAT_DIR), batch_size=2)


def test_read_errors_surface_from_the_prefetch_thread(traj_copy: Path):
    for name in ("shard_000", "shard_001", "shard_003"):
        for chunk in (traj_copy / name).glob("*.0.0"):
            chunk.write_bytes(b"garbage")
    m = TrajectoryDatasetManager(str(traj_copy), batch_size=2, seed=0, n_val_shards=1)
    with pytest.raises(ReleasedFormatError, match="truncated or corrupt"):
        m.load_next_batch()
    with pytest.raises(ReleasedFormatError):  # and again, instead of hanging
        m.load_next_batch()
    m.close()


def test_batches_feed_jax():
    m = _manager(prefetch=1)
    b = m.load_next_batch()
    state = jax.tree.map(jax.numpy.asarray, b.env_state)
    assert state.polygon.position.shape == (4, 256, 5, 2)
    m.close()
