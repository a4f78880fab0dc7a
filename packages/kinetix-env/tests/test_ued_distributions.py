"""The procedural level distribution against the reference's measured statistics (spec §9.5)."""

import jax
import numpy as np
import pytest

from jax2d.engine import PhysicsEngine
from kinetix.environment import EnvParams, static_env_params_from_size
from kinetix.environment.ued import (
    UEDParams,
    create_random_starting_distribution,
    sample_kinetix_level,
)
from kinetix.environment.ued.distributions import count_contacts

S = static_env_params_from_size("s")


def _stats(levels):
    pa = np.asarray(levels.polygon.active)[:, 4:]
    ca = np.asarray(levels.circle.active)
    pr = np.asarray(levels.polygon_shape_roles)
    cr = np.asarray(levels.circle_shape_roles)

    def count(role):
        return ((pr[:, 4:] == role) & pa).sum(1) + ((cr == role) & ca).sum(1)

    ja = np.asarray(levels.joint.active)
    motor = ja & np.asarray(levels.joint.motor_on) & ~np.asarray(levels.joint.is_fixed_joint)
    thr = np.asarray(levels.thruster.active).any(1)
    fixed = ((np.asarray(levels.polygon.inverse_mass)[:, 4:] == 0) & pa).sum(1) + (
        (np.asarray(levels.circle.inverse_mass) == 0) & ca
    ).sum(1)
    return dict(floor=pr[:, 0], shapes=pa.sum(1) + ca.sum(1), green=count(1), blue=count(2),
                red=count(3), joints=ja.sum(1), motor=motor.any(1), thruster=thr,
                control=motor.any(1) | thr, fixed=fixed)  # fmt: skip


@pytest.mark.slow
def test_s_levels_match_reference_statistics():
    engine = PhysicsEngine(S)
    sample = jax.jit(jax.vmap(lambda k: sample_kinetix_level(k, engine, EnvParams(), S,
                                                             UEDParams())))  # fmt: skip
    levels = sample(jax.random.split(jax.random.PRNGKey(1), 512))
    st = _stats(levels)
    # Reference (512 levels): floor grey/green/blue/red .910/0/.012/.078; exactly 3 shapes;
    # 1 green; blue 1 (0 with a blue floor); red .09; joints .64; motor 50%, thruster 68%,
    # any control 94%; no fixed shapes.
    assert abs(np.mean(st["floor"] == 0) - 0.91) < 0.04 and np.all(st["floor"] != 1)
    assert np.all(st["shapes"] == 3) and np.all(st["green"] == 1)
    assert np.all(st["blue"] == (st["floor"] != 2))
    assert abs(st["red"].mean() - 0.09) < 0.05
    assert abs(st["joints"].mean() - 0.64) < 0.08
    assert abs(st["motor"].mean() - 0.50) < 0.08 and abs(st["thruster"].mean() - 0.68) < 0.08
    assert abs(st["control"].mean() - 0.94) < 0.04 and np.all(st["fixed"] == 0)
    assert np.all(np.asarray(levels.timestep) == 0) and np.all(
        np.asarray(levels.last_distance) == -1
    )
    leaves = [np.asarray(x) for x in jax.tree.leaves(levels)]
    assert not any(np.isnan(x).any() for x in leaves if np.issubdtype(x.dtype, np.floating))


@pytest.mark.slow
def test_m_levels_use_best_of_k_and_fixed_shapes():
    m = static_env_params_from_size("m")
    engine = PhysicsEngine(m)
    sample = jax.jit(jax.vmap(lambda k: sample_kinetix_level(k, engine, EnvParams(), m,
                                                             UEDParams())))  # fmt: skip
    levels = sample(jax.random.split(jax.random.PRNGKey(1), 128))
    st = _stats(levels)
    # Reference: 3-5 shapes (mean 4.31), exactly one green, fixed shapes in 86% of levels.
    assert st["shapes"].min() >= 3 and st["shapes"].max() <= 5
    assert abs(st["shapes"].mean() - 4.31) < 0.3 and np.all(st["green"] == 1)
    assert abs(np.mean(st["fixed"] >= 1) - 0.86) < 0.12
    contacts = jax.vmap(lambda s: count_contacts(engine, s))(levels)
    assert float(np.mean(np.asarray(contacts))) < 3


@pytest.mark.slow
def test_accel_starting_levels():
    out = jax.vmap(lambda k: create_random_starting_distribution(k, EnvParams(), S, UEDParams()))(
        jax.random.split(jax.random.PRNGKey(0), 64)
    )
    st = _stats(out)
    assert np.all(st["shapes"] >= 2) and np.all(st["green"] == 1)
