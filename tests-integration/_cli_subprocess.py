"""Running our command lines in real subprocesses: their environment, and killing one at a
chosen moment (the kill-and-resume tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def subprocess_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without multi-process settings, CPU only, the tests' compile cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINETIX_")}
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache" / "kinetix-tests" / "jax")
    )
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    env.update(extra or {})
    return env


def sigkill_when(
    command: list[str], ready: Callable[[], bool], timeout: float, poll: float = 0.02
) -> bool:
    """Start ``command``, SIGKILL it as soon as ``ready()``; False if it ended first."""
    proc = subprocess.Popen(
        command, env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(poll)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return killed
