"""Orbax checkpoints of training runs: periodic saves, exact resume after a kill, and inference
loading.

A checkpoint step directory holds three orbax items:

* ``state``: every array leaf of the train state (an ``eqx.Module`` or any pytree), so a resumed
  run continues bitwise identically (params, optimiser state, RNG keys, RMS statistics, step);
* ``policy``: only what inference needs (network arrays and, when used, the RMS statistics), so
  :func:`load_policy` works without rebuilding a trainer;
* ``meta``: JSON with the run's config, package versions, the physics engine version and any
  extra JSON state (for example the data loader's ``state_dict()``).

Orbax writes a step into a temporary directory and renames it when complete, so a process
killed mid-save leaves the previous step intact; saving is synchronous on purpose (an async save
racing a SIGKILL would lose the step the caller believes is durable).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from kinetix.agents.rms import normalise

__all__ = [
    "CheckpointManager",
    "LoadedPolicy",
    "load_policy",
    "read_checkpoint_metadata",
    "run_versions",
]

_VERSIONED_DISTRIBUTIONS = (
    "jax",
    "jaxlib",
    "equinox",
    "optax",
    "orbax-checkpoint",
    "jax2d",
    "kinetix-env",
    "kinetix-render",
    "kinetix-data",
    "kinetix-agents",
)


def run_versions() -> dict[str, str | None]:
    """Installed versions of the packages that determine a run's results.

    ``engine_version`` is the version of the jax2d physics engine (``jax2d.__version__``).

    Example:
        >>> "jax" in run_versions()
        True
    """
    versions: dict[str, str | None] = {}
    for dist in _VERSIONED_DISTRIBUTIONS:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    try:
        import jax2d

        versions["engine_version"] = getattr(jax2d, "__version__", None)
    except ImportError:  # pragma: no cover - jax2d is a dependency of kinetix-env
        versions["engine_version"] = None
    return versions


def _to_savable(leaf: Any) -> Any:
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        return jax.random.key_data(leaf)
    return leaf


def _from_savable(saved: Any, like: Any) -> Any:
    if isinstance(like, jax.Array) and jnp.issubdtype(like.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(saved, impl=jax.random.key_impl(like))
    if isinstance(like, np.ndarray):
        return np.asarray(saved)
    return saved


def _array_dict(tree: Any) -> dict[str, Any]:
    """Array leaves of ``tree`` as ``{"00000": leaf, ...}`` (stable order = pytree order)."""
    leaves = jax.tree.leaves(eqx.filter(tree, eqx.is_array))
    return {f"{i:05d}": _to_savable(leaf) for i, leaf in enumerate(leaves)}


def _abstract(leaf: Any) -> Any:
    sharding = getattr(leaf, "sharding", None)
    return jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sharding)


def _check_shapes(template: Any, stored: Any, what: str, path: Path) -> None:
    """Compare the template's arrays with the stored ones before orbax reads anything."""
    expected = _array_dict(template)
    if len(stored) != len(expected):
        raise ValueError(
            f"checkpoint {path}: item {what!r} has {len(stored)} arrays but the template has "
            f"{len(expected)}; was it written by a run with a different config?"
        )
    for i, (name, like) in enumerate(sorted(expected.items())):
        value = stored[name]
        if tuple(value.shape) != tuple(like.shape) or np.dtype(value.dtype) != np.dtype(like.dtype):
            raise ValueError(
                f"checkpoint {path}: item {what!r} leaf {i} has shape {tuple(value.shape)} "
                f"{np.dtype(value.dtype)}, expected {tuple(like.shape)} {np.dtype(like.dtype)}"
            )


def _restore_into(template: Any, saved: dict[str, Any]) -> Any:
    arrays, static = eqx.partition(template, eqx.is_array)
    leaves, treedef = jax.tree.flatten(arrays)
    restored = [_from_savable(saved[f"{i:05d}"], like) for i, like in enumerate(leaves)]
    return eqx.combine(jax.tree.unflatten(treedef, restored), static)


def _orbax_manager(
    directory: Path, options: ocp.CheckpointManagerOptions | None = None
) -> ocp.CheckpointManager:
    # Explicit handlers, so a fresh process can read item metadata before any save/restore.
    handlers = {
        "state": ocp.StandardCheckpointHandler(),
        "policy": ocp.StandardCheckpointHandler(),
        "meta": ocp.JsonCheckpointHandler(),
    }
    return ocp.CheckpointManager(directory, options=options, item_handlers=handlers)


