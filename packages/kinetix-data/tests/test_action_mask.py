from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from conftest import TRAJ_DIR

from kinetix.data import get_valid_action_mask, open_released, valid_action_mask_np


def test_numpy_mask_equals_the_stored_reference_mask():
    ds = open_released(TRAJ_DIR)
    f = ds.read_shard(0)
    state = ds.env_state(f)
    mask = valid_action_mask_np(state, ds.static_env_params)
    assert mask.shape == (5, 256, 6)
    np.testing.assert_array_equal(mask, f["action_mask"])
    assert mask.any() and not mask.all()


def test_numpy_and_jax_versions_agree():
    ds = open_released(TRAJ_DIR)
    f = ds.read_shard(1, 0, 2)
    flat = {k: v[:, :8].reshape((16,) + v.shape[2:]) for k, v in f.items()}
    state = ds.env_state(flat)
    jx = get_valid_action_mask(state, ds.static_env_params, jnp.zeros((16, 6), jnp.int32))
    np.testing.assert_array_equal(np.asarray(jx), valid_action_mask_np(state, ds.static_env_params))


def test_fixed_joints_and_inactive_thrusters_are_masked():
    ds = open_released(TRAJ_DIR)
    state = ds.env_state(ds.read_shard(0, 0, 1))
    s = ds.static_env_params
    fixed = state.replace(
        joint=state.joint.replace(is_fixed_joint=np.ones_like(state.joint.is_fixed_joint))
    )
    off = state.replace(
        thruster=state.thruster.replace(active=np.zeros_like(state.thruster.active))
    )
    assert not valid_action_mask_np(fixed, s)[..., :4].any()
    assert not valid_action_mask_np(off, s)[..., 4:].any()
