import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.agents.distributions import (
    Categorical,
    DiagGaussian,
    MultiCategorical,
    mask_logits,
    multi_discrete_choice_mask,
)

SIZES = (3, 3, 3, 3, 2, 2)


def _logits(shape, seed=0):
    return jax.random.normal(jax.random.PRNGKey(seed), shape)


def test_categorical_mask_gives_zero_probability_and_is_never_sampled():
    logits = _logits((5, 11))
    valid = jnp.ones((5, 11), bool).at[:, 3].set(False).at[2, 7].set(False)
    d = Categorical(mask_logits(logits, valid))
    probs = np.asarray(d.probs)
    assert np.all(probs[:, 3] == 0.0) and probs[2, 7] == 0.0
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)
    samples = np.asarray(jax.vmap(d.sample)(jax.random.split(jax.random.PRNGKey(1), 2000)))
    assert not np.any(samples == 3)
    assert not np.any(samples[:, 2] == 7)
    # the renormalised probabilities of the valid choices are the softmax over the valid logits
    ref = np.exp(np.asarray(logits[0]))
    ref[3] = 0
    np.testing.assert_allclose(probs[0], ref / ref.sum(), rtol=1e-5)
    assert np.isfinite(np.asarray(d.entropy())).all()


def test_multi_categorical_split_logprob_entropy():
    flat = _logits((4, 16), seed=2)
    d = MultiCategorical.from_flat(flat, SIZES)
    assert d.logits.shape == (4, 6, 3)
    # thruster groups have a third, impossible choice
    assert np.all(np.asarray(d.probs)[:, 4:, 2] == 0.0)
    a = jnp.array([[0, 1, 2, 1, 1, 0]] * 4)
    per_dim = np.asarray(d.log_prob_per_dim(a))
    assert per_dim.shape == (4, 6)
    f = np.asarray(flat)
    starts = np.cumsum((0,) + SIZES[:-1])
    for i, (s, n) in enumerate(zip(starts, SIZES)):
        g = f[:, s : s + n]
        logp = g - np.log(np.exp(g).sum(-1, keepdims=True))
        np.testing.assert_allclose(
            per_dim[:, i], logp[np.arange(4), np.asarray(a)[:, i]], rtol=1e-5
        )
        ent = -(np.exp(logp) * logp).sum(-1)
        np.testing.assert_allclose(np.asarray(d.entropy_per_dim())[:, i], ent, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(d.log_prob(a)), per_dim.sum(-1), rtol=1e-6)


def test_multi_categorical_channel_mask_forces_noop_on_invalid_channels():
    flat = _logits((3, 16), seed=3)
    channel_mask = jnp.array([True, False, True, False, False, True])
    d = MultiCategorical.from_flat(flat, SIZES, jnp.broadcast_to(channel_mask, (3, 6)))
    probs = np.asarray(d.probs)
    for dim in (1, 3, 4):
        np.testing.assert_array_equal(probs[:, dim, 0], 1.0)
        np.testing.assert_array_equal(probs[:, dim, 1:], 0.0)
    assert np.all(probs[:, 0, :] > 0)
    samples = np.asarray(jax.vmap(d.sample)(jax.random.split(jax.random.PRNGKey(4), 500)))
    assert np.all(samples[..., [1, 3, 4]] == 0)
    np.testing.assert_allclose(np.asarray(d.entropy_per_dim())[:, [1, 3, 4]], 0.0, atol=1e-6)


def test_choice_mask_layout():
    m = np.asarray(multi_discrete_choice_mask(jnp.array([True, False]), 3))
    np.testing.assert_array_equal(m, [[True, True, True], [True, False, False]])


def test_from_flat_rejects_wrong_size():
    with pytest.raises(ValueError, match="expected sum"):
        MultiCategorical.from_flat(jnp.zeros(15), SIZES)


def test_diag_gaussian_matches_closed_form():
    mean = jnp.array([[0.5, -1.0, 0.0]])
    log_std = jnp.array([[0.0, np.log(2.0), -1.0]])
    d = DiagGaussian(mean, log_std)
    a = jnp.array([[1.0, 1.0, 0.0]])
    std = np.exp(np.asarray(log_std))
    ref = -0.5 * ((np.asarray(a) - np.asarray(mean)) / std) ** 2 - np.log(std * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(np.asarray(d.log_prob_per_dim(a)), ref, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(d.log_prob(a)), ref.sum(-1), rtol=1e-5)
    ent = 0.5 * np.log(2 * np.pi * np.e * std**2)
    np.testing.assert_allclose(np.asarray(d.entropy_per_dim()), ent, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(d.mode()), np.asarray(mean))
    s = np.asarray(jax.vmap(d.sample)(jax.random.split(jax.random.PRNGKey(0), 4000)))
    np.testing.assert_allclose(s.mean(0)[0], np.asarray(mean)[0], atol=0.1)
    np.testing.assert_allclose(s.std(0)[0], std[0], rtol=0.1)


def test_temperature_sharpens_sampling():
    d = Categorical(jnp.array([1.0, 0.0]))
    keys = jax.random.split(jax.random.PRNGKey(0), 2000)
    cold = np.asarray(jax.vmap(lambda k: d.sample(k, 0.1))(keys)).mean()
    warm = np.asarray(jax.vmap(d.sample)(keys)).mean()
    assert cold < 0.01 < warm
