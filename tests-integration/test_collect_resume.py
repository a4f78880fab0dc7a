"""Kill expert collection with SIGKILL mid-run, rerun the same command, and check the result
equals an uninterrupted run: same level ids, bitwise-equal trajectories, no duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _cli_subprocess import sigkill_when, subprocess_env

pytest.importorskip("kinetix.agents.collect")

from kinetix.data.episodes import open_dataset  # noqa: E402

ARGS = [
    "env_size=s",
    "num_levels=6",
    "chunk_size=2",
    "seed=0",
    "max_timesteps=64",
    "filter_levels=false",
    "num_train_envs=4",
    "num_steps=16",
    "total_timesteps=128",
    "num_minibatches=1",
    "update_epochs=1",
]


def _command(out: Path) -> list[str]:
    return [sys.executable, "-m", "kinetix.agents.collect", f"out={out}", *ARGS, "--no-progress"]


def _run(out: Path) -> str:
    proc = subprocess.run(
        _command(out), env=subprocess_env(), capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _chunks_done(out: Path) -> int:
    try:
        state = json.loads((out / "collect_state.json").read_text())
    except (OSError, ValueError):
        return 0
    return sum(hi - lo for lo, hi in state["done_ranges"]) // 2


def _by_level(out: Path) -> dict[int, dict[str, np.ndarray]]:
    if not (out / "dataset.json").exists():
        return {}
    ds = open_dataset(out, allow_empty=True)
    if ds.num_trajectories == 0:
        return {}
    f = ds.read(slice(0, ds.num_trajectories))
    ids = f["level_id"].tolist()
    assert len(ids) == len(set(ids)), f"duplicate level ids {ids}"
    return {i: {k: v[row] for k, v in f.items()} for row, i in enumerate(ids)}


def test_kill_and_resume_equals_uninterrupted(tmp_path):
    reference = tmp_path / "uninterrupted"
    out = _run(reference)
    # "output total": a stall restart (kinetix.agents.stall) would report only its own part
    assert "output total" in out and _chunks_done(reference) == 3

    resumed = tmp_path / "resumed"
    killed = sigkill_when(
        _command(resumed), lambda: _chunks_done(resumed) >= 1, timeout=900, poll=0.05
    )
    assert killed, "collection finished before it could be killed"
    assert 1 <= _chunks_done(resumed) < 3

    out = _run(resumed)
    assert "levels processed" in out and "skipped" in out
    assert _chunks_done(resumed) == 3

    want, got = _by_level(reference), _by_level(resumed)
    assert sorted(got) == sorted(want)
    for level_id, fields in want.items():
        assert sorted(got[level_id]) == sorted(fields)
        for name, value in fields.items():
            np.testing.assert_array_equal(got[level_id][name], value, err_msg=name)

    # a third run has nothing left to do
    assert "levels processed 0" in _run(resumed)
