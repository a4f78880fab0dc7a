"""Check a dataset end to end: every array/shard decodes, nothing is missing; optionally replay.

``verify_dataset`` never raises on damaged data: it collects one problem per damaged file (named)
and keeps going, so a single run lists everything to re-download. ``replay`` re-simulates stored
action sequences from each trajectory's first stored state in our environment (blind
observations) and counts how many still reach the goal in their first episode.

Example:
    >>> from kinetix.data.verify import verify_dataset        # doctest: +SKIP
    >>> report = verify_dataset("./data/10M/s", replay=32)     # doctest: +SKIP
    >>> print(report.summary())                                # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tensorstore as ts

from kinetix.data.convert import progress_bar
from kinetix.data.episodes import episode_lengths, open_dataset
from kinetix.data.fields import fields_to_env_state
from kinetix.data.format import DatasetFormatError, is_our_format, shard_keys
from kinetix.data.reader import FormatReader
from kinetix.data.released import open_released
from kinetix.environment import EnvParams, make_kinetix_env

__all__ = ["VerifyReport", "replay_trajectories", "verify_dataset"]


@dataclasses.dataclass
class VerifyReport:
    """Result of :func:`verify_dataset`.

    Attributes:
        location: what was checked.
        format: ``"ours"`` or ``"released"``.
        num_trajectories: committed trajectories (0 if the dataset could not be opened).
        files_checked: shard files (ours) or shards (released) read completely.
        problems: one readable line per damaged/missing file or field.
        replayed: trajectories replayed (0 without ``replay``).
        replay_solved: of those, how many reached the goal in their first episode.
        recorded_solved: of those, how many the stored data shows reaching the goal (the first
            episode ended before ``T``); None when that cannot be told.
    """

    location: str
    format: str
    num_trajectories: int = 0
    files_checked: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    replayed: int = 0
    replay_solved: int = 0
    recorded_solved: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [
            f"{self.location} ({self.format}): {self.num_trajectories:,} trajectories, "
            f"{self.files_checked} files checked, "
            + ("OK" if self.ok else f"{len(self.problems)} problem(s)")
        ]
        lines += [f"  DAMAGED: {p}" for p in self.problems]
        if self.replayed:
            lines.append(
                f"  replay: {self.replay_solved}/{self.replayed} trajectories reach the goal"
                + (
                    ""
                    if self.recorded_solved is None
                    else f" (stored data: {self.recorded_solved}/{self.replayed} ended early)"
                )
            )
        return "\n".join(lines)


def _bar(total: int, desc: str, progress: bool):
    return progress_bar(total, desc, progress, unit="file")


def _verify_ours(path: str, report: VerifyReport, progress: bool) -> FormatReader | None:
    try:
        reader = FormatReader(path, check_files=False)
    except DatasetFormatError as err:
        report.problems.append(str(err))
        return None
    m = reader.manifest
    report.num_trajectories = m.num_trajectories
    jobs = []
    for name, field in m.fields.items():
        for k, key in enumerate(shard_keys(field, m.num_trajectories)):
            lo = k * field.shard_trajectories
            jobs.append((name, key, lo, min(m.num_trajectories, lo + field.shard_trajectories)))
    kv = ts.KvStore.open(reader.location, context=reader._context).result()
    with _bar(len(jobs), "verify", progress) as bar:
        for name, key, lo, hi in jobs:
            exists = kv.read(key, byte_range=slice(0, 1)).result().state == "value"
            if not exists:
                report.problems.append(f"{reader.where}{key}: missing (field {name!r})")
            else:
                try:
                    reader.arrays[name][lo:hi].read().result()
                except Exception as err:
                    report.problems.append(
                        f"{reader.where}{key}: cannot be decoded (field {name!r}, "
                        f"trajectories {lo}:{hi}): {str(err)[:200]}"
                    )
            report.files_checked += 1
            bar.update(1)
    return reader


def _verify_released(path: str, report: VerifyReport, progress: bool):
    try:
        rel = open_released(path)
    except (ValueError, FileNotFoundError) as err:
        report.problems.append(str(err))
        return None
    report.num_trajectories = rel.total_records
    with _bar(len(rel.shards), "verify", progress) as bar:
        for i, name in enumerate(rel.shards):
            try:
                rel.check_chunks(i)
                rel.read_records(i)
            except (ValueError, RuntimeError) as err:
                report.problems.append(f"shard {name!r}: {err}")
            report.files_checked += 1
            bar.update(1)
    return rel


def replay_trajectories(
    env_state: Any,
    action: np.ndarray,
    static_env_params: Any,
    *,
    action_type: str = "multi_discrete",
    env_params: Any = None,
) -> np.ndarray:
    """Replay ``action`` ``(N, T, A)`` from the first state of each trajectory.

    Uses :func:`kinetix.environment.make_kinetix_env` with blind observations, auto-reset to the
    stored first state (``override_reset_state``). Returns ``(N,)`` bool: the first episode ended
    with the goal reached (green touched blue).
    """
    env_params = env_params or EnvParams()
    env = make_kinetix_env(action_type, "blind", None, env_params, static_env_params)
    first = jax.tree.map(lambda x: jnp.asarray(x)[:, 0], env_state)
    return np.asarray(_replay(env, env_params, first, jnp.asarray(action)))


@partial(jax.jit, static_argnums=(0,))
def _replay(env, env_params, first, action):
    def one(state0, actions):
        def step(carry, a):
            state, alive, solved = carry
            _, nxt, _, done, info = env.step(
                jax.random.PRNGKey(0), state, a, env_params, override_reset_state=state0
            )
            solved = solved | (alive & done & info["GoalR"])
            return (nxt, alive & ~done, solved), None

        init = (state0, jnp.asarray(True), jnp.asarray(False))
        (_, _, solved), _ = jax.lax.scan(step, init, actions)
        return solved

    return jax.vmap(one)(first, action)


def verify_dataset(
    path_or_url: str | os.PathLike, *, replay: int = 0, progress: bool = False
) -> VerifyReport:
    """Check every shard/array of a dataset; optionally replay the first ``replay`` trajectories.

    Args:
        path_or_url: our format (any location) or a released split (local directory).
        replay: number of trajectories (from the start, on-disk order) to re-simulate.
        progress: show progress bars.

    Returns:
        A :class:`VerifyReport`; ``report.ok`` is False if anything is damaged.
    """
    text = os.fspath(path_or_url)
    ours = is_our_format(text) or "://" in text and not text.startswith("file://")
    report = VerifyReport(location=text, format="ours" if ours else "released")
    source = (
        _verify_ours(text, report, progress) if ours else _verify_released(text, report, progress)
    )
    if source is None or replay <= 0 or not report.ok:
        return report
    ds = open_dataset(text)
    n = min(replay, ds.num_trajectories)
    env_params = None
    if ours and source.manifest.env_params:
        env_params = EnvParams(**source.manifest.env_params)
    action_type = source.manifest.action_type if ours else "multi_discrete"
    solved = 0
    recorded = 0
    with _bar(n, "replay", progress) as bar:
        for lo in range(0, n, 64):
            hi = min(n, lo + 64)
            f = ds.read(slice(lo, hi))
            state = fields_to_env_state(f, ds.static_env_params, check=False)
            ok = replay_trajectories(
                state,
                f["action"],
                ds.static_env_params,
                action_type=action_type,
                env_params=env_params,
            )
            solved += int(ok.sum())
            lengths = episode_lengths(f["done"], ds.done_convention)
            recorded += int((lengths < ds.trajectory_length).sum())
            bar.update(hi - lo)
    report.replayed, report.replay_solved, report.recorded_solved = n, solved, recorded
    return report
