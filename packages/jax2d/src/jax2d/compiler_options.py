"""XLA compile options that make jitted physics faster on CPU.

Since jaxlib 0.10, XLA:CPU hands small ``dot_general`` ops to YNNPACK, one custom kernel per
dot. The engine's exact mode evaluates its 2-vector dot products and rotations with the
reference's dot ops (so they round as the reference does), which turns a step into ~100 such
kernels; switching YNNPACK fusions off compiles them as XLA's own dot kernels, as jaxlib 0.9
does. This is a per-compilation option, never a global setting: pass it to the ``jax.jit`` that
contains the step.

Example:
    >>> import jax, jax.numpy as jnp
    >>> from jax2d.compiler_options import cpu_compiler_options
    >>> from jax2d.engine import PhysicsEngine, create_empty_sim
    >>> from jax2d.sim_state import SimParams, StaticSimParams
    >>> static = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
    >>> engine = PhysicsEngine(static)
    >>> step = jax.jit(engine.step, compiler_options=cpu_compiler_options())
    >>> state, _ = step(create_empty_sim(static), SimParams(), jnp.zeros(2))
"""

from __future__ import annotations

import functools

import jax
import numpy as np

__all__ = ["YNN_FUSIONS_OFF", "cpu_compiler_options"]

YNN_FUSIONS_OFF: dict[str, str] = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _accepted(key: str, value: str) -> bool:
    """Whether this jaxlib's XLA knows the option (unknown ones fail the compile)."""
    try:
        jax.jit(lambda x: x + 1).lower(np.float32(0)).compile({key: value})
    except Exception:  # noqa: BLE001 - any failure means: do not pass it
        return False
    return True


def cpu_compiler_options(backend: str | None = None) -> dict[str, str]:
    """Options for ``jax.jit(..., compiler_options=...)`` around the physics step.

    Args:
        backend: the backend the function will be compiled for; defaults to
            ``jax.default_backend()``. Only ``"cpu"`` gets options.

    Returns:
        ``{"xla_cpu_experimental_ynn_fusion_type": ""}`` (YNNPACK fusions off) on CPU when this
        jaxlib knows the option, else ``{}``. On jax 0.10 CPU this makes the exact engine's
        vmapped step 1.7-1.9x faster (BENCHMARKS.md). Like any change of XLA version or flags,
        it changes the last bits of some results (a different dot kernel). It applies to the
        whole compiled function: large matrix products in the same function also leave
        YNNPACK, so time such programs both ways (a PPO update with the entity transformer is
        ~20% slower with it).
    """
    if (backend or jax.default_backend()) != "cpu":
        return {}
    ((key, value),) = YNN_FUSIONS_OFF.items()
    return dict(YNN_FUSIONS_OFF) if _accepted(key, value) else {}
