"""The stall watchdog: idle inside a guard is a stall, busy or unguarded time is not, and the
restart policy re-executes the real process (same PID) until it finishes or gives up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

from kinetix.agents.stall import EXIT_STALLED, RESTARTS_VAR, StallWatchdog


def _watch(tmp_path, work, timeout_s=0.6):
    stalls: list[str] = []
    log = tmp_path / "stacks.txt"
    with (
        open(log, "w") as stream,
        StallWatchdog(timeout_s, stalls.append, poll_s=0.05, stream=stream) as dog,
    ):
        work(dog)
    return stalls, log.read_text()


def test_idle_inside_a_guard_is_a_stall(tmp_path):
    def work(dog):
        with dog.guard("the chunk of levels [8, 16)"):
            time.sleep(2.0)

    stalls, text = _watch(tmp_path, work)
    # 2 s idle with a 0.6 s timeout: reported, and re-armed after each report
    assert 2 <= len(stalls) <= 3, stalls
    assert "the chunk of levels [8, 16)" in stalls[0] and "no CPU progress" in stalls[0]
    # every thread's Python stack, including the guarded sleep
    assert "Thread" in text and "test_stall.py" in text and "in work" in text


def test_busy_or_unguarded_time_is_not_a_stall(tmp_path):
    def work(dog):
        time.sleep(1.5)  # idle but not guarded
        with dog.guard("busy"):
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                sum(range(1000))

    stalls, _ = _watch(tmp_path, work)
    assert stalls == []


def test_zero_timeout_disables(tmp_path):
    def work(dog):
        assert dog._thread is None
        with dog.guard("x"):
            time.sleep(0.3)

    stalls, _ = _watch(tmp_path, work, timeout_s=0)
    assert stalls == []


SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from kinetix.agents.stall import RESTARTS_VAR, StallWatchdog, restart_process

    n = int(os.environ.get(RESTARTS_VAR, "0"))
    print(f"attempt {n} pid {os.getpid()} args {sys.argv[1:]}", flush=True)
    finish_at = int(sys.argv[1])
    with StallWatchdog(0.5, restart_process(int(sys.argv[2]), what="toy"), poll_s=0.05) as dog:
        with dog.guard("toy work"):
            if n < finish_at:
                time.sleep(30)  # a wedge: idle, only a restart gets us out
    print("finished", flush=True)
    """
)


def _run_toy(tmp_path, finish_at: int, max_restarts: int):
    script = tmp_path / "toy.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != RESTARTS_VAR}
    return subprocess.run(
        [sys.executable, str(script), str(finish_at), str(max_restarts)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_restart_reexecutes_the_same_command_in_the_same_process(tmp_path):
    proc = _run_toy(tmp_path, finish_at=2, max_restarts=3)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    attempts = [line for line in lines if line.startswith("attempt")]
    assert [a.split()[1] for a in attempts] == ["0", "1", "2"]
    assert len({a.split()[3] for a in attempts}) == 1  # one PID: exec, not a child
    assert all(a.endswith("args ['2', '3']") for a in attempts)  # same command line
    assert lines[-1] == "finished"
    assert proc.stderr.count("restarting the same command") == 2
    assert "toy work" in proc.stderr


def test_restart_gives_up_with_a_clear_exit(tmp_path):
    proc = _run_toy(tmp_path, finish_at=99, max_restarts=1)
    assert proc.returncode == EXIT_STALLED
    assert "gave up after 1 restarts" in proc.stderr
    assert "Rerun the same command to resume" in proc.stderr
    assert "finished" not in proc.stdout
