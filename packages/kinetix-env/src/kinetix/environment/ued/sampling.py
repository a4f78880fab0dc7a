"""Random building blocks for procedural levels: weighted choices, roles, sizes, anchor points,
and writing a new body into the first free slot."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jax2d.sim_state import RigidBody
from kinetix.environment.env_state import ROLE_BLUE, ROLE_GREEN, ROLE_RED, EnvState, StaticEnvParams
from kinetix.environment.ued.ued_state import UEDParams

__all__ = [
    "weighted_choice",
    "count_roles",
    "sample_role",
    "sample_dimensions",
    "rectangle_vertices",
    "random_point_in_polygon",
    "random_point_in_circle",
    "non_arena_mask",
    "free_slot",
    "write_body",
]

MIN_HALF_EXTENT = 0.05
MIN_RADIUS = 0.1


def weighted_choice(key: jax.Array, weights: jnp.ndarray) -> jnp.ndarray:
    """Index ``i`` with probability ``weights[i] / sum(weights)``; 0 when all weights are 0."""
    weights = jnp.asarray(weights, jnp.float32)
    total = weights.sum()
    u = jax.random.uniform(key) * total
    n = weights.shape[0]
    idx = jnp.minimum(jnp.sum(jnp.cumsum(weights) <= u), n - 1)
    # Rounding at the top end must not land on a trailing zero-weight entry.
    last_positive = n - 1 - jnp.argmax((weights > 0)[::-1])
    idx = jnp.where(weights[idx] > 0, idx, last_positive)
    return jnp.where(total > 0, idx, 0).astype(jnp.int32)


def count_roles(state: EnvState, role: int) -> jnp.ndarray:
    """Number of active bodies (arena floor included) with this role."""
    return jnp.sum((state.polygon_shape_roles == role) & state.polygon.active) + jnp.sum(
        (state.circle_shape_roles == role) & state.circle.active
    )


def sample_role(key: jax.Array, state: EnvState, allowed: jnp.ndarray | None = None) -> jnp.ndarray:
    """Role of a new shape: green, then blue, are placed first (one each); afterwards neutral
    (weight 1) or red (weight 1/3, only while there is no red body).

    Args:
        allowed: optional ``(4,)`` weights multiplying the above (e.g. to forbid a role).
    """
    has_green = count_roles(state, ROLE_GREEN) > 0
    has_blue = count_roles(state, ROLE_BLUE) > 0
    has_red = count_roles(state, ROLE_RED) > 0
    both = has_green & has_blue
    w = jnp.stack([both, ~has_green, ~has_blue, both & ~has_red]).astype(jnp.float32)
    w = w * jnp.array([1.0, 1.0, 1.0, 1.0 / 3.0])
    if allowed is not None:
        w = w * allowed
    return weighted_choice(key, w)


def rectangle_vertices(half: jnp.ndarray) -> jnp.ndarray:
    """Clockwise rectangle from the top-right corner (the Kinetix generator's order)."""
    hx, hy = half[0], half[1]
    return jnp.stack(
        [jnp.stack([hx, hy]), jnp.stack([hx, -hy]), jnp.stack([-hx, -hy]), jnp.stack([-hx, hy])]
    )


def sample_dimensions(
    key: jax.Array, is_rect: jnp.ndarray, ued: UEDParams, max_size: jnp.ndarray | float
) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """``(vertices (4, 2), half_extents (2,), radius)`` of a new shape with size cap ``max_size``.

    Rectangles: half-extents ~ U[0.05, max_size / (2 sqrt 2)] each; with probability
    ``large_rect_dim_chance`` one axis is multiplied by ``large_rect_dim_scale``. Circles: radius
    ~ U[0.1, max_size / 2 * circle_max_size_coeff]. The unused kind is zero.
    """
    k_half, k_axis, k_large, k_rad = jax.random.split(key, 4)
    cap_rect = max_size / 2.0 / math.sqrt(2.0)
    cap_circ = max_size / 2.0 * ued.circle_max_size_coeff
    half = jax.random.uniform(k_half, (2,)) * (cap_rect - MIN_HALF_EXTENT) + MIN_HALF_EXTENT
    large = jax.random.uniform(k_large) < ued.large_rect_dim_chance
    axis = jax.random.randint(k_axis, (), 0, 2)
    half = half * jnp.ones(2).at[axis].set(jnp.where(large, ued.large_rect_dim_scale, 1.0))
    half = jnp.where(is_rect, half, 0.0)
    radius = jax.random.uniform(k_rad) * (cap_circ - MIN_RADIUS) + MIN_RADIUS
    radius = jnp.where(is_rect, 0.0, radius)
    return rectangle_vertices(half), half, radius


def random_point_in_polygon(key: jax.Array, vertices: jnp.ndarray, n_vertices: jnp.ndarray):
    """Uniform point in the local bounding box (quads) or in the triangle (``n_vertices == 3``)."""
    k1, k2 = jax.random.split(key)
    f1, f2 = jax.random.uniform(k1), jax.random.uniform(k2)
    v = vertices[:4]
    lo, hi = v.min(axis=0), v.max(axis=0)
    in_box = lo + jnp.stack([f1, f2]) * (hi - lo)
    in_tri = v[0] + jnp.sqrt(f1) * (v[1] - v[0] + f2 * (v[2] - v[1]))
    return jnp.where(n_vertices <= 3, in_tri, in_box)


def random_point_in_circle(key: jax.Array, radius: jnp.ndarray) -> jnp.ndarray:
    """Angle ~ U[0, 2 pi), distance ~ U[0, radius] (not area-uniform)."""
    k1, k2 = jax.random.split(key)
    theta = jax.random.uniform(k1) * 2 * math.pi
    r = jax.random.uniform(k2) * radius
    return jnp.stack([r * jnp.cos(theta), r * jnp.sin(theta)])


def non_arena_mask(state: EnvState, static: StaticEnvParams) -> jnp.ndarray:
    """``(P + C,)`` bool: active bodies that are not one of the arena slots."""
    poly = state.polygon.active.at[: static.num_static_fixated_polys].set(False)
    return jnp.concatenate([poly, state.circle.active])


def free_slot(active: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """``(first inactive index, whether one exists)``."""
    return jnp.argmin(active), ~jnp.all(active)


def write_body(
    state: EnvState,
    is_rect: jnp.ndarray,
    body: RigidBody,
    role: jnp.ndarray,
) -> tuple[EnvState, jnp.ndarray]:
    """Put ``body`` (one entity) in the first free polygon slot if ``is_rect``, else the first free
    circle slot; set its role. Density stays as the slot had it. Returns ``(state, slot)``."""
    poly_slot, _ = free_slot(state.polygon.active)
    circ_slot, _ = free_slot(state.circle.active)

    def put(bodies: RigidBody, slot: jnp.ndarray, on: jnp.ndarray) -> RigidBody:
        return jax.tree.map(
            lambda all_, one: jnp.where(on, all_.at[slot].set(jnp.asarray(one, all_.dtype)), all_),
            bodies,
            body,
        )

    state = state.replace(
        polygon=put(state.polygon, poly_slot, is_rect),
        circle=put(state.circle, circ_slot, ~is_rect),
        polygon_shape_roles=jnp.where(
            is_rect, state.polygon_shape_roles.at[poly_slot].set(role), state.polygon_shape_roles
        ),
        circle_shape_roles=jnp.where(
            is_rect, state.circle_shape_roles, state.circle_shape_roles.at[circ_slot].set(role)
        ),
    )
    return state, jnp.where(is_rect, poly_slot, circ_slot)
