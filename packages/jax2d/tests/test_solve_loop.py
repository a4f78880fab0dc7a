"""The velocity solver's two contact layouts give the same dynamics.

Fixed lanes (a family's contacts at constant positions, batches as masks) and rows (the
reference's padded batches laid out per step) are two formulations of the same Jacobi batches.
Both must agree on every family split, padding alias and warm start, so each is checked against
the other on random scenes whose families span several batches. Rows solved on their top lanes
only (when no applying contact lies below them) must agree with rows solved on every lane.
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

from jax2d import _solve_loop
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


def _assert_same_dynamics(want, got):
    for a, b in zip(jax.tree_util.tree_leaves(want), jax.tree_util.tree_leaves(got)):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind == "f":
            # XLA contracts a*b+c into FMAs differently in the two programs: last-bit rounding.
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def two_iterations(scenes):
    """The scenes with 2 solver iterations, and their step with fixed lanes."""
    static, state, params, actions = scenes
    # Two iterations: far from converged, so any change of batch or order shows, and the
    # padding alias acts both before and after the first pass.
    static = dataclasses.replace(static, num_solver_iterations=2)
    lanes = jax.jit(jax.vmap(_engine(static, "lanes").step))(state, params, actions)
    return static, lanes


def test_fixed_lanes_and_rows_agree(scenes, two_iterations):
    _, state, params, actions = scenes
    static, lanes = two_iterations
    rows = jax.jit(jax.vmap(_engine(static, "rows").step))(state, params, actions)
    _assert_same_dynamics(lanes, rows)
    # Contacts were really solved (not both layouts skipping them).
    assert np.asarray(rows[0].acc_rr_manifolds.acc_impulse_normal).max() > 1e-3
    assert np.asarray(rows[0].acc_cr_manifolds.acc_impulse_normal).max() > 1e-3


def test_constant_index_helpers_equal_gather_and_scatter():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32))
    idx = np.array([3, 0, 3, 6, 3, 1], np.int32)
    d = jnp.asarray(np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32))
    np.testing.assert_array_equal(take_at_constant(x, idx), x[idx])
    # Bitwise: repeated indices receive their updates in the scatter's order.
    want = jax.jit(lambda x, d: x.at[idx].add(d))(x, d)
    got = jax.jit(lambda x, d: add_at_constant(x, idx, d))(x, d)
    np.testing.assert_array_equal(np.asarray(got).view(np.uint32), np.asarray(want).view(np.uint32))


def test_lanes_needed_counts_from_the_lowest_applying_lane():
    applies = np.zeros((3, 16), bool)
    assert int(_solve_loop.lanes_needed(jnp.asarray(applies))) == 0
    applies[0, 15] = True
    assert int(_solve_loop.lanes_needed(jnp.asarray(applies))) == 1
    applies[2, 11] = True  # the lowest applying lane of any row decides
    assert int(_solve_loop.lanes_needed(jnp.asarray(applies))) == 5
    applies[1, 0] = True
    assert int(_solve_loop.lanes_needed(jnp.asarray(applies))) == 16


def _recorded_needs(monkeypatch):
    """Record the batch-wide lane count every traced row solve branches on."""
    seen = []
    real = _solve_loop.batch_max

    def recording(x):
        out = real(x)
        jax.debug.callback(lambda v: seen.append(int(v)), out)
        return out

    monkeypatch.setattr(_solve_loop, "batch_max", recording)
    return seen


def test_rows_too_wide_for_every_tier_fall_back_to_all_lanes(scenes, two_iterations, monkeypatch):
    _, state, params, actions = scenes
    static, lanes = two_iterations
    monkeypatch.setattr(_solve_loop, "_TOP_LANE_TIERS", (1,))
    needs = _recorded_needs(monkeypatch)
    rows = jax.jit(jax.vmap(_engine(static, "rows").step))(state, params, actions)
    jax.effects_barrier()
    # The stacks' rows hold every applying contact in their top 2 to 4 lanes (of 16): too many
    # for a 1-lane tier, and few enough that the default tiers' 4 lanes, tested above, take them.
    assert needs and 1 < max(needs) <= 4, needs
    _assert_same_dynamics(lanes, rows)


def test_a_batch_takes_the_tier_of_its_most_crowded_environment(scenes, monkeypatch):
    """Each scene alone takes its own tier; batched, all take the widest: same results."""
    static, state, params, actions = scenes
    static = dataclasses.replace(static, num_solver_iterations=2)
    crowded = jax.tree_util.tree_map(lambda x: x[:1], state)
    # A scene at rest apart: nothing touches, so alone it needs no lane at all.
    empty = create_empty_sim(static)
    calm = jax.tree_util.tree_map(lambda x: x[None], empty)
    batch = jax.tree_util.tree_map(lambda a, b: jnp.concatenate([a, b]), crowded, calm)
    needs = _recorded_needs(monkeypatch)
    step = jax.jit(jax.vmap(_engine(static, "rows").step))
    p2 = jax.tree_util.tree_map(lambda x: x[:2], params)
    together = step(batch, p2, actions[:2])
    jax.effects_barrier()
    batched_needs = list(needs)
    needs.clear()
    alone = [step(s, jax.tree_util.tree_map(lambda x: x[:1], params), actions[:1])
             for s in (crowded, calm)]  # fmt: skip
    jax.effects_barrier()
    assert max(batched_needs) > 0 and min(needs) == 0, (batched_needs, needs)
    for k, single in enumerate(alone):
        _assert_same_dynamics(
            jax.tree_util.tree_map(lambda x: x[k], together),
            jax.tree_util.tree_map(lambda x: x[0], single),
        )
