"""The batch type the loaders return, and turning decoded records into it.

``ActionEnvStateMask`` has the reference's field order (``kinetix.data.bc_types``):
``action, env_state, mask, action_mask, done``. Trajectory batches have leaves ``(B, T, ...)``,
flat batches ``(B, ...)`` with ``done=None``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import numpy as np

from kinetix.data.fields import fields_to_env_state
from kinetix.environment import EnvState, StaticEnvParams, expand_env_state

__all__ = [
    "ActionEnvStateMask",
    "TrainAndValData",
    "records_to_batch",
    "expand_batch",
    "concat_batches",
]


class ActionEnvStateMask(NamedTuple):
    """One batch: expert actions, the states they were chosen in, and masks.

    Attributes:
        action: ``(B, [T,] A)`` int32 multi-discrete expert actions.
        env_state: ``EnvState`` with leaves ``(B, [T,] ...)``.
        mask: ``(B, [T])`` bool per-step loss weight (all True for trajectory data).
        action_mask: ``(B, [T,] A)`` bool, which action dimensions can affect the level.
        done: ``(B, T)`` bool episode-boundary flags (trajectory batches), else ``None``.
    """

    action: np.ndarray
    env_state: EnvState
    mask: np.ndarray
    action_mask: np.ndarray
    done: np.ndarray | None = None


class TrainAndValData(NamedTuple):
    """A training batch and named validation batches (the reference's ``bc_types`` container)."""

    train_data: ActionEnvStateMask
    val_data: dict[str, ActionEnvStateMask]


def records_to_batch(
    records: np.ndarray, static_env_params: StaticEnvParams, layout: str
) -> ActionEnvStateMask:
    """Structured records ``(B, T)`` or ``(B,)`` to an :class:`ActionEnvStateMask` of field views.

    Trajectory layout: ``mask`` is all True (as upstream, which ignores a stored mask) and
    ``done`` is the stored field. Flat layout: ``mask`` is the stored field, ``done`` is None.
    """
    fields = {name: records[name] for name in records.dtype.names}
    state = fields_to_env_state(fields, static_env_params)
    if layout == "trajectory":
        return ActionEnvStateMask(
            action=fields["action"],
            env_state=state,
            mask=np.ones(fields["done"].shape, bool),
            action_mask=fields["action_mask"],
            done=fields["done"],
        )
    return ActionEnvStateMask(
        action=fields["action"],
        env_state=state,
        mask=fields["mask"] if "mask" in fields else np.ones(records.shape, bool),
        action_mask=fields["action_mask"],
        done=None,
    )


def expand_batch(
    batch: ActionEnvStateMask, static_env_params: StaticEnvParams
) -> ActionEnvStateMask:
    """Pad a batch's states to larger static sizes (any leading axes, trajectory batches too).

    Uses :func:`kinetix.environment.expand_env_state` (entities appended inactive, circle indices
    shifted, collision matrix recomputed, manifolds emptied), which takes the entity counts from
    the last axis of the per-entity arrays, so ``(B, T, ...)`` batches work (upstream read them
    from axis 1, i.e. ``T``, and failed).

    Raises:
        kinetix.environment.LevelTooLargeError: the batch has more entities than the target.
    """
    with jax.default_device(jax.devices("cpu")[0]):
        expanded = expand_env_state(batch.env_state, static_env_params)
    return batch._replace(env_state=jax.tree.map(np.asarray, expanded))


def concat_batches(batches: list[ActionEnvStateMask]) -> ActionEnvStateMask:
    """Concatenate batches along axis 0 (``done`` stays None if any part has None)."""

    def cat(*xs: Any) -> np.ndarray:
        return np.concatenate([np.asarray(x) for x in xs], axis=0)

    done = None
    if all(b.done is not None for b in batches):
        done = cat(*[b.done for b in batches])
    return ActionEnvStateMask(
        action=cat(*[b.action for b in batches]),
        env_state=jax.tree.map(cat, *[b.env_state for b in batches]),
        mask=cat(*[b.mask for b in batches]),
        action_mask=cat(*[b.action_mask for b in batches]),
        done=done,
    )
