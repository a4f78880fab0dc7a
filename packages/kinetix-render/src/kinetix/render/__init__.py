"""Kinetix observation renderers: pixels, symbolic-flat (+padded) and symbolic-entity.

Names and outputs follow ``kinetix-env==3.0.2``'s ``kinetix.render``, so code written for it runs
unchanged::

    from kinetix.render import make_render_pixels, make_render_symbolic, make_render_entities

Every renderer is pure JAX (jit- and vmap-able) and accepts one ``EnvState`` or a batch with any
leading dimensions (``(B, T, ...)``, e.g. whole trajectories from ``kinetix.data``) in one call.
Installing this distribution registers every observation type with ``kinetix.environment``
(entry-point group ``kinetix.observations``), so
``make_kinetix_env(observation_type=ObservationType.PIXELS, ...)`` works.

Video export (``kinetix.render.video``) needs the ``video`` extra and is not imported here.
"""

from kinetix.render.batching import leading_batch_shape, vmap_leading_dims
from kinetix.render.observations import (
    EntityObservations,
    PixelObservations,
    SymbolicEntityObservations,
    SymbolicFlatObservations,
    SymbolicFlatPaddedObservations,
    SymbolicObservations,
    SymbolicPaddedObservations,
)
from kinetix.render.renderer_pixels import make_render_pixels, make_render_pixels_rl
from kinetix.render.renderer_symbolic_entity import (
    EntityObservation,
    make_inverse_render_entity,
    make_render_entities,
)
from kinetix.render.renderer_symbolic_flat import (
    make_inverse_render_symbolic,
    make_render_symbolic,
    symbolic_flat_size,
    symbolic_padded_shape,
)

__all__ = [
    "EntityObservation",
    "EntityObservations",
    "PixelObservations",
    "SymbolicEntityObservations",
    "SymbolicFlatObservations",
    "SymbolicFlatPaddedObservations",
    "SymbolicObservations",
    "SymbolicPaddedObservations",
    "leading_batch_shape",
    "make_inverse_render_entity",
    "make_inverse_render_symbolic",
    "make_render_entities",
    "make_render_pixels",
    "make_render_pixels_rl",
    "make_render_symbolic",
    "symbolic_flat_size",
    "symbolic_padded_shape",
    "vmap_leading_dims",
]
