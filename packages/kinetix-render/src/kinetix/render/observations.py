"""Observation classes that plug the renderers into ``kinetix.environment``.

kinetix-render registers them under the ``kinetix.observations`` entry-point group (see its
``pyproject.toml``), so once it is installed::

    from kinetix.environment import ActionType, ObservationType, make_kinetix_env
    env = make_kinetix_env(ActionType.CONTINUOUS, ObservationType.SYMBOLIC_FLAT, reset_fn)

finds :class:`SymbolicFlatObservations`. Each class is a factory
``(env_params, static_env_params) -> KinetixObservation`` with ``get_obs(state)``,
``observation_space(env_params)`` and ``hash_key()``. The reference's class names
(``SymbolicObservations``, ``SymbolicPaddedObservations``, ``EntityObservations``) are aliases.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.observations import KinetixObservation
from kinetix.environment.spaces import Box, Dict
from kinetix.render.renderer_symbolic_common import joint_feature_width, thruster_feature_width
from kinetix.render.renderer_symbolic_entity import EntityObservation, make_render_entities
from kinetix.render.renderer_symbolic_flat import (
    make_render_symbolic,
    symbolic_flat_size,
    symbolic_padded_shape,
)

__all__ = [
    "PixelObservations",
    "SymbolicFlatObservations",
    "SymbolicFlatPaddedObservations",
    "SymbolicEntityObservations",
    "SymbolicObservations",
    "SymbolicPaddedObservations",
    "EntityObservations",
]


class PixelObservations(KinetixObservation):
    """RGB image in [0, 1] of shape ``(W // downscale, H // downscale, 3)`` (``[x, y]`` layout,
    y up) plus ``global_info = [gravity_y / 10]``; the space describes the image only.

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> PixelObservations(EnvParams(), static_env_params_from_size("s")).observation_space(
        ...     EnvParams()).shape
        (125, 125, 3)
    """

    def __init__(self, env_params: EnvParams, static_env_params: StaticEnvParams):
        super().__init__(env_params, static_env_params)
        self._render = None

    def get_obs(self, state: EnvState) -> Any:
        if self._render is None:
            # Built on first use: the rasteriser's setup (textures) is only paid by pixel users.
            from kinetix.render.renderer_pixels import make_render_pixels_rl

            self._render = make_render_pixels_rl(self.env_params, self.static_env_params)
        return self._render(state)

    def observation_space(self, env_params: EnvParams) -> Box:
        s = self.static_env_params
        shape = tuple(a // s.downscale for a in s.screen_dim) + (3,)
        return Box(0.0, 1.0, shape, dtype=jnp.float32)

    def hash_key(self) -> Any:
        return (self.__class__.__name__, self.env_params.pixels_per_unit)


class SymbolicFlatObservations(KinetixObservation):
    """The flat float32 vector of :func:`kinetix.render.make_render_symbolic`.

    Args:
        env_params: environment parameters.
        static_env_params: static sizes.
        clip: clip to [-10, 10] (the reference always does).

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> SymbolicFlatObservations(EnvParams(), static_env_params_from_size("s")).observation_space(
        ...     EnvParams()).shape
        (140,)
    """

    padded = False

    def __init__(
        self, env_params: EnvParams, static_env_params: StaticEnvParams, clip: bool = True
    ):
        super().__init__(env_params, static_env_params)
        self.clip = clip
        self.render_function = make_render_symbolic(
            env_params, static_env_params, padded=self.padded, clip=clip
        )

    def get_obs(self, state: EnvState) -> jnp.ndarray:
        return self.render_function(state)

    def _shape(self) -> tuple[int, ...]:
        return (symbolic_flat_size(self.env_params, self.static_env_params),)

    def observation_space(self, env_params: EnvParams) -> Box:
        bound = 10.0 if self.clip else np.inf
        return Box(-bound, bound, self._shape(), dtype=jnp.float32)

    def hash_key(self) -> Any:
        return (self.__class__.__name__, self.clip, self.env_params.num_shape_roles)


class SymbolicFlatPaddedObservations(SymbolicFlatObservations):
    """The padded ``(rows, width)`` float32 matrix (one row per kept polygon, circle, joint and
    thruster). Unlike the reference, it has an observation space.

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> SymbolicFlatPaddedObservations(
        ...     EnvParams(), static_env_params_from_size("m")).observation_space(EnvParams()).shape
        (10, 45)
    """

    padded = True

    def _shape(self) -> tuple[int, ...]:
        return symbolic_padded_shape(self.env_params, self.static_env_params)


class SymbolicEntityObservations(KinetixObservation):
    """:class:`~kinetix.render.renderer_symbolic_entity.EntityObservation` per state.

    Args:
        env_params: environment parameters.
        static_env_params: static sizes.
        ignore_mask: leave ``attention_mask`` as ``None`` (the space then omits it).

    Example:
        >>> from kinetix.environment import EnvParams, static_env_params_from_size
        >>> space = SymbolicEntityObservations(
        ...     EnvParams(), static_env_params_from_size("s")).observation_space(EnvParams())
        >>> space.spaces["attention_mask"].shape
        (4, 7, 7)
    """

    def __init__(
        self, env_params: EnvParams, static_env_params: StaticEnvParams, ignore_mask: bool = False
    ):
        super().__init__(env_params, static_env_params)
        self.ignore_mask = ignore_mask
        self.render_function = make_render_entities(
            env_params, static_env_params, ignore_attention_mask=ignore_mask
        )

    def get_obs(self, state: EnvState) -> EntityObservation:
        return self.render_function(state)

    def observation_space(self, env_params: EnvParams) -> Dict:
        s = self.static_env_params
        n = s.num_polygons + s.num_circles
        roles = self.env_params.num_shape_roles
        polygon_width = 12 + roles + 2 + 2 * s.max_polygon_vertices + 1
        circle_width = 12 + roles + 2 + 1

        def floats(*shape: int) -> Box:
            return Box(-np.inf, np.inf, shape, dtype=jnp.float32)

        def bools(*shape: int) -> Box:
            return Box(0, 1, shape, dtype=jnp.bool_)

        def indices(*shape: int) -> Box:
            return Box(0, n - 1, shape, dtype=jnp.int32)

        spaces = dict(
            circles=floats(s.num_circles, circle_width),
            polygons=floats(s.num_polygons, polygon_width),
            joints=floats(2 * s.num_joints, joint_feature_width(s)),
            thrusters=floats(s.num_thrusters, thruster_feature_width(s)),
            circle_mask=bools(s.num_circles),
            polygon_mask=bools(s.num_polygons),
            joint_mask=bools(2 * s.num_joints),
            thruster_mask=bools(s.num_thrusters),
            attention_mask=bools(4, n, n),
            joint_indexes=indices(2 * s.num_joints, 2),
            thruster_indexes=indices(s.num_thrusters),
        )
        if self.ignore_mask:
            del spaces["attention_mask"]
        return Dict(spaces)

    def hash_key(self) -> Any:
        return (self.__class__.__name__, self.ignore_mask, self.env_params.num_shape_roles)


# The reference's class names.
SymbolicObservations = SymbolicFlatObservations
SymbolicPaddedObservations = SymbolicFlatPaddedObservations
EntityObservations = SymbolicEntityObservations
