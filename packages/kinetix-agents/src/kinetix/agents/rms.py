"""Running mean / variance statistics for observation normalisation (Chan et al.'s parallel
update), one statistic per floating observation leaf; bool/int leaves pass through."""

from __future__ import annotations

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = ["RunningMeanStandard", "init_rms", "update_rms", "normalise"]


def _is_float(x: Any) -> bool:
    return isinstance(x, jax.Array | jnp.ndarray) and jnp.issubdtype(x.dtype, jnp.floating)


class RunningMeanStandard(eqx.Module):
    """Statistics pytree: ``mean``/``var`` mirror the observation tree (``None`` at non-floating
    leaves), ``count`` is the (float) number of samples seen.

    Example:
        >>> rms = init_rms(jnp.zeros(3))
        >>> rms = update_rms(rms, jnp.array([[1.0, 2, 3], [3.0, 2, 1]]))
        >>> normalise(rms, jnp.array([2.0, 2, 2])).tolist()
        [0.0, 0.0, 0.0]
    """

    mean: Any
    var: Any
    count: jax.Array
    epsilon: float = eqx.field(static=True, default=1e-4)


def init_rms(example_obs: Any, epsilon: float = 1e-4) -> RunningMeanStandard:
    """Zero mean, unit variance, count ``epsilon``, shaped like one observation."""
    mean = jax.tree.map(
        lambda x: jnp.zeros(x.shape, x.dtype) if _is_float(x) else None, example_obs
    )
    var = jax.tree.map(lambda x: jnp.ones(x.shape, x.dtype) if _is_float(x) else None, example_obs)
    return RunningMeanStandard(mean, var, jnp.asarray(epsilon, jnp.float32), epsilon)


def update_rms(
    rms: RunningMeanStandard, batch: Any, axis_name: str | None = None
) -> RunningMeanStandard:
    """Merge a batch whose leaves have extra leading axes (any number) into the statistics.

    Args:
        rms: current statistics.
        batch: observations with leading batch axes in front of the per-observation shape.
        axis_name: if given, sums are ``psum``-ed over this mapped axis (multi-device).
    """
    leaves_m, treedef = jax.tree.flatten(rms.mean, is_leaf=lambda x: x is None)
    leaves_v = jax.tree.leaves(rms.var, is_leaf=lambda x: x is None)
    leaves_b = treedef.flatten_up_to(batch)
    new_m, new_v = [], []
    count = None
    for m, v, b in zip(leaves_m, leaves_v, leaves_b):
        if m is None:
            new_m.append(None)
            new_v.append(None)
            continue
        lead = b.ndim - m.ndim
        axes = tuple(range(lead))
        n = jnp.asarray(float(math.prod(b.shape[:lead])), jnp.float32)
        s = b.sum(axes)
        if axis_name is not None:
            n = jax.lax.psum(n, axis_name)
            s = jax.lax.psum(s, axis_name)
        bmean = s / n
        sq = jnp.square(b - bmean).sum(axes)
        if axis_name is not None:
            sq = jax.lax.psum(sq, axis_name)
        bvar = sq / n
        delta = bmean - m
        tot = rms.count + n
        new_m.append(m + delta * n / tot)
        m2 = v * rms.count + bvar * n + jnp.square(delta) * rms.count * n / tot
        new_v.append(m2 / tot)
        count = tot
    if count is None:
        return rms
    unflat = lambda xs: jax.tree.unflatten(treedef, xs)
    return RunningMeanStandard(unflat(new_m), unflat(new_v), count, rms.epsilon)


def normalise(rms: RunningMeanStandard, obs: Any) -> Any:
    """``(x - mean) / sqrt(var + epsilon)`` on floating leaves (broadcast over leading axes)."""
    leaves_m, treedef = jax.tree.flatten(rms.mean, is_leaf=lambda x: x is None)
    leaves_v = jax.tree.leaves(rms.var, is_leaf=lambda x: x is None)
    leaves_o = treedef.flatten_up_to(obs)
    out = [
        o if m is None else ((o - m) / jnp.sqrt(v + rms.epsilon)).astype(o.dtype)
        for m, v, o in zip(leaves_m, leaves_v, leaves_o)
    ]
    return jax.tree.unflatten(treedef, out)
