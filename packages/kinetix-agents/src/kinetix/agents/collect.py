"""Expert-data collection: one specialist PPO agent per random level, one trajectory per level.

For each level id ``i`` in ``[level_start, level_start + num_levels)`` the level is drawn from
``fold_in(PRNGKey(seed), i)`` (through the no-op filter, as the reference's sampled sets), so a
rerun, or another process given a disjoint id range, reproduces exactly the same levels. Levels
are processed in chunks of ``chunk_size``: the chunk's specialists are trained together
(``jax.vmap`` of :meth:`Trainer.train`, each specialist resetting only to its own level), then
each plays one greedy (mode-action) trajectory of exactly ``T = max_timesteps`` steps on its
level with auto-reset. Levels whose **first** episode reaches the goal are appended to the
dataset; the others are dropped.

Stored per step (kinetix-data spec sec. 2): ``env_state[t]`` is the state *before* action ``t``,
``action[t]`` the action taken in it, ``action_mask[t]`` the valid-channel mask of that state,
``done[t]`` the reset convention (``state t starts a new episode``, False at ``t = 0``),
``mask`` all True, ``level_rngs`` the level's key; our format adds a per-trajectory
``level_id``.

Resuming: after a chunk's data is committed, its id range is added to ``collect_state.json``
(written atomically, after the data), which also pins the settings the data was collected with.
A rerun of the same command skips the recorded chunks; a chunk interrupted between the data and
the state file is recomputed (deterministically) and its rows are deduplicated on ``level_id``
(our format) or its shard, renamed into place atomically, already exists (released layout).
Each process must write its own output directory.

Stalls: an XLA:CPU program can wedge (every thread idle, no error); a batched LAPACK QR in the
networks' init did, before our initialiser stopped using LAPACK. As a guard, the command line
(:func:`collect_from_command_line`) runs a :class:`~kinetix.agents.stall.StallWatchdog` that
re-executes the same command when a chunk uses no CPU for ``stall_timeout_s``; the rerun resumes
as above.

Example::

    from kinetix.agents.collect import CollectConfig, collect

    report = collect(CollectConfig(out="/tmp/experts_s", env_size="s", num_levels=64))
    print(report.summary())

or ``python -m kinetix.agents.collect out=/tmp/experts_s num_levels=64 chunk_size=8``.
"""

# The docstring above is also the command line's help. This module holds the driver (`collect`,
# `CollectReport`) and the command line; the settings are in `_collect_config`, the jitted chunk
# in `_collect_chunk`, the resume state in `_collect_state` and the output sinks in
# `_collect_sinks` (public names re-exported here).

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

import jax
import numpy as np

from kinetix.agents._collect_chunk import _make_chunk_fn, _run_chunk
from kinetix.agents._collect_chunk import level_key as level_key  # re-export
from kinetix.agents._collect_config import CollectConfig, parse_overrides
from kinetix.agents._collect_sinks import _OursSink, _ReleasedSink, _trajectory_fields
from kinetix.agents._collect_state import (
    STATE_FILE,
    _check_resume,
    _dir_bytes,
    _done_ids,
    _merge_ranges,
    _read_state,
    _write_state,
)
from kinetix.agents.stall import StallWatchdog, restart_process

__all__ = [
    "CollectConfig",
    "CollectReport",
    "collect",
    "collect_from_command_line",
    "main",
    "STATE_FILE",
]


@dataclasses.dataclass(frozen=True)
class CollectReport:
    """What a :func:`collect` call did.

    Attributes:
        levels_processed: levels trained and rolled out by this call.
        levels_solved: of those, levels whose trajectory was kept.
        levels_skipped: levels of the range already done by an earlier run.
        transitions_written: stored steps added by this call (``levels_solved * T``).
        bytes_on_disk: size of the output directory after the run.
        wall_time_s: seconds this call took (compilation included).
        total_levels_done, total_levels_solved: over every run recorded in the output.
    """

    levels_processed: int
    levels_solved: int
    levels_skipped: int
    transitions_written: int
    bytes_on_disk: int
    wall_time_s: float
    total_levels_done: int
    total_levels_solved: int

    @property
    def levels_per_second(self) -> float:
        return self.levels_processed / self.wall_time_s if self.wall_time_s > 0 else 0.0

    @property
    def solve_fraction(self) -> float:
        return self.levels_solved / self.levels_processed if self.levels_processed else 0.0

    def summary(self) -> str:
        return (
            f"levels processed {self.levels_processed} (skipped {self.levels_skipped} already "
            f"done), solved {self.levels_solved} ({self.solve_fraction:.1%}); transitions "
            f"written {self.transitions_written}; {self.bytes_on_disk} bytes on disk; "
            f"{self.wall_time_s:.1f} s ({self.levels_per_second:.3f} levels/s); output total "
            f"{self.total_levels_solved}/{self.total_levels_done} levels solved"
        )


