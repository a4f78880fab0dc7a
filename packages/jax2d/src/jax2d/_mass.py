"""Mass and inertia of polygons and circles, with the reference's exact formulas.

Two reference quirks are reproduced on purpose (recorded data depends on them): the polygon
"centre" is the vertex mean, not the area centroid, and the inertia fan of a triangle closes
through the padding vertex slot 3 (``(e + 1) mod V``, not ``mod n``). Circle inertia is
``pi r^4 / 4`` (half a solid disc's).
"""

from __future__ import annotations

import jax.numpy as jnp

from jax2d.maths import zero_to_one

__all__ = [
    "calc_inverse_mass_polygon",
    "calc_inverse_inertia_polygon",
    "calc_inverse_mass_circle",
    "calc_inverse_inertia_circle",
]


def calc_inverse_mass_polygon(vertices, n_vertices, static_params, density):
    """Inverse mass and vertex-mean centre of one polygon.

    Args:
        vertices: ``(V, 2)`` local vertices (slots ``>= n_vertices`` are ignored for the area).
        n_vertices: number of real vertices (3 or 4).
        static_params: the :class:`~jax2d.sim_state.StaticSimParams` (gives ``V``).
        density: mass per unit area.

    Returns:
        ``(inverse_mass, centre)``; ``inverse_mass = 1 / (area * density)`` (1 if that is 0).
    """
    v = jnp.asarray(vertices, jnp.float32)
    num_v = static_params.max_polygon_vertices
    v0 = v[0]
    area = jnp.float32(0.0)
    for t in range(num_v - 2):
        v1, v2 = v[t + 1], v[t + 2]
        width = jnp.linalg.norm(v1 - v0)
        u = (v1 - v0) / zero_to_one(width)
        foot = v0 + jnp.dot(v2 - v0, u) * u
        height = jnp.linalg.norm(v2 - foot)
        tri = width * height / 2
        area = area + jnp.where(t < n_vertices - 2, tri, 0.0)
    inv_mass = 1.0 / zero_to_one(area * density)
    mask = (jnp.arange(num_v) < n_vertices)[:, None]
    centre = jnp.sum(jnp.where(mask, v, 0.0), axis=0) / n_vertices
    return inv_mass, centre


def calc_inverse_inertia_polygon(vertices, n_vertices, static_params, density):
    """Inverse moment of inertia of one polygon about its local origin (reference formula)."""
    v = jnp.asarray(vertices, jnp.float32)
    num_v = static_params.max_polygon_vertices
    total = jnp.float32(0.0)
    for e in range(num_v):
        p1 = v[(e + 1) % num_v]
        p2 = v[e]
        d = p1[0] * p2[1] - p1[1] * p2[0]
        s = (
            p1[0] * p1[0]
            + p2[0] * p1[0]
            + p2[0] * p2[0]
            + p1[1] * p1[1]
            + p2[1] * p1[1]
            + p2[1] * p2[1]
        )
        tri = jnp.abs((0.25 * d / 3) * s)
        total = total + jnp.where(e < n_vertices, tri, 0.0)
    return 1.0 / zero_to_one(total * density)


def calc_inverse_mass_circle(radius, density):
    """``1 / (pi r^2 density)`` (1 where that is 0)."""
    return 1.0 / zero_to_one(radius * radius * jnp.pi * density)


def calc_inverse_inertia_circle(radius, density):
    """``1 / (pi r^4 / 4 * density)`` (1 where that is 0): half a solid disc, as the reference."""
    return 1.0 / zero_to_one(jnp.pi * jnp.power(radius, 4) / 4 * density)
