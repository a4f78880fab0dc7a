"""Shared helpers for the kinetix-render tests (fixtures written by golden/make_render_golden.py)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from kinetix.environment import create_empty_env, static_env_params_from_size  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent
GOLDEN_DIR = TESTS_DIR / "golden"
SIZES = ("s", "m", "l")
ENTITY_FIELDS = (
    "circles",
    "polygons",
    "joints",
    "thrusters",
    "circle_mask",
    "polygon_mask",
    "joint_mask",
    "thruster_mask",
    "attention_mask",
    "joint_indexes",
    "thruster_indexes",
)


def leaf_name(path) -> str:
    return "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)


@functools.cache
def golden(size: str) -> dict[str, np.ndarray]:
    """The reference's states and observations for one size preset (see the generator)."""
    with np.load(GOLDEN_DIR / f"symbolic_{size}.npz") as f:
        return dict(f)


def golden_states(size: str, prefix: str = "state/"):
    """The recorded reference states as one batched ``EnvState`` (leading dims kept).

    ``prefix="state/"`` gives ``(L, T, ...)`` rollout states, ``"edge_state/"`` ``(E, ...)``
    hand-edited ones. Leaves are matched by field path, with dtype and trailing shape checked.
    """
    data = golden(size)
    template = create_empty_env(static_env_params_from_size(size))
    flat, treedef = jax.tree_util.tree_flatten_with_path(template)
    leaves = []
    for path, leaf in flat:
        name = leaf_name(path)
        value = data[prefix + name]
        assert value.dtype == leaf.dtype, f"{name}: {value.dtype} != {leaf.dtype}"
        assert value.shape[value.ndim - leaf.ndim :] == leaf.shape, name
        leaves.append(jnp.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, leaves)


def index_state(state, *idx):
    """One state out of a batched state."""
    return jax.tree.map(lambda x: x[idx], state)


@functools.cache
def jitted_renderer(kind: str, size: str, **options):
    """A cached ``jax.jit`` of ``make_render_symbolic`` (``kind="flat"``/``"padded"``) or
    ``make_render_entities`` (``kind="entity"``) with default ``EnvParams``: tests share compiles."""
    from kinetix.environment import EnvParams
    from kinetix.render import make_render_entities, make_render_symbolic

    static = static_env_params_from_size(size)
    if kind == "entity":
        return jax.jit(make_render_entities(EnvParams(), static, **options))
    return jax.jit(make_render_symbolic(EnvParams(), static, padded=kind == "padded", **options))
