import jax.numpy as jnp
import numpy as np

from kinetix.agents.gae import compute_gae


def test_gae_hand_computed():
    # T = 3, one env; the episode ends after step 1 (done produced by step 1).
    gamma, lam = 0.9, 0.5
    r = jnp.array([[1.0], [2.0], [0.5]])
    v = jnp.array([[0.5], [1.0], [0.25]])
    d = jnp.array([[False], [True], [False]])
    last_v = jnp.array([2.0])
    adv, tgt = compute_gae(r, v, d, last_v, gamma, lam)
    # by hand
    delta2 = 0.5 + 0.9 * 2.0 - 0.25  # 2.05
    a2 = delta2
    delta1 = 2.0 + 0.0 - 1.0  # no bootstrap across the episode end
    a1 = delta1
    delta0 = 1.0 + 0.9 * 1.0 - 0.5  # 1.4
    a0 = delta0 + 0.9 * 0.5 * a1  # 1.85
    np.testing.assert_allclose(np.asarray(adv)[:, 0], [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(tgt)[:, 0], [a0 + 0.5, a1 + 1.0, a2 + 0.25], rtol=1e-6)


def test_gae_lambda_one_is_discounted_return_minus_value():
    T = 5
    rng = np.random.default_rng(0)
    r = rng.normal(size=(T, 2)).astype(np.float32)
    v = rng.normal(size=(T, 2)).astype(np.float32)
    last = rng.normal(size=(2,)).astype(np.float32)
    adv, _ = compute_gae(
        jnp.asarray(r), jnp.asarray(v), jnp.zeros((T, 2), bool), jnp.asarray(last), 0.9, 1.0
    )
    ret = np.zeros((T, 2), np.float32)
    g = last
    for t in reversed(range(T)):
        g = r[t] + 0.9 * g
        ret[t] = g
    np.testing.assert_allclose(np.asarray(adv), ret - v, rtol=1e-5, atol=1e-5)
