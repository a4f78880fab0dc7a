"""Hypothesis fuzzing of the step: random scenes stay finite for 500 steps of random actions.

Scenes come from ``_random_scenes.py`` (shared with ``benchmarks/fuzz.py``, which runs the same
generator on thousands of scenes): rectangles, convex clockwise triangles and quads, circles,
revolute and fixed joints with random motors and limits, thrusters, collision modes, restitution,
friction, fixated and deactivated bodies. Hypothesis picks the shape counts and the seeds of the
generator and of the actions; the builder (the public adders, jitted one by one) and the 500-step
``lax.scan`` rollout are compiled once for the module.

Examples are derandomized (the same scenes on every run). Shrinking is off to bound CI time on a
failure; the failure message prints the whole recipe (and Hypothesis the counts and seeds), which
rebuild the scene exactly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jax2d.sim_state import SimParams


def _load(name: str) -> ModuleType:
    """Import a helper next to this file under a unique module name."""
    unique = f"jax2d_tests{name}"
    if unique in sys.modules:
        return sys.modules[unique]
    spec = importlib.util.spec_from_file_location(unique, Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[unique] = mod
    spec.loader.exec_module(mod)
    return mod


R = _load("_random_scenes")
STATIC = R.FUZZ_STATIC
N_STEPS = 500
N_ACTIONS = STATIC.num_joints + STATIC.num_thrusters

FUZZ = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture(scope="module")
def build():
    return R.make_builder(STATIC)


@pytest.fixture(scope="module")
def rollout():
    return R.make_rollout(STATIC, N_STEPS)


def _describe(recipe: dict, action_seed: int, dt: float) -> str:
    lines = [f"action_seed={action_seed} dt={dt!r}"]
    lines += [f"  {k} = {np.asarray(v).tolist()}" for k, v in recipe.items()]
    return "\n".join(lines)


def _check(build, rollout, recipe: dict, action_seed: int, params: SimParams) -> None:
    state = build(recipe)
    actions = R.random_actions(np.random.default_rng(action_seed), N_STEPS, N_ACTIONS)
    final, stats = rollout(state, params, actions)
    where = _describe(recipe, action_seed, float(params.dt))
    assert bool(stats.all_finite), (
        f"NaN/inf after step {int(stats.first_nonfinite_step)} of {N_STEPS}:\n{where}"
    )
    # Fixated bodies (the scenery and fixated shapes) start at rest and must never move.
    for name in ("polygon", "circle"):
        before, after = getattr(state, name), getattr(final, name)
        fixed = np.asarray(before.inverse_mass == 0)
        for field in ("position", "rotation"):
            np.testing.assert_array_equal(
                np.asarray(getattr(after, field))[fixed],
                np.asarray(getattr(before, field))[fixed],
                err_msg=f"fixated {name} {field} moved:\n{where}",
            )


#: Hypothesis chooses the structure (how many polygons, circles, joints, thrusters: including
#: the empty and the full scene) and the seeds; the seeded generator draws every value.
SCENES = dict(
    counts=st.tuples(
        st.integers(0, STATIC.num_polygons - STATIC.num_static_fixated_polys),
        st.integers(0, STATIC.num_circles),
        st.integers(0, STATIC.num_joints),
        st.integers(0, STATIC.num_thrusters),
    ),
    scene_seed=st.integers(0, 2**32 - 1),
    action_seed=st.integers(0, 2**32 - 1),
)


@FUZZ
@given(**SCENES)
def test_random_scenes_stay_finite(
    build, rollout, counts, scene_seed: int, action_seed: int
) -> None:
    """Typical scenes (Kinetix-like sizes, speeds and joints): 500 steps without NaN or inf in
    any float leaf of the state or of the returned manifolds; fixated bodies never move."""
    recipe = R.random_recipe(np.random.default_rng(scene_seed), STATIC, "typical", counts)
    _check(build, rollout, recipe, action_seed, SimParams())


@FUZZ
@given(**SCENES, dt=st.floats(1 / 120, 1 / 20))
def test_extreme_scenes_stay_finite(
    build, rollout, counts, scene_seed: int, action_seed: int, dt: float
) -> None:
    """Contact stress (no joints): speeds to 40, spins to 30, densities 0.02–20, restitution to
    1, slivers and tiny circles, dt up to 1/20: still no NaN or inf in 500 steps."""
    recipe = R.random_recipe(np.random.default_rng(scene_seed), STATIC, "extreme", counts)
    _check(build, rollout, recipe, action_seed, SimParams(dt=dt))


def test_generator_covers_the_features(build) -> None:
    """The generator does produce every feature the fuzz claims to cover (so a passing fuzz is
    not an empty one): over 40 seeded scenes, triangles, quads and rectangles, circles, both
    joint kinds with motors and limits, thrusters, all collision modes, fixated and deactivated
    bodies; every polygon is clockwise and convex; built states place joints consistently."""
    recipes = [R.random_recipe(np.random.default_rng(i), STATIC) for i in range(40)]
    cat = R.stack_recipes(recipes)
    present = cat["poly_present"]
    assert {0, 1, 2} <= set(cat["poly_kind"][present].tolist())
    assert cat["circle_present"].sum() > 20
    jp = cat["joint_present"]
    assert jp.sum() > 20 and cat["joint_fixed"][jp].any() and (~cat["joint_fixed"][jp]).any()
    assert cat["joint_motor_on"][jp].any() and cat["joint_has_limits"][jp].any()
    assert cat["thruster_present"].sum() > 20
    assert {0, 1, 2} <= set(cat["poly_mode"][present].tolist())
    assert cat["poly_fixated"][present].any() and cat["circle_deactivate"].any()
    # Every polygon passes the adders' eager checks (clockwise, strictly convex).
    for r in recipes:
        for k in np.flatnonzero(r["poly_present"]):
            n = 3 if r["poly_kind"][k] == R.TRIANGLE else 4
            v = r["poly_vertices"][k, :n].astype(np.float64)
            e = np.roll(v, -1, 0) - v
            turn = e[:, 0] * np.roll(e, -1, 0)[:, 1] - e[:, 1] * np.roll(e, -1, 0)[:, 0]
            assert np.all(turn < 0), v
    # Built scenes: both anchors of every typical joint start at one world point.
    state = build(recipes[int(np.argmax(jp.sum(1)))])
    bodies = jax.tree_util.tree_map(
        lambda a, b: jnp.concatenate([a, b]), state.polygon, state.circle
    )
    joint = state.joint
    for j in np.flatnonzero(np.asarray(joint.active)):
        ends = []
        for idx, rel in ((joint.a_index[j], joint.a_relative_pos[j]),
                         (joint.b_index[j], joint.b_relative_pos[j])):  # fmt: skip
            c, s = jnp.cos(bodies.rotation[idx]), jnp.sin(bodies.rotation[idx])
            ends.append(bodies.position[idx] + jnp.array([c * rel[0] - s * rel[1],
                                                          s * rel[0] + c * rel[1]]))  # fmt: skip
        np.testing.assert_allclose(ends[0], ends[1], atol=1e-4)
