"""``jax2d._vector_ops`` and ``PhysicsEngine(numerics=...)``: the exact and the opt-in fast engine.

The exact ops are the reference's (parity is proven by ``test_golden.py``); the fast ops must be
the same mathematics to within float32 rounding, and the fast engine the same model: every golden
scene's single step agrees with the reference at the golden tolerance (``test_golden.py``), and
here it stays within a few ulps of the exact engine after one step and keeps a scene sane.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2d._vector_ops import EXACT, FAST, NUMERICS, vector_ops
from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import add_circle_to_scene, add_rectangle_to_scene, add_revolute_joint_to_scene
from jax2d.sim_state import SimParams, StaticSimParams

S = StaticSimParams(num_polygons=5, num_circles=2, num_joints=1, num_thrusters=1)
BOX = 4  # the first free polygon slot after floor, walls and ceiling


def _random(shape, seed):
    return jnp.asarray(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _close(a, b, ulps: float = 4.0) -> None:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.maximum(np.abs(a), np.abs(b)) + 1e-30
    assert np.all(np.abs(a - b) <= ulps * np.finfo(np.float32).eps * scale + 1e-37), np.max(
        np.abs(a - b) / scale
    )


def test_vector_ops_lookup() -> None:
    assert vector_ops("exact") is EXACT
    assert vector_ops("fast") is FAST
    assert set(NUMERICS) == {"exact", "fast"}


@pytest.mark.parametrize("bad", ["Fast", "approx", "", None, 1])
def test_unknown_numerics_is_a_clear_error(bad) -> None:
    with pytest.raises(ValueError, match=r"numerics must be one of \['exact', 'fast'\]") as e:
        PhysicsEngine(S, numerics=bad)
    assert repr(bad) in str(e.value)


def test_fast_ops_are_the_same_products() -> None:
    """Dot, norm and both rotations agree with the reference's ops to float32 rounding, with
    broadcasting as the engine uses it (a face axis against a vertex axis)."""
    a, b = _random((64, 4, 1, 2), 0), _random((64, 1, 4, 2), 1)
    c, s = jnp.cos(_random((64, 1), 2)), jnp.sin(_random((64, 1), 2))
    v = _random((64, 4, 2), 3)
    jit = jax.jit
    assert FAST.dot(a, b).shape == EXACT.dot(a, b).shape == (64, 4, 4)
    # A dot of two products can cancel: compare against the magnitude of the products.
    scale = np.abs(np.asarray(a * b)).sum(-1)
    err = np.abs(np.asarray(jit(FAST.dot)(a, b)) - np.asarray(jit(EXACT.dot)(a, b)))
    assert np.all(err <= 2 * np.finfo(np.float32).eps * scale)
    _close(jit(FAST.norm)(v), jit(EXACT.norm)(v))
    for fast, exact in [(FAST.rotate_cs, EXACT.rotate_cs), (FAST.rotate_cs_t, EXACT.rotate_cs_t)]:
        got, want = jit(fast)(c, s, v), jit(exact)(c, s, v)
        assert got.shape == want.shape == (64, 4, 2)
        assert np.allclose(got, want, rtol=0, atol=4e-7 * float(np.abs(np.asarray(v)).max()))
    # R^T undoes R.
    back = jit(lambda v: FAST.rotate_cs_t(c, s, FAST.rotate_cs(c, s, v)))(v)
    assert np.allclose(back, v, atol=1e-6)


def test_engines_compare_and_hash_by_numerics() -> None:
    exact, fast = PhysicsEngine(S), PhysicsEngine(S, numerics="fast")
    assert exact.numerics == "exact" and fast.numerics == "fast"
    assert exact == PhysicsEngine(S, "exact") and hash(exact) == hash(PhysicsEngine(S))
    assert fast == PhysicsEngine(S, numerics="fast")
    assert exact != fast and exact.hash_key() != fast.hash_key()
    assert "numerics='fast'" in repr(fast)
    # As a static jit argument the two engines get separate traces.
    traces = []

    def run(engine, state):
        traces.append(engine.numerics)
        return engine.step(state, SimParams(), jnp.zeros(2))[0].polygon.position

    f = jax.jit(run, static_argnums=0)
    state = create_empty_sim(S)
    f(exact, state), f(fast, state), f(PhysicsEngine(S, "fast"), state)
    assert traces == ["exact", "fast"]


def _scene():
    state = create_empty_sim(S, add_floor=True, add_walls_and_ceiling=True)
    state, (box, _) = add_rectangle_to_scene(state, S, jnp.array([2.0, 1.2]), jnp.array([1.0, 0.4]))
    state, (_, wheel) = add_circle_to_scene(state, S, jnp.array([1.6, 0.9]), 0.3)
    state, _ = add_revolute_joint_to_scene(
        state, S, box, wheel, jnp.array([-0.4, -0.3]), jnp.zeros(2), motor_on=True
    )
    assert int(box) == BOX
    return state


def test_fast_engine_tracks_the_exact_one() -> None:
    """One step agrees to float32 rounding; over 200 motorised steps the car stays finite and
    on the floor, and the two engines stay close (same model, last-bit differences only)."""
    state = _scene()
    actions = jnp.array([1.0, 0.0])

    def rollout(numerics):
        step = PhysicsEngine(S, numerics).step

        def body(s, _):
            s, _ = step(s, SimParams(), actions)
            return s, (s.polygon.position, s.circle.position)

        first, _ = step(state, SimParams(), actions)
        _, traj = jax.lax.scan(body, state, None, length=200)
        return first, traj

    run = jax.jit(rollout, static_argnums=0)
    (e1, (ep, ec)), (f1, (fp, fc)) = run("exact"), run("fast")
    for leaf_e, leaf_f in zip(jax.tree.leaves(e1), jax.tree.leaves(f1)):
        assert np.allclose(leaf_e, leaf_f, rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(fp)) and np.all(np.isfinite(fc))
    box_y, wheel_y = np.asarray(fp)[:, BOX, 1], np.asarray(fc)[:, 0, 1]
    assert np.all(box_y > 0.5) and np.all(wheel_y > 0.5), (box_y.min(), wheel_y.min())
    # The motor drives the car ~1.2 sideways into the wall; both engines agree along the way.
    assert abs(float(fp[-1, BOX, 0] - fp[0, BOX, 0])) > 0.5
    assert float(np.max(np.abs(np.asarray(fp) - np.asarray(ep)))) < 1e-3
    assert float(np.max(np.abs(np.asarray(fc) - np.asarray(ec)))) < 1e-3
