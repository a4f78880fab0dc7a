"""Fixed, ordered tables of body pairs for the three contact families."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["get_pairwise_interaction_indices", "calc_nrr", "num_batches"]


def _upper_pairs(n: int) -> np.ndarray:
    ii, jj = np.triu_indices(n, k=1)
    return np.stack([ii, jj], axis=1).astype(np.int32).reshape(-1, 2)


def get_pairwise_interaction_indices(static_sim_params):
    """``(NCC, NCR, NRR, cc_pairs, cr_pairs, rr_pairs)`` for the given static sizes.

    cc: circle pairs ``i < j``; cr: ``(circle, polygon)``, circle outer; rr: polygon pairs ``i < j``
    without pairs whose indices are both scenery slots (``< num_static_fixated_polys``). All
    indices are local to their shape array. Unlike the reference, ``num_circles == 1`` and
    ``num_polygons <= num_static_fixated_polys`` are supported (they give empty families).
    """
    p, c = static_sim_params.num_polygons, static_sim_params.num_circles
    nsf = static_sim_params.num_static_fixated_polys
    cc = _upper_pairs(c)
    cr = np.stack(np.meshgrid(np.arange(c), np.arange(p), indexing="ij"), -1).reshape(-1, 2)
    cr = cr.astype(np.int32)
    rr = _upper_pairs(p)
    rr = rr[~((rr[:, 0] < nsf) & (rr[:, 1] < nsf))].reshape(-1, 2)
    return len(cc), len(cr), len(rr), cc, cr, rr


def calc_nrr(static_sim_params) -> int:
    """Number of polygon–polygon pairs."""
    return get_pairwise_interaction_indices(static_sim_params)[2]


def num_batches(n: int, batch_size: int) -> int:
    """``ceil(n / batch_size)``."""
    return math.ceil(n / batch_size)