def collect(
    config: CollectConfig,
    *,
    progress: bool = True,
    on_stall: Callable[[str], None] | None = None,
) -> CollectReport:
    """Train a specialist per level, keep the solved levels' trajectories, append them.

    Args:
        config: what to collect and where (see :class:`CollectConfig`).
        progress: show a tqdm bar (levels/s, solve fraction, ETA) on stderr.
        on_stall: called (from a watchdog thread) if a chunk stops using CPU for
            ``config.stall_timeout_s`` on a CPU backend; the stacks are printed first. The
            command line passes :func:`kinetix.agents.stall.restart_process`; the default
            only reports.

    Returns:
        A :class:`CollectReport` (also printed by the command line).

    Raises:
        ValueError: ``config.out`` was collected with other settings, or its state file is
            unreadable.

    Example:
        >>> report = collect(CollectConfig(out="/tmp/experts", num_levels=4, chunk_size=2,
        ...                                num_train_envs=8, total_timesteps=4096))  # doctest: +SKIP
        >>> report.levels_solved <= 4  # doctest: +SKIP
        True
    """
    t0 = time.perf_counter()
    os.makedirs(config.out, exist_ok=True)
    state = _read_state(config.out)
    if state is not None:
        _check_resume(state, config)
    else:
        state = {"settings": config.pinned(), "done_ranges": [], "levels_solved": 0}
    done = _done_ids(state)
    chunks = [
        range(lo, min(lo + config.chunk_size, config.level_ids.stop))
        for lo in range(config.level_ids.start, config.level_ids.stop, config.chunk_size)
    ]
    todo = [c for c in chunks if not set(c) <= done]
    skipped = config.num_levels - sum(len(c) for c in todo)
    sink = (_OursSink if config.format == "ours" else _ReleasedSink)(config)
    chunk_fn = _make_chunk_fn(config) if todo else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.num_levels,
            initial=skipped,
            unit="level",
            desc=f"collect {config.env_size}",
            file=sys.stderr,
        )
    processed = solved_n = written = 0
    # A wedged XLA:CPU program idles; on an accelerator the host may idle legitimately.
    timeout = config.stall_timeout_s if jax.default_backend() == "cpu" else 0.0
    watchdog = StallWatchdog(timeout, on_stall or (lambda message: None))
    try:
        with watchdog:
            for chunk in todo:
                with watchdog.guard(f"the chunk of levels [{chunk.start}, {chunk.stop})"):
                    ids, keys, (states, actions, dones, solved) = _run_chunk(
                        config, chunk_fn, chunk
                    )
                keep = np.flatnonzero(solved)
                if keep.size:
                    pick = lambda x: x[keep]
                    fields = _trajectory_fields(
                        config, ids[keep], keys[keep], jax.tree.map(pick, states), pick(actions),
                        pick(dones),
                    )  # fmt: skip
                    written += sink.write(chunk.start, fields) * config.max_timesteps
                # The state file is written only after the chunk's data is committed.
                state["done_ranges"] = _merge_ranges(
                    state["done_ranges"] + [[chunk.start, chunk.stop]]
                )
                state["levels_solved"] = int(state.get("levels_solved", 0)) + int(keep.size)
                _write_state(config.out, state)
                processed += len(chunk)
                solved_n += int(keep.size)
                if bar is not None:
                    bar.update(len(chunk))
                    bar.set_postfix(solved=f"{solved_n / processed:.1%}")
    finally:
        sink.close()
        if bar is not None:
            bar.close()
    return CollectReport(
        levels_processed=processed,
        levels_solved=solved_n,
        levels_skipped=skipped,
        transitions_written=written,
        bytes_on_disk=_dir_bytes(config.out),
        wall_time_s=time.perf_counter() - t0,
        total_levels_done=len(_done_ids(state)),
        total_levels_solved=int(state.get("levels_solved", 0)),
    )


# --------------------------------------------------------------------------- command line


def collect_from_command_line(
    config: CollectConfig, *, progress: bool = True, restart_on_stall: bool = True
) -> CollectReport:
    """:func:`collect` as ``kinetix collect`` runs it: with ``restart_on_stall`` (only when this
    call *is* the process's command line), a chunk that stops using CPU for
    ``config.stall_timeout_s`` re-executes the same command, which resumes after the last
    committed chunk, at most ``config.max_restarts`` times (see :mod:`kinetix.agents.stall`).
    """
    on_stall = restart_process(config.max_restarts, what="collect") if restart_on_stall else None
    return collect(config, progress=progress, on_stall=on_stall)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kinetix.agents.collect key=value ...``; prints the report.

    Returns:
        0 on success, 2 on a usage or config error.
    """
    command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("flags: --no-progress (no bar), --json (also print the report as one JSON line)")
        print("keys (key=value):")
        for f in dataclasses.fields(CollectConfig):
            shown = "(required)" if f.default is dataclasses.MISSING else repr(f.default)
            print(f"  {f.name:<26} {shown}")
        return 0 if argv else 2
    no_progress, as_json = "--no-progress" in argv, "--json" in argv
    argv = [a for a in argv if a not in ("--no-progress", "--json")]
    try:
        config = parse_overrides(argv)
    except ValueError as err:
        print(f"collect: error: {err}", file=sys.stderr)
        return 2
    report = collect_from_command_line(
        config, progress=not no_progress, restart_on_stall=command_line
    )
    print(report.summary())
    if as_json:
        print(json.dumps(dataclasses.asdict(report)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
