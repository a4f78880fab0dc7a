"""The permutation-invariant entity transformer of the Kinetix general agent (one unbatched
entity observation -> scene embedding).

Shapes (polygons then circles) are tokens; attention heads are specialised through the
observation's 4 attention-mask channels (all pairs, joint groups, direct joints, contacts),
each repeated ``num_heads / 4`` times channel-major. Each layer is a gated pre-LayerNorm
attention block followed by one message-passing step along joints and thrusters. There is no
positional encoding, so permuting entities (and their indices) permutes the tokens only.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from kinetix.agents.models.layers import Dense, LayerNorm, activation_fn, lecun_normal

__all__ = ["MultiHeadAttention", "Gate", "TransformerLayer", "EntityTransformerEncoder"]


class MultiHeadAttention(eqx.Module):
    """Scaled dot-product attention; q/k/v ``Dense(E -> Q)``, out ``Dense(Q -> E)`` with bias,
    LeCun-normal kernels. Masked logits get the most negative float (as flax), so a fully masked
    row attends uniformly (its token is unused downstream)."""

    query: Dense
    key: Dense
    value: Dense
    out: Dense
    num_heads: int = eqx.field(static=True)

    def __init__(self, features: int, qkv_features: int, num_heads: int, *, key: jax.Array):
        k = jax.random.split(key, 4)
        li = lecun_normal()
        self.query = Dense(features, qkv_features, key=k[0], kernel_init=li)
        self.key = Dense(features, qkv_features, key=k[1], kernel_init=li)
        self.value = Dense(features, qkv_features, key=k[2], kernel_init=li)
        self.out = Dense(qkv_features, features, key=k[3], kernel_init=li)
        self.num_heads = num_heads

    def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
        n = x.shape[0]
        split = lambda y: y.reshape(n, self.num_heads, -1)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        logits = jnp.einsum("qhd,khd->hqk", q, k) / jnp.sqrt(q.shape[-1]).astype(q.dtype)
        logits = jnp.where(mask, logits, jnp.finfo(logits.dtype).min)
        weights = jax.nn.softmax(logits, axis=-1)
        y = jnp.einsum("hqk,khd->qhd", weights, v).reshape(n, -1)
        return self.out(y)


class Gate(eqx.Module):
    """GRU-style gate (GTrXL): ``r = s(W_r y + U_r x)``, ``z = s(W_z y + U_z x - b_g)``,
    ``h = tanh(W_h y + U_h (r x))``, ``(1 - z) x + z h``; bias-free Dense layers, ``b_g`` = 0."""

    w_r: Dense
    u_r: Dense
    w_z: Dense
    u_z: Dense
    w_h: Dense
    u_h: Dense
    gating_bias: jax.Array

    def __init__(self, features: int, *, key: jax.Array):
        k = jax.random.split(key, 6)
        mk = lambda kk: Dense(
            features, features, key=kk, kernel_init=lecun_normal(), use_bias=False
        )
        self.w_r, self.u_r, self.w_z, self.u_z, self.w_h, self.u_h = (mk(kk) for kk in k)
        self.gating_bias = jnp.zeros((features,), jnp.float32)

    def __call__(self, x: jax.Array, y: jax.Array) -> jax.Array:
        r = jax.nn.sigmoid(self.w_r(y) + self.u_r(x))
        z = jax.nn.sigmoid(self.w_z(y) + self.u_z(x) - self.gating_bias)
        h = jnp.tanh(self.w_h(y) + self.u_h(r * x))
        return (1.0 - z) * x + z * h


class TransformerLayer(eqx.Module):
    """``y = G1(x, relu(MHA(LN1 x)))``; ``u = Dense(LN2 y)`` (or the FFN
    ``Dense(E)(dropout(relu(Dense(4E)(LN2 y))))``); ``G2(y, relu(u))``."""

    attention: MultiHeadAttention
    ln1: LayerNorm
    ln2: LayerNorm
    dense1: Dense
    dense2: Dense | None
    gate1: Gate
    gate2: Gate
    dropout_prob: float = eqx.field(static=True)

    def __init__(self, features, qkv_features, num_heads, ffn: bool, dropout_prob: float, *, key):
        k = jax.random.split(key, 5)
        li = lecun_normal()
        self.attention = MultiHeadAttention(features, qkv_features, num_heads, key=k[0])
        self.ln1, self.ln2 = LayerNorm(features), LayerNorm(features)
        self.dense1 = Dense(features, features * 4 if ffn else features, key=k[1], kernel_init=li)
        self.dense2 = Dense(features * 4, features, key=k[2], kernel_init=li) if ffn else None
        self.gate1 = Gate(features, key=k[3])
        self.gate2 = Gate(features, key=k[4])
        self.dropout_prob = dropout_prob

    def __call__(self, x, mask, *, key=None, deterministic=True):
        y = self.gate1(x, jax.nn.relu(self.attention(self.ln1(x), mask)))
        if self.dense2 is None:
            u = self.dense1(self.ln2(y))
        else:
            t = jax.nn.relu(self.dense1(self.ln2(y)))
            if self.dropout_prob > 0 and not deterministic:
                if key is None:
                    raise ValueError("dropout with deterministic=False needs a key")
                keep = jax.random.bernoulli(key, 1.0 - self.dropout_prob, t.shape)
                t = jnp.where(keep, t / (1.0 - self.dropout_prob), 0.0)
            u = self.dense2(t)
        return self.gate2(y, jax.nn.relu(u))


class _MixingBlock(eqx.Module):
    """Joint/thruster message function: one Dense(E), or an MLP with relu hidden layers of width
    ``E * mult`` and a relu after the final Dense(E)."""

    layers: tuple[Dense, ...]
    activate_final: bool = eqx.field(static=True)

    def __init__(self, in_features, features, multilayer, num_layers, mult, *, key):
        li = lecun_normal()
        if not multilayer:
            self.layers = (Dense(in_features, features, key=key, kernel_init=li),)
            self.activate_final = False
            return
        sizes = [in_features] + [features * mult] * (num_layers - 1) + [features]
        ks = jax.random.split(key, len(sizes) - 1)
        self.layers = tuple(
            Dense(sizes[i], sizes[i + 1], key=ks[i], kernel_init=li) for i in range(len(ks))
        )
        self.activate_final = True

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        x = self.layers[-1](x)
        return jax.nn.relu(x) if self.activate_final else x


class EntityTransformerEncoder(eqx.Module):
    """Entity observation (``polygons, circles, joints, thrusters``, their masks,
    ``attention_mask (4, S, S)``, ``joint_indexes (2J, 2)``, ``thruster_indexes (H,)``) -> scene
    embedding of size ``encoder_size``.

    Shape encoders ``act(Dense(E - 1))`` plus an entity-id scalar (polygons 1, circles 0; 0 for
    both with ``legacy_entity_id``); joint/thruster encoders ``act(Dense(E))``.
    """

    circle_encoder: Dense
    polygon_encoder: Dense
    joint_encoder: Dense
    thruster_encoder: Dense
    layers: tuple[TransformerLayer, ...]
    joint_blocks: tuple[_MixingBlock, ...]
    thruster_blocks: tuple[_MixingBlock, ...]
    activation: str = eqx.field(static=True)
    num_heads: int = eqx.field(static=True)
    aggregate_mode: str = eqx.field(static=True)
    full_attention_mask: bool = eqx.field(static=True)
    legacy_entity_id: bool = eqx.field(static=True)
    embedding_size: int = eqx.field(static=True)

    def __init__(self, feature_sizes: dict[str, int], config: Any, *, key: jax.Array):
        E = config.transformer_encoder_size
        k = jax.random.split(key, 7)
        self.circle_encoder = Dense(feature_sizes["circles"], E - 1, key=k[0])
        self.polygon_encoder = Dense(feature_sizes["polygons"], E - 1, key=k[1])
        self.joint_encoder = Dense(feature_sizes["joints"], E, key=k[2])
        self.thruster_encoder = Dense(feature_sizes["thrusters"], E, key=k[3])
        L = config.transformer_depth
        self.layers = tuple(
            TransformerLayer(
                E,
                config.transformer_size,
                config.num_heads,
                config.transformer_ffn,
                config.dropout_prob,
                key=kk,
            )
            for kk in jax.random.split(k[4], L)
        )
        block = lambda n_in, kk: _MixingBlock(
            n_in,
            E,
            config.multilayer_joint_thruster_mixing,
            config.joint_thruster_block_num_layers,
            config.joint_thruster_block_hidden_dim_multiplication,
            key=kk,
        )
        self.joint_blocks = tuple(block(3 * E, kk) for kk in jax.random.split(k[5], L))
        self.thruster_blocks = tuple(block(2 * E, kk) for kk in jax.random.split(k[6], L))
        self.activation = config.activation
        self.num_heads = config.num_heads
        self.aggregate_mode = config.aggregate_mode
        self.full_attention_mask = config.full_attention_mask
        self.legacy_entity_id = config.legacy_entity_id
        self.embedding_size = E

    def _shape_tokens(self, obs: Any) -> jax.Array:
        act = activation_fn(self.activation)
        poly = act(self.polygon_encoder(obs.polygons))
        circ = act(self.circle_encoder(obs.circles))
        poly_id = 0.0 if self.legacy_entity_id else 1.0
        poly = jnp.concatenate([poly, jnp.full((*poly.shape[:-1], 1), poly_id, poly.dtype)], -1)
        circ = jnp.concatenate([circ, jnp.zeros((*circ.shape[:-1], 1), circ.dtype)], -1)
        return jnp.concatenate([poly, circ], axis=0)

    def __call__(self, obs: Any, *, key: jax.Array | None = None, deterministic: bool = True):
        act = activation_fn(self.activation)
        x = self._shape_tokens(obs)
        active = jnp.concatenate([obs.polygon_mask, obs.circle_mask]).astype(bool)
        mask = jnp.asarray(obs.attention_mask, bool)
        joint_idx = jnp.asarray(obs.joint_indexes, jnp.int32)
        thruster_idx = jnp.asarray(obs.thruster_indexes, jnp.int32)
        use_dummy = self.aggregate_mode in ("dummy", "dummy_and_mean")
        if use_dummy:
            c, s, _ = mask.shape
            x = jnp.concatenate([jnp.ones((1, x.shape[-1]), x.dtype), x], axis=0)
            active = jnp.concatenate([jnp.ones((1,), bool), active])
            mask = jnp.ones((c, s + 1, s + 1), bool).at[:, 1:, 1:].set(mask)
            mask = mask & active[None, :, None] & active[None, None, :]
            joint_idx, thruster_idx = joint_idx + 1, thruster_idx + 1
        if self.full_attention_mask:
            mask = jnp.broadcast_to(active[None, :, None] & active[None, None, :], mask.shape)
        if self.num_heads % mask.shape[0] != 0:
            raise ValueError(
                f"num_heads = {self.num_heads} is not a multiple of the observation's "
                f"{mask.shape[0]} attention-mask channels"
            )
        mask = jnp.repeat(mask, self.num_heads // mask.shape[0], axis=0)

        joints = act(self.joint_encoder(obs.joints))
        thrusters = act(self.thruster_encoder(obs.thrusters))
        joint_mask = jnp.asarray(obs.joint_mask, x.dtype)[:, None]
        thruster_mask = jnp.asarray(obs.thruster_mask, x.dtype)[:, None]
        keys = (
            jax.random.split(key, len(self.layers))
            if key is not None
            else [None] * len(self.layers)
        )
        for layer, jb, tb, kk in zip(self.layers, self.joint_blocks, self.thruster_blocks, keys):
            x = layer(x, mask, key=kk, deterministic=deterministic)
            j_in = jnp.concatenate([x[joint_idx[:, 0]], x[joint_idx[:, 1]], joints], axis=-1)
            t_in = jnp.concatenate([x[thruster_idx], thrusters], axis=-1)
            x = x.at[joint_idx[:, 0]].add(jb(j_in) * joint_mask)
            x = x.at[thruster_idx].add(tb(t_in) * thruster_mask)

        if self.aggregate_mode == "dummy":
            return x[0]
        w = active.astype(x.dtype)[:, None]
        return (x * w).sum(0) / jnp.maximum(w.sum(), 1.0)
