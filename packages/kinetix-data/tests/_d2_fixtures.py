"""Shared helpers for the format/writer/episode/hub/convert/verify/CLI tests (no physics).

Batches are random but valid in shape and dtype, built from the empty-arena template of a tiny
custom static size, so nothing has to compile.
"""

from __future__ import annotations

import jax
import numpy as np

from kinetix.data.fields import env_state_to_fields
from kinetix.environment import StaticEnvParams
from kinetix.environment.utils import create_empty_env

#: A tiny custom size (not a preset, so the manifest's env_size is None).
TINY = StaticEnvParams(
    num_polygons=5, num_circles=1, num_joints=1, num_thrusters=1, frame_skip=2, downscale=4
)
T = 8


def random_batch(
    n: int, seed: int = 0, static: StaticEnvParams = TINY, t: int = T, first_id: int = 0
) -> dict:
    """A batch in the writer's input form: random leaves, ``done`` at a per-row step, ids."""
    rng = np.random.default_rng(seed)
    template = jax.eval_shape(create_empty_env, static)

    def leaf(x):
        shape = (n, t, *x.shape)
        if x.dtype == np.bool_:
            return rng.random(shape) < 0.5
        if np.issubdtype(x.dtype, np.integer):
            return rng.integers(0, 5, shape).astype(x.dtype)
        return rng.standard_normal(shape).astype(x.dtype)

    env_state = jax.tree.map(leaf, template)
    done = np.zeros((n, t), bool)
    done[np.arange(n), 1 + np.arange(n) % (t - 1)] = True
    return {
        "action": rng.integers(0, 3, (n, t, 6)).astype(np.int32),
        "done": done,
        "env_state": env_state,
        "level_id": np.arange(first_id, first_id + n, dtype=np.int64),
    }


def flat(batch: dict) -> dict[str, np.ndarray]:
    """The batch as flat ``{field: array}`` (what a reader returns)."""
    out = {k: np.asarray(v) for k, v in batch.items() if k != "env_state"}
    out.update(env_state_to_fields(batch["env_state"]))
    return out


def concat(*batches: dict) -> dict[str, np.ndarray]:
    flats = [flat(b) for b in batches]
    return {k: np.concatenate([f[k] for f in flats]) for k in flats[0]}
