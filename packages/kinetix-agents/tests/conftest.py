"""Shared fixtures: small custom observations (so the agents' tests do not depend on the
renderers' exact features), the s-size level ``h0_weak_thrust`` (firing thruster channel 0
solves it; doing nothing hits the red shape) and a level that doing nothing solves."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import pytest

from kinetix.environment import (
    EnvParams,
    KinetixObservation,
    load_from_json_file,
    static_env_params_from_size,
)

REPO = Path(__file__).resolve().parents[3]
REFERENCE_LEVELS = REPO / "packages" / "kinetix-env" / "tests" / "data" / "reference_levels"
WEAK_THRUST = REFERENCE_LEVELS / "s" / "h0_weak_thrust.json"


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class EntityObs:
    """Same fields and feature widths as the reference's ``EntityObservation``."""

    circles: jax.Array
    polygons: jax.Array
    joints: jax.Array
    thrusters: jax.Array
    circle_mask: jax.Array
    polygon_mask: jax.Array
    joint_mask: jax.Array
    thruster_mask: jax.Array
    attention_mask: jax.Array
    joint_indexes: jax.Array
    thruster_indexes: jax.Array


def _pad(x: jax.Array, width: int) -> jax.Array:
    return jnp.concatenate([x, jnp.zeros((*x.shape[:-1], width - x.shape[-1]), x.dtype)], -1)


def _shape_features(body, roles, width):
    one_hot = jax.nn.one_hot(roles, 4)
    f = jnp.concatenate(
        [
            body.position,
            body.velocity,
            body.inverse_mass[:, None],
            one_hot,
            jnp.sin(body.rotation)[:, None],
        ],
        axis=-1,
    )
    return _pad(f, width)


class EntityObsFn(KinetixObservation):
    """Entity observation with simple features (positions, velocities, roles, rotation)."""

    def get_obs(self, state):
        s = self.static_env_params
        p_active, c_active = state.polygon.active, state.circle.active
        polygons = _shape_features(state.polygon, state.polygon_shape_roles, 27)
        circles = _shape_features(state.circle, state.circle_shape_roles, 19)
        j = state.joint
        jf = _pad(
            jnp.concatenate(
                [j.active[:, None].astype(jnp.float32), j.a_relative_pos, j.b_relative_pos], -1
            ),
            22,
        )
        joints = jnp.concatenate([jf, jf], axis=0)
        pair_ab = jnp.stack([j.a_index, j.b_index], -1)
        joint_indexes = jnp.concatenate([pair_ab[:, ::-1], pair_ab], axis=0)
        joint_indexes = jnp.where(jnp.concatenate([j.active, j.active])[:, None], joint_indexes, 0)
        t = state.thruster
        thrusters = _pad(
            jnp.concatenate([t.active[:, None].astype(jnp.float32), t.relative_position], -1), 8
        )
        active = jnp.concatenate([p_active, c_active])
        pairs = active[:, None] & active[None, :]
        n = active.shape[0]
        eye = jnp.eye(n, dtype=bool) & pairs
        attention_mask = jnp.stack([pairs, eye, eye, jnp.zeros_like(pairs)])
        del s
        return EntityObs(
            circles=circles,
            polygons=polygons,
            joints=joints,
            thrusters=thrusters,
            circle_mask=c_active,
            polygon_mask=p_active,
            joint_mask=jnp.concatenate([j.active, j.active]),
            thruster_mask=t.active,
            attention_mask=attention_mask,
            joint_indexes=joint_indexes.astype(jnp.int32),
            thruster_indexes=t.object_index.astype(jnp.int32),
        )

    def hash_key(self):
        return (type(self).__name__, self.static_env_params)


class FlatObsFn(KinetixObservation):
    """Flat vector of shape positions/velocities/roles/activity and the timestep."""

    def get_obs(self, state):
        parts = []
        for body, roles in (
            (state.polygon, state.polygon_shape_roles),
            (state.circle, state.circle_shape_roles),
        ):
            parts += [
                body.position.ravel(),
                body.velocity.ravel(),
                jax.nn.one_hot(roles, 4).ravel(),
                body.active.astype(jnp.float32),
            ]
        parts.append(jnp.asarray(state.timestep, jnp.float32)[None] / 256.0)
        return jnp.concatenate(parts).astype(jnp.float32)

    def hash_key(self):
        return (type(self).__name__, self.static_env_params)


@jax.tree_util.register_dataclass
@dataclasses.dataclass
class PixelObs:
    image: jax.Array
    global_info: jax.Array


class PixelObsFn(KinetixObservation):
    """A tiny 20x20x3 'image' (constant-per-channel roles) plus gravity."""

    def get_obs(self, state):
        v = jnp.tanh(state.polygon.position[:3].ravel())
        img = jnp.broadcast_to(v[None, None, :3], (20, 20, 3))
        return PixelObs(img.astype(jnp.float32), jnp.array([state.gravity[1] / 10.0]))

    def hash_key(self):
        return (type(self).__name__, self.static_env_params)


@pytest.fixture(scope="session")
def s_static():
    return static_env_params_from_size("s")


@pytest.fixture(scope="session")
def env_params():
    return EnvParams()


@pytest.fixture(scope="session")
def weak_thrust():
    """``(state, static_env_params, env_params)`` of ``s/h0_weak_thrust``."""
    return load_from_json_file(WEAK_THRUST)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: compiles a big program; KINETIX_SLOW_TESTS=1 runs it")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KINETIX_SLOW_TESTS"):
        return
    skip = pytest.mark.skip(reason="slow (big compile); set KINETIX_SLOW_TESTS=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
