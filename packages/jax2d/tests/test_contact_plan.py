"""The contact plan: Jacobi batch membership and the fixed-lanes / rows split."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from jax2d._contact_plan import ContactFamily, make_contact_plan
from jax2d._pairs import get_pairwise_interaction_indices
from jax2d.sim_state import StaticSimParams


def _reference_batches(act: np.ndarray, batch_size: int) -> list[list[int]]:
    """The reference's partition, spelled out: stable sort inactive first, pad, split."""
    n = len(act)
    nb = -(-n // batch_size)
    order = np.argsort(act.astype(np.int32), kind="stable")
    padded = np.concatenate([order, -np.ones(nb * batch_size - n, np.int64)])
    grid = padded.reshape(batch_size, nb)  # position pos -> (pos // nb, pos % nb)
    return [[int(k) for k in grid[:, j] if k >= 0] for j in range(nb)]


@pytest.mark.parametrize("n,batch_size", [(22, 16), (7, 3), (12, 4), (5, 16), (33, 16)])
def test_batch_ids_match_the_reference_partition(n, batch_size):
    nb = -(-n // batch_size)
    fam = ContactFamily(0, n, np.zeros(n, np.int32), np.ones(n, np.int32), (False,) * nb)
    rng = np.random.default_rng(n * 100 + batch_size)
    for _ in range(20):
        act = rng.random(n) < rng.random()
        want = _reference_batches(act, batch_size)
        ids = fam.batch_ids(jnp.asarray(act))
        if nb == 1:
            assert ids is None
            continue
        got = [sorted(np.flatnonzero(np.asarray(ids) == j).tolist()) for j in range(nb)]
        assert got == [sorted(b) for b in want]


def _cc_only_plan(n: int, batch_size: int, layout: str):
    none = np.zeros((0, 2), np.int32)
    return make_contact_plan(none, none, np.zeros((n, 2), np.int32), 0, batch_size, layout)


@pytest.mark.parametrize("n,batch_size", [(22, 16), (32, 16), (17, 4), (3, 16)])
def test_padded_flags_mark_the_batches_holding_padding(n, batch_size):
    (fam,) = _cc_only_plan(n, batch_size, "lanes").segments
    want = [len(b) < batch_size for b in _reference_batches(np.ones(n, bool), batch_size)]
    assert list(fam.padded) == want


def test_auto_layout_uses_rows_only_for_large_families():
    static = StaticSimParams(num_polygons=12, num_circles=4, num_joints=6, num_thrusters=2)
    _, _, _, cc, cr, rr = get_pairwise_interaction_indices(static)
    plan = make_contact_plan(rr, cr, cc, 12, 16)
    kinds = [type(s).__name__ for s in plan.segments]
    # rr (60 pairs, twice) and cr (48) are 3-4 batches each: one row group; cc (6) fixed lanes.
    assert kinds == ["RowGroup", "ContactFamily"]
    assert plan.segments[0].size == 60 + 60 + 48
    for layout, kind in [("lanes", "ContactFamily"), ("rows", "RowGroup")]:
        plan = make_contact_plan(rr, cr, cc, 12, 16, layout=layout)
        assert {type(s).__name__ for s in plan.segments} == {kind}
        assert sum(s.size for s in plan.segments) == plan.num_contacts == 60 + 60 + 48 + 6


def test_unknown_layout_is_rejected():
    with pytest.raises(ValueError, match="layout must be"):
        make_contact_plan(np.zeros((0, 2), int), np.zeros((0, 2), int), np.zeros((0, 2), int),
                          4, 16, layout="fast")  # fmt: skip
