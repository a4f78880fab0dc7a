"""Expert collection's resume state: ``collect_state.json`` in the output directory (the
settings the data was collected with and the level-id ranges already committed), written
atomically after each chunk's data; plus the output's size on disk.

Part of :mod:`kinetix.agents.collect`, which re-exports :data:`STATE_FILE`.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from kinetix.agents._collect_config import CollectConfig

STATE_FILE = "collect_state.json"


def _read_state(out: str) -> dict[str, Any] | None:
    path = os.path.join(out, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable collection state ({err}); expected JSON") from err


def _write_state(out: str, state: dict[str, Any]) -> None:
    path = os.path.join(out, STATE_FILE)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_resume(state: dict[str, Any], config: CollectConfig) -> None:
    stored, given = state.get("settings", {}), config.pinned()
    diff = {k: (stored.get(k), v) for k, v in given.items() if stored.get(k) != v}
    if diff:
        raise ValueError(
            f"{os.path.join(config.out, STATE_FILE)}: the output was collected with other "
            f"settings (key: (stored, given)) {diff}; use another `out` or the same settings"
        )


def _done_ids(state: dict[str, Any] | None) -> set[int]:
    ids: set[int] = set()
    for lo, hi in (state or {}).get("done_ranges", []):
        ids.update(range(lo, hi))
    return ids


def _merge_ranges(ranges: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we walk
                total += os.path.getsize(os.path.join(root, name))
    return total
