"""``jax2d.compiler_options``: the per-compilation XLA options for fast CPU physics."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax2d.compiler_options import (
    CLASSIC_EMITTERS,
    YNN_FUSIONS_OFF,
    _accepted,
    cpu_compiler_options,
)
from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import add_circle_to_scene, add_rectangle_to_scene
from jax2d.sim_state import SimParams, StaticSimParams

S = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
B = 64  # jaxlib 0.10.2 makes YNNPACK fusions of this vmapped step from B = 16 on


def test_options_by_backend() -> None:
    assert cpu_compiler_options("gpu") == {} and cpu_compiler_options("tpu") == {}
    ynn_known = _accepted(*next(iter(YNN_FUSIONS_OFF.items())))
    if jax.__version_info__[:2] >= (0, 10):
        assert ynn_known  # the jaxlib that makes YNNPACK fusions knows the switch
    assert _accepted(*next(iter(CLASSIC_EMITTERS.items())))  # jaxlib 0.9 and 0.10 both know it
    both = cpu_compiler_options("cpu")
    assert both == {**CLASSIC_EMITTERS, **(YNN_FUSIONS_OFF if ynn_known else {})}
    assert cpu_compiler_options("cpu", ynn_fusions_off=False) == CLASSIC_EMITTERS
    assert cpu_compiler_options("cpu", classic_emitters=False) == (
        YNN_FUSIONS_OFF if ynn_known else {}
    )
    assert cpu_compiler_options("cpu", classic_emitters=False, ynn_fusions_off=False) == {}
    assert cpu_compiler_options("cpu") is not cpu_compiler_options("cpu")  # callers may edit
    assert not _accepted("xla_cpu_no_such_option_for_jax2d", "")


def test_every_option_is_accepted_by_xla() -> None:
    """A real compile with all the options succeeds (an unknown key would fail it)."""
    compiled = (
        jax.jit(lambda x: x * 2.0).lower(np.ones(3, np.float32)).compile(cpu_compiler_options())
    )
    np.testing.assert_array_equal(np.asarray(compiled(np.ones(3, np.float32))), 2.0)


def _batch():
    state = create_empty_sim(S)
    state, _ = add_rectangle_to_scene(state, S, jnp.array([2.0, 0.9]), jnp.array([1.0, 0.4]))
    state, _ = add_circle_to_scene(state, S, jnp.array([2.2, 1.6]), 0.3)
    states = jax.tree.map(lambda x: jnp.stack([x] * B), state)
    shift = jnp.zeros((B, S.num_circles, 2)).at[:, 0, 0].set(jnp.linspace(-0.5, 0.5, B))
    return states.replace(circle=states.circle.replace(position=states.circle.position + shift))


def test_vmapped_step_compiles_without_ynn_fusions_and_agrees() -> None:
    """The options reach XLA (no YNNPACK fusion is left in the program, where jaxlib makes any)
    and the physics is the same to float32 rounding over 50 steps."""
    step = jax.vmap(PhysicsEngine(S).step, in_axes=(0, None, 0))
    states, actions = _batch(), jnp.ones((B, 2))
    lowered = jax.jit(step).lower(states, SimParams(), actions)
    default = lowered.compile()
    tuned = lowered.compile(cpu_compiler_options())
    if (0, 10) <= jax.__version_info__[:2] < (0, 11):
        assert "__ynn_fusion" in default.as_text()  # what the option is for, on jax 0.10
    assert "__ynn_fusion" not in tuned.as_text()
    a = b = states
    for _ in range(50):
        a, _ = default(a, SimParams(), actions)
        b, _ = tuned(b, SimParams(), actions)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert np.all(np.isfinite(np.asarray(x, float)))
        np.testing.assert_allclose(np.asarray(x, float), np.asarray(y, float), atol=1e-4)
    # The scene really moved: the circles fell onto the box or the floor.
    assert (
        float(jnp.max(jnp.abs(b.circle.position[:, 0, 1] - states.circle.position[:, 0, 1]))) > 0.1
    )
