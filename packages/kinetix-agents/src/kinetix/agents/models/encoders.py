"""Observation encoders for one (unbatched) observation: symbolic-flat MLP, pixel CNN and the
permutation-invariant MLP (multi-head sum pooling over entities). Each maps an observation to a
scene embedding (or an ``(actor, critic)`` pair of them) consumed by the actor-critic trunk."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.models.layers import Dense, activation_fn, orthogonal

__all__ = ["FlatEncoder", "PixelEncoder", "PermutationInvariantEncoder", "MultiHeadSumPool"]


class FlatEncoder(eqx.Module):
    """Symbolic-flat: ``relu(Dense(width)(obs))``."""

    dense: Dense

    def __init__(self, obs_size: int, width: int, *, key: jax.Array):
        self.dense = Dense(obs_size, width, key=key)

    @property
    def embedding_size(self) -> int:
        return self.dense.kernel.shape[1]

    def __call__(self, obs: jax.Array, *, key: jax.Array | None = None) -> jax.Array:
        return jax.nn.relu(self.dense(obs))


def _conv(in_c: int, out_c: int, size: int, stride: int, key: jax.Array) -> eqx.nn.Conv2d:
    conv = eqx.nn.Conv2d(in_c, out_c, size, stride=stride, padding="SAME", key=key)
    init = orthogonal(np.sqrt(2))
    # orthogonal over (kh*kw*in, out) as flax does for conv kernels, stored (out, in, kh, kw)
    w = init(key, (size, size, in_c, out_c), jnp.float32)
    return eqx.tree_at(
        lambda c: (c.weight, c.bias),
        conv,
        (jnp.transpose(w, (3, 2, 0, 1)), jnp.zeros((out_c, 1, 1), jnp.float32)),
    )


class PixelEncoder(eqx.Module):
    """``impala_fast`` CNN: Conv(16, 8x8, s4)-relu-Conv(32, 4x4, s2)-relu, flatten, concat
    ``global_info``. Expects ``obs.image`` ``(H, W, C)`` in [0, 1] and ``obs.global_info``."""

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    embedding_size: int = eqx.field(static=True)

    def __init__(self, image_shape: tuple[int, int, int], global_size: int, *, key: jax.Array):
        k1, k2 = jax.random.split(key)
        h, w, c = image_shape
        self.conv1 = _conv(c, 16, 8, 4, k1)
        self.conv2 = _conv(16, 32, 4, 2, k2)
        h1, w1 = -(-h // 4), -(-w // 4)
        h2, w2 = -(-h1 // 2), -(-w1 // 2)
        self.embedding_size = 32 * h2 * w2 + global_size

    def __call__(self, obs: Any, *, key: jax.Array | None = None) -> jax.Array:
        x = jnp.transpose(obs.image, (2, 0, 1)).astype(jnp.float32)
        x = jax.nn.relu(self.conv1(x))
        x = jax.nn.relu(self.conv2(x))
        # flatten in (H, W, C) order like a channels-last CNN
        x = jnp.transpose(x, (1, 2, 0)).reshape(-1)
        return jnp.concatenate([x, jnp.ravel(obs.global_info)])


class MultiHeadSumPool(eqx.Module):
    """Per head ``relu(Dense(out_dim))`` on every token, summed over tokens; heads concatenated.

    ``kernels`` ``(heads, F, out_dim)`` orthogonal(sqrt 2), ``biases`` ``(heads, out_dim)`` zero.
    """

    kernels: jax.Array
    biases: jax.Array

    def __init__(self, num_heads: int, in_features: int, out_dim: int, *, key: jax.Array):
        init = orthogonal(np.sqrt(2))
        self.kernels = init(key, (num_heads, in_features, out_dim), jnp.float32)
        self.biases = jnp.zeros((num_heads, out_dim), jnp.float32)

    def __call__(self, tokens: jax.Array) -> jax.Array:
        out = jax.nn.relu(jnp.einsum("fd,hdo->fho", tokens, self.kernels) + self.biases)
        return out.sum(0).reshape(-1)


class PermutationInvariantEncoder(eqx.Module):
    """Permutation-invariant MLP over entities.

    With ``preprocess_separately`` (entity observations): per entity type
    ``act(Dense(encoder_size - 4))`` plus a one-hot of the type (circle, polygon, joint,
    thruster), tokens ordered [polygons, circles, joints, thrusters], inactive ones zeroed.
    Otherwise (``symbolic_flat_padded``) the observation ``(N, F)`` rows are the tokens.
    Then :class:`MultiHeadSumPool` to ``symbolic_embedding_dim`` and the activation; with
    ``separate_actor_critic`` two pools give an ``(actor, critic)`` pair.
    """

    type_encoders: tuple[Dense, ...]
    pools: tuple[MultiHeadSumPool, ...]
    activation: str = eqx.field(static=True)
    embedding_size: int = eqx.field(static=True)

    def __init__(
        self,
        feature_sizes: tuple[int, ...],
        *,
        preprocess_separately: bool,
        encoder_size: int,
        symbolic_embedding_dim: int,
        num_heads: int,
        separate_actor_critic: bool,
        activation: str,
        key: jax.Array,
    ):
        k_enc, k_pool = jax.random.split(key)
        if preprocess_separately:
            ks = jax.random.split(k_enc, 4)
            # feature_sizes = (circle, polygon, joint, thruster)
            self.type_encoders = tuple(
                Dense(f, encoder_size - 4, key=k) for f, k in zip(feature_sizes, ks)
            )
            token_size = encoder_size
        else:
            self.type_encoders = ()
            token_size = feature_sizes[0]
        n_pools = 2 if separate_actor_critic else 1
        self.pools = tuple(
            MultiHeadSumPool(num_heads, token_size, symbolic_embedding_dim // num_heads, key=k)
            for k in jax.random.split(k_pool, n_pools)
        )
        self.activation = activation
        self.embedding_size = symbolic_embedding_dim

    def _tokens(self, obs: Any) -> jax.Array:
        if not self.type_encoders:
            return jnp.asarray(obs, jnp.float32)
        act = activation_fn(self.activation)
        parts = {}
        for type_id, (name, enc) in enumerate(
            zip(("circles", "polygons", "joints", "thrusters"), self.type_encoders)
        ):
            e = act(enc(getattr(obs, name)))
            one_hot = jnp.zeros((e.shape[0], 4), e.dtype).at[:, type_id].set(1.0)
            parts[name] = jnp.concatenate([e, one_hot], axis=-1)
        tokens = jnp.concatenate(
            [parts["polygons"], parts["circles"], parts["joints"], parts["thrusters"]], axis=0
        )
        mask = jnp.concatenate(
            [obs.polygon_mask, obs.circle_mask, obs.joint_mask, obs.thruster_mask], axis=0
        )
        return jnp.where(mask[:, None], tokens, 0.0)

    def __call__(self, obs: Any, *, key: jax.Array | None = None):
        act = activation_fn(self.activation)
        tokens = self._tokens(obs)
        embs = tuple(act(pool(tokens)) for pool in self.pools)
        return embs if len(embs) > 1 else embs[0]
