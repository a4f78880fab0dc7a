"""XLA compile options that make jitted physics compile and run faster on CPU.

Two XLA:CPU settings suit the physics step, which is hundreds of small elementwise kernels:

* ``xla_cpu_use_fusion_emitters=False``: generate the fused kernels with XLA's classic LLVM
  emitters instead of the newer MLIR fusion emitters. On jax 0.9 and 0.10 this halves XLA's
  compile time of a vmapped step and runs it as fast or faster.
* ``xla_cpu_experimental_ynn_fusion_type=""`` (jaxlib 0.10 and later): keep small
  ``dot_general`` ops out of YNNPACK. jaxlib 0.10 hands each of them to YNNPACK as its own
  kernel; the exact engine evaluates its 2-vector dot products and rotations with the
  reference's dot ops (so they round as the reference does), which makes ~100 such kernels per
  step.

These are per-compilation options, never global settings: pass them to the ``jax.jit`` that
contains the step. They are for physics-dominated programs: a PPO update with a transformer
runs ~20% slower with the YNNPACK switch (its matrix products lose YNNPACK) and no faster with
the classic emitters (BENCHMARKS.md), so time such programs both ways.

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

__all__ = ["CLASSIC_EMITTERS", "YNN_FUSIONS_OFF", "cpu_compiler_options"]

CLASSIC_EMITTERS: dict[str, bool] = {"xla_cpu_use_fusion_emitters": False}
YNN_FUSIONS_OFF: dict[str, str] = {"xla_cpu_experimental_ynn_fusion_type": ""}


@functools.cache
def _accepted(key: str, value: str | bool) -> bool:
    """Whether this jaxlib's XLA knows the option (unknown ones fail the compile)."""
    try:
        jax.jit(lambda x: x + 1).lower(np.float32(0)).compile({key: value})
    except Exception:  # noqa: BLE001 - any failure means: do not pass it
        return False
    return True


def cpu_compiler_options(
    backend: str | None = None, *, classic_emitters: bool = True, ynn_fusions_off: bool = True
) -> dict[str, str | bool]:
    """Options for ``jax.jit(..., compiler_options=...)`` around the physics step.

    Args:
        backend: the backend the function will be compiled for; defaults to
            ``jax.default_backend()``. Only ``"cpu"`` gets options.
        classic_emitters: include ``{"xla_cpu_use_fusion_emitters": False}`` (XLA compile
            time of a vmapped step roughly halved, same or better run time).
        ynn_fusions_off: include ``{"xla_cpu_experimental_ynn_fusion_type": ""}`` (on jax
            0.10 the exact engine's vmapped step runs 1.5-1.8x faster).

    Returns:
        A new dict with the selected options this jaxlib knows (each is probed once by
        compiling a trivial function; unknown ones are left out), or ``{}`` off CPU. Like any
        change of XLA version or flags, the options change the last bits of some results (a
        different kernel), not the model: the golden single-step tests pass with them.
    """
    if (backend or jax.default_backend()) != "cpu":
        return {}
    wanted: dict[str, str | bool] = {}
    if classic_emitters:
        wanted.update(CLASSIC_EMITTERS)
    if ynn_fusions_off:
        wanted.update(YNN_FUSIONS_OFF)
    return {key: value for key, value in wanted.items() if _accepted(key, value)}
