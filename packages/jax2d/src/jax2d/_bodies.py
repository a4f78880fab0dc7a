"""Polygons and circles viewed as one array of ``P + C`` bodies, indexed by global index.

The reference keeps two arrays and scatters every impulse into both, multiplied by an
``is_polygon`` / ``is_circle`` flag. Routing by global index into one array gives the same numbers
(for finite values) with half the scatters.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from jax2d.sim_state import RigidBody


def take_at_constant(x, idx: np.ndarray):
    """``x[idx]`` for a constant index array, as slices (no gather kernel)."""
    return jnp.stack([x[int(i)] for i in idx])


def add_at_constant(x, idx: np.ndarray, d):
    """``x.at[idx].add(d)`` for a constant index array, as an unrolled chain of adds.

    Each row receives its updates in the order XLA's scatter applies them (ascending update
    index), so the sums round identically. Under ``vmap`` this is elementwise work that fuses;
    XLA:CPU runs a scatter one element at a time in its own kernel.
    """
    rows = [x[i] for i in range(x.shape[0])]
    for lane, i in enumerate(idx):
        rows[int(i)] = rows[int(i)] + d[lane]
    return jnp.stack(rows)


class Bodies(NamedTuple):
    """Mutable-by-replacement dynamic part plus constant mass data of all bodies."""

    position: jnp.ndarray  # (NB, 2)
    rotation: jnp.ndarray  # (NB,)
    velocity: jnp.ndarray  # (NB, 2)
    angular_velocity: jnp.ndarray  # (NB,)
    inverse_mass: jnp.ndarray  # (NB,)
    inverse_inertia: jnp.ndarray  # (NB,)
    active: jnp.ndarray  # (NB,)

    @staticmethod
    def from_state(polygon: RigidBody, circle: RigidBody) -> Bodies:
        def cat(name):
            return jnp.concatenate([getattr(polygon, name), getattr(circle, name)], axis=0)

        return Bodies(*(cat(f) for f in Bodies._fields))

    def write_back(self, polygon: RigidBody, circle: RigidBody) -> tuple[RigidBody, RigidBody]:
        p = polygon.position.shape[0]
        upd = {
            f: getattr(self, f) for f in ("position", "rotation", "velocity", "angular_velocity")
        }
        return (
            polygon.replace(**{k: v[:p] for k, v in upd.items()}),
            circle.replace(**{k: v[p:] for k, v in upd.items()}),
        )

    def add(self, index, dv=None, dw=None, dp=None) -> Bodies:
        """Scatter-add velocity / angular velocity / position increments at global ``index``."""
        out = self
        if dv is not None:
            out = out._replace(velocity=out.velocity.at[index].add(dv))
        if dw is not None:
            out = out._replace(angular_velocity=out.angular_velocity.at[index].add(dw))
        if dp is not None:
            out = out._replace(position=out.position.at[index].add(dp))
        return out