def _metadata_tree(stored: Any) -> dict[str, Any]:
    return dict(getattr(stored, "tree", stored))


def _abstract_dict(tree: Any) -> dict[str, Any]:
    return {k: _abstract(v) for k, v in _array_dict(tree).items()}


class CheckpointManager:
    """Periodic orbax checkpoints of one run.

    Args:
        directory: where step directories are written (created if missing).
        save_every: save when ``step % save_every == 0`` (``<= 0``: only forced saves).
        max_to_keep: number of most recent steps kept (None keeps all).
        metadata: JSON-serialisable dict stored with every step (typically
            ``{"config": ..., "kind": "bc"}``); package versions are added automatically.

    Example:
        >>> import tempfile, jax.numpy as jnp
        >>> mgr = CheckpointManager(tempfile.mkdtemp(), save_every=1)
        >>> mgr.save(1, {"w": jnp.ones(2)}, policy={"w": jnp.ones(2)})
        True
        >>> state, meta = mgr.restore({"w": jnp.zeros(2)})
        >>> float(state["w"][0]), meta["step"]
        (1.0, 1)
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        save_every: int,
        max_to_keep: int | None = 3,
        metadata: dict[str, Any] | None = None,
    ):
        self.directory = Path(directory).absolute()
        self.save_every = int(save_every)
        self.metadata = dict(metadata or {})
        options = ocp.CheckpointManagerOptions(
            max_to_keep=max_to_keep,
            enable_async_checkpointing=False,
            create=True,
        )
        self._manager = _orbax_manager(self.directory, options)

    def latest_step(self) -> int | None:
        """The newest complete step, or None when nothing was saved yet."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        """Every complete step still on disk, ascending."""
        return sorted(self._manager.all_steps())

    def should_save(self, step: int) -> bool:
        """Whether ``step`` falls on the save period."""
        return self.save_every > 0 and step > 0 and step % self.save_every == 0

    def save(
        self,
        step: int,
        state: Any,
        *,
        policy: Any = None,
        extra: dict[str, Any] | None = None,
        force: bool = False,
    ) -> bool:
        """Save ``state`` at ``step`` if it is on the period (or ``force``).

        Args:
            step: the training step (number of updates done).
            state: the train state; all of its array leaves are saved.
            policy: what :func:`load_policy` restores (``{"network": ..., "rms": ...}``);
                defaults to ``state``.
            extra: more JSON-serialisable state (e.g. the data loader's ``state_dict()``).
            force: save even off-period (the final step of a run).

        Returns:
            True when a checkpoint was written.
        """
        if not (force or self.should_save(step)):
            return False
        if step in self._manager.all_steps():
            return False
        meta = {
            **self.metadata,
            "step": int(step),
            "versions": run_versions(),
            "extra": _jsonable(extra or {}),
        }
        self._manager.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_array_dict(state)),
                policy=ocp.args.StandardSave(_array_dict(state if policy is None else policy)),
                meta=ocp.args.JsonSave(meta),
            ),
        )
        self._manager.wait_until_finished()
        return True

    def restore(self, template: Any, step: int | None = None) -> tuple[Any, dict[str, Any]]:
        """Restore the train state saved at ``step`` (default: latest) into ``template``'s
        structure, dtypes and shardings.

        Returns:
            ``(state, meta)`` where ``meta`` is the stored JSON (config, versions, extra, step).

        Raises:
            FileNotFoundError: nothing saved in the directory.
            ValueError: the saved arrays do not match the template.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        stored = self._manager.item_metadata(step)["state"]
        _check_shapes(template, _metadata_tree(stored), "state", self.directory / str(step))
        restored = self._manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(_abstract_dict(template)),
                meta=ocp.args.JsonRestore(),
            ),
        )
        state = _restore_into(template, restored["state"])
        return state, dict(restored["meta"])

    def close(self) -> None:
        """Flush and release orbax resources."""
        self._manager.close()

    def __enter__(self) -> CheckpointManager:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.generic, np.ndarray, jax.Array)):
        return np.asarray(obj).tolist()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj))
    return obj


