"""The ``kinetix-render`` command: level rollouts to GIF/MP4, errors, --help."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.render.cli import build_parser, main

iio = pytest.importorskip("imageio.v3", reason="the video extra (imageio) is not installed")

LEVELS = Path(__file__).resolve().parents[2] / "kinetix-env" / "tests" / "data" / "reference_levels"
LEVEL = LEVELS / "s" / "h0_weak_thrust.json"


def test_level_to_gif(tmp_path, capsys):
    out = tmp_path / "level.gif"
    rc = main([str(LEVEL), "--steps", "6", "--out", str(out), "--policy", "random", "--keep-going"])
    assert rc == 0
    frames = iio.imread(out)
    assert frames.shape[:3] == (7, 125, 125)  # initial state + 6 steps
    assert "7 frames" in capsys.readouterr().out
    # Upright: floor colour along the bottom row, and the frames change (things move).
    assert not np.array_equal(frames[0], frames[-1])


def test_level_to_mp4(tmp_path):
    out = tmp_path / "level.mp4"
    # Same rollout settings as the GIF test (shared compile), other container.
    rc = main([str(LEVEL), "--steps", "6", "--out", str(out), "--policy", "random", "--keep-going"])
    assert rc == 0
    assert iio.imread(out, plugin="FFMPEG").shape[0] == 7


def test_missing_level_is_a_clear_error(tmp_path, capsys):
    rc = main([str(tmp_path / "nope.json"), "--steps", "2", "--out", str(tmp_path / "x.gif")])
    assert rc == 2
    assert "level file not found" in capsys.readouterr().err


def test_bad_arguments_exit_with_usage(tmp_path):
    with pytest.raises(SystemExit):
        main([str(LEVEL), "--out", str(tmp_path / "x.avi")])
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x.gif")])  # neither a level nor --dataset
    with pytest.raises(SystemExit):
        main([str(LEVEL), "--dataset", "d", "--out", str(tmp_path / "x.gif")])


def test_help_lists_every_option():
    text = build_parser().format_help()
    for option in (
        "--steps",
        "--out",
        "--size",
        "--action-type",
        "--policy",
        "--seed",
        "--dataset",
        "--index",
    ):
        assert option in text


def test_dataset_without_a_registered_reader_says_what_to_install(tmp_path):
    from kinetix.render.cli import _dataset_trajectory

    # No reader registered (kinetix-data not installed): the error names the package.
    with pytest.raises(SystemExit, match="pip install kinetix-data"):
        _dataset_trajectory(str(tmp_path), 0, entry_points=[])


def test_dataset_reader_comes_from_the_entry_point_registry(tmp_path):
    from importlib import metadata

    from kinetix.environment import static_env_params_from_size
    from kinetix.render.cli import _dataset_trajectory

    static = static_env_params_from_size("s")
    ep = metadata.EntryPoint(
        name="dataset", value=f"{__name__}:_fake_reader", group="kinetix.trajectory_sources"
    )
    got, _, got_static, length = _dataset_trajectory(str(tmp_path), 1, entry_points=[ep])
    assert length == 2 and got_static == static
    assert got.polygon.position.shape == (3, static.num_polygons, 2)


def _fake_reader(path, index):
    """A registered reader: three copies of the empty s-size env, first episode 2 steps long."""
    from kinetix.environment import create_empty_env, static_env_params_from_size

    state = create_empty_env(static_env_params_from_size("s"))
    return jax.tree.map(lambda x: jnp.stack([x, x, x]), state), 2


def test_static_params_inferred_from_state_counts():
    from kinetix.environment import StaticEnvParams, create_empty_env, static_env_params_from_size
    from kinetix.render.cli import static_params_for

    for size in ("s", "m", "l"):
        static = static_env_params_from_size(size)
        assert static_params_for(create_empty_env(static)) == static
    odd = StaticEnvParams(num_polygons=7, num_circles=2, num_joints=2, num_thrusters=1)
    assert static_params_for(create_empty_env(odd)).num_polygons == 7
