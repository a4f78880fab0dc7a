"""``batch_max``: the identity outside ``vmap``, an unbatched maximum inside it."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax2d._batch_reduce import batch_max


def test_identity_outside_vmap():
    assert int(batch_max(jnp.int32(7))) == 7
    assert int(jax.jit(batch_max)(jnp.int32(-3))) == -3


def test_maximum_over_the_vmapped_axis():
    x = jnp.array([1, 5, 2], jnp.int32)
    out = jax.vmap(lambda v: batch_max(v) + 0 * v)(x)
    np.testing.assert_array_equal(out, [5, 5, 5])


def test_nested_vmap_reduces_every_axis():
    x = jnp.array([[1, 9], [4, 2]], jnp.int32)
    out = jax.vmap(jax.vmap(lambda v: batch_max(v) + 0 * v))(x)
    np.testing.assert_array_equal(out, np.full((2, 2), 9))


def test_switch_on_it_stays_a_branch_under_vmap():
    """The point of the reduction: a ``lax.switch`` on it is a real branch, not a select."""

    def f(v):
        return jax.lax.switch(batch_max(v > 0).astype(jnp.int32), [lambda: -v, lambda: 2 * v])

    x = jnp.array([1.0, -2.0, 3.0])
    np.testing.assert_array_equal(jax.jit(jax.vmap(f))(x), 2 * x)  # one positive: branch 1
    np.testing.assert_array_equal(jax.jit(jax.vmap(f))(-jnp.abs(x)), jnp.abs(x))
    hlo = jax.jit(jax.vmap(f)).lower(x).as_text()
    assert "stablehlo.case" in hlo and "stablehlo.select" not in hlo
    # Differentiable through the branch that is taken.
    grad = jax.grad(lambda x: jax.vmap(f)(x).sum())(x)
    np.testing.assert_array_equal(grad, [2.0, 2.0, 2.0])
