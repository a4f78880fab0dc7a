"""Stall detection and recovery for long XLA:CPU jobs (expert collection).

A wedged XLA:CPU program idles: every thread parks in a futex wait and ``block_until_ready``
never returns. We hit one in ``kinetix collect``: a batched LAPACK QR (orthogonal init of
vmapped networks) fanned out into the intra-op thread pool it was running on and waited, and
with two of them in flight on a 2-core machine no worker was left (PyAutoFit#1530 found the
same pattern in XLA's FFT thunk). Our models no longer call LAPACK, but an XLA call cannot be
interrupted from Python, so long resumable jobs keep a guard:

* :class:`StallWatchdog`, a daemon thread that notices the process has stopped using CPU
  inside a guarded region (a wedge is idle; real work on a CPU backend is not), prints every
  Python thread's stack and calls ``on_stall``;
* :func:`restart_process`, an ``on_stall`` for command lines whose work is resumable: it
  re-executes the same command line in the same process (same PID, so a supervisor's kill still
  reaches it), which picks up where the last committed chunk ended.

Example::

    from kinetix.agents.stall import StallWatchdog

    with StallWatchdog(timeout_s=300, on_stall=print) as dog:
        with dog.guard("chunk 0"):
            run_chunk()  # prints a message and the stacks if it idles for 300 s
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

__all__ = [
    "EXIT_STALLED",
    "StallWatchdog",
    "restart_process",
]

EXIT_STALLED = 75  # EX_TEMPFAIL: rerunning the same command is expected to succeed
RESTARTS_VAR = "KINETIX_STALL_RESTARTS"


class StallWatchdog:
    """Calls ``on_stall`` when the process uses almost no CPU for ``timeout_s`` inside a guard.

    Only time spent inside :meth:`guard` counts, so waiting for input or sleeping between
    chunks never triggers it. "Almost no CPU" is less than ``min_cpu_fraction`` of one core
    over the window; any window with more resets the clock. Meant for CPU backends: on an
    accelerator the host may legitimately idle while the device works.

    Args:
        timeout_s: idle seconds inside a guard before ``on_stall`` runs (``<= 0`` disables).
        on_stall: called from the watchdog thread with a message naming the guarded region and
            the idle time, after all threads' stacks were written to ``stream``. If it returns,
            the watchdog re-arms, so a persistent stall is reported once per ``timeout_s``.
        min_cpu_fraction: CPU seconds per wall second below which the process counts as idle.
        poll_s: how often the thread looks (default ``timeout_s / 20``, at most 5 s).
        stream: where the message and stacks go (default ``sys.stderr``).
    """

    def __init__(
        self,
        timeout_s: float,
        on_stall: Callable[[str], None],
        *,
        min_cpu_fraction: float = 0.02,
        poll_s: float | None = None,
        stream=None,
    ) -> None:
        self.timeout_s = float(timeout_s)
        self.on_stall = on_stall
        self.min_cpu_fraction = float(min_cpu_fraction)
        self.poll_s = min(5.0, self.timeout_s / 20) if poll_s is None else float(poll_s)
        self.stream = stream
        self._label: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._window = (0.0, 0.0)  # (wall, cpu) at the start of the idle window
        self.stalls = 0

    def __enter__(self) -> StallWatchdog:
        if self.timeout_s > 0:
            self._thread = threading.Thread(target=self._run, name="stall-watchdog", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @contextlib.contextmanager
    def guard(self, label: str) -> Iterator[None]:
        """Watch the enclosed code; ``label`` names it in the stall message."""
        with self._lock:
            self._label = label
            self._window = (time.monotonic(), time.process_time())
        try:
            yield
        finally:
            with self._lock:
                self._label = None

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                label = self._label
                if label is None:
                    continue
                wall0, cpu0 = self._window
                wall, cpu = time.monotonic(), time.process_time()
                if cpu - cpu0 > self.min_cpu_fraction * (wall - wall0):
                    self._window = (wall, cpu)  # busy: the window restarts now
                    continue
                if wall - wall0 < self.timeout_s:
                    continue
                self._window = (wall, cpu)
            self.stalls += 1
            stream = sys.stderr if self.stream is None else self.stream
            message = (
                f"stall: no CPU progress for {wall - wall0:.0f} s in {label} "
                f"({cpu - cpu0:.2f} CPU s used); every thread's stack follows"
            )
            print(message, file=stream, flush=True)
            with contextlib.suppress(Exception):
                faulthandler.dump_traceback(file=stream, all_threads=True)
            self.on_stall(message)


def restart_process(max_restarts: int = 3, *, what: str = "the command") -> Callable[[str], None]:
    """An ``on_stall`` that re-executes this process's own command line (same PID).

    Only for commands that resume from their own committed progress (``kinetix collect``).
    The number of restarts so far travels in the ``KINETIX_STALL_RESTARTS`` environment
    variable; past ``max_restarts`` the process exits with :data:`EXIT_STALLED` instead.

    Args:
        max_restarts: restarts allowed to one invocation.
        what: the command's name, for the messages.
    """

    def on_stall(message: str) -> None:
        done = int(os.environ.get(RESTARTS_VAR, "0") or 0)
        if done >= max_restarts:
            print(
                f"{what}: {message}; gave up after {done} restarts. Rerun the same command to "
                "resume from the last committed chunk.",
                file=sys.stderr,
                flush=True,
            )
            os._exit(EXIT_STALLED)
        os.environ[RESTARTS_VAR] = str(done + 1)
        print(
            f"{what}: {message}; restarting the same command to resume "
            f"(restart {done + 1} of at most {max_restarts})",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        argv = list(getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
        # os.execv replaces the whole image: the wedged XLA threads go with it.
        os.execv(sys.executable, [sys.executable, *argv[1:]])

    return on_stall
