import jax
import jax.numpy as jnp
import numpy as np

from kinetix.environment.spaces import Box, Dict, Discrete, MultiDiscrete


def test_discrete():
    s = Discrete(11)
    x = jax.vmap(s.sample)(jax.random.split(jax.random.PRNGKey(0), 200))
    assert x.dtype == jnp.int32 and int(x.min()) >= 0 and int(x.max()) <= 10
    assert bool(s.contains(10)) and not bool(s.contains(11)) and not bool(s.contains(-1))
    assert s.n == 11 and s.shape == ()


def test_box():
    s = Box(-1.0, 1.0, (6,))
    x = s.sample(jax.random.PRNGKey(1))
    assert x.shape == (6,) and x.dtype == jnp.float32
    assert bool(s.contains(x)) and not bool(s.contains(jnp.full(6, 1.5)))


def test_multi_discrete():
    s = MultiDiscrete(16, np.array([3, 3, 3, 3, 2, 2]))
    assert s.shape == (6,) and s.n == 16
    x = jax.vmap(s.sample)(jax.random.split(jax.random.PRNGKey(2), 500))
    assert x.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(x.max(0)), [2, 2, 2, 2, 1, 1])
    assert bool(s.contains(jnp.array([2, 0, 1, 0, 1, 0])))
    assert not bool(s.contains(jnp.array([0, 0, 0, 0, 2, 0])))
    assert not bool(s.contains(jnp.array([-1, 0, 0, 0, 0, 0])))


def test_dict():
    s = Dict({"a": Discrete(3), "b": Box(0.0, 1.0, (2,))})
    x = s.sample(jax.random.PRNGKey(3))
    assert set(x) == {"a", "b"} and bool(s.contains(x))
