"""Gather many same-length arrays with one indexing operation.

XLA compiles one gather per array; detection and the solver setup would otherwise emit hundreds
of them (one per field per pair side), which dominates compile time. Packing the fields into a
single float32 matrix is exact: the int fields are small indices and flags (< 2**24).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def packed_take(tree, idx):
    """``tree_map(lambda x: x[idx], tree)`` with a single gather.

    Args:
        tree: a pytree of arrays sharing the leading dimension ``N``.
        idx: integer index array (any shape) into that dimension.
    """
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    if len(leaves) <= 1:
        return jax.tree_util.tree_map(lambda x: x[idx], tree)
    n = leaves[0].shape[0]
    cols = [x.reshape(n, -1).astype(jnp.float32) for x in leaves]
    widths = [c.shape[1] for c in cols]
    taken = jnp.concatenate(cols, axis=1)[idx]
    out, start = [], 0
    for x, w in zip(leaves, widths):
        part = taken[..., start : start + w].reshape(idx.shape + x.shape[1:])
        if x.dtype == jnp.bool_:
            part = part != 0
        else:
            part = part.astype(x.dtype)
        out.append(part)
        start += w
    return jax.tree_util.tree_unflatten(treedef, out)
