"""`kinetix-render --dataset` reads a stored trajectory through kinetix-data's registered reader
(entry-point group ``kinetix.trajectory_sources``; the renderer never imports kinetix-data)."""

from __future__ import annotations

from pathlib import Path

import pytest

iio = pytest.importorskip("imageio.v3", reason="the video extra (imageio) is not installed")

from kinetix.data import open_dataset  # noqa: E402
from kinetix.render.cli import main  # noqa: E402

TRAJ_S = (
    Path(__file__).resolve().parents[1]
    / "packages"
    / "kinetix-data"
    / "tests"
    / "data"
    / "released"
    / "traj_s"
)


def test_render_cli_renders_a_released_trajectory(tmp_path):
    out = tmp_path / "traj.gif"
    assert main(["--dataset", str(TRAJ_S), "--index", "0", "--out", str(out)]) == 0
    frames = iio.imread(out, index=None)
    # The video stops where the stored first episode ends.
    assert frames.shape[0] == open_dataset(str(TRAJ_S)).episode(0).length
    assert frames.shape[1:] == (125, 125, 3)
