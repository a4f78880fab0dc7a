"""Small Equinox building blocks with flax-like conventions (kernel ``(in, out)``, broadcasting
over any leading axes), so parameter shapes and counts line up with the reference's flax models."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Dense", "LayerNorm", "MLP", "activation_fn", "orthogonal", "lecun_normal"]

Initializer = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]


def orthogonal(scale: float) -> Initializer:
    """Orthogonal kernel initialiser with gain ``scale`` (as the reference's Dense layers).

    The same matrix as ``jax.nn.initializers.orthogonal(scale)`` up to float rounding: the Q
    factor, with a positive-diagonal R, of a standard-normal matrix drawn from the same key.
    Q comes from Gram-Schmidt in plain JAX ops instead of LAPACK's QR, because on XLA:CPU a
    *batched* LAPACK QR (a vmapped network init, as in ``train_seeds`` or expert collection)
    fans out into the intra-op thread pool it is running on and waits: with two such QRs in
    flight on a 2-core machine every worker waits and the program never finishes.
    """

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        if len(shape) < 2:
            raise ValueError(f"orthogonal init needs a kernel of rank >= 2; got shape {shape}")
        n_cols = shape[-1]
        n_rows = int(np.prod(shape)) // n_cols
        wide = n_rows < n_cols
        a = jax.random.normal(key, (n_cols, n_rows) if wide else (n_rows, n_cols), dtype)
        q = _orthonormal_columns(a)
        q = q.T if wide else q
        return (scale * q).reshape(shape).astype(dtype)

    return init


def _orthonormal_columns(a: jax.Array) -> jax.Array:
    """Q of the thin QR of a tall ``(n, m)`` matrix with ``diag(R) > 0`` (Gram-Schmidt, twice:
    the second pass restores orthogonality lost to rounding in the first)."""
    hi = jax.lax.Precision.HIGHEST

    def column(j, q):
        v = jax.lax.dynamic_index_in_dim(a, j, axis=1, keepdims=False)
        for _ in range(2):  # columns >= j of q are still zero, so they project out nothing
            v = v - jnp.matmul(q, jnp.matmul(q.T, v, precision=hi), precision=hi)
        v = v / jnp.sqrt(jnp.sum(v * v))
        return jax.lax.dynamic_update_index_in_dim(q, v, j, axis=1)

    return jax.lax.fori_loop(0, a.shape[1], column, jnp.zeros_like(a))


def lecun_normal() -> Initializer:
    """Truncated-normal LeCun initialiser (flax's default Dense kernel init)."""
    return jax.nn.initializers.lecun_normal()


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    """``"tanh"`` or ``"relu"`` to the function.

    Raises:
        ValueError: any other name.
    """
    table = {"tanh": jnp.tanh, "relu": jax.nn.relu}
    if name not in table:
        raise ValueError(f"activation = {name!r} is not supported; expected one of {sorted(table)}")
    return table[name]


class Dense(eqx.Module):
    """``y = x @ kernel + bias`` over the last axis of ``x`` (any leading axes).

    Args:
        in_features, out_features: sizes.
        key: PRNG key of the kernel.
        kernel_init: initialiser of the ``(in, out)`` kernel (default orthogonal(sqrt 2)).
        use_bias: add a bias (initialised to 0).

    Example:
        >>> d = Dense(3, 4, key=jax.random.PRNGKey(0))
        >>> d(jnp.ones((2, 3))).shape
        (2, 4)
    """

    kernel: jax.Array
    bias: jax.Array | None

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        key: jax.Array,
        kernel_init: Initializer | None = None,
        use_bias: bool = True,
    ):
        init = kernel_init if kernel_init is not None else orthogonal(np.sqrt(2))
        self.kernel = init(key, (in_features, out_features), jnp.float32)
        self.bias = jnp.zeros((out_features,), jnp.float32) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x @ self.kernel
        return y if self.bias is None else y + self.bias


class LayerNorm(eqx.Module):
    """Layer normalisation over the last axis (flax defaults: eps 1e-6, learned scale/bias)."""

    scale: jax.Array
    bias: jax.Array
    eps: float = eqx.field(static=True, default=1e-6)

    def __init__(self, features: int, eps: float = 1e-6):
        self.scale = jnp.ones((features,), jnp.float32)
        self.bias = jnp.zeros((features,), jnp.float32)
        self.eps = eps

    def __call__(self, x: jax.Array) -> jax.Array:
        mean = x.mean(-1, keepdims=True)
        var = jnp.square(x - mean).mean(-1, keepdims=True)
        return (x - mean) * jax.lax.rsqrt(var + self.eps) * self.scale + self.bias


class MLP(eqx.Module):
    """``depth`` x [Dense(width) -> activation], orthogonal(sqrt 2) kernels, zero biases.

    Args:
        in_features: input size.
        width, depth: hidden size and number of layers (depth 0 is the identity).
        activation: ``"tanh"`` or ``"relu"``.
        key: PRNG key.
    """

    layers: tuple[Dense, ...]
    activation: str = eqx.field(static=True)

    def __init__(self, in_features: int, width: int, depth: int, activation: str, *, key):
        activation_fn(activation)  # validate early
        keys = jax.random.split(key, max(depth, 1))
        sizes = [in_features] + [width] * depth
        self.layers = tuple(Dense(sizes[i], sizes[i + 1], key=keys[i]) for i in range(depth))
        self.activation = activation

    @property
    def out_features(self) -> int:
        return self.layers[-1].kernel.shape[1] if self.layers else -1

    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.activation)
        for layer in self.layers:
            x = act(layer(x))
        return x
