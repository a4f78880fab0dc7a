"""Trajectories to upright video frames, and frames to GIF / MP4 files.

:func:`make_frames` renders a whole trajectory (a level rollout, or a dataset batch of
trajectories) with the pixel renderer in one batched call and returns ordinary images: uint8,
``(..., height, width, 3)``, row 0 at the top. :func:`save_video` writes them with imageio, which
comes with the ``video`` extra (``pip install "kinetix-render[video]"``).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np

from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.render.renderer_pixels import make_render_pixels

__all__ = ["make_frames", "to_upright_uint8", "save_video", "VIDEO_EXTENSIONS"]

#: File extensions :func:`save_video` can write.
VIDEO_EXTENSIONS = (".gif", ".mp4")


def to_upright_uint8(pixels: Any) -> np.ndarray:
    """Renderer output ``(..., W, H, 3)`` (``[x, y]``, y up, 0-255) to images ``(..., H, W, 3)``.

    Values are clipped to [0, 255] and truncated to uint8 (as the reference's video helpers do).

    Example:
        >>> import numpy as np
        >>> raw = np.zeros((4, 2, 3)); raw[0, 0] = 255  # x = 0, y = 0: bottom-left
        >>> to_upright_uint8(raw)[-1, 0].tolist()  # last row, first column
        [255, 255, 255]
    """
    pixels = np.asarray(pixels)
    if pixels.ndim < 3 or pixels.shape[-1] != 3:
        raise ValueError(f"expected renderer output of shape (..., W, H, 3), got {pixels.shape}")
    upright = np.swapaxes(pixels, -3, -2)[..., ::-1, :, :]
    return np.clip(upright, 0, 255).astype(np.uint8)


def make_frames(
    states: EnvState,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    *,
    downscale: int | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Render a trajectory of states to upright uint8 video frames.

    Args:
        states: an ``EnvState`` whose leaves have leading dims ``(T,)`` (one trajectory) or
            ``(B, T)`` (a batch, e.g. from a dataset); a single state gives one frame.
        env_params: environment parameters (``pixels_per_unit``).
        static_env_params: the static sizes the states were built with.
        downscale: render at ``screen_dim // downscale`` instead of the params' own downscale
            (1 gives 500x500 frames with outlines and joint icons; 4, the default, 125x125).
        length: keep only the first ``length`` frames of the time axis (an episode's length).

    Returns:
        uint8 array ``(..., H, W, 3)`` with the leading dims of ``states``; row 0 is the top.

    Example:
        >>> import jax
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> states = jax.tree.map(lambda x: jax.numpy.stack([x] * 3), create_empty_env(static))
        >>> make_frames(states, EnvParams(), static).shape
        (3, 125, 125, 3)
    """
    if downscale is not None:
        if int(downscale) < 1:
            raise ValueError(f"downscale must be a positive integer, got {downscale!r}")
        static_env_params = static_env_params.replace(downscale=int(downscale))
    lead = states.polygon.position.ndim - 2
    if length is not None:
        if lead == 0:
            raise ValueError("length needs states with a time axis, got a single state")
        time_axis = lead - 1
        states = jax.tree.map(
            lambda x: x[(slice(None),) * time_axis + (slice(0, int(length)),)], states
        )
    render = make_render_pixels(env_params, static_env_params)
    return to_upright_uint8(jax.device_get(render(states)))


def _imageio():
    try:
        import imageio.v3 as iio
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'writing videos needs imageio: pip install "kinetix-render[video]" '
            "(imageio, imageio-ffmpeg, pillow)"
        ) from err
    return iio


def save_video(frames: Any, path: str | os.PathLike, fps: float = 15.0) -> str:
    """Write frames ``(T, H, W, 3)`` uint8 (e.g. from :func:`make_frames`) to a GIF or MP4 file.

    The format follows the extension: ``.gif`` (looping, via pillow) or ``.mp4`` (H.264 via
    imageio-ffmpeg; odd frame sizes are padded by one edge pixel, as the codec needs even sizes).

    Args:
        frames: uint8 array ``(T, H, W, 3)`` (a list of ``(H, W, 3)`` frames also works).
        path: output file, ``.gif`` or ``.mp4``; parent directories are created.
        fps: frames per second.

    Returns:
        The path written, as a string.

    Raises:
        ValueError: unsupported extension, bad frame shape/dtype, or ``fps <= 0``.
        ImportError: imageio (the ``video`` extra) is not installed.

    Example:
        >>> import numpy as np, tempfile, os
        >>> out = save_video(np.zeros((2, 8, 8, 3), np.uint8), os.path.join(tempfile.mkdtemp(), "a.gif"))
        >>> out.endswith("a.gif")
        True
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in VIDEO_EXTENSIONS:
        raise ValueError(
            f"cannot write {path!r}: extension {ext!r} is not one of {VIDEO_EXTENSIONS}"
        )
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise ValueError(f"frames must have shape (T, H, W, 3) with T >= 1, got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(
            f"frames must be uint8 (see make_frames / to_upright_uint8), got {frames.dtype}"
        )
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    iio = _imageio()
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if ext == ".gif":
        iio.imwrite(path, frames, extension=".gif", duration=1000.0 / fps, loop=0)
    else:
        pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
        if pad_h or pad_w:
            frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        iio.imwrite(
            path,
            frames,
            extension=".mp4",
            plugin="FFMPEG",
            fps=fps,
            codec="libx264",
            macro_block_size=2,
        )
    return path
