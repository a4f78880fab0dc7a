"""The task reward: green must touch blue and must not touch red.

Roles: 0 neutral, 1 green, 2 blue, 3 red; an inactive shape counts as neutral. For each pair of
the engine's pair lists, a role product of 2 is a green-blue pair and 3 a green-red pair. A
substep's reward is -1 if any green-red pair has an active contact, else +1 if any green-blue pair
has one, else 0. ``info["distance"]`` sums the centre distances of all green-blue pairs (contact or
not); it drives the dense shaping term in :mod:`kinetix.environment.env`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from kinetix.environment.env_state import EnvState

__all__ = ["GOAL_PRODUCT", "LAVA_PRODUCT", "compute_reward_info"]

GOAL_PRODUCT = 2  # green (1) x blue (2)
LAVA_PRODUCT = 3  # green (1) x red (3)


def _pair_distances(pos_a: jnp.ndarray, pos_b: jnp.ndarray) -> jnp.ndarray:
    return jnp.linalg.norm(pos_a - pos_b, axis=-1)


def compute_reward_info(
    state: EnvState,
    manifolds: tuple[Any, Any, Any],
    poly_poly_pairs: np.ndarray,
    circle_poly_pairs: np.ndarray,
    circle_circle_pairs: np.ndarray,
) -> tuple[jnp.ndarray, dict[str, jnp.ndarray]]:
    """Reward and info of one physics substep.

    Args:
        state: the state after the substep.
        manifolds: the substep's ``(rr, cr, cc)`` contacts as returned by
            ``PhysicsEngine.step`` (``rr`` reduced to its first contact point, shape ``(NRR,)``).
        poly_poly_pairs, circle_poly_pairs, circle_circle_pairs: the engine's ``(n, 2)`` pair
            tables (local indices; ``circle_poly_pairs`` is ``(circle, polygon)``).

    Returns:
        ``(reward, {"GoalR": reward > 0, "distance": float32})`` with ``reward`` in {-1, 0, 1}.
    """
    poly_roles = state.polygon_shape_roles * state.polygon.active
    circ_roles = state.circle_shape_roles * state.circle.active
    poly_pos, circ_pos = state.polygon.position, state.circle.position

    families = (
        (poly_roles, poly_pos, poly_poly_pairs[:, 0], poly_roles, poly_pos, poly_poly_pairs[:, 1]),
        (
            circ_roles,
            circ_pos,
            circle_poly_pairs[:, 0],
            poly_roles,
            poly_pos,
            circle_poly_pairs[:, 1],
        ),
        (
            circ_roles,
            circ_pos,
            circle_circle_pairs[:, 0],
            circ_roles,
            circ_pos,
            circle_circle_pairs[:, 1],
        ),
    )
    goal = jnp.asarray(0, jnp.int32)
    lava = jnp.asarray(0, jnp.int32)
    distance = jnp.asarray(0.0, jnp.float32)
    for (roles_a, pos_a, ia, roles_b, pos_b, ib), manifold in zip(families, manifolds, strict=True):
        product = roles_a[ia] * roles_b[ib]
        touching = manifold.active
        is_goal = product == GOAL_PRODUCT
        goal = goal + jnp.sum(is_goal * touching)
        lava = lava + jnp.sum((product == LAVA_PRODUCT) * touching)
        distance = distance + jnp.sum(is_goal * _pair_distances(pos_a[ia], pos_b[ib]))

    reward = jnp.where(lava > 0, -1.0, jnp.where(goal > 0, 1.0, 0.0)).astype(jnp.float32)
    return reward, {"GoalR": reward > 0, "distance": distance}
