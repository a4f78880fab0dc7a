"""Equinox actor-critic networks for Kinetix (see :func:`make_network`)."""

from kinetix.agents.models.config import MODEL_PRESETS, ModelConfig
from kinetix.agents.models.encoders import (
    FlatEncoder,
    MultiHeadSumPool,
    PermutationInvariantEncoder,
    PixelEncoder,
)
from kinetix.agents.models.network import ActorCritic, action_sizes, count_params, make_network
from kinetix.agents.models.transformer import EntityTransformerEncoder
from kinetix.agents.models.trunk import ActionHead, ActorCriticTrunk, GRUCell, Hidden

__all__ = [
    "MODEL_PRESETS",
    "ActionHead",
    "ActorCritic",
    "ActorCriticTrunk",
    "EntityTransformerEncoder",
    "FlatEncoder",
    "GRUCell",
    "Hidden",
    "ModelConfig",
    "MultiHeadSumPool",
    "PermutationInvariantEncoder",
    "PixelEncoder",
    "action_sizes",
    "count_params",
    "make_network",
]
