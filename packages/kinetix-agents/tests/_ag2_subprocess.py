"""Running the ``_ag2_bc_script.py`` BC run in subprocesses (checkpoint and distributed tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

TESTS = Path(__file__).resolve().parent
SCRIPT = TESTS / "_ag2_bc_script.py"

TINY_BC = [
    "dataset_dir=unused",
    "env_size=s",
    "env.observation_type=blind",
    "env.max_timesteps=16",
    "model.actor_depth=1",
    "model.critic_depth=1",
    "model.actor_width=8",
    "model.critic_width=8",
    "eval.eval_freq=0",
    "misc.progress_bar=false",
    "misc.save_plots=false",
    "misc.log_freq=1",
]


def script_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["JAX_PLATFORMS"] = "cpu"
    env.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache/kinetix-tests/jax"))
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TESTS), str(TESTS.parent / "src"), env.get("PYTHONPATH", "")]
    )
    for k in ("KINETIX_COORDINATOR_ADDRESS", "KINETIX_NUM_PROCESSES", "KINETIX_PROCESS_ID"):
        env.pop(k, None)
    env.update(extra or {})
    return env


def start_bc(out: Path, overrides: list[str], delay: float = 0.0, env: dict | None = None):
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(out), str(delay), *TINY_BC, *overrides],
        env=script_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_bc_subprocess(out: Path, overrides: list[str], timeout: float = 300) -> str:
    proc = start_bc(out, overrides)
    stdout, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stdout
    return stdout


def load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as z:
        return [z[f"a{i}"] for i in range(len(z.files))]


#: The BC run shared by the SIGKILL-resume and two-process tests.
REFERENCE_RUN = [
    "learning.num_updates=12",
    "learning.minibatch_size=16",
    "misc.checkpoint_save_freq=4",
]


def reference_arrays(tmp_path_factory) -> tuple[list[np.ndarray], Path]:
    """Final arrays and run directory of an uninterrupted single-process ``REFERENCE_RUN``,
    computed once per test session (cached under pytest's session temp dir)."""
    base = tmp_path_factory.getbasetemp() / "ag2_reference"
    out = base / "ref.npz"
    if not out.exists():
        base.mkdir(exist_ok=True)
        stdout = run_bc_subprocess(
            base / "tmp.npz", [*REFERENCE_RUN, f"misc.save_path={base}", "misc.run_name=ref"]
        )
        assert "RESUMED_FROM None" in stdout and "PROCESSES 1" in stdout
        (base / "tmp.npz").rename(out)
    return load_arrays(out), base / "ref"
