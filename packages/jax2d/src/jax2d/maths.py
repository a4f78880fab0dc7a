"""Small 2D vector helpers shared by the engine (names follow ``jax2d.maths`` of the reference)."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = [
    "rmat",
    "zero_to_one",
    "vv_cross",
    "sv_cross",
    "vs_cross",
    "dot2",
    "norm2",
    "rotate_cs",
    "rotate_cs_t",
    "rotate",
]


def rmat(angle: jnp.ndarray) -> jnp.ndarray:
    """Rotation matrix ``[[cos, -sin], [sin, cos]]`` for ``angle`` (shape ``(..., 2, 2)``)."""
    c, s = jnp.cos(angle), jnp.sin(angle)
    return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)


def zero_to_one(x: jnp.ndarray) -> jnp.ndarray:
    """1 where ``x == 0`` exactly, else ``x``: keeps masked lanes from dividing by zero."""
    return jnp.where(x == 0, jnp.ones_like(x), x)


def vv_cross(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Scalar cross product ``a.x*b.y - a.y*b.x`` over the last axis."""
    return a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]


def sv_cross(s: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``s × v`` for scalar ``s``: the velocity ``(-s*v.y, s*v.x)`` an angular speed gives at ``v``."""
    return jnp.stack([-s * v[..., 1], s * v[..., 0]], -1)


def vs_cross(v: jnp.ndarray, s: jnp.ndarray) -> jnp.ndarray:
    """``v × s`` for scalar ``s``: ``(s*v.y, -s*v.x)``."""
    return jnp.stack([s * v[..., 1], -s * v[..., 0]], -1)


def dot2(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """``a.x*b.x + a.y*b.y`` over the last axis, rounded as the reference's ``jnp.dot``.

    A dot op, not the elementwise sum: XLA:CPU rounds the two differently (jax 0.9 evaluates the
    dot as ``fma(a.y, b.y, a.x*b.x)``, jax 0.10 without an FMA, while LLVM contracts the written
    out sum its own way), and over a 10-iteration solve the last bits grow into visible
    trajectory differences. Same op as the reference, same rounding on every jax version.
    """
    shape = jnp.broadcast_shapes(a.shape, b.shape)
    a, b = jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape)
    return jnp.einsum("...i,...i->...", a, b)


def norm2(v: jnp.ndarray) -> jnp.ndarray:
    """Euclidean length over the last axis (size 2), as the reference's ``jnp.linalg.norm``."""
    return jnp.linalg.norm(v, axis=-1)


def _matvec(m: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    # A matrix-vector product, as the reference's ``jnp.matmul(rmat(angle), v)``: XLA rounds a
    # dot differently from the same sum written out elementwise (where it fuses one product into
    # an FMA). Anchors the reference places on exactly the same world point must land there.
    shape = jnp.broadcast_shapes(m.shape[:-2], v.shape[:-1])
    m = jnp.broadcast_to(m, shape + (2, 2))
    v = jnp.broadcast_to(v, shape + (2,))
    return jnp.einsum("...ij,...j->...i", m, v)


def rotate_cs(c: jnp.ndarray, s: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``R v`` for ``R = [[c, -s], [s, c]]``, rounded as the reference's matrix product.

    Taking a precomputed ``(cos, sin)`` lets callers evaluate each angle's trigonometry once:
    XLA CPU inlines a large polynomial for every transcendental in every fused kernel.
    """
    m = jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)
    return _matvec(m, v)


def rotate_cs_t(c: jnp.ndarray, s: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``R^T v`` for ``R = [[c, -s], [s, c]]``, rounded as the reference's matrix product."""
    m = jnp.stack([jnp.stack([c, s], -1), jnp.stack([-s, c], -1)], -2)
    return _matvec(m, v)


def rotate(angle: jnp.ndarray, v: jnp.ndarray) -> jnp.ndarray:
    """``R(angle) v``."""
    return rotate_cs(jnp.cos(angle), jnp.sin(angle), v)
