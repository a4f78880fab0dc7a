"""Our env against the reference's on sampled levels with random actions (issue item 7(b), (c)).

The fixtures ``golden/rollout_<size>.npz`` come from ``golden/make_env_rollout_golden.py``: levels
sampled by the reference (50 s, 30 m, 20 l), 50 random actions per level and action type, the
reference's rewards, dones, body states after steps 1 and 50 and valid-action masks. We restart
from the same levels, step our env with the same actions (vmapped over levels, one jit per size and
action type) and require:

* done sequences identical, rewards within ``REWARD_ATOL`` (float32 noise);
* every compared leaf within ``STEP1_ATOL + STEP1_RTOL * |reference|`` after one step (angular
  velocities reach tens of rad/s, where float32 rounding alone exceeds 1e-5 absolute);
* after 50 steps, at least ``MIN_PASS_FRACTION`` of the levels have all body positions within
  ``STEP50_ATOL`` (the reference runs on jax 0.9, we on jax 0.10: chaotic contact scenes may
  diverge from float32 rounding alone);
* valid-action masks identical.

The m and l sizes compile big programs: they are marked ``slow``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import flatten_state, golden

from kinetix.environment import (
    EnvParams,
    create_empty_env,
    get_valid_action_mask,
    make_kinetix_env,
    static_env_params_from_size,
)

ACTION_TYPES = ("continuous", "discrete", "multi_discrete")
SIZES = ("s", pytest.param("m", marks=pytest.mark.slow), pytest.param("l", marks=pytest.mark.slow))
N_STEPS = 50
REWARD_ATOL = 1e-5
STEP1_ATOL = 1e-5
STEP1_RTOL = 1e-5
STEP50_ATOL = 1e-3
MIN_PASS_FRACTION = 0.95
POSITIONS = ("polygon/position", "circle/position")


def _levels(ref: dict, static):
    """The stacked reference levels as our ``EnvState`` (from the ``init/<leaf>`` entries)."""
    template = create_empty_env(static)
    paths, treedef = jax.tree_util.tree_flatten_with_path(template)
    names = [
        "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path) for path, _ in paths
    ]
    missing = [n for n in names if f"init/{n}" not in ref]
    assert not missing, f"rollout fixture lacks init leaves {missing}"
    return jax.tree_util.tree_unflatten(treedef, [jnp.asarray(ref[f"init/{n}"]) for n in names])


def _rollout(action_type: str, static, params, levels, actions):
    """``(reward, done, state after step 1, state after the last step)``, vmapped over levels."""
    env = make_kinetix_env(action_type, "blind", None, params, static)

    def one(level, acts):
        _, start = env.reset(jax.random.PRNGKey(0), params, level)
        keys = jax.random.split(jax.random.PRNGKey(1), acts.shape[0])

        def body(state, x):
            key, action = x
            _, state, reward, done, _ = env.step(key, state, action, params, level)
            return state, (reward, done, state)

        last, (reward, done, states) = jax.lax.scan(body, start, (keys, acts))
        return reward, done, jax.tree.map(lambda x: x[0], states), last

    return jax.jit(jax.vmap(one))(levels, actions)


@pytest.fixture(scope="module", params=SIZES)
def size_case(request):
    size = request.param
    ref = golden(f"rollout_{size}")
    static = static_env_params_from_size(size)
    return size, ref, static, _levels(ref, static)


def test_valid_action_masks_match(size_case):
    _, ref, static, levels = size_case
    n = ref["mask"].shape[0]
    width = static.num_motor_bindings + static.num_thruster_bindings
    ours = np.asarray(get_valid_action_mask(levels, static, jnp.zeros((n, width))))
    np.testing.assert_array_equal(ours, ref["mask"])
    assert ref["mask"].any() and not ref["mask"].all()  # the fixture exercises both values


@pytest.mark.parametrize("action_type", ACTION_TYPES)
def test_rollouts_match_the_reference(size_case, action_type):
    size, ref, static, levels = size_case
    params = EnvParams()
    actions = jnp.asarray(ref[f"{action_type}/actions"])
    reward, done, first, last = _rollout(action_type, static, params, levels, actions)
    first, last = flatten_state(first), flatten_state(last)

    np.testing.assert_array_equal(np.asarray(done), ref[f"{action_type}/done"])
    np.testing.assert_allclose(
        np.asarray(reward), ref[f"{action_type}/reward"], rtol=0, atol=REWARD_ATOL
    )
    for leaf in (k.split("/step1/")[1] for k in ref if k.startswith(f"{action_type}/step1/")):
        np.testing.assert_allclose(
            first[leaf],
            ref[f"{action_type}/step1/{leaf}"],
            rtol=STEP1_RTOL,
            atol=STEP1_ATOL,
            err_msg=leaf,
        )
    close = np.ones(len(actions), bool)
    for leaf in POSITIONS:
        err = np.abs(last[leaf] - ref[f"{action_type}/step{N_STEPS}/{leaf}"])
        close &= err.reshape(len(actions), -1).max(1) <= STEP50_ATOL
    fraction = close.mean()
    print(f"{size} {action_type}: {fraction:.3f} of levels within {STEP50_ATOL} after {N_STEPS}")
    assert fraction >= MIN_PASS_FRACTION, f"only {fraction:.3f} of the levels stay close"
