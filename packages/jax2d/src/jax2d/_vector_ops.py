"""The engine's 2-vector products, in the reference's rounding or in the fastest form.

``exact`` evaluates dot products, norms and rotations with the ops the reference uses (a dot op,
``jnp.linalg.norm``, a matrix product), so XLA rounds them as it rounds the reference on every jax
version. ``fast`` writes them out elementwise: XLA fuses them into the surrounding kernels (on jax
0.10 the dot ops otherwise run as separate small kernels), and LLVM may contract a product and a
sum into one FMA, so results differ from the reference in the last bits and trajectories drift
apart over time like any two float implementations of the same model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp

from jax2d import maths

__all__ = ["VectorOps", "EXACT", "FAST", "NUMERICS", "vector_ops"]


class VectorOps(NamedTuple):
    """The 2-vector products one engine variant uses (over the last axis)."""

    dot: Callable
    norm: Callable
    rotate_cs: Callable
    rotate_cs_t: Callable


def _dot(a, b):
    return a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]


def _norm(v):
    return jnp.sqrt(v[..., 0] * v[..., 0] + v[..., 1] * v[..., 1])


def _rotate_cs(c, s, v):
    x, y = v[..., 0], v[..., 1]
    return jnp.stack([c * x - s * y, s * x + c * y], -1)


def _rotate_cs_t(c, s, v):
    x, y = v[..., 0], v[..., 1]
    return jnp.stack([c * x + s * y, c * y - s * x], -1)


EXACT = VectorOps(maths.dot2, maths.norm2, maths.rotate_cs, maths.rotate_cs_t)
FAST = VectorOps(_dot, _norm, _rotate_cs, _rotate_cs_t)
NUMERICS = {"exact": EXACT, "fast": FAST}


def vector_ops(numerics: str) -> VectorOps:
    """The ops for ``numerics`` (``"exact"`` or ``"fast"``); anything else is a ``ValueError``."""
    try:
        return NUMERICS[numerics]
    except (KeyError, TypeError):
        raise ValueError(
            f"numerics must be one of {sorted(NUMERICS)} (got {numerics!r}): 'exact' reproduces "
            "jax2d 1.0.1's trajectories, 'fast' trades the last bits for speed"
        ) from None
