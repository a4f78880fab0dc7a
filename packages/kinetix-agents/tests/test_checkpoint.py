"""Checkpoints: exact round trips, clear errors, metadata, inference loading, and a BC run
killed with SIGKILL that resumes to a bitwise identical result."""

from __future__ import annotations

import signal
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _ag2_helpers import tiny_network
from _ag2_subprocess import (
    REFERENCE_RUN,
    load_arrays,
    reference_arrays,
    run_bc_subprocess,
    start_bc,
)

from kinetix.agents.bc import init_bc_state, make_bc_optimizer
from kinetix.agents.checkpoint import CheckpointManager, read_checkpoint_metadata


def _state(seed: int):
    opt = make_bc_optimizer(1e-3, 10)
    return init_bc_state(tiny_network(seed), opt, jax.random.PRNGKey(seed))


def _leaves(tree):
    return jax.tree.leaves(eqx.filter(tree, eqx.is_array))


def test_round_trip_is_exact_and_keeps_metadata(tmp_path):
    saved = _state(1)
    saved = eqx.tree_at(lambda s: s.step, saved, jnp.asarray(7, jnp.int32))
    mgr = CheckpointManager(tmp_path, save_every=7, metadata={"config": {"seed": 1}})
    assert not mgr.save(3, saved)  # off-period
    assert mgr.save(7, saved, extra={"loader": {"cursor": np.int64(5)}})
    restored, meta = mgr.restore(_state(2))
    for a, b in zip(_leaves(saved), _leaves(restored), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert meta["step"] == 7 and meta["config"] == {"seed": 1}
    assert meta["extra"] == {"loader": {"cursor": 5}}
    assert meta["versions"]["engine_version"] is not None
    assert meta["versions"]["jax"] == jax.__version__
    assert read_checkpoint_metadata(tmp_path)["step"] == 7
    assert read_checkpoint_metadata(tmp_path / "7")["step"] == 7


def test_keeps_only_the_newest_steps(tmp_path):
    mgr = CheckpointManager(tmp_path, save_every=1, max_to_keep=2)
    for step in (1, 2, 3):
        mgr.save(step, {"x": jnp.full((2,), step)})
    assert mgr.all_steps() == [2, 3]
    state, _ = mgr.restore({"x": jnp.zeros(2, jnp.int32)}, step=2)
    assert state["x"].tolist() == [2, 2]


def test_restore_errors_are_clear(tmp_path):
    mgr = CheckpointManager(tmp_path, save_every=1)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        mgr.restore({"x": jnp.zeros(2)})
    mgr.save(1, {"x": jnp.zeros(2)})
    with pytest.raises(ValueError, match="leaf 0 has shape"):
        mgr.restore({"x": jnp.zeros(3)})
    with pytest.raises(ValueError, match="1 arrays but the template has 2"):
        mgr.restore({"x": jnp.zeros(2), "y": jnp.zeros(2)})


def test_sigkill_resume_is_bitwise_identical(tmp_path, tmp_path_factory):
    ref, ref_dir = reference_arrays(tmp_path_factory)
    out = tmp_path / "killed.npz"
    run = [*REFERENCE_RUN, f"misc.save_path={tmp_path}", "misc.run_name=killed"]
    proc = start_bc(out, run, delay=0.3)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 240
    while not (ckpts / "4").is_dir() and time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.05)
    assert (ckpts / "4").is_dir(), "no checkpoint before the deadline"
    time.sleep(0.5)  # somewhere inside steps 5..7
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    assert not (ckpts / "12").exists()

    stdout = run_bc_subprocess(out, run)
    resumed = int(stdout.split("RESUMED_FROM ")[1].split()[0])
    assert resumed in (4, 8)
    got = load_arrays(out)
    assert len(ref) == len(got)
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(a, b)
    # the metrics file of the resumed run has every step once, with the same values
    ref_csv = (ref_dir / "metrics.csv").read_text()
    assert (tmp_path / "killed" / "metrics.csv").read_text() == ref_csv
