"""The actor-critic trunk shared by every network (the reference's ``GeneralActorCriticRNN``):
optional GRU over time, separate actor and critic MLPs, an action head and a value head."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from kinetix.agents.distributions import Categorical, DiagGaussian, MultiCategorical, mask_logits
from kinetix.agents.models.layers import MLP, Dense, lecun_normal, orthogonal

__all__ = ["GRUCell", "ActionHead", "ActorCriticTrunk", "Hidden"]

Hidden = tuple[jax.Array, jax.Array]


class GRUCell(eqx.Module):
    """Flax-style GRU cell: ``r = s(W_ir x + W_hr h)``, ``z = s(W_iz x + W_hz h)``,
    ``n = tanh(W_in x + r * (W_hn h))``, ``h' = (1 - z) n + z h`` (input kernels LeCun-normal with
    bias, recurrent kernels orthogonal; only ``hn`` of the recurrent ones has a bias)."""

    ir: Dense
    iz: Dense
    in_: Dense
    hr: Dense
    hz: Dense
    hn: Dense

    def __init__(self, in_features: int, hidden_size: int, *, key: jax.Array):
        k = jax.random.split(key, 6)
        li, orth = lecun_normal(), orthogonal(1.0)
        self.ir = Dense(in_features, hidden_size, key=k[0], kernel_init=li)
        self.iz = Dense(in_features, hidden_size, key=k[1], kernel_init=li)
        self.in_ = Dense(in_features, hidden_size, key=k[2], kernel_init=li)
        self.hr = Dense(hidden_size, hidden_size, key=k[3], kernel_init=orth, use_bias=False)
        self.hz = Dense(hidden_size, hidden_size, key=k[4], kernel_init=orth, use_bias=False)
        self.hn = Dense(hidden_size, hidden_size, key=k[5], kernel_init=orth)

    def __call__(self, h: jax.Array, x: jax.Array) -> jax.Array:
        r = jax.nn.sigmoid(self.ir(x) + self.hr(h))
        z = jax.nn.sigmoid(self.iz(x) + self.hz(h))
        n = jnp.tanh(self.in_(x) + r * self.hn(h))
        return (1.0 - z) * n + z * h


def _scan_gru(cell: GRUCell, h0: jax.Array, xs: jax.Array, dones: jax.Array):
    """Run ``cell`` over time; the carry is zeroed where ``dones[t]`` before step ``t``."""

    def step(h, inp):
        x, d = inp
        h = jnp.where(d[:, None], jnp.zeros_like(h), h)
        h = cell(h, x)
        return h, h

    return jax.lax.scan(step, h0, (xs, dones))


class ActionHead(eqx.Module):
    """Actor output layer (orthogonal(0.01)) and its distribution.

    ``action_type`` is ``"discrete"``, ``"multi_discrete"`` or ``"continuous"``; ``sizes`` are
    the multi-discrete group sizes. Continuous heads own ``log_std`` (initialised to 0).
    """

    dense: Dense
    log_std: jax.Array | None
    action_type: str = eqx.field(static=True)
    sizes: tuple[int, ...] = eqx.field(static=True)

    def __init__(self, in_features: int, action_type: str, sizes: tuple[int, ...], *, key):
        if action_type == "multi_discrete":
            n = sum(sizes)
        elif action_type in ("discrete", "continuous"):
            n = sizes[0]
        else:
            raise ValueError(
                f"action_type = {action_type!r}; expected 'discrete', 'multi_discrete' or "
                "'continuous'"
            )
        self.dense = Dense(in_features, n, key=key, kernel_init=orthogonal(0.01))
        self.log_std = jnp.zeros((n,), jnp.float32) if action_type == "continuous" else None
        self.action_type = action_type
        self.sizes = tuple(sizes)

    def __call__(self, x: jax.Array, action_mask: jax.Array | None = None):
        out = self.dense(x)
        if self.action_type == "multi_discrete":
            return MultiCategorical.from_flat(out, self.sizes, action_mask)
        if self.action_type == "discrete":
            return Categorical(mask_logits(out, action_mask))
        # Continuous actions are not masked: an invalid channel has no effect whatever its value.
        return DiagGaussian(out, jnp.broadcast_to(self.log_std, out.shape))


class ActorCriticTrunk(eqx.Module):
    """Optional GRU, actor MLP + action head, critic MLP + value head.

    Call: ``trunk(hidden, embedding, dones, action_mask) -> (hidden, dist, value)`` with
    embeddings ``(T, B, E)`` (or a pair ``(actor_emb, critic_emb)``) and dones ``(T, B)``.
    ``hidden`` is a pair of ``(B, H)`` carries (the second is used only with separate actor and
    critic embeddings), passed through unchanged without a GRU.
    """

    grus: tuple[GRUCell, ...]
    actor: MLP
    critic: MLP
    action_head: ActionHead
    value_head: Dense
    hidden_size: int = eqx.field(static=True)

    def __init__(
        self,
        embedding_size: int,
        *,
        actor_depth: int,
        actor_width: int,
        critic_depth: int,
        critic_width: int,
        activation: str,
        action_type: str,
        action_sizes: tuple[int, ...],
        recurrent: bool,
        hidden_size: int,
        num_embeddings: int,
        key: jax.Array,
    ):
        k = jax.random.split(key, 6)
        if recurrent:
            self.grus = tuple(
                GRUCell(embedding_size, hidden_size, key=kk)
                for kk in jax.random.split(k[0], num_embeddings)
            )
            trunk_in = hidden_size
        else:
            self.grus = ()
            trunk_in = embedding_size
        self.actor = MLP(trunk_in, actor_width, actor_depth, activation, key=k[1])
        self.critic = MLP(trunk_in, critic_width, critic_depth, activation, key=k[2])
        a_in = actor_width if actor_depth > 0 else trunk_in
        c_in = critic_width if critic_depth > 0 else trunk_in
        self.action_head = ActionHead(a_in, action_type, action_sizes, key=k[3])
        self.value_head = Dense(c_in, 1, key=k[4], kernel_init=orthogonal(1.0))
        self.hidden_size = hidden_size

    def initialize_carry(self, batch_size: int) -> Hidden:
        z = jnp.zeros((batch_size, self.hidden_size), jnp.float32)
        return (z, z)

    def __call__(self, hidden: Hidden, embedding, dones: jax.Array, action_mask=None):
        if isinstance(embedding, tuple):
            actor_emb, critic_emb = embedding
        else:
            actor_emb = critic_emb = embedding
        h_actor, h_critic = hidden
        if self.grus:
            h_actor, actor_emb = _scan_gru(self.grus[0], h_actor, actor_emb, dones)
            if len(self.grus) > 1:
                h_critic, critic_emb = _scan_gru(self.grus[1], h_critic, critic_emb, dones)
            else:
                critic_emb = actor_emb
        dist = self.action_head(self.actor(actor_emb), action_mask)
        value = self.value_head(self.critic(critic_emb))[..., 0]
        return (h_actor, h_critic), dist, value
