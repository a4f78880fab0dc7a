"""The velocity solver's two contact layouts give the same dynamics.

Fixed lanes (a family's contacts at constant positions, batches as masks) and rows (the
reference's padded batches laid out per step) are two formulations of the same Jacobi batches.
Both must agree on every family split, padding alias and warm start, so each is checked against
the other on random scenes whose families span several batches.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2d._bodies import add_at_constant, take_at_constant
from jax2d._contact_plan import make_contact_plan
from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import add_circle_to_scene, add_rectangle_to_scene
from jax2d.sim_state import SimParams


def _random_scenes():
    # The same unique module name as test_fuzz.py: other packages' tests have helpers too.
    name = "jax2d_tests_random_scenes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_random_scenes.py")
        )
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


R = _random_scenes()
NUM_SCENES = 4


def _engine(static, layout):
    engine = PhysicsEngine(static)
    engine._plan = make_contact_plan(
        engine.poly_poly_pairs, engine.circle_poly_pairs, engine.circle_circle_pairs,
        static.num_polygons, static.solver_batch_size, layout,
    )  # fmt: skip
    return engine


def _stack(static, jitter: float):
    """Three boxes stacked on the floor with a circle on top, and a pyramid of three circles:
    contacts that share moving bodies, so the order of batches and lanes matters."""
    state = create_empty_sim(static)
    x0 = 1.2 + jitter
    for k, y in enumerate((0.65, 1.15, 1.65)):
        pos = jnp.array([x0 + 0.05 * k * (1 - 2 * (k % 2)), y])
        state, _ = add_rectangle_to_scene(state, static, pos, jnp.array([0.9 - 0.1 * k, 0.5]))
    state, _ = add_circle_to_scene(state, static, jnp.array([x0, 2.2]), 0.25)
    for x, y in ((2.7, 0.65), (3.19, 0.65), (2.945, 1.07)):
        state, _ = add_circle_to_scene(state, static, jnp.array([x + jitter, y]), 0.245)
    return state


@pytest.fixture(scope="module")
def scenes():
    """Stacks after 30 steps: resting, warm-started contacts sharing moving bodies."""
    # Batches of 16: rr (22 pairs, padded) and cr (32) span 2 batches each, cc (6) one.
    static = R.FUZZ_STATIC
    states = [_stack(static, 0.07 * i) for i in range(NUM_SCENES)]
    state = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *states)
    params = jax.tree_util.tree_map(lambda x: jnp.stack([x] * NUM_SCENES), SimParams())
    actions = jnp.zeros((NUM_SCENES, static.num_joints + static.num_thrusters))
    step = jax.jit(jax.vmap(_engine(static, "auto").step))
    for _ in range(30):
        state, _ = step(state, params, actions)
    return static, state, params, actions


def test_scenes_have_contacts_in_several_batches(scenes):
    static, state, *_ = scenes
    rr = np.asarray(state.acc_rr_manifolds.active).any(-1).sum(-1)
    cr = np.asarray(state.acc_cr_manifolds.active).sum(-1)
    cc = np.asarray(state.acc_cc_manifolds.active).sum(-1)
    # More active contacts than batches: batches hold several contacts, sharing bodies.
    assert rr.min() > 2 and cr.min() > 2 and cc.min() >= 2, (rr, cr, cc)


def test_fixed_lanes_and_rows_agree(scenes):
    static, state, params, actions = scenes
    out = {}
    # Two iterations: far from converged, so any change of batch or order shows, and the
    # padding alias acts both before and after the first pass.
    static = dataclasses.replace(static, num_solver_iterations=2)
    for layout in ("lanes", "rows"):
        step = jax.jit(jax.vmap(_engine(static, layout).step))
        out[layout] = step(state, params, actions)
    lanes, rows = (jax.tree_util.tree_leaves(out[k]) for k in ("lanes", "rows"))
    for a, b in zip(lanes, rows):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f":
            # XLA contracts a*b+c into FMAs differently in the two programs: last-bit rounding.
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(a, b)
    # Contacts were really solved (not both layouts skipping them).
    assert np.asarray(out["rows"][0].acc_rr_manifolds.acc_impulse_normal).max() > 1e-3
    assert np.asarray(out["rows"][0].acc_cr_manifolds.acc_impulse_normal).max() > 1e-3


def test_constant_index_helpers_equal_gather_and_scatter():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32))
    idx = np.array([3, 0, 3, 6, 3, 1], np.int32)
    d = jnp.asarray(np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32))
    np.testing.assert_array_equal(take_at_constant(x, idx), x[idx])
    # Bitwise: repeated indices receive their updates in the scatter's order.
    want = jax.jit(lambda x, d: x.at[idx].add(d))(x, d)
    got = jax.jit(lambda x, d: add_at_constant(x, idx, d))(x, d)
    np.testing.assert_array_equal(np.asarray(got).view(np.uint32), np.asarray(want).view(np.uint32))
