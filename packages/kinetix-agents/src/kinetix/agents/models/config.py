"""``ModelConfig``: the network options of the reference's ``model-base``, ``model-transformer``
and ``model-perm-invariant-mlp`` config groups, with their defaults (the default is the
786,369-parameter ``tf-paper`` entity transformer)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["ModelConfig", "MODEL_PRESETS"]

_ACTIVATIONS = ("tanh", "relu")
_AGGREGATE_MODES = ("dummy", "mean", "dummy_and_mean")
_CNN_MODES = ("impala_fast",)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network options (hashable; field names follow the reference's yaml keys).

    Example:
        >>> ModelConfig(transformer_depth=3).actor_depth
        5
    """

    # model-base
    actor_depth: int = 5
    critic_depth: int = 5
    actor_width: int = 128
    critic_width: int = 128
    override_model_depth: int = -1
    override_model_width: int = -1
    separate_actor_critic: bool = False
    activation: str = "tanh"
    recurrent_model: bool = False
    cnn_mode: str = "impala_fast"
    # model-transformer
    transformer_depth: int = 2
    transformer_size: int = 16
    transformer_encoder_size: int = 128
    num_heads: int = 8
    full_attention_mask: bool = False
    aggregate_mode: str = "dummy_and_mean"
    transformer_ffn: bool = False
    multilayer_joint_thruster_mixing: bool = False
    joint_thruster_block_num_layers: int = 2
    joint_thruster_block_hidden_dim_multiplication: int = 4
    dropout_prob: float = 0.0
    # model-perm-invariant-mlp
    symbolic_embedding_dim: int = 256
    encoder_size: int = 64
    permutation_invariant_mlp: bool = False
    # optional
    legacy_entity_id: bool = False
    gru_hidden_size: int = 256

    def __post_init__(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ValueError(
                f"ModelConfig.activation = {self.activation!r}; expected one of {_ACTIVATIONS}"
            )
        if self.aggregate_mode not in _AGGREGATE_MODES:
            raise ValueError(
                f"ModelConfig.aggregate_mode = {self.aggregate_mode!r}; expected one of "
                f"{_AGGREGATE_MODES}"
            )
        if self.cnn_mode not in _CNN_MODES:
            raise ValueError(
                f"ModelConfig.cnn_mode = {self.cnn_mode!r}; expected one of {_CNN_MODES}"
            )
        if self.num_heads <= 0 or self.num_heads % 4 != 0:
            raise ValueError(
                f"ModelConfig.num_heads = {self.num_heads}; expected a positive multiple of 4 "
                "(one group of heads per attention-mask channel)"
            )
        if self.transformer_size % self.num_heads != 0:
            raise ValueError(
                f"ModelConfig.transformer_size = {self.transformer_size} must be divisible by "
                f"num_heads = {self.num_heads}"
            )
        if self.symbolic_embedding_dim % self.num_heads != 0:
            raise ValueError(
                f"ModelConfig.symbolic_embedding_dim = {self.symbolic_embedding_dim} must be "
                f"divisible by num_heads = {self.num_heads}"
            )
        if self.dropout_prob > 0 and not self.transformer_ffn:
            raise ValueError(
                f"ModelConfig.dropout_prob = {self.dropout_prob} > 0 requires transformer_ffn=True"
            )

    @property
    def effective_actor_depth(self) -> int:
        return self.override_model_depth if self.override_model_depth > 0 else self.actor_depth

    @property
    def effective_critic_depth(self) -> int:
        return self.override_model_depth if self.override_model_depth > 0 else self.critic_depth

    @property
    def effective_actor_width(self) -> int:
        return self.override_model_width if self.override_model_width > 0 else self.actor_width

    @property
    def effective_critic_width(self) -> int:
        return self.override_model_width if self.override_model_width > 0 else self.critic_width

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], *, strict: bool = False) -> ModelConfig:
        """Build from a dict (e.g. a config's ``model`` group); unknown keys raise with
        ``strict=True`` and are ignored otherwise."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(mapping) - names)
        if strict and unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}; known keys: {sorted(names)}")
        return cls(**{k: v for k, v in mapping.items() if k in names})

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> ModelConfig:
        """One of ``MODEL_PRESETS`` (``tf-paper``, ``tf-s``, ``tf-m``, ``tf-l``) plus overrides."""
        if name not in MODEL_PRESETS:
            raise ValueError(
                f"unknown model preset {name!r}; expected one of {sorted(MODEL_PRESETS)}"
            )
        return cls(**{**MODEL_PRESETS[name], **overrides})


_BIG = dict(transformer_ffn=True, multilayer_joint_thruster_mixing=True)
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    "tf-paper": {},
    "tf-s": dict(
        actor_depth=3,
        critic_depth=3,
        actor_width=256,
        critic_width=256,
        transformer_size=32,
        **_BIG,
    ),
    "tf-m": dict(
        actor_depth=1,
        critic_depth=1,
        actor_width=256,
        critic_width=256,
        transformer_depth=3,
        transformer_size=128,
        transformer_encoder_size=512,
        **_BIG,
    ),
    "tf-l": dict(
        actor_depth=1,
        critic_depth=1,
        actor_width=512,
        critic_width=512,
        transformer_depth=4,
        transformer_size=256,
        transformer_encoder_size=512,
        **_BIG,
    ),
}
