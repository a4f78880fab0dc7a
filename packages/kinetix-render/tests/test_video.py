"""Video helpers: upright uint8 frames from trajectories, GIF/MP4 files read back with imageio."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.render.video import make_frames, save_video, to_upright_uint8

iio = pytest.importorskip("imageio.v3", reason="the video extra (imageio) is not installed")

STATIC = static_env_params_from_size("s")


def trajectory(n: int):
    """An empty level whose green circle falls one pixel row per frame."""
    state = create_empty_env(STATIC)
    circle = state.circle.replace(
        radius=state.circle.radius.at[0].set(0.4),
        active=state.circle.active.at[0].set(True),
        inverse_mass=state.circle.inverse_mass.at[0].set(1.0),
    )
    state = state.replace(circle=circle, circle_shape_roles=state.circle_shape_roles.at[0].set(1))
    ys = 3.0 - jnp.arange(n) / 25.0
    states = jax.tree.map(lambda x: jnp.stack([x] * n), state)
    position = jnp.stack([jnp.full(n, 2.0), ys], -1)
    return states.replace(
        circle=states.circle.replace(position=states.circle.position.at[:, 0].set(position))
    )


def test_to_upright_flips_y_and_transposes():
    raw = np.zeros((4, 2, 3), np.float32)  # W = 4, H = 2
    raw[3, 0] = 200.7  # x = 3 (right), y = 0 (bottom)
    img = to_upright_uint8(raw)
    assert img.shape == (2, 4, 3) and img.dtype == np.uint8
    assert img[1, 3].tolist() == [200, 200, 200]  # bottom row, right column (truncated)
    assert img[0].sum() == 0
    with pytest.raises(ValueError, match="W, H, 3"):
        to_upright_uint8(np.zeros((4, 4)))


def test_make_frames_trajectory_and_batch():
    states = trajectory(4)
    frames = make_frames(states, EnvParams(), STATIC)
    assert frames.shape == (4, 125, 125, 3) and frames.dtype == np.uint8
    # Upright: the floor is at the bottom rows, the sky at the top.
    assert frames[0, -1, 60].tolist() == [80, 80, 80]
    assert frames[0, 0, 60].tolist() == [255, 255, 255]
    # The circle (centre pixel x=50, y=75 -> row 124-75=49) falls: its lowest green row moves down.
    green = (frames[..., 1] == 204) & (frames[..., 0] == 0)
    lowest = [np.nonzero(green[t].any(axis=1))[0].max() for t in range(4)]
    assert lowest == sorted(lowest) and 2 <= lowest[-1] - lowest[0] <= 4
    batch = jax.tree.map(lambda x: jnp.stack([x, x]), states)
    both = make_frames(batch, EnvParams(), STATIC, length=3)
    assert both.shape == (2, 3, 125, 125, 3)
    np.testing.assert_array_equal(both[1], frames[:3])
    big = make_frames(jax.tree.map(lambda x: x[:1], states), EnvParams(), STATIC, downscale=2)
    assert big.shape == (1, 250, 250, 3)


def test_save_gif_and_mp4_round_trip(tmp_path):
    frames = make_frames(trajectory(5), EnvParams(), STATIC)
    gif = save_video(frames, tmp_path / "sub" / "traj.gif", fps=10)
    back = iio.imread(gif)
    assert back.shape[:3] == (5, 125, 125)
    np.testing.assert_array_equal(back[..., :3][0], frames[0])  # GIF palette is exact here
    mp4 = save_video(frames, tmp_path / "traj.mp4", fps=10)
    video = iio.imread(mp4, plugin="FFMPEG")
    assert video.shape == (5, 126, 126, 3)  # padded to even sizes for H.264
    assert np.abs(video[0, :125, :125].astype(int) - frames[0]).mean() < 8  # lossy codec


def test_save_video_rejects_bad_input(tmp_path):
    frames = np.zeros((2, 8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="extension"):
        save_video(frames, tmp_path / "a.avi")
    with pytest.raises(ValueError, match="uint8"):
        save_video(frames.astype(np.float32), tmp_path / "a.gif")
    with pytest.raises(ValueError, match="T, H, W, 3"):
        save_video(frames[0], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="fps"):
        save_video(frames, tmp_path / "a.gif", fps=0)
