"""Observation types and the registry that plugs observation functions into the env.

kinetix-env never imports a renderer. Other distributions (``kinetix-render``) register
observation factories under the entry-point group ``kinetix.observations``::

    [project.entry-points."kinetix.observations"]
    pixels = "kinetix.render.observations:PixelObservations"
    symbolic_flat = "kinetix.render.observations:SymbolicObservations"

Each entry's name is an observation-type name (``ObservationType.PIXELS`` is ``"pixels"``) and its
object is a factory ``(env_params, static_env_params) -> KinetixObservation``: typically a
:class:`KinetixObservation` subclass, whose instances provide ``get_obs(state)``,
``observation_space(env_params)`` and ``hash_key()``. Only the built-in ``"blind"`` observation
ships with kinetix-env.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from importlib import metadata
from typing import Any

import jax
import jax.numpy as jnp

from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.spaces import Box

__all__ = [
    "ENTRY_POINT_GROUP",
    "ObservationType",
    "KinetixObservation",
    "BlindObservations",
    "ObservationFactory",
    "get_observation_registry",
    "resolve_observation",
]

ENTRY_POINT_GROUP = "kinetix.observations"


class ObservationType(Enum):
    """The reference's observation types (names lower-cased are the registry keys)."""

    PIXELS = 0
    SYMBOLIC_FLAT = 1
    SYMBOLIC_ENTITY = 2
    BLIND = 3
    SYMBOLIC_FLAT_PADDED = 4

    @staticmethod
    def from_string(s: str) -> ObservationType:
        """``"pixels"``, ``"symbolic_flat"``, ``"symbolic_entity"``, ``"blind"`` or
        ``"symbolic_flat_padded"`` to the enum."""
        try:
            return ObservationType[s.upper()]
        except KeyError:
            names = sorted(t.name.lower() for t in ObservationType)
            raise ValueError(f"unknown observation type {s!r}; expected one of {names}") from None

    @property
    def key(self) -> str:
        """The registry key (the lower-case name)."""
        return self.name.lower()


class KinetixObservation:
    """Base class of observation functions.

    Args:
        env_params: environment parameters.
        static_env_params: static sizes.
    """

    def __init__(self, env_params: EnvParams, static_env_params: StaticEnvParams):
        self.env_params = env_params
        self.static_env_params = static_env_params

    def get_obs(self, state: EnvState) -> Any:
        """The observation of one state (a pytree of arrays; jit/vmap-able)."""
        raise NotImplementedError

    def observation_space(self, env_params: EnvParams) -> Any:
        """The gymnax-style space of observations."""
        raise NotImplementedError

    def hash_key(self) -> Any:
        """Hashable identity used by ``KinetixEnv.__hash__``; include every option that changes
        the observation, or jitted env methods may reuse a trace of a differently configured one."""
        return self.__class__.__name__


class BlindObservations(KinetixObservation):
    """The built-in observation: ``one_hot(timestep, max_timesteps + 1)`` (float32)."""

    def get_obs(self, state: EnvState) -> jnp.ndarray:
        return jax.nn.one_hot(state.timestep, self.env_params.max_timesteps + 1)

    def observation_space(self, env_params: EnvParams) -> Box:
        return Box(0.0, 1.0, (self.env_params.max_timesteps + 1,), dtype=jnp.float32)

    def hash_key(self) -> Any:
        return (self.__class__.__name__, self.env_params.max_timesteps)


ObservationFactory = Callable[[EnvParams, StaticEnvParams], KinetixObservation]

_BUILTINS: dict[str, ObservationFactory] = {"blind": BlindObservations}


class _LazyEntryPoint:
    """A factory that imports its entry point on first call (keeps the registry cheap)."""

    def __init__(self, entry_point: metadata.EntryPoint):
        self.entry_point = entry_point

    def __call__(self, env_params: EnvParams, static_env_params: StaticEnvParams) -> Any:
        return self.entry_point.load()(env_params, static_env_params)

    def __repr__(self) -> str:
        return f"<observation factory {self.entry_point.name} = {self.entry_point.value}>"


def get_observation_registry(
    entry_points: Iterable[metadata.EntryPoint] | None = None,
) -> dict[str, ObservationFactory]:
    """A fresh ``{name: factory}`` dict: the built-ins plus the ``kinetix.observations`` entry
    points of the installed distributions (entry points are imported only when called).

    Args:
        entry_points: use these instead of the installed ones (for tests).
    """
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    registry: dict[str, ObservationFactory] = dict(_BUILTINS)
    for ep in entry_points:
        registry[ep.name] = _LazyEntryPoint(ep)
    return registry


def resolve_observation(
    observation_type: ObservationType | str | KinetixObservation | ObservationFactory,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    registry: dict[str, ObservationFactory] | None = None,
) -> KinetixObservation:
    """Turn an observation type (enum, name, instance or factory) into an observation object.

    Raises:
        KeyError: the type is not registered (its renderer is not installed).
    """
    if isinstance(observation_type, KinetixObservation):
        return observation_type
    if isinstance(observation_type, ObservationType):
        name = observation_type.key
    elif isinstance(observation_type, str):
        name = observation_type.lower()  # any registered name, not only the enum's
    elif callable(observation_type):
        return observation_type(env_params, static_env_params)
    else:
        raise TypeError(
            "observation_type must be an ObservationType, its name, a KinetixObservation or a "
            "factory (env_params, static_env_params) -> KinetixObservation; "
            f"got {observation_type!r}"
        )
    registry = get_observation_registry() if registry is None else registry
    if name not in registry:
        raise KeyError(
            f"observation type {name!r} is not registered in entry-point group "
            f"{ENTRY_POINT_GROUP!r} (available: {sorted(registry)}); its renderer is provided by "
            "kinetix-render: `pip install kinetix-render`"
        )
    return registry[name](env_params, static_env_params)
