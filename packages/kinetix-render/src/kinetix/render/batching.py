"""Render a single state or a batch with any leading dimensions ``(B, T, ...)`` in one call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import jax

from kinetix.environment.env_state import EnvState, StaticEnvParams

__all__ = ["leading_batch_shape", "vmap_leading_dims"]

R = TypeVar("R")


def leading_batch_shape(state: EnvState, static_env_params: StaticEnvParams) -> tuple[int, ...]:
    """The batch dimensions in front of one state's shapes (``()`` for a single state).

    Raises:
        ValueError: an entity count of ``state`` differs from ``static_env_params`` (for example
            an ``l``-sized state given to a renderer built for ``s``), or the leading dimensions
            of the fields disagree.

    Example:
        >>> from kinetix.environment import create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> leading_batch_shape(create_empty_env(static), static)
        ()
    """
    s = static_env_params
    checks = [
        ("polygon.position", state.polygon.position.shape, (s.num_polygons, 2)),
        ("circle.position", state.circle.position.shape, (s.num_circles, 2)),
        ("joint.a_index", state.joint.a_index.shape, (s.num_joints,)),
        ("thruster.object_index", state.thruster.object_index.shape, (s.num_thrusters,)),
        ("gravity", state.gravity.shape, (2,)),
    ]
    lead = None
    for name, shape, tail in checks:
        k = len(shape) - len(tail)
        if k < 0 or tuple(shape[k:]) != tail:
            raise ValueError(
                f"state.{name} has shape {tuple(shape)}; a renderer built for static sizes "
                f"(num_polygons={s.num_polygons}, num_circles={s.num_circles}, "
                f"num_joints={s.num_joints}, num_thrusters={s.num_thrusters}) expects "
                f"(..., {', '.join(map(str, tail))})"
            )
        if lead is None:
            lead = tuple(shape[:k])
        elif tuple(shape[:k]) != lead:
            raise ValueError(
                f"state.{name} has leading dimensions {tuple(shape[:k])} but state.polygon has "
                f"{lead}: every field of a batched state must share its batch dimensions"
            )
    return lead or ()


def vmap_leading_dims(
    render_one: Callable[[EnvState], R], static_env_params: StaticEnvParams
) -> Callable[[EnvState], R]:
    """Wrap a one-state renderer so it also takes states with leading batch dimensions.

    A state whose fields have ``k`` extra leading dimensions (``(B, ...)``, ``(B, T, ...)``, ...)
    is rendered with ``k`` nested ``jax.vmap``; the outputs keep those leading dimensions.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from kinetix.environment import create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> f = vmap_leading_dims(lambda s: s.gravity[1] / 10, static)
        >>> batch = jax.tree.map(lambda x: jnp.stack([jnp.stack([x] * 3)] * 2), create_empty_env(static))
        >>> f(batch).shape
        (2, 3)
    """

    @functools.wraps(render_one)
    def render(state: EnvState) -> Any:
        fn = render_one
        for _ in leading_batch_shape(state, static_env_params):
            fn = jax.vmap(fn)
        return fn(state)

    return render
