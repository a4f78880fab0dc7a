"""A released-format dataset (the golden ``traj_s`` split, written by the reference
kinetix-env 3.0.2 stack) read with both loaders, rendered as symbolic and pixel observations
through the observation registry, and replayed in our env: one step from every stored state with
the stored action must land on the next stored state."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.data import TrajectoryDatasetManager, fields_to_env_state, open_dataset
from kinetix.environment import EnvParams, make_kinetix_env

ROOT = Path(__file__).resolve().parents[1]
TRAJ_S = ROOT / "packages" / "kinetix-data" / "tests" / "data" / "released" / "traj_s"


@pytest.fixture(scope="module")
def released():
    ds = open_dataset(TRAJ_S)
    f = ds.read(slice(None))
    return ds, f, fields_to_env_state(f, ds.static_env_params)


def test_both_loaders_serve_the_same_trajectories(released):
    ds, f, _ = released
    assert ds.num_trajectories == 16 and ds.trajectory_length == 256
    assert f["action"].shape == (16, 256, 6) and f["done"].shape == (16, 256)
    m = TrajectoryDatasetManager(str(TRAJ_S), batch_size=4, seed=0)
    batch = m.load_next_batch()
    assert batch.action.shape == (4, 256, 6)
    # Every served trajectory is one of the stored ones, states and actions together.
    first_pos = np.asarray(f["env_state/polygon/position"])
    for b in range(4):
        pos = np.asarray(batch.env_state.polygon.position[b])
        hits = [i for i in range(16) if np.array_equal(first_pos[i], pos)]
        assert len(hits) >= 1
        assert np.array_equal(np.asarray(batch.action[b]), f["action"][hits[0]])
    m.close()


@pytest.mark.parametrize("obs_type", ["symbolic_flat", "symbolic_entity", "pixels"])
def test_stored_states_render_through_the_observation_registry(released, obs_type):
    ds, _, states = released
    static = ds.static_env_params
    env = make_kinetix_env("multi_discrete", obs_type, None, EnvParams(), static)
    picked = jax.tree.map(lambda x: jnp.asarray(x[0, :40:13]), states)  # 4 states of one episode
    obs = jax.vmap(env.observation_type.get_obs)(picked)
    space = env.observation_space(EnvParams())
    leaves = jax.tree.leaves(obs)
    assert all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
    if obs_type == "symbolic_flat":
        assert obs.shape == (4, *space.shape)
    if obs_type == "pixels":
        assert obs.image.shape[0] == 4 and obs.image.ndim == 4 and obs.image.shape[-1] == 3
    # The observation follows the state: the scene moves, so observations differ over time.
    first = np.concatenate([np.ravel(np.asarray(x[0])) for x in leaves])
    last = np.concatenate([np.ravel(np.asarray(x[-1])) for x in leaves])
    assert not np.allclose(first, last)


def test_video_frames_of_a_stored_episode(released):
    from kinetix.render.video import make_frames

    ds, _, states = released
    length = int(ds.episode_lengths()[0])
    frames = make_frames(states, EnvParams(), ds.static_env_params, length=length)
    assert frames.dtype == np.uint8
    assert frames.shape[:2] == (16, length) and frames.shape[-1] == 3
    assert frames[0, 0].std() > 0  # not a blank image


def test_replaying_stored_actions_reproduces_the_next_stored_states(released):
    """One step of our env from each stored state (reference-generated) with the stored action
    matches the stored next state; steps where the episode ends (auto-reset) are skipped."""
    ds, f, states = released
    env = make_kinetix_env("multi_discrete", "blind", None, EnvParams(), ds.static_env_params)
    n, t = f["done"].shape

    @jax.jit
    def one_step(state, action):
        _, nxt, _, done, _ = env.step(
            jax.random.PRNGKey(0), state, action, EnvParams(), override_reset_state=state
        )
        return nxt, done

    cur = jax.tree.map(lambda x: jnp.asarray(x[:, :-1]).reshape(-1, *x.shape[2:]), states)
    act = jnp.asarray(f["action"][:, :-1]).reshape(-1, 6)
    nxt, done = jax.vmap(one_step)(cur, act)
    stored_next_done = f["done"][:, 1:].reshape(-1)
    # Our env agrees on which steps end an episode.
    np.testing.assert_array_equal(np.asarray(done), stored_next_done)
    keep = ~stored_next_done
    assert keep.sum() > 0.9 * n * (t - 1) - 16 * 10  # most steps continue an episode
    for field in ("polygon", "circle"):
        ours = getattr(nxt, field)
        ref = jax.tree.map(lambda x: np.asarray(x[:, 1:]).reshape(-1, *x.shape[2:]), states)
        ref = getattr(ref, field)
        active = np.asarray(ref.active)[keep]
        for attr, tol in (("position", 1e-3), ("rotation", 1e-3), ("velocity", 5e-2)):
            a = np.asarray(getattr(ours, attr))[keep][active]
            b = np.asarray(getattr(ref, attr))[keep][active]
            err = np.abs(a - b)
            assert np.median(err) < tol / 100, (field, attr, np.median(err))
            assert np.quantile(err, 0.99) < tol, (field, attr, np.quantile(err, 0.99))
    np.testing.assert_array_equal(
        np.asarray(nxt.timestep)[keep], f["env_state/timestep"][:, 1:].reshape(-1)[keep]
    )
