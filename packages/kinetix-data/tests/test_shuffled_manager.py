from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from conftest import FLAT_DIR, reference_part, rows_as_bytes

from kinetix.data import ShuffledDatasetManager, env_state_to_fields, open_released
from kinetix.data.released import write_released_shard
from kinetix.environment import expand_env_state, static_env_params_from_size

KEYS = ["action", "env_state/polygon/position", "env_state/timestep"]


def _keys(batch) -> list[bytes]:
    return rows_as_bytes({"action": batch.action, **env_state_to_fields(batch.env_state)}, KEYS)


def _all_rows() -> Counter:
    ds = open_released(FLAT_DIR)
    out = Counter()
    for i in range(len(ds.shards)):
        out.update(rows_as_bytes(ds.read_shard(i), KEYS))
    return out


def test_flat_batches_shapes_and_semantics(reference):
    m = ShuffledDatasetManager(str(FLAT_DIR), batch_size=64, seed=3)
    b = m.load_next_batch()
    assert b.done is None
    assert b.action.shape == (64, 6) and b.mask.shape == (64,) and b.mask.all()
    assert b.env_state.polygon.position.shape == (64, 5, 2)
    ref = reference_part(reference, "flat_batch0")
    assert m.length == 4096 // 64 and ref["action"].shape == b.action.shape
    m.close()


def test_an_epoch_serves_every_transition_once():
    m = ShuffledDatasetManager(str(FLAT_DIR), batch_size=256, seed=0)
    assert m.batches_per_epoch == 16
    served = Counter(k for _ in range(16) for k in _keys(m.load_next_batch()))
    assert served == _all_rows()
    m.close()


def test_mixing_two_directories_by_proportion():
    m = ShuffledDatasetManager(
        [str(FLAT_DIR), str(FLAT_DIR)], batch_size=64, seed=1, dataset_proportions=[0.75, 0.25]
    )
    b = m.load_next_batch()
    assert b.action.shape == (64, 6)
    assert m.state_dict()["positions"] == [[0, 1], [0, 1]]
    with pytest.raises(ValueError, match="sum to batch_size"):
        ShuffledDatasetManager(
            [str(FLAT_DIR), str(FLAT_DIR)], batch_size=63, dataset_proportions=[0.5, 0.5]
        )
    m.close()


def test_mixing_datasets_of_different_sizes_pads_to_the_largest(tmp_path):
    src = open_released(FLAT_DIR)
    f = src.read_shard(0, 0, 256)
    m_static = static_env_params_from_size("m")
    big = expand_env_state(src.env_state(f), m_static)
    fields = {**{k: v for k, v in f.items() if not k.startswith("env_state/")}}
    fields.update({k: np.asarray(v) for k, v in env_state_to_fields(big).items()})
    write_released_shard(tmp_path / "m_flat" / "a", fields, "flat")
    m = ShuffledDatasetManager(
        [str(FLAT_DIR), str(tmp_path / "m_flat")],
        batch_size=32,
        seed=0,
        dataset_proportions=[0.5, 0.5],
    )
    b = m.load_next_batch()
    assert m.static_env_params.num_polygons == 6
    assert b.env_state.polygon.position.shape == (32, 6, 2)
    assert b.env_state.collision_matrix.shape == (32, 9, 9)
    m.close()


def test_validation_split_and_resume():
    m = ShuffledDatasetManager(
        str(FLAT_DIR), batch_size=128, seed=2, n_val_shards=1, val_batch_size=100
    )
    assert m.validation_batch.action.shape == (100, 6)
    val_keys = set(_keys(m.validation_batch))
    m.load_next_batch()
    state = m.state_dict()
    nxt = [_keys(m.load_next_batch()) for _ in range(3)]
    assert not val_keys & {k for ks in nxt for k in ks}
    m2 = ShuffledDatasetManager(
        str(FLAT_DIR), batch_size=128, seed=2, n_val_shards=1, val_batch_size=100
    )
    m2.load_state_dict(state)
    assert [_keys(m2.load_next_batch()) for _ in range(3)] == nxt
    m.close()
    m2.close()
