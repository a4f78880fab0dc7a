"""Source of truth for the hand-made evaluation suite (``kinetix/environment/levels``).

Every level is built here with the public scene API (``create_empty_env`` + the ``jax2d.scene``
adders), exported with ``export_env_state_to_json`` to ``levels/{s,m,l}/<name>.json`` and listed
in ``levels/suite.json`` together with its one-line description, the skill it tests and its
scripted solution: a multi-discrete action program ``[[action, repeat], ...]`` (after the program
the agent does nothing). Run with the dev venv from the repo root::

    JAX_PLATFORMS=cpu /work/venvs/dev/bin/python golden/author_handmade_levels.py

The checks (the no-op policy does not solve a level, its scripted solution does, in our env) are
in ``packages/kinetix-env/tests/test_handmade_levels.py``. Solutions were found by trying small
families of programs (burst lengths, on/off periods) and taking one whose neighbours also solve.

Action vectors are ``[m0, m1, m2, m3, t0, t1]``: motor channels take 0 (off), 1 (+1: body ``b``
turns counter-clockwise relative to body ``a``) or 2 (-1); thruster channels take 0 or 1.
Roles: 1 green (must touch) 2 blue (goal), 3 red (must not be touched by green).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax.numpy as jnp  # noqa: E402

from jax2d.scene import (  # noqa: E402
    add_circle_to_scene,
    add_fixed_joint_to_scene,
    add_rectangle_to_scene,
    add_revolute_joint_to_scene,
    add_thruster_to_scene,
)
from kinetix.environment import (  # noqa: E402
    EnvParams,
    create_empty_env,
    export_env_state_to_json,
    static_env_params_from_size,
)

REPO = Path(__file__).resolve().parents[1]
LEVELS_OUT = REPO / "packages/kinetix-env/src/kinetix/environment/levels"

GREEN, BLUE, RED = 1, 2, 3
UP, RIGHT, LEFT, DOWN = math.pi / 2, 0.0, math.pi, -math.pi / 2


class Scene:
    """A small mutable builder around an ``EnvState`` of one size preset (authoring only)."""

    def __init__(self, size: str):
        self.size = size
        self.static = static_env_params_from_size(size)
        self.state = create_empty_env(self.static)

    def floor(self, role: int) -> None:
        self.state = self.state.replace(
            polygon_shape_roles=self.state.polygon_shape_roles.at[0].set(role)
        )

    def rect(self, pos, dims, role=0, density=1.0, fixed=False, rotation=0.0, friction=1.0,
             restitution=0.0) -> int:  # fmt: skip
        """Add a box; returns its global body index."""
        self.state, (slot, idx) = add_rectangle_to_scene(
            self.state, self.static, jnp.asarray(pos, jnp.float32), jnp.asarray(dims, jnp.float32),
            rotation=rotation, density=density, friction=friction, restitution=restitution,
            fixated=fixed,
        )  # fmt: skip
        slot = int(slot)
        s = self.state
        self.state = s.replace(
            polygon_shape_roles=s.polygon_shape_roles.at[slot].set(role),
            polygon_densities=s.polygon_densities.at[slot].set(density),
        )
        return int(idx)

    def circle(self, pos, radius, role=0, density=1.0, fixed=False, friction=1.0,
               restitution=0.0) -> int:  # fmt: skip
        """Add a circle; returns its global body index."""
        self.state, (slot, idx) = add_circle_to_scene(
            self.state, self.static, jnp.asarray(pos, jnp.float32), radius, density=density,
            friction=friction, restitution=restitution, fixated=fixed,
        )  # fmt: skip
        slot = int(slot)
        s = self.state
        self.state = s.replace(
            circle_shape_roles=s.circle_shape_roles.at[slot].set(role),
            circle_densities=s.circle_densities.at[slot].set(density),
        )
        return int(idx)

    def hinge(self, a, b, a_rel, b_rel, motor=False, channel=0, speed=1.0, power=1.0,
              limits=None) -> int:  # fmt: skip
        """Revolute joint (optionally motorised on ``channel``); returns the joint slot."""
        lo, hi = limits if limits is not None else (-math.pi, math.pi)
        self.state, slot = add_revolute_joint_to_scene(
            self.state, self.static, a, b, jnp.asarray(a_rel, jnp.float32),
            jnp.asarray(b_rel, jnp.float32), motor_on=motor, motor_speed=speed,
            motor_power=power, has_joint_limits=limits is not None, min_rotation=lo,
            max_rotation=hi,
        )  # fmt: skip
        slot = int(slot)
        self.state = self.state.replace(
            motor_bindings=self.state.motor_bindings.at[slot].set(channel)
        )
        return slot

    def weld(self, a, b, a_rel, b_rel) -> int:
        self.state, slot = add_fixed_joint_to_scene(
            self.state, self.static, a, b, jnp.asarray(a_rel, jnp.float32),
            jnp.asarray(b_rel, jnp.float32),
        )  # fmt: skip
        return int(slot)

    def thruster(self, body, rel, rotation, power=1.0, channel=0) -> int:
        self.state, slot = add_thruster_to_scene(
            self.state, body, jnp.asarray(rel, jnp.float32), rotation, power
        )
        slot = int(slot)
        self.state = self.state.replace(
            thruster_bindings=self.state.thruster_bindings.at[slot].set(channel)
        )
        return slot


# Action vectors.
NOOP = [0, 0, 0, 0, 0, 0]


def act(m0=0, m1=0, m2=0, m3=0, t0=0, t1=0) -> list[int]:
    return [m0, m1, m2, m3, t0, t1]


@dataclass(frozen=True)
class Design:
    name: str
    size: str
    skill: str
    description: str
    build: Callable[[], Scene]
    solution: list  # [[action, repeat], ...]


DESIGNS: list[Design] = []


def level(name: str, size: str, skill: str, description: str, solution: list):
    def register(build: Callable[[], Scene]) -> Callable[[], Scene]:
        DESIGNS.append(Design(name, size, skill, description, build, solution))
        return build

    return register


# ------------------------------------------------------------------------------------------ s
# s: 1 free polygon, 2 circles, 1 joint, 1 thruster.


@level("rocket_up", "s", "thrust control",
       "Fire the box's upward thruster to rise and touch the goal hanging above it.",
       [[act(t0=1), 40]])  # fmt: skip
def _rocket_up():
    sc = Scene("s")
    box = sc.rect((1.5, 0.65), (0.4, 0.5), role=GREEN)
    sc.thruster(box, (0.0, 0.0), UP, power=0.5)
    sc.circle((1.5, 4.1), 0.3, role=BLUE, fixed=True)
    sc.circle((3.5, 2.5), 0.3, role=RED, fixed=True)
    return sc


@level("aim_the_burst", "s", "thrust control",
       "A tilted thruster throws the box in an arc: a short burst falls short, a long one hits red.",
       [[act(t0=1), 10]])  # fmt: skip
def _aim_the_burst():
    sc = Scene("s")
    box = sc.rect((0.6, 0.6), (0.3, 0.3), role=GREEN)
    sc.thruster(box, (0.0, 0.0), math.radians(50), power=0.2)
    sc.circle((3.9, 1.0), 0.4, role=BLUE, fixed=True)
    sc.circle((4.2, 2.6), 0.5, role=RED, fixed=True)
    return sc


@level("wind_the_crank", "s", "rotation direction",
       "Turn the motorised arm the right way (anticlockwise, over the top) to reach the goal.",
       [[act(m0=1), 60]])  # fmt: skip
def _wind_the_crank():
    sc = Scene("s")
    pivot = sc.circle((2.5, 2.2), 0.12, fixed=True)
    arm = sc.rect((3.25, 2.2), (1.5, 0.16), role=GREEN)
    sc.hinge(pivot, arm, (0.0, 0.0), (-0.75, 0.0), motor=True, channel=0, power=1.0)
    sc.circle((2.1, 3.5), 0.22, role=BLUE, fixed=True)
    return sc


@level("wheelbarrow_left", "s", "driving",
       "Spin the wheel the right way to drive the wheelbarrow leftwards into the goal.",
       [[act(m0=1), 150]])  # fmt: skip
def _wheelbarrow_left():
    sc = Scene("s")
    wheel = sc.circle((2.3, 0.7), 0.3, role=GREEN)
    body = sc.rect((2.9, 0.8), (1.2, 0.14), rotation=0.0)
    sc.hinge(body, wheel, (-0.6, 0.0), (0.0, 0.0), motor=True, channel=0)
    sc.circle((0.45, 0.8), 0.4, role=BLUE, fixed=True)
    return sc


@level("topple_tower", "s", "pushing / falling",
       "Nudge the top of the standing tower with its thruster so it falls onto the goal.",
       [[act(t0=1), 6]])  # fmt: skip
def _topple_tower():
    sc = Scene("s")
    tower = sc.rect((2.0, 1.3), (0.3, 1.8), role=GREEN)
    sc.thruster(tower, (0.0, 0.9), RIGHT, power=0.3)
    sc.circle((3.6, 0.62), 0.22, role=BLUE, fixed=True)
    sc.circle((0.6, 0.62), 0.22, role=RED, fixed=True)
    return sc


@level("swing_up", "s", "swinging",
       "Push the hanging pendulum bob with its thruster until it swings up to the goal.",
       [[act(t0=1), 36], [NOOP, 39]] * 4)  # fmt: skip
def _swing_up():
    sc = Scene("s")
    pivot = sc.rect((2.5, 3.3), (0.2, 0.2), fixed=True)
    bob = sc.circle((2.5, 1.9), 0.2, role=GREEN)
    sc.hinge(pivot, bob, (0.0, 0.0), (0.0, 1.4))
    sc.thruster(bob, (0.0, 0.0), RIGHT, power=0.05)
    sc.circle((3.71, 4.0), 0.2, role=BLUE, fixed=True)
    return sc


@level("leap_over_lava", "s", "launching",
       "The floor is lava: boost the ball off its ledge and across to the goal on the far side.",
       [[act(t0=1), 12]])  # fmt: skip
def _leap_over_lava():
    sc = Scene("s")
    sc.floor(RED)
    sc.rect((0.7, 1.4), (1.2, 0.2), fixed=True)
    ball = sc.circle((0.5, 1.72), 0.2, role=GREEN, friction=0.0)
    sc.thruster(ball, (0.0, 0.0), math.radians(50), power=0.3)
    sc.circle((4.2, 2.0), 0.4, role=BLUE, fixed=True)
    return sc


@level("beat_the_drop", "s", "timing",
       "Dash right at once: the falling red ball soon blocks the path to the goal.",
       [[act(t0=1), 40]])  # fmt: skip
def _beat_the_drop():
    sc = Scene("s")
    box = sc.rect((0.5, 0.55), (0.4, 0.3), role=GREEN, friction=0.2)
    sc.thruster(box, (0.0, 0.0), RIGHT, power=0.2)
    sc.circle((2.6, 3.9), 0.3, role=RED)
    sc.circle((4.5, 0.7), 0.3, role=BLUE, fixed=True)
    return sc


# ------------------------------------------------------------------------------------------ m
# m: 2 free polygons, 3 circles, 2 joints, 2 thrusters.


def _car(
    sc: Scene, x: float, chassis_role=0, wheel_role=0, width=1.0, r=0.22, channel=0, power=1.0
):
    """A two-wheeled car on the floor; both wheel motors on ``channel``. Returns the chassis."""
    y = 0.4 + r
    body = sc.rect((x, y + 0.12), (width, 0.16), role=chassis_role)
    for dx in (-width / 2 + r, width / 2 - r):
        wheel = sc.circle((x + dx, y), r, role=wheel_role)
        sc.hinge(body, wheel, (dx, -0.12), (0.0, 0.0), motor=True, channel=channel, power=power)
    return body


@level("hill_climb", "m", "driving",
       "Drive the car up the ramp and onto the ledge where the goal waits.",
       [[act(m0=2), 200]])  # fmt: skip
def _hill_climb():
    sc = Scene("m")
    _car(sc, 0.9, chassis_role=GREEN)
    sc.rect((3.0, 0.6), (1.6, 0.12), rotation=math.radians(12), fixed=True)
    sc.circle((4.5, 1.45), 0.3, role=BLUE, fixed=True)
    return sc


@level("carry_the_egg", "m", "balancing",
       "The floor is lava: drive gently so the ball riding on the car is carried to the goal post.",
       [[act(m0=2), 10]])  # fmt: skip
def _carry_the_egg():
    sc = Scene("m")
    sc.floor(RED)
    _car(sc, 1.0, width=1.2)
    sc.circle((1.0, 1.05), 0.15, role=GREEN)
    sc.rect((4.7, 1.2), (0.3, 1.6), role=BLUE, fixed=True)
    return sc


@level("tilt_rocket", "m", "thrust control",
       "Two corner thrusters: fire both to climb, one alone to tilt, and steer round red to the goal.",
       [[act(t0=1, t1=1), 6], [act(t0=1), 2], [act(t0=1, t1=1), 7]])  # fmt: skip
def _tilt_rocket():
    sc = Scene("m")
    box = sc.rect((3.0, 0.6), (0.6, 0.3), role=GREEN)
    sc.thruster(box, (-0.25, 0.0), UP, power=0.25, channel=0)
    sc.thruster(box, (0.25, 0.0), UP, power=0.25, channel=1)
    sc.circle((4.1, 3.8), 0.35, role=BLUE, fixed=True)
    sc.circle((3.0, 3.6), 0.4, role=RED, fixed=True)
    return sc


@level("catapult", "m", "launching",
       "Whip the motorised arm up to fling the ball over the red block into the goal.",
       [[act(m0=2), 10]])  # fmt: skip
def _catapult():
    sc = Scene("m")
    pivot = sc.circle((1.8, 0.6), 0.1, fixed=True)
    arm = sc.rect((1.2, 0.6), (1.2, 0.1))
    sc.hinge(pivot, arm, (0.0, 0.0), (0.6, 0.0), motor=True, channel=0, power=1.0,
             limits=(-0.8, 0.8))  # fmt: skip
    sc.circle((0.8, 0.8), 0.15, role=GREEN)
    sc.rect((2.2, 0.7), (0.3, 0.6), role=RED, fixed=True)
    sc.circle((3.0, 0.8), 0.4, role=BLUE, fixed=True)
    return sc


@level("bulldozer", "m", "pushing",
       "Drive the car to shove the ball along the floor until it rolls into the goal.",
       [[act(m0=2), 150]])  # fmt: skip
def _bulldozer():
    sc = Scene("m")
    _car(sc, 0.9)
    sc.circle((2.2, 0.65), 0.25, role=GREEN)
    sc.rect((4.6, 0.7), (0.4, 0.6), role=BLUE, fixed=True)
    return sc


@level("two_link_reach", "m", "arm control",
       "Swing the two-link arm up to the goal without folding its elbow into the red ball.",
       [[act(m0=1), 30]])  # fmt: skip
def _two_link_reach():
    sc = Scene("m")
    base = sc.circle((2.5, 2.0), 0.1, fixed=True)
    upper = sc.rect((3.1, 2.0), (1.2, 0.12))
    fore = sc.rect((4.1, 2.0), (0.8, 0.1), role=GREEN)
    sc.hinge(base, upper, (0.0, 0.0), (-0.6, 0.0), motor=True, channel=0, power=1.0)
    sc.hinge(upper, fore, (0.6, 0.0), (-0.4, 0.0), motor=True, channel=1, power=1.0)
    sc.circle((2.5, 3.5), 0.25, role=RED, fixed=True)
    sc.circle((1.6, 3.0), 0.2, role=BLUE, fixed=True)
    return sc


@level("tip_the_tray", "m", "gravity puzzle",
       "The floor is lava: tip the tray so the ball drops onto the chute and rolls into the goal.",
       [[act(m0=1), 10]])  # fmt: skip
def _tip_the_tray():
    sc = Scene("m")
    sc.floor(RED)
    pivot = sc.circle((1.2, 3.2), 0.1, fixed=True)
    tray = sc.rect((1.9, 3.2), (1.4, 0.1))
    sc.hinge(pivot, tray, (0.0, 0.0), (-0.7, 0.0), motor=True, channel=0, speed=0.4, power=1.0,
             limits=(0.0, 1.3))  # fmt: skip
    sc.circle((1.9, 3.42), 0.17, role=GREEN)
    sc.rect((1.9, 1.7), (2.6, 0.12), rotation=math.radians(-20), fixed=True)
    sc.circle((3.8, 1.1), 0.5, role=BLUE, fixed=True)
    return sc


@level("over_the_wall", "m", "thrust navigation",
       "Climb with the lift thruster, then side-thrust over the red wall and down onto the goal.",
       [[act(t0=1), 25], [act(t0=1, t1=1), 10], [act(t1=1), 10]])  # fmt: skip
def _over_the_wall():
    sc = Scene("m")
    box = sc.rect((0.8, 0.6), (0.4, 0.3), role=GREEN)
    sc.thruster(box, (0.0, 0.0), UP, power=0.25, channel=0)
    sc.thruster(box, (0.0, 0.0), RIGHT, power=0.1, channel=1)
    sc.rect((2.5, 1.4), (0.3, 2.0), role=RED, fixed=True)
    sc.circle((4.0, 0.75), 0.35, role=BLUE, fixed=True)
    return sc


# ------------------------------------------------------------------------------------------ l
# l: 8 free polygons, 4 circles, 6 joints, 2 thrusters.


@level("truck_over_bumps", "l", "driving",
       "Drive the three-wheeled truck over two bumps to the goal at the far end.",
       [[act(m0=2), 250]])  # fmt: skip
def _truck_over_bumps():
    sc = Scene("l")
    body = sc.rect((0.9, 0.85), (1.3, 0.16), role=GREEN)
    for dx in (-0.5, 0.0, 0.5):
        wheel = sc.circle((0.9 + dx, 0.62), 0.2)
        sc.hinge(body, wheel, (dx, -0.23), (0.0, 0.0), motor=True, channel=0)
    sc.rect((2.2, 0.45), (0.5, 0.1), fixed=True)
    sc.rect((3.3, 0.47), (0.5, 0.14), fixed=True)
    sc.circle((4.6, 1.0), 0.3, role=BLUE, fixed=True)
    return sc


@level("domino_run", "l", "chain reaction",
       "Tip the first domino with its thruster; the row falls until the last one hits the goal.",
       [[act(t0=1), 6]])  # fmt: skip
def _domino_run():
    sc = Scene("l")
    first = sc.rect((0.8, 1.0), (0.15, 1.2))
    sc.thruster(first, (0.0, 0.6), RIGHT, power=0.3)
    for k in range(1, 5):
        sc.rect((0.8 + 0.7 * k, 1.0), (0.15, 1.2), role=GREEN if k == 4 else 0)
    sc.circle((4.35, 0.62), 0.22, role=BLUE, fixed=True)
    sc.circle((0.25, 0.62), 0.2, role=RED, fixed=True)
    return sc


@level("three_link_crane", "l", "arm control",
       "Lift the crane's shoulder, then fold elbow and wrist back to reach the goal above the red block.",
       [[act(m0=1), 8], [act(m1=2, m2=2), 20]])  # fmt: skip
def _three_link_crane():
    sc = Scene("l")
    base = sc.rect((0.8, 0.9), (0.3, 1.0), fixed=True)
    l1 = sc.rect((1.4, 1.4), (1.2, 0.1))
    l2 = sc.rect((2.5, 1.4), (1.0, 0.1))
    l3 = sc.rect((3.3, 1.4), (0.6, 0.08), role=GREEN)
    sc.hinge(base, l1, (0.0, 0.5), (-0.6, 0.0), motor=True, channel=0)
    sc.hinge(l1, l2, (0.6, 0.0), (-0.5, 0.0), motor=True, channel=1)
    sc.hinge(l2, l3, (0.5, 0.0), (-0.3, 0.0), motor=True, channel=2)
    sc.circle((1.8, 3.4), 0.35, role=BLUE, fixed=True)
    sc.rect((3.5, 0.6), (1.6, 0.4), role=RED, fixed=True)
    return sc


@level("slalom_rocket", "l", "thrust control",
       "Steer the two-thruster rocket up between red obstacles to the goal near the ceiling.",
       [[act(t0=1, t1=1), 4], [act(t0=1), 1], [act(t0=1, t1=1), 10]])  # fmt: skip
def _slalom_rocket():
    sc = Scene("l")
    box = sc.rect((2.0, 0.6), (0.6, 0.3), role=GREEN)
    sc.thruster(box, (-0.25, 0.0), UP, power=0.25, channel=0)
    sc.thruster(box, (0.25, 0.0), UP, power=0.25, channel=1)
    sc.rect((2.0, 3.3), (1.2, 0.2), role=RED, fixed=True)
    sc.rect((4.3, 2.0), (0.8, 0.2), role=RED, fixed=True)
    sc.circle((3.4, 4.2), 0.4, role=BLUE, fixed=True)
    return sc


@level("double_pendulum", "l", "swinging",
       "Pump the double pendulum with the bob's thruster until it swings up to the goal.",
       [[act(t0=1), 36], [NOOP, 39]] * 3)  # fmt: skip
def _double_pendulum():
    sc = Scene("l")
    pivot = sc.rect((2.5, 3.6), (0.2, 0.2), fixed=True)
    rod = sc.rect((2.5, 3.0), (0.08, 1.2))
    bob = sc.circle((2.5, 2.2), 0.2, role=GREEN)
    sc.hinge(pivot, rod, (0.0, 0.0), (0.0, 0.6))
    sc.hinge(rod, bob, (0.0, -0.6), (0.0, 0.2))
    sc.thruster(bob, (0.0, 0.0), RIGHT, power=0.08)
    sc.circle((4.0, 3.8), 0.3, role=BLUE, fixed=True)
    sc.circle((1.0, 3.8), 0.3, role=RED, fixed=True)
    return sc


@level("lava_bridge_car", "l", "driving",
       "The floor is lava: drive the car along the narrow bridge, without falling off, to the goal post.",
       [[act(m0=2), 250]])  # fmt: skip
def _lava_bridge_car():
    sc = Scene("l")
    sc.floor(RED)
    sc.rect((2.5, 1.0), (4.0, 0.2), fixed=True)
    body = sc.rect((1.0, 1.45), (0.8, 0.14), role=GREEN)
    for dx in (-0.2, 0.2):
        wheel = sc.circle((1.0 + dx, 1.26), 0.16)
        sc.hinge(body, wheel, (dx, -0.17), (0.0, 0.0), motor=True, channel=0)
    sc.rect((4.0, 1.45), (0.3, 0.7), role=BLUE, fixed=True)
    return sc


@level("basket_carry", "l", "balancing",
       "The floor is lava: carry the ball on the cart (it has only a back stop) to the goal post.",
       [[act(m0=2), 250]])  # fmt: skip
def _basket_carry():
    sc = Scene("l")
    sc.floor(RED)
    sc.rect((2.5, 0.5), (5.0, 0.2), fixed=True)
    body = sc.rect((1.0, 0.95), (1.2, 0.12))
    for dx in (-0.4, 0.4):
        wheel = sc.circle((1.0 + dx, 0.8), 0.2)
        sc.hinge(body, wheel, (dx, -0.15), (0.0, 0.0), motor=True, channel=0)
    backstop = sc.rect((0.45, 1.12), (0.08, 0.25))
    sc.weld(body, backstop, (-0.55, 0.12), (0.0, -0.12))
    sc.circle((1.0, 1.2), 0.14, role=GREEN)
    sc.rect((4.7, 1.6), (0.3, 1.6), role=BLUE, fixed=True)
    return sc


@level("catapult_over_wall", "l", "launching",
       "Fire the catapult arm hard enough to lob the ball over the tall red wall onto the goal.",
       [[act(m0=2), 10]])  # fmt: skip
def _catapult_over_wall():
    sc = Scene("l")
    pivot = sc.circle((1.6, 0.6), 0.1, fixed=True)
    arm = sc.rect((1.0, 0.6), (1.2, 0.1))
    sc.hinge(pivot, arm, (0.0, 0.0), (0.6, 0.0), motor=True, channel=0, limits=(-0.8, 0.8))
    sc.circle((0.6, 0.8), 0.15, role=GREEN)
    sc.rect((2.1, 1.0), (0.2, 1.2), role=RED, fixed=True)
    sc.rect((3.0, 0.5), (1.2, 0.2), role=BLUE, fixed=True)
    return sc


# ---------------------------------------------------------------------------------- writing


def program_to_json(program: list) -> list:
    return [[list(map(int, action)), int(n)] for action, n in program]


def write_suite(out_dir: Path = LEVELS_OUT) -> list[dict]:
    """Export every design and write ``suite.json``; returns the index entries."""
    entries = []
    names = set()
    for d in DESIGNS:
        key = f"{d.size}/{d.name}"
        if key in names:
            raise ValueError(f"duplicate level name {key}")
        names.add(key)
        sc = d.build()
        (out_dir / d.size).mkdir(parents=True, exist_ok=True)
        export_env_state_to_json(out_dir / f"{key}.json", sc.state, sc.static, EnvParams())
        entries.append(
            {
                "name": d.name,
                "size": d.size,
                "file": f"{key}.json",
                "description": d.description,
                "skill": d.skill,
                "solution": {
                    "action_type": "multi_discrete",
                    "program": program_to_json(d.solution),
                },
            }
        )
    index = {
        "format": "kinetix-handmade-suite/1",
        "action_layout": "[motor channel 0..3 (0 off, 1 +1, 2 -1), thruster channel 0..1 (0/1)]; "
        "after the program the agent takes the no-op action",
        "levels": entries,
    }
    (out_dir / "suite.json").write_text(json.dumps(index, indent=1) + "\n")
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=LEVELS_OUT)
    args = parser.parse_args(argv)
    entries = write_suite(args.out)
    for e in entries:
        print(f"{e['file']:32s} {e['skill']:20s} {e['description']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
