"""Action distributions of the actor heads (pytrees, so they can leave jitted functions).

* :class:`Categorical`: one categorical (discrete actions).
* :class:`MultiCategorical`: independent categoricals of possibly different sizes, stored as
  ``(..., D, K_max)`` logits where unused choices carry a huge negative logit (multi-discrete:
  3 choices per motor channel, 2 per thruster channel).
* :class:`DiagGaussian`: a diagonal Gaussian (continuous actions).

All provide ``sample(key, temperature=1.0)``, ``log_prob(a)``, ``entropy()``, ``mode()``;
the factored ones also ``log_prob_per_dim(a)`` and ``entropy_per_dim()`` with a trailing ``D``
axis (used by the per-dimension masked behaviour-cloning loss).

Invalid choices (see :func:`mask_logits`) get exactly zero probability: their logit is
``MASKED_LOGIT``, whose ``exp`` underflows to 0 in float32.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

__all__ = [
    "MASKED_LOGIT",
    "Categorical",
    "MultiCategorical",
    "DiagGaussian",
    "mask_logits",
    "multi_discrete_choice_mask",
]

MASKED_LOGIT = -1e9


def mask_logits(logits: jax.Array, valid: jax.Array | None) -> jax.Array:
    """``logits`` with ``MASKED_LOGIT`` where ``valid`` is False (no-op when ``valid`` is None)."""
    if valid is None:
        return logits
    return jnp.where(valid, logits, MASKED_LOGIT)


def multi_discrete_choice_mask(channel_mask: jax.Array, num_choices: int) -> jax.Array:
    """Per-choice validity ``(..., D, num_choices)`` from a per-channel mask ``(..., D)``.

    Choice 0 (motor off / thruster off) is always valid; the others only on valid channels, so a
    channel that controls nothing deterministically takes its no-op.
    """
    choice = jnp.arange(num_choices)
    return (choice == 0) | channel_mask[..., None].astype(bool)


def _entropy_from_logits(logits: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits, axis=-1)
    p = jnp.exp(logp)
    return -jnp.sum(jnp.where(p > 0, p * logp, 0.0), axis=-1)


class Categorical(eqx.Module):
    """Categorical over the last axis of ``logits``.

    Example:
        >>> d = Categorical(jnp.array([0.0, 0.0, MASKED_LOGIT]))
        >>> float(d.probs[2])
        0.0
    """

    logits: jax.Array

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    def sample(self, key: jax.Array, temperature: float = 1.0) -> jax.Array:
        return jax.random.categorical(key, self.logits / temperature, axis=-1).astype(jnp.int32)

    def log_prob(self, action: jax.Array) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits, axis=-1)
        a = jnp.asarray(action, jnp.int32)
        return jnp.take_along_axis(logp, a[..., None], axis=-1)[..., 0]

    def log_prob_per_dim(self, action: jax.Array) -> jax.Array:
        """``log_prob`` with a trailing axis of size 1 (uniform with the factored heads)."""
        return self.log_prob(action)[..., None]

    def entropy(self) -> jax.Array:
        return _entropy_from_logits(self.logits)

    def entropy_per_dim(self) -> jax.Array:
        return self.entropy()[..., None]

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)


class MultiCategorical(eqx.Module):
    """Independent categoricals; ``logits`` is ``(..., D, K_max)``.

    Args:
        logits: padded logits; padding/invalid choices hold ``MASKED_LOGIT``.

    Example:
        >>> d = MultiCategorical.from_flat(jnp.zeros(5), (3, 2))
        >>> d.log_prob_per_dim(jnp.array([0, 1])).shape
        (2,)
    """

    logits: jax.Array

    @staticmethod
    def from_flat(
        flat_logits: jax.Array, sizes: tuple[int, ...], channel_mask: jax.Array | None = None
    ) -> MultiCategorical:
        """Split ``(..., sum(sizes))`` logits into consecutive groups of ``sizes`` and pad them.

        Args:
            flat_logits: the actor head output.
            sizes: number of choices of each dimension (``(3,) * NMB + (2,) * NTB``).
            channel_mask: optional ``(..., D)`` bool; invalid channels can only take choice 0.
        """
        if flat_logits.shape[-1] != sum(sizes):
            raise ValueError(
                f"flat_logits has {flat_logits.shape[-1]} entries, expected sum({sizes}) = "
                f"{sum(sizes)}"
            )
        k = max(sizes)
        groups, start = [], 0
        for n in sizes:
            g = flat_logits[..., start : start + n]
            pad = jnp.full((*g.shape[:-1], k - n), MASKED_LOGIT, g.dtype)
            groups.append(jnp.concatenate([g, pad], axis=-1))
            start += n
        logits = jnp.stack(groups, axis=-2)
        if channel_mask is not None:
            logits = mask_logits(logits, multi_discrete_choice_mask(channel_mask, k))
        return MultiCategorical(logits)

    @property
    def probs(self) -> jax.Array:
        return jax.nn.softmax(self.logits, axis=-1)

    def sample(self, key: jax.Array, temperature: float = 1.0) -> jax.Array:
        return jax.random.categorical(key, self.logits / temperature, axis=-1).astype(jnp.int32)

    def log_prob_per_dim(self, action: jax.Array) -> jax.Array:
        logp = jax.nn.log_softmax(self.logits, axis=-1)
        a = jnp.asarray(action, jnp.int32)
        return jnp.take_along_axis(logp, a[..., None], axis=-1)[..., 0]

    def log_prob(self, action: jax.Array) -> jax.Array:
        return self.log_prob_per_dim(action).sum(-1)

    def entropy_per_dim(self) -> jax.Array:
        return _entropy_from_logits(self.logits)

    def entropy(self) -> jax.Array:
        return self.entropy_per_dim().sum(-1)

    def mode(self) -> jax.Array:
        return jnp.argmax(self.logits, axis=-1).astype(jnp.int32)


class DiagGaussian(eqx.Module):
    """Diagonal Gaussian with ``std = exp(log_std)`` (``log_std`` broadcasts against ``mean``).

    Example:
        >>> d = DiagGaussian(jnp.zeros(3), jnp.zeros(3))
        >>> d.log_prob_per_dim(jnp.zeros(3)).shape
        (3,)
    """

    mean: jax.Array
    log_std: jax.Array

    def sample(self, key: jax.Array, temperature: float = 1.0) -> jax.Array:
        noise = jax.random.normal(key, self.mean.shape, self.mean.dtype)
        return self.mean + temperature * jnp.exp(self.log_std) * noise

    def log_prob_per_dim(self, action: jax.Array) -> jax.Array:
        z = (action - self.mean) * jnp.exp(-self.log_std)
        return -0.5 * jnp.square(z) - self.log_std - 0.5 * jnp.log(2 * jnp.pi)

    def log_prob(self, action: jax.Array) -> jax.Array:
        return self.log_prob_per_dim(action).sum(-1)

    def entropy_per_dim(self) -> jax.Array:
        return jnp.broadcast_to(0.5 + 0.5 * jnp.log(2 * jnp.pi) + self.log_std, self.mean.shape)

    def entropy(self) -> jax.Array:
        return self.entropy_per_dim().sum(-1)

    def mode(self) -> jax.Array:
        return self.mean