def _resolve_step_dir(path: Path, step: int | None) -> tuple[Path, int]:
    """Accept a run checkpoint directory (picks the latest or the given step) or a step dir."""
    if (path / "meta").exists() and (path / "policy").exists():
        return path.parent, int(path.name)
    steps = sorted(int(p.name) for p in path.iterdir() if p.is_dir() and p.name.isdigit())
    if not steps:
        raise FileNotFoundError(f"no checkpoint steps under {path}")
    if step is None:
        return path, steps[-1]
    if step not in steps:
        raise FileNotFoundError(f"checkpoint step {step} not in {path}; available: {steps}")
    return path, step


def read_checkpoint_metadata(path: str | os.PathLike, step: int | None = None) -> dict[str, Any]:
    """The JSON metadata (config, versions, step, extra) of a checkpoint.

    Args:
        path: a run's checkpoint directory, or one of its step directories.
        step: the step to read (default latest).
    """
    directory, step = _resolve_step_dir(Path(path).absolute(), step)
    with _orbax_manager(directory) as mgr:
        restored = mgr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
    return dict(restored["meta"])


def restore_policy_arrays(path: str | os.PathLike, template: Any, step: int | None = None) -> Any:
    """Restore the ``policy`` item of a checkpoint into ``template`` (same structure)."""
    directory, step = _resolve_step_dir(Path(path).absolute(), step)
    with _orbax_manager(directory) as mgr:
        stored = mgr.item_metadata(step)["policy"]
        _check_shapes(template, _metadata_tree(stored), "policy", directory / str(step))
        restored = mgr.restore(
            step,
            args=ocp.args.Composite(policy=ocp.args.StandardRestore(_abstract_dict(template))),
        )
    return _restore_into(template, restored["policy"])


@dataclasses.dataclass(frozen=True)
class LoadedPolicy:
    """A policy restored by :func:`load_policy`.

    Attributes:
        network: the network module with the checkpoint's parameters.
        rms: running observation statistics when the run normalised observations, else None.
        policy: ``policy(obs, key, hidden=None, done=None) -> (action, hidden)`` for a batch of
            observations with a leading batch axis (sampling at temperature 1; ``greedy=True``
            takes the mode).
        config: the run's config (a plain dict, as stored).
        metadata: the whole stored metadata (versions, step).
    """

    network: Any
    rms: Any
    policy: Callable[..., Any]
    config: dict[str, Any]
    metadata: dict[str, Any]


def load_policy(path: str | os.PathLike, step: int | None = None) -> LoadedPolicy:
    """Load a trained policy for inference from a checkpoint written by ``kinetix`` training.

    Rebuilds the network from the stored config (model, observation and action types, env
    size), then restores its parameters.

    Args:
        path: a run's checkpoint directory (latest step) or a step directory.
        step: pick this step instead of the latest.

    Example:
        >>> loaded = load_policy("runs/bc/checkpoints")  # doctest: +SKIP
        >>> action, hidden = loaded.policy(obs, jax.random.key(0))  # doctest: +SKIP
    """
    from kinetix.agents.config import build_network_for_config

    meta = read_checkpoint_metadata(path, step)
    config = meta.get("config")
    if config is None:
        raise ValueError(f"checkpoint {path} has no stored config; cannot rebuild its network")
    network, rms_template = build_network_for_config(config)
    template: dict[str, Any] = {"network": network}
    if meta.get("has_rms") and rms_template is not None:
        template["rms"] = rms_template
    restored = restore_policy_arrays(path, template, step)
    net = restored["network"]
    rms = restored.get("rms")
    return LoadedPolicy(
        network=net, rms=rms, policy=make_policy_fn(net, rms), config=config, metadata=meta
    )


def make_policy_fn(network: Any, rms: Any = None) -> Callable[..., Any]:
    """``policy(obs, key, hidden=None, done=None, greedy=False) -> (action, hidden)`` over a
    batch of observations (leading axis B), jitted."""

    @eqx.filter_jit
    def policy(obs: Any, key: jax.Array, hidden: Any = None, done: Any = None, greedy=False):
        batch = jax.tree.leaves(obs)[0].shape[0]
        if rms is not None:
            obs = normalise(rms, obs)
        if hidden is None:
            hidden = network.initialize_carry(batch)
        if done is None:
            done = jnp.zeros((batch,), dtype=bool)
        obs_t = jax.tree.map(lambda x: x[None], obs)
        hidden, dist, _ = network(hidden, (obs_t, done[None]))
        action = dist.mode() if greedy else dist.sample(key)
        return action[0], hidden

    return policy
