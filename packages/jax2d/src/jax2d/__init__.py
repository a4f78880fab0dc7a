"""jax2d: a fast, exact drop-in for the ``jax2d==1.0.1`` rigid-body engine, in pure JAX.

Public modules: :mod:`jax2d.sim_state` (state and parameter classes), :mod:`jax2d.engine`
(``PhysicsEngine`` and scene utilities), :mod:`jax2d.scene` (adders), :mod:`jax2d.maths`,
:mod:`jax2d.compiler_options` (``cpu_compiler_options()`` for ``jax.jit``: faster CPU compiles,
and faster CPU steps on jax 0.10).
"""

from jax2d import compiler_options, engine, maths, scene, sim_state
from jax2d._pytree import pytree_dataclass, static_dataclass
from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.sim_state import SimParams, SimState, StaticSimParams

__version__ = "2.0.0"
ENGINE_VERSION = "jax2d-2.0.0/ref-1.0.1"

__all__ = [
    "compiler_options",
    "engine",
    "maths",
    "scene",
    "sim_state",
    "pytree_dataclass",
    "static_dataclass",
    "PhysicsEngine",
    "create_empty_sim",
    "SimParams",
    "SimState",
    "StaticSimParams",
]
