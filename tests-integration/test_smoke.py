"""Cross-package smoke test: build a car with the public jax2d API and step it jitted and vmapped.

Only public entry points are used (the ones user code and kinetix-env rely on), so this also
checks that the installed distribution exposes them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import (
    add_circle_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimParams, StaticSimParams

NUM_STEPS = 50
WHEEL_RADIUS = 0.35
WHEEL_OFFSETS = (-0.4, 0.4)

# One row per env: (motor action for both wheels, thruster action).
ENV_ACTIONS = [
    (1.0, 0.0),
    (-1.0, 0.0),
    (1.0, 1.0),
    (-0.5, 0.0),
]


def build_car(static: StaticSimParams):
    """Default floor/walls/ceiling, a 1x0.4 box on two motorised wheels, a thruster on the box."""
    state = create_empty_sim(static)
    state, (_, box) = add_rectangle_to_scene(
        state, static, jnp.array([2.5, 1.0]), jnp.array([1.0, 0.4])
    )
    wheels = []
    for dx in WHEEL_OFFSETS:
        state, (_, wheel) = add_circle_to_scene(
            state, static, jnp.array([2.5 + dx, 0.75]), WHEEL_RADIUS
        )
        state, _ = add_revolute_joint_to_scene(
            state,
            static,
            box,
            wheel,
            jnp.array([dx, -0.25]),
            jnp.zeros(2),
            motor_on=True,
        )
        wheels.append(int(wheel))
    state, _ = add_thruster_to_scene(state, box, jnp.array([-0.5, 0.0]), 0.0, power=0.5)
    return state, int(box), wheels


@pytest.fixture(scope="module")
def rollout():
    static = StaticSimParams(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=1)
    params = SimParams()
    engine = PhysicsEngine(static)
    state, box, wheels = build_car(static)

    batch = len(ENV_ACTIONS)
    states = jax.tree.map(lambda x: jnp.repeat(jnp.asarray(x)[None], batch, axis=0), state)
    motor = jnp.array([[u] * static.num_joints for u, _ in ENV_ACTIONS], dtype=jnp.float32)
    thrust = jnp.array([[t] * static.num_thrusters for _, t in ENV_ACTIONS], dtype=jnp.float32)
    actions = jnp.concatenate([motor, thrust], axis=1)

    step = jax.jit(jax.vmap(engine.step, in_axes=(0, None, 0)))

    def body(carry, _):
        new_state, _ = step(carry, params, actions)
        return new_state, None

    final, _ = jax.lax.scan(body, states, None, length=NUM_STEPS)
    return static, state, final, box, wheels


def test_state_stays_finite_and_keeps_shapes(rollout):
    _, initial, final, _, _ = rollout
    batch = len(ENV_ACTIONS)
    initial_leaves = jax.tree.leaves(initial)
    final_leaves = jax.tree.leaves(final)
    assert len(initial_leaves) == len(final_leaves)
    for before, after in zip(initial_leaves, final_leaves, strict=True):
        after = np.asarray(after)
        assert after.shape == (batch, *np.shape(before))
        assert after.dtype == np.asarray(before).dtype
        if np.issubdtype(after.dtype, np.floating):
            assert np.isfinite(after).all()


def _circle_av(final, static, wheel):
    return np.asarray(final.circle.angular_velocity[:, wheel - static.num_polygons])


def test_motor_spins_wheels_with_the_sign_of_the_action(rollout):
    static, _, final, box, wheels = rollout
    box_av = np.asarray(final.polygon.angular_velocity[:, box])
    for wheel in wheels:
        wheel_av = _circle_av(final, static, wheel)
        for env, (u, _) in enumerate(ENV_ACTIONS):
            relative = wheel_av[env] - box_av[env]
            assert np.sign(relative) == np.sign(u), (env, u, wheel_av[env], box_av[env])
            assert np.sign(wheel_av[env]) == np.sign(u), (env, u, wheel_av[env])
            assert abs(relative) > 1.0, (env, u, relative)


def test_car_drives_against_the_wheel_spin(rollout):
    _, initial, final, box, _ = rollout
    x0 = float(initial.polygon.position[box, 0])
    x = np.asarray(final.polygon.position[:, box, 0])
    # Counter-clockwise wheels (positive angular velocity) roll the car towards -x.
    assert x[0] < x0 - 0.1
    assert x[1] > x0 + 0.1
    assert x[3] > x0 + 0.05


def test_thruster_pushes_along_its_direction(rollout):
    _, _, final, box, _ = rollout
    vx = np.asarray(final.polygon.velocity[:, box, 0])
    x = np.asarray(final.polygon.position[:, box, 0])
    # Env 2 is env 0 plus a thruster pointing +x.
    assert vx[2] > vx[0] + 0.5
    assert x[2] > x[0]


def test_static_scenery_does_not_move(rollout):
    _, initial, final, _, _ = rollout
    for slot in range(4):  # floor, walls, ceiling
        np.testing.assert_array_equal(
            np.asarray(final.polygon.position[:, slot]),
            np.broadcast_to(np.asarray(initial.polygon.position[slot]), (len(ENV_ACTIONS), 2)),
        )
