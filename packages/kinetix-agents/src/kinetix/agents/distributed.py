"""Data-parallel training over every device of every process, with ``jax.sharding``.

One 1-D mesh named ``"devices"`` spans all devices (``jax.devices()``, across processes after
:func:`initialize`). Batches are sharded on their leading (trajectory) axis, parameters and
optimiser state are replicated. A jitted step whose loss is a mean over the global batch then
computes the global-batch gradient on every device (XLA inserts the all-reduce), which is the
gradient average of the per-device shards weighted by their sizes.

Each process loads only its own part of the data (kinetix-data loaders take
``shard_index=jax.process_index()``, ``total_shard_count=jax.process_count()``) and
:func:`shard_batch` assembles the process-local pieces into one global array.

Example (single process; a no-op mesh of the local devices)::

    mesh = make_mesh()
    state = replicate(state, mesh)
    batch = shard_batch(local_batch, mesh)
    state, metrics = step(state, batch)
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

__all__ = [
    "AXIS",
    "initialize",
    "local_batch_size",
    "make_mesh",
    "process_shard",
    "replicate",
    "shard_batch",
]

AXIS = "devices"

_ENV_COORDINATOR = "KINETIX_COORDINATOR_ADDRESS"
_ENV_NUM_PROCESSES = "KINETIX_NUM_PROCESSES"
_ENV_PROCESS_ID = "KINETIX_PROCESS_ID"


def initialize(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> bool:
    """Join a multi-process run with ``jax.distributed.initialize`` when one is configured.

    Arguments default to the environment variables ``KINETIX_COORDINATOR_ADDRESS``
    (``host:port``), ``KINETIX_NUM_PROCESSES`` and ``KINETIX_PROCESS_ID``. With none given this
    is a no-op (single process). On CPU, cross-process collectives use gloo.

    Must be called before any other JAX call that touches devices, and before importing
    ``jax2d``/``kinetix.environment`` (their import creates arrays). Calling it again after a
    successful initialisation is a no-op.

    Returns:
        True when a multi-process run was initialised.

    Raises:
        ValueError: only some of the three settings are given.
    """
    coordinator_address = coordinator_address or os.environ.get(_ENV_COORDINATOR)
    if num_processes is None and os.environ.get(_ENV_NUM_PROCESSES):
        num_processes = int(os.environ[_ENV_NUM_PROCESSES])
    if process_id is None and os.environ.get(_ENV_PROCESS_ID):
        process_id = int(os.environ[_ENV_PROCESS_ID])
    given = [coordinator_address is not None, num_processes is not None, process_id is not None]
    if not any(given):
        return False
    if not all(given):
        raise ValueError(
            "a multi-process run needs coordinator_address, num_processes and process_id "
            f"(or {_ENV_COORDINATOR}, {_ENV_NUM_PROCESSES}, {_ENV_PROCESS_ID}); got "
            f"coordinator_address={coordinator_address!r}, num_processes={num_processes!r}, "
            f"process_id={process_id!r}"
        )
    if jax.distributed.is_initialized():
        return True  # already joined (e.g. at package import); calling again is harmless
    if _backend_initialised():
        raise RuntimeError(
            "kinetix.agents.distributed.initialize() ran after JAX had already started its "
            "backend (importing jax2d/kinetix.environment does that); call it before importing "
            "them, e.g. first thing in your script"
        )
    # gloo gives CPU devices cross-process collectives; harmless for accelerators.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
    )
    return True


def _backend_initialised() -> bool:
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - private module moved; let JAX raise its own error
        return False
    return bool(getattr(xla_bridge, "backends_are_initialized", lambda: False)())


def process_shard() -> tuple[int, int]:
    """``(shard_index, total_shard_count)`` for this process's data loader."""
    return jax.process_index(), jax.process_count()


def make_mesh(devices: Any = None) -> Mesh:
    """A 1-D mesh named ``"devices"`` over ``devices`` (default: all devices of all
    processes)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), (AXIS,))


def local_batch_size(global_batch_size: int, mesh: Mesh) -> int:
    """This process's share of a global batch.

    Raises:
        ValueError: the global batch does not split evenly over the mesh's devices.
    """
    n_dev = mesh.devices.size
    if global_batch_size % n_dev != 0:
        raise ValueError(
            f"global batch size {global_batch_size} is not divisible by the {n_dev} devices of "
            "the mesh; pick a multiple"
        )
    return global_batch_size // jax.process_count()


def _is_key(x: Any) -> bool:
    return isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key)


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Assemble process-local batches (leading axis = this process's rows) into global arrays
    sharded over ``mesh`` on that axis. ``None`` leaves pass through.

    Raises:
        ValueError: a leaf's leading axis does not split over this process's devices.
    """
    sharding = NamedSharding(mesh, PartitionSpec(AXIS))
    n_local = len([d for d in mesh.devices.flat if d.process_index == jax.process_index()])

    def put(x: Any) -> Any:
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] % n_local != 0:
            raise ValueError(
                f"batch leaf of shape {x.shape} cannot be split over {n_local} local devices "
                "on its leading axis"
            )
        return jax.make_array_from_process_local_data(sharding, x)

    return jax.tree.map(put, batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place every array leaf of ``tree`` replicated on all devices of ``mesh`` (every process
    must pass equal values); non-array leaves pass through."""
    sharding = NamedSharding(mesh, PartitionSpec())

    def put(x: Any) -> Any:
        if _is_key(x):
            data = replicate(jax.random.key_data(x), mesh)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        if isinstance(x, (jax.Array, np.ndarray)):
            return jax.make_array_from_process_local_data(sharding, np.asarray(x))
        return x

    return jax.tree.map(put, tree)
