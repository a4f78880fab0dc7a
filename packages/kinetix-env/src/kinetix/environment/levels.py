"""Loading levels by name or path, padding them to common sizes, and stacking them.

Level names such as ``"s/h0_weak_thrust"`` are resolved relative to the levels directory shipped
in this package (``kinetix/environment/levels``); ``.json`` is appended when missing; absolute
paths and paths starting with ``.`` are used as given. Unlike the reference, another relative path
that is not a packaged level but exists from the working directory is used as given.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp

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
    "get_correct_path_of_json_level",
    "load_from_json_file",
    "get_env_state_from_json",
    "load_evaluation_levels",
    "stack_list_of_pytrees",
]

#: Directory of the level files shipped with this package.
LEVELS_DIR = Path(__file__).resolve().parent / "levels"

_PERMUTE = re.compile(r"\.permute\d+")


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
