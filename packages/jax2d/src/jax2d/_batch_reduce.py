"""Reductions over every ``vmap`` axis: values a ``lax.cond`` can branch on inside ``vmap``.

Under ``vmap`` a ``lax.cond`` or ``lax.switch`` whose index is batched runs every branch and
selects, so a cheaper path chosen per environment saves nothing. Reducing the index over the
batch first makes it unbatched again: the branch is really taken, the one that suits every
environment of the batch. Outside ``vmap`` these are the identity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_batching.custom_vmap
def batch_max(x: jax.Array) -> jax.Array:
    """``x`` unchanged; under ``vmap``, its maximum over the mapped axes (an unbatched value).

    Args:
        x: an integer or float scalar.

    Example::

        >>> import jax, jax.numpy as jnp
        >>> jax.vmap(lambda x: batch_max(x) + 0 * x)(jnp.array([1, 5, 2]))
        Array([5, 5, 5], dtype=int32)
    """
    return x


@batch_max.def_vmap
def _batch_max_rule(axis_size, in_batched, x):
    (batched,) = in_batched
    if batched:
        x = jnp.max(x, axis=0)
    # Calling itself again lets an enclosing vmap reduce over its own axis too.
    return batch_max(x), False


__all__ = ["batch_max"]
