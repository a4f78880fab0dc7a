import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.rms import init_rms, normalise, update_rms


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class Obs:
    x: jax.Array
    mask: jax.Array


def test_rms_matches_numpy_over_several_batches():
    rng = np.random.default_rng(0)
    a = rng.normal(2.0, 3.0, size=(8, 5, 3)).astype(np.float32)
    b = rng.normal(-1.0, 0.5, size=(4, 6, 3)).astype(np.float32)
    ex = Obs(jnp.zeros(3), jnp.zeros(3, bool))
    rms = init_rms(ex)
    assert rms.mean.mask is None
    rms = update_rms(rms, Obs(jnp.asarray(a), jnp.zeros((8, 5, 3), bool)))
    rms = update_rms(rms, Obs(jnp.asarray(b), jnp.zeros((4, 6, 3), bool)))
    allx = np.concatenate([a.reshape(-1, 3), b.reshape(-1, 3)])
    # the prior (mean 0, var 1, count eps) has negligible weight
    np.testing.assert_allclose(np.asarray(rms.mean.x), allx.mean(0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.asarray(rms.var.x), allx.var(0), rtol=1e-3)
    np.testing.assert_allclose(float(rms.count), 64 + 1e-4, rtol=1e-6)
    out = normalise(rms, Obs(jnp.asarray(allx), jnp.ones((64, 3), bool)))
    np.testing.assert_allclose(np.asarray(out.x).mean(0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.asarray(out.x).std(0), 1.0, rtol=1e-3)
    assert out.mask.dtype == jnp.bool_ and bool(out.mask.all())
