"""Behaviour cloning through the real ``kinetix train-bc`` command on a released-format dataset
(the golden ``traj_s`` split, written by the reference stack, read by kinetix-data, observations
rendered by kinetix-render, orbax checkpoints):

* SIGKILL mid-run, rerun the same command: the final checkpoint and the metrics file equal an
  uninterrupted run's, bitwise;
* two real processes (``jax.distributed`` over gloo), each reading its own shards, train one
  replicated model: one checkpoint series, one metrics file, a loss that falls.
"""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import pytest
from _cli_subprocess import sigkill_when, subprocess_env

from kinetix.agents.checkpoint import load_policy

ROOT = Path(__file__).resolve().parents[1]
TRAJ_S = ROOT / "packages" / "kinetix-data" / "tests" / "data" / "released" / "traj_s"
UPDATES, EVERY = 400, 100
ARGS = [
    f"dataset_dir={TRAJ_S}",
    "env_size=s",
    "env.observation_type=symbolic_flat",
    "model.actor_depth=1",
    "model.critic_depth=1",
    "model.actor_width=16",
    "model.critic_width=16",
    f"learning.num_updates={UPDATES}",
    "learning.minibatch_size=512",
    f"misc.checkpoint_save_freq={EVERY}",
    "misc.progress_bar=false",
    "misc.save_plots=false",
    "misc.log_freq=10",
    "eval.eval_freq=0",
    "validation_batch_size=512",
]


def _command(save: Path, name: str) -> list[str]:
    return [
        sys.executable, "-m", "kinetix.agents.cli", "train-bc", *ARGS,
        f"misc.save_path={save}", f"misc.run_name={name}",
    ]  # fmt: skip


def _run(save: Path, name: str) -> Path:
    proc = subprocess.run(
        _command(save, name), env=subprocess_env(), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return save / name


def _final(run_dir: Path) -> list[np.ndarray]:
    policy = load_policy(run_dir / "checkpoints")
    assert int(policy.metadata["step"]) == UPDATES
    tree = (eqx.filter(policy.network, eqx.is_array), policy.rms)
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _steps(run_dir: Path) -> list[int]:
    with open(run_dir / "metrics.csv") as f:
        return [int(row["step"]) for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("bc_cli"), "uninterrupted")


def test_sigkill_and_rerun_equals_the_uninterrupted_run(uninterrupted, tmp_path):
    first = tmp_path / "killed" / "checkpoints" / str(EVERY)
    killed = sigkill_when(_command(tmp_path, "killed"), first.is_dir, timeout=600)
    assert killed, "training finished before it could be killed"
    assert not (tmp_path / "killed" / "checkpoints" / str(UPDATES)).exists()

    resumed = _run(tmp_path, "killed")
    for a, b in zip(_final(uninterrupted), _final(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    # every logged step once, with the same values as the uninterrupted run
    assert (resumed / "metrics.csv").read_text() == (uninterrupted / "metrics.csv").read_text()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_train_one_replicated_model(uninterrupted, tmp_path):
    port = _free_port()
    procs = [
        subprocess.Popen(
            _command(tmp_path, "two"),
            env=subprocess_env(
                {
                    "KINETIX_COORDINATOR_ADDRESS": f"localhost:{port}",
                    "KINETIX_NUM_PROCESSES": "2",
                    "KINETIX_PROCESS_ID": str(i),
                }
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    run = tmp_path / "two"
    # one checkpoint series and one metrics file (process 0 writes), every logged step once
    names = sorted(int(p.name) for p in (run / "checkpoints").iterdir())
    assert names[-1] == UPDATES
    assert _steps(run) == _steps(uninterrupted)
    final = _final(run)
    assert all(np.isfinite(x).all() for x in final)
    # it trained: the parameters moved after the first kept checkpoint and the loss fell
    with open(run / "metrics.csv") as f:
        loss = [float(row["bc/loss"]) for row in csv.DictReader(f)]
    assert np.mean(loss[-5:]) < np.mean(loss[:5])
    assert names[0] < UPDATES
    earlier = load_policy(run / "checkpoints", step=names[0])
    moved = [
        not np.array_equal(a, np.asarray(b))
        for a, b in zip(final, jax.tree.leaves(eqx.filter(earlier.network, eqx.is_array)))
    ]
    assert any(moved)
