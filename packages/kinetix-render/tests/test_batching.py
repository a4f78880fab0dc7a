import jax
import jax.numpy as jnp
import pytest

from kinetix.environment import create_empty_env, static_env_params_from_size
from kinetix.render.batching import leading_batch_shape, vmap_leading_dims

STATIC_S = static_env_params_from_size("s")


def _stack(state, *dims):
    for d in reversed(dims):
        state = jax.tree.map(lambda x, d=d: jnp.stack([x] * d), state)
    return state


def test_leading_batch_shape():
    state = create_empty_env(STATIC_S)
    assert leading_batch_shape(state, STATIC_S) == ()
    assert leading_batch_shape(_stack(state, 3), STATIC_S) == (3,)
    assert leading_batch_shape(_stack(state, 2, 5), STATIC_S) == (2, 5)


def test_vmap_leading_dims_keeps_the_batch_shape_and_values():
    state = create_empty_env(STATIC_S)
    batch = _stack(state, 2, 3)
    batch = batch.replace(timestep=jnp.arange(6, dtype=jnp.int32).reshape(2, 3))
    f = vmap_leading_dims(lambda s: s.timestep * 10 + s.polygon.active.sum(), STATIC_S)
    assert f(batch).tolist() == [[4, 14, 24], [34, 44, 54]]
    assert int(f(state)) == 4
    assert jax.jit(f)(batch).shape == (2, 3)


def test_mismatched_sizes_and_batches_raise_clear_errors():
    m_state = create_empty_env(static_env_params_from_size("m"))
    with pytest.raises(
        ValueError, match=r"state\.polygon\.position has shape \(6, 2\).*num_polygons=5"
    ):
        leading_batch_shape(m_state, STATIC_S)
    state = _stack(create_empty_env(STATIC_S), 4)
    ragged = state.replace(gravity=state.gravity[:3])
    with pytest.raises(ValueError, match=r"state\.gravity has leading dimensions \(3,\)"):
        leading_batch_shape(ragged, STATIC_S)
