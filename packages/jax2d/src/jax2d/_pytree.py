"""Frozen dataclass pytrees with ``.replace``, in the spirit of ``flax.struct.dataclass``.

We avoid a flax dependency: ``jax2d`` must install with jax and numpy only. Subclasses (for
example ``kinetix.environment.EnvState(SimState)``) decorate themselves again with
:func:`pytree_dataclass` and get their own registration, so every field of the subclass is a
leaf and the step function can ``.replace`` on whatever subclass it receives.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import jax

T = TypeVar("T")

__all__ = ["pytree_dataclass", "static_dataclass", "static_field"]


def static_field(**kwargs: Any) -> Any:
    """A dataclass field stored in the treedef (not a leaf); its value must be hashable."""
    metadata = dict(kwargs.pop("metadata", {}) or {})
    metadata["static"] = True
    return dataclasses.field(metadata=metadata, **kwargs)


def _replace(self: T, **changes: Any) -> T:
    return dataclasses.replace(self, **changes)


def pytree_dataclass(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen dataclass registered as a JAX pytree.

    Fields are leaves unless declared with :func:`static_field`. The class gains ``replace``.

    Example:
        >>> import jax.numpy as jnp
        >>> @pytree_dataclass
        ... class Point:
        ...     xy: jnp.ndarray
        >>> p = Point(jnp.zeros(2)).replace(xy=jnp.ones(2))
        >>> jax.tree_util.tree_leaves(p)[0].tolist()
        [1.0, 1.0]
    """
    if "replace" not in cls.__dict__:
        cls.replace = _replace  # type: ignore[attr-defined]
    cls = dataclasses.dataclass(frozen=True)(cls)
    fields = dataclasses.fields(cls)
    data = [f.name for f in fields if not f.metadata.get("static", False)]
    meta = [f.name for f in fields if f.metadata.get("static", False)]
    jax.tree_util.register_dataclass(cls, data_fields=data, meta_fields=meta)
    return cls


def static_dataclass(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, hashable dataclass whose fields all live in the treedef.

    Instances are valid ``static_argnums`` for ``jax.jit`` and can also travel through jitted code
    as (leafless) pytrees. ``__eq__``/``__hash__`` cover every field, so two static configs that
    trace differently never share a compiled function.
    """
    if "replace" not in cls.__dict__:
        cls.replace = _replace  # type: ignore[attr-defined]
    cls = dataclasses.dataclass(frozen=True)(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    jax.tree_util.register_dataclass(cls, data_fields=[], meta_fields=names)
    return cls
