"""Loading levels by name or path, padding them to common sizes, and stacking them.

Level names such as ``"s/h0_weak_thrust"`` are resolved relative to the levels directory shipped
in this package (``kinetix/environment/levels``); ``.json`` is appended when missing; absolute
paths and paths starting with ``.`` are used as given. Unlike the reference, another relative path
that is not a packaged level but exists from the working directory is used as given.

The packaged levels are this project's own hand-made evaluation suite (8+ levels per size, see
``levels/suite.json`` and :func:`load_handmade_suite`); the reference's levels are not shipped.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.expansion import (
    LevelTooLargeError,
    expand_env_state,
    max_static_env_params,
)
from kinetix.environment.level_json import load_json_level
from kinetix.environment.utils import permute_state

__all__ = [
    "LEVELS_DIR",
    "HANDMADE_SUITE_INDEX",
    "HandmadeLevel",
    "load_handmade_suite",
    "handmade_level_names",
    "get_correct_path_of_json_level",
    "load_from_json_file",
    "get_env_state_from_json",
    "load_evaluation_levels",
    "stack_list_of_pytrees",
]

#: Directory of the level files shipped with this package.
LEVELS_DIR = Path(__file__).resolve().parent / "levels"

#: Index of the hand-made evaluation suite (written by ``golden/author_handmade_levels.py``).
HANDMADE_SUITE_INDEX = LEVELS_DIR / "suite.json"

_PERMUTE = re.compile(r"\.permute\d+")
_SIZES = ("s", "m", "l")


def get_correct_path_of_json_level(level: str | os.PathLike) -> str:
    """Resolve a level name or path to a file path (see the module docstring)."""
    level = os.fspath(level)
    if not level.endswith(".json"):
        level = level + ".json"
    if os.path.isabs(level) or level.startswith("."):
        return level
    packaged = LEVELS_DIR / level
    if not packaged.exists() and os.path.exists(level):
        return level  # a relative path that is not a packaged level name
    return str(packaged)


def load_from_json_file(
    filename: str | os.PathLike,
    static_env_params: StaticEnvParams | None = None,
) -> tuple[EnvState, StaticEnvParams, EnvParams]:
    """Load a level file: ``(env_state, static_env_params, env_params)``.

    Args:
        filename: a level name or path (see :func:`get_correct_path_of_json_level`).
        static_env_params: if given, pad the level to these sizes and return them as the static
            parameters (the level's own ``frame_skip`` etc. are then not used).

    Raises:
        FileNotFoundError: the file does not exist.
        kinetix.environment.level_json.LevelFormatError: the file is not a valid level.
        kinetix.environment.expansion.LevelTooLargeError: the level does not fit
            ``static_env_params`` (the message names the file).
    """
    path = get_correct_path_of_json_level(filename)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"level file {path} does not exist (from {os.fspath(filename)!r}); give an absolute "
            f"path, a path starting with '.', or a name relative to {LEVELS_DIR}"
        )
    state, static, params = load_json_level(path)
    if static_env_params is not None:
        try:
            state = expand_env_state(state, static_env_params)
        except LevelTooLargeError as e:
            raise LevelTooLargeError(f"{path}: {e}") from None
        static = static_env_params
    return state, static, params


def get_env_state_from_json(filename: str | os.PathLike) -> EnvState:
    """Only the state of :func:`load_from_json_file`."""
    return load_from_json_file(filename)[0]


def stack_list_of_pytrees(list_of_pytrees: Sequence[Any]) -> Any:
    """Stack equally shaped pytrees along a new leading axis."""
    if not list_of_pytrees:
        raise ValueError("cannot stack an empty list of pytrees")
    return jax.tree.map(lambda *xs: jnp.stack(xs), *list_of_pytrees)


def load_evaluation_levels(
    eval_levels: Sequence[str],
    static_env_params_override: StaticEnvParams | None = None,
) -> tuple[EnvState, StaticEnvParams]:
    """Load several levels, pad them to common sizes and stack them.

    Args:
        eval_levels: level names or paths; a ``.permute<k>`` suffix (e.g.
            ``"l/h4_cartpole.permute0"``) loads the level and shuffles its entities with
            :func:`~kinetix.environment.utils.permute_state`, using key ``split(PRNGKey(0), n)[i]``
            for the ``i``-th of ``n`` names.
        static_env_params_override: target sizes; default: the field-wise maximum of the levels'
            static parameters.

    Returns:
        ``(states with a leading axis of len(eval_levels), static_env_params)``.
    """
    if not eval_levels:
        raise ValueError("load_evaluation_levels needs at least one level")
    should_permute = [".permute" in name for name in eval_levels]
    loaded = [load_from_json_file(_PERMUTE.sub("", name)) for name in eval_levels]
    if static_env_params_override is not None:
        target = static_env_params_override
    else:
        target = max_static_env_params(*(static for _, static, _ in loaded))
    states = []
    for name, (state, _, _) in zip(eval_levels, loaded, strict=True):
        try:
            states.append(expand_env_state(state, target))
        except LevelTooLargeError as e:
            raise LevelTooLargeError(f"{name}: {e}") from None
    keys = jax.random.split(jax.random.PRNGKey(0), len(states))
    states = [
        permute_state(k, st, target) if p else st
        for p, st, k in zip(should_permute, states, keys, strict=True)
    ]
    return stack_list_of_pytrees(states), target


# ------------------------------------------------------------------------ hand-made suite


@dataclass(frozen=True)
class HandmadeLevel:
    """One level of the hand-made evaluation suite.

    Attributes:
        name: the level's name within its size (``"rocket_up"``); its loadable name is
            :attr:`level_name` (``"s/rocket_up"``).
        size: ``"s"``, ``"m"`` or ``"l"`` (the size preset the level file is saved at).
        description: one line saying what to do.
        skill: the skill the level tests (``"driving"``, ``"thrust control"``, ...).
        path: the level file.
        solution: the scripted solution, a multi-discrete action program
            ``((action, repeat), ...)`` with ``action`` a tuple of ``num_motor_bindings +
            num_thruster_bindings`` ints; after it the agent takes the no-op action.
    """

    name: str
    size: str
    description: str
    skill: str
    path: Path
    solution: tuple[tuple[tuple[int, ...], int], ...]

    @property
    def level_name(self) -> str:
        return f"{self.size}/{self.name}"

    def solution_actions(self, num_steps: int) -> np.ndarray:
        """The solution as a ``(num_steps, action_dim)`` int32 array (no-op padded/truncated).

        Example::

            level = load_handmade_suite("s")[0]
            actions = level.solution_actions(256)  # feed actions[t] to env.step at step t
        """
        dim = len(self.solution[0][0]) if self.solution else 6
        out = np.zeros((num_steps, dim), np.int32)
        t = 0
        for action, repeat in self.solution:
            out[t : t + repeat] = action
            t += repeat
        return out


def _suite_error(path: Path, where: str, expected: str, got: Any) -> ValueError:
    return ValueError(f"{path}: {where}: expected {expected}, got {got!r}")


def _parse_suite_entry(path: Path, i: int, raw: Any) -> HandmadeLevel:
    where = f"levels[{i}]"
    if not isinstance(raw, dict):
        raise _suite_error(path, where, "an object", raw)
    for key in ("name", "size", "file", "description", "skill", "solution"):
        if key not in raw:
            raise _suite_error(path, f"{where}/{key}", "a value (missing key)", None)
        if key != "solution" and not (isinstance(raw[key], str) and raw[key]):
            raise _suite_error(path, f"{where}/{key}", "a non-empty string", raw[key])
    if raw["size"] not in _SIZES:
        raise _suite_error(path, f"{where}/size", f"one of {_SIZES}", raw["size"])
    solution = raw["solution"]
    if not isinstance(solution, dict) or solution.get("action_type") != "multi_discrete":
        raise _suite_error(
            path,
            f"{where}/solution",
            '{"action_type": "multi_discrete", "program": [...]}',
            solution,
        )
    program = []
    for k, step in enumerate(solution.get("program", [])):
        ok = (
            isinstance(step, list)
            and len(step) == 2
            and isinstance(step[0], list)
            and all(isinstance(a, int) and a >= 0 for a in step[0])
            and isinstance(step[1], int)
            and step[1] >= 0
        )
        if not ok:
            raise _suite_error(
                path, f"{where}/solution/program[{k}]", "[[int >= 0, ...], repeat >= 0]", step
            )
        program.append((tuple(step[0]), step[1]))
    return HandmadeLevel(
        name=raw["name"],
        size=raw["size"],
        description=raw["description"],
        skill=raw["skill"],
        path=path.parent / raw["file"],
        solution=tuple(program),
    )


def load_handmade_suite(
    size: str | None = None, index_path: str | os.PathLike | None = None
) -> list[HandmadeLevel]:
    """The hand-made evaluation levels shipped with this package (in index order).

    Args:
        size: only the levels of this size (``"s"``, ``"m"`` or ``"l"``); None: all of them.
        index_path: another suite index to read (default :data:`HANDMADE_SUITE_INDEX`).

    Raises:
        ValueError: unknown ``size``, or a malformed index (the message names the file and field).

    Example::

        from kinetix.environment import load_evaluation_levels, load_handmade_suite
        names = [lvl.level_name for lvl in load_handmade_suite("m")]
        states, static = load_evaluation_levels(names)
    """
    if size is not None and size not in _SIZES:
        raise ValueError(f"unknown level size {size!r}; expected one of {_SIZES} or None")
    path = Path(index_path) if index_path is not None else HANDMADE_SUITE_INDEX
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from e
    if not isinstance(raw, dict) or not isinstance(raw.get("levels"), list):
        raise _suite_error(
            path, "<top level>", 'an object with a "levels" list', type(raw).__name__
        )
    levels = [_parse_suite_entry(path, i, e) for i, e in enumerate(raw["levels"])]
    seen: set[str] = set()
    for lvl in levels:
        if lvl.level_name in seen:
            raise _suite_error(path, "levels", "unique size/name pairs", lvl.level_name)
        seen.add(lvl.level_name)
    return [lvl for lvl in levels if size is None or lvl.size == size]


def handmade_level_names(size: str | None = None) -> list[str]:
    """Loadable names (``"s/rocket_up"``, ...) of the hand-made levels, for
    :func:`load_evaluation_levels` / :func:`load_from_json_file`."""
    return [lvl.level_name for lvl in load_handmade_suite(size)]
