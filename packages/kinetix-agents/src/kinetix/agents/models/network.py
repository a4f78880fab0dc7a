"""``ActorCritic`` (encoder + trunk) and ``make_network``, the factory that picks the encoder for
an observation type, as the reference's ``make_network_from_config``."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.models.config import ModelConfig
from kinetix.agents.models.encoders import FlatEncoder, PermutationInvariantEncoder, PixelEncoder
from kinetix.agents.models.transformer import EntityTransformerEncoder
from kinetix.agents.models.trunk import ActorCriticTrunk, Hidden
from kinetix.environment import (
    ActionType,
    EnvParams,
    KinetixObservation,
    ObservationType,
    StaticEnvParams,
    create_empty_env,
)
from kinetix.environment.observations import resolve_observation

__all__ = ["ActorCritic", "make_network", "action_sizes", "count_params"]


class ActorCritic(eqx.Module):
    """An observation encoder followed by the actor-critic trunk.

    Call: ``network(hidden, (obs, dones), action_mask=None) -> (hidden, dist, value)`` where every
    leaf of ``obs`` and ``dones`` has leading ``(T, B)`` axes, ``action_mask`` (optional) is the
    env's valid-action mask ``(T, B, ...)`` (invalid discrete / multi-discrete choices get zero
    probability), ``dist`` a :mod:`kinetix.agents.distributions` object and ``value`` ``(T, B)``.
    ``hidden`` comes from ``initialize_carry(B)``.
    """

    encoder: eqx.Module
    trunk: ActorCriticTrunk

    def initialize_carry(self, batch_size: int) -> Hidden:
        """Zero GRU carries (a pair of ``(B, H)`` arrays; unused without a GRU)."""
        return self.trunk.initialize_carry(batch_size)

    def __call__(
        self,
        hidden: Hidden,
        x: tuple[Any, jax.Array],
        action_mask: jax.Array | None = None,
        *,
        key: jax.Array | None = None,
        deterministic: bool = True,
    ):
        obs, dones = x
        if isinstance(self.encoder, EntityTransformerEncoder):
            t, b = dones.shape[:2]
            if key is not None and not deterministic:
                keys = jax.random.split(key, t * b).reshape(t, b, -1)
                f = lambda o, k: self.encoder(o, key=k, deterministic=False)
                emb = jax.vmap(jax.vmap(f))(obs, keys)
            else:
                emb = jax.vmap(jax.vmap(self.encoder))(obs)
        else:
            emb = jax.vmap(jax.vmap(self.encoder))(obs)
        return self.trunk(hidden, emb, dones, action_mask)


def action_sizes(action_type: ActionType | str, static_env_params: StaticEnvParams) -> tuple:
    """Action-head sizes: multi-discrete ``(3,)*NMB + (2,)*NTB``; discrete ``(2 NMB + 1 + NTB,)``;
    continuous ``(NMB + NTB,)``."""
    nmb = static_env_params.num_motor_bindings
    ntb = static_env_params.num_thruster_bindings
    at = _action_name(action_type)
    if at == "multi_discrete":
        return (3,) * nmb + (2,) * ntb
    if at == "discrete":
        return (2 * nmb + 1 + ntb,)
    return (nmb + ntb,)


def _action_name(action_type: ActionType | str) -> str:
    if isinstance(action_type, str):
        action_type = ActionType.from_string(action_type)
    return action_type.name.lower()


def _observation_name(observation_type: Any) -> str | None:
    if isinstance(observation_type, ObservationType):
        return observation_type.key
    if isinstance(observation_type, str):
        return ObservationType.from_string(observation_type).key
    return None


def _infer_kind(example: Any) -> str:
    """Observation layout of an example observation (for custom observation objects)."""
    if hasattr(example, "attention_mask") and hasattr(example, "joint_indexes"):
        return "symbolic_entity"
    if hasattr(example, "image"):
        return "pixels"
    if getattr(example, "ndim", 0) == 2:
        return "symbolic_flat_padded"
    return "symbolic_flat"


def make_network(
    model_config: ModelConfig,
    observation_type: ObservationType | str | KinetixObservation,
    action_type: ActionType | str,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    *,
    key: jax.Array,
) -> ActorCritic:
    """Build the actor-critic for an observation and action type.

    Args:
        model_config: network options.
        observation_type: ``"symbolic_flat"``, ``"symbolic_entity"`` (entity transformer, or the
            permutation-invariant MLP with ``permutation_invariant_mlp``), ``"pixels"``,
            ``"symbolic_flat_padded"`` (permutation-invariant MLP), or a
            :class:`~kinetix.environment.KinetixObservation` (layout inferred from its output).
        action_type: ``"multi_discrete"``, ``"discrete"`` or ``"continuous"``.
        env_params, static_env_params: the env's parameters (observation shapes, action sizes).
        key: PRNG key of the initialisation.

    Example:
        >>> net = make_network(ModelConfig(), "symbolic_entity", "multi_discrete",
        ...                    env_params, static_env_params, key=jax.random.PRNGKey(0))
        >>> count_params(net)
        786369
    """
    obs_fn = resolve_observation(observation_type, env_params, static_env_params)
    example = jax.eval_shape(obs_fn.get_obs, create_empty_env(static_env_params))
    kind = _observation_name(observation_type) or _infer_kind(example)
    k_enc, k_trunk = jax.random.split(key)
    c = model_config
    num_embeddings = 1
    if kind == "symbolic_entity" and not c.permutation_invariant_mlp:
        sizes = {
            n: getattr(example, n).shape[-1] for n in ("circles", "polygons", "joints", "thrusters")
        }
        encoder = EntityTransformerEncoder(sizes, c, key=k_enc)
    elif kind in ("symbolic_entity", "symbolic_flat_padded"):
        separately = kind == "symbolic_entity"
        if separately:
            feats = tuple(
                getattr(example, n).shape[-1]
                for n in ("circles", "polygons", "joints", "thrusters")
            )
        else:
            feats = (example.shape[-1],)
        encoder = PermutationInvariantEncoder(
            feats,
            preprocess_separately=separately,
            encoder_size=c.encoder_size,
            symbolic_embedding_dim=c.symbolic_embedding_dim,
            num_heads=c.num_heads,
            separate_actor_critic=c.separate_actor_critic,
            activation=c.activation,
            key=k_enc,
        )
        num_embeddings = 2 if c.separate_actor_critic else 1
    elif kind == "pixels":
        image_shape = tuple(example.image.shape)
        encoder = PixelEncoder(image_shape, int(np.prod(example.global_info.shape)), key=k_enc)
    elif kind == "symbolic_flat":
        encoder = FlatEncoder(int(np.prod(example.shape)), c.effective_actor_width, key=k_enc)
    else:
        raise ValueError(
            f"observation type {kind!r} has no network; expected 'symbolic_flat', "
            "'symbolic_entity', 'symbolic_flat_padded' or 'pixels'"
        )
    emb_size = encoder.embedding_size
    trunk = ActorCriticTrunk(
        emb_size,
        actor_depth=c.effective_actor_depth,
        actor_width=c.effective_actor_width,
        critic_depth=c.effective_critic_depth,
        critic_width=c.effective_critic_width,
        activation=c.activation,
        action_type=_action_name(action_type),
        action_sizes=action_sizes(action_type, static_env_params),
        recurrent=c.recurrent_model,
        hidden_size=c.gru_hidden_size,
        num_embeddings=num_embeddings,
        key=k_trunk,
    )
    return ActorCritic(encoder, trunk)


def count_params(module: Any) -> int:
    """Number of scalars in the floating leaves of ``module`` (arrays, or the
    ``jax.ShapeDtypeStruct`` leaves of ``eqx.filter_eval_shape(make_network, ...)``)."""
    leaves = [
        x
        for x in jax.tree.leaves(module)
        if hasattr(x, "shape") and hasattr(x, "dtype") and jnp.issubdtype(x.dtype, jnp.inexact)
    ]
    return int(sum(np.prod(x.shape) for x in leaves))
