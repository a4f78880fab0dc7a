"""Simulate a batch of motorised cars with jax2d and report throughput.

Run: ``python examples/jax2d_cars.py [--envs 1024] [--steps 200]``.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from jax2d.engine import PhysicsEngine, create_empty_sim
from jax2d.scene import (
    add_circle_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from jax2d.sim_state import SimParams, StaticSimParams


def build_car(static: StaticSimParams):
    state = create_empty_sim(static)
    state, (car, _) = add_rectangle_to_scene(
        state, static, jnp.array([2.5, 1.0]), jnp.array([1.0, 0.4])
    )
    for x in (-0.5, 0.5):
        state, (_, wheel) = add_circle_to_scene(state, static, jnp.array([2.5 + x, 0.75]), 0.35)
        state, _ = add_revolute_joint_to_scene(
            state, static, car, wheel, jnp.array([x, -0.25]), jnp.zeros(2), motor_on=True
        )
    state, _ = add_thruster_to_scene(state, car, jnp.array([0.0, 0.2]), 0.0)
    return state, car


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--envs", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()

    static = StaticSimParams(num_polygons=6, num_circles=3, num_joints=2, num_thrusters=2)
    state, car = build_car(static)
    engine = PhysicsEngine(static)
    n = args.envs
    states = jax.tree.map(lambda x: jnp.stack([x] * n), state)
    # Half the cars get motor action +1 (wheels spin counter-clockwise: the car rolls left),
    # half get -1; the thruster is off.
    motor = jnp.where(jnp.arange(n) % 2 == 0, 1.0, -1.0)
    actions = jnp.stack([motor, motor, jnp.zeros(n), jnp.zeros(n)], axis=1)

    step = jax.vmap(engine.step, in_axes=(0, None, 0))

    @jax.jit
    def run(states):
        def body(s, _):
            return step(s, SimParams(), actions)[0], None

        return jax.lax.scan(body, states, None, length=args.steps)[0]

    t0 = time.perf_counter()
    compiled = run.lower(states).compile()
    t1 = time.perf_counter()
    final = jax.block_until_ready(compiled(states))
    t2 = time.perf_counter()
    x = final.polygon.position[:, car, 0]
    print(f"compiled in {t1 - t0:.1f} s; {n} envs x {args.steps} steps in {t2 - t1:.2f} s "
          f"= {n * args.steps / (t2 - t1):,.0f} steps/s")  # fmt: skip
    print(f"car x after {args.steps} steps: action +1 mean {float(x[0::2].mean()):.2f}, "
          f"action -1 mean {float(x[1::2].mean()):.2f} (start 2.50)")  # fmt: skip


if __name__ == "__main__":
    main()
