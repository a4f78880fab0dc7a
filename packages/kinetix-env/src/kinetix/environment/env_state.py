"""Environment state and parameter containers.

The layouts follow ``kinetix-env==3.0.2`` exactly (field names, order, shapes, dtypes), so states
recorded by the reference (for example in the Kinetix-Offline dataset) load and simulate directly.
``P, C, J, T`` are ``num_polygons, num_circles, num_joints, num_thrusters``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jax2d._pytree import pytree_dataclass, static_dataclass
from jax2d.sim_state import SimParams, SimState, StaticSimParams

__all__ = ["EnvState", "EnvParams", "StaticEnvParams"]

# Shape roles (``polygon_shape_roles`` / ``circle_shape_roles``).
ROLE_NEUTRAL = 0
ROLE_GREEN = 1
ROLE_BLUE = 2
ROLE_RED = 3


@pytree_dataclass
class EnvState(SimState):
    """Physics state plus the Kinetix extras (in this pytree order, after the ``SimState`` leaves).

    Attributes:
        thruster_bindings: ``(T,)`` int32, thruster action channel (``0..NTB-1``) driving each
            thruster.
        motor_bindings: ``(J,)`` int32, motor action channel (``0..NMB-1``) driving each joint.
        motor_auto: ``(J,)`` bool; if True the joint's motor command is forced to +1 every step.
        polygon_shape_roles: ``(P,)`` int32: 0 neutral, 1 green, 2 blue (goal), 3 red (lava).
        circle_shape_roles: ``(C,)`` int32, same coding.
        polygon_highlighted: ``(P,)`` bool, editor flag without effect on dynamics.
        circle_highlighted: ``(C,)`` bool, editor flag.
        polygon_densities: ``(P,)`` float32, used when recomputing masses.
        circle_densities: ``(C,)`` float32.
        timestep: ``()`` int32, env steps taken in this episode.
        last_distance: ``()`` float32, green-blue distance after the previous step; -1 means none.
    """

    thruster_bindings: jnp.ndarray
    motor_bindings: jnp.ndarray
    motor_auto: jnp.ndarray

    polygon_shape_roles: jnp.ndarray
    circle_shape_roles: jnp.ndarray

    polygon_highlighted: jnp.ndarray
    circle_highlighted: jnp.ndarray

    polygon_densities: jnp.ndarray
    circle_densities: jnp.ndarray

    timestep: jnp.ndarray = 0
    last_distance: jnp.ndarray = -1.0


@pytree_dataclass
class EnvParams(SimParams):
    """Dynamic environment parameters (pytree leaves; changing them does not recompile).

    Attributes:
        max_timesteps: episode length cap (``done`` once ``timestep >= max_timesteps``).
        pixels_per_unit: renderer scale; the visible world is ``screen_dim / pixels_per_unit``.
        dense_reward_scale: weight of the green-blue distance shaping term (0 disables it).
        num_shape_roles: number of roles (one-hot width in observations).

    Instances with Python-scalar fields are hashable, as in the reference.
    """

    max_timesteps: int = 256
    pixels_per_unit: int = 100
    dense_reward_scale: float = 0.1
    num_shape_roles: int = 4


@static_dataclass
class StaticEnvParams(StaticSimParams):
    """Static sizes (hashable; a valid ``static_argnums`` value).

    The class defaults (12 of every entity, ``frame_skip=1``) are not one of the size presets;
    use :func:`kinetix.environment.static_env_params_from_size` for ``"s"``, ``"m"``, ``"l"``.

    Attributes:
        screen_dim: ``(width, height)`` in pixels at downscale 1.
        downscale: pixel observations are ``screen_dim // downscale``.
        frame_skip: physics substeps per env step.
        max_shape_size: world units; renderer patch size and generator size cap.
        num_motor_bindings: motor action channels (NMB).
        num_thruster_bindings: thruster action channels (NTB).
    """

    screen_dim: tuple[int, int] = (500, 500)
    downscale: int = 4

    frame_skip: int = 1
    max_shape_size: int = 2

    num_motor_bindings: int = 4
    num_thruster_bindings: int = 2
