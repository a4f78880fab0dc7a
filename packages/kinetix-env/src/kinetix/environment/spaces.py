"""Minimal gymnax-compatible spaces (``Discrete``, ``Box``, ``MultiDiscrete``, ``Dict``).

They carry the attributes agent code reads from gymnax spaces (``n``, ``shape``, ``dtype``,
``low``/``high``) and implement ``sample(rng)`` and ``contains(x)``, without depending on gymnax.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["Space", "Discrete", "Box", "MultiDiscrete", "Dict"]


class Space:
    """Base class: a set of valid values with a uniform sampler."""

    shape: tuple[int, ...]
    dtype: Any

    def sample(self, rng: jax.Array) -> Any:
        """Draw a uniformly random element."""
        raise NotImplementedError

    def contains(self, x: Any) -> jax.Array:
        """Whether ``x`` lies in the space (a scalar bool array)."""
        raise NotImplementedError


class Discrete(Space):
    """The integers ``0..n-1``.

    Args:
        num_categories: ``n``.
    """

    def __init__(self, num_categories: int):
        self.n = int(num_categories)
        self.shape = ()
        self.dtype = jnp.int32

    def sample(self, rng: jax.Array) -> jax.Array:
        return jax.random.randint(rng, self.shape, 0, self.n).astype(self.dtype)

    def contains(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.logical_and(x >= 0, x < self.n)

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box(Space):
    """A box ``low <= x <= high`` of the given shape.

    Args:
        low, high: bounds (scalars or arrays broadcastable to ``shape``).
        shape: the element shape.
        dtype: element dtype.
    """

    def __init__(self, low: Any, high: Any, shape: tuple[int, ...], dtype: Any = jnp.float32):
        self.low = low
        self.high = high
        self.shape = tuple(shape)
        self.dtype = dtype

    def sample(self, rng: jax.Array) -> jax.Array:
        return jax.random.uniform(rng, shape=self.shape, minval=self.low, maxval=self.high).astype(
            self.dtype
        )

    def contains(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.logical_and(jnp.all(x >= self.low), jnp.all(x <= self.high))

    def __repr__(self) -> str:
        return f"Box(shape={self.shape}, dtype={np.dtype(self.dtype).name})"


class MultiDiscrete(Space):
    """Independent categorical choices, one per entry.

    Args:
        n: total number of logits (sum of ``number_of_dims_per_distribution``).
        number_of_dims_per_distribution: ``(k,)`` int array of category counts.
    """

    def __init__(self, n: int, number_of_dims_per_distribution: Any):
        self.n = int(n)
        self.number_of_dims_per_distribution = jnp.asarray(
            number_of_dims_per_distribution, dtype=jnp.int32
        )
        self.shape = (int(self.number_of_dims_per_distribution.shape[0]),)
        self.dtype = jnp.int32

    def sample(self, rng: jax.Array) -> jax.Array:
        u = jax.random.uniform(rng, shape=self.shape) * self.number_of_dims_per_distribution
        return jnp.floor(u).astype(self.dtype)

    def contains(self, x: Any) -> jax.Array:
        x = jnp.asarray(x)
        return jnp.logical_and(jnp.all(x >= 0), jnp.all(x < self.number_of_dims_per_distribution))

    def __repr__(self) -> str:
        dims = np.asarray(self.number_of_dims_per_distribution).tolist()
        return f"MultiDiscrete(n={self.n}, dims={dims})"


class Dict(Space):
    """A dictionary of named sub-spaces."""

    def __init__(self, spaces: Mapping[str, Space]):
        self.spaces = dict(spaces)
        self.shape = ()
        self.dtype = None

    def sample(self, rng: jax.Array) -> dict[str, Any]:
        keys = jax.random.split(rng, len(self.spaces))
        return {k: s.sample(key) for key, (k, s) in zip(keys, self.spaces.items(), strict=True)}

    def contains(self, x: Mapping[str, Any]) -> jax.Array:
        ok = jnp.asarray(True)
        for k, s in self.spaces.items():
            ok = jnp.logical_and(ok, s.contains(x[k]))
        return ok

    def __repr__(self) -> str:
        return f"Dict({self.spaces!r})"
