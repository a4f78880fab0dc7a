"""Write a small Kinetix-Offline-style dataset with the reference, and what its loaders return.

Run it in a venv with the *reference* data stack (never our packages)::

    uv venv /work/venvs/refdata
    uv pip install --python /work/venvs/refdata/bin/python zarr==2.18.3 numcodecs==0.13.1 \
        kinetix-env==3.0.2 jax==0.9.0 jaxlib==0.9.0 chex==0.1.92 grain==0.2.18
    /work/venvs/refdata/bin/python golden/make_data_golden.py     # from the repository root

It writes, under ``packages/kinetix-data/tests/data/released/``:

* ``traj_s/``: a zarr v2 group in the released trajectory layout (spec section 1): 4 shards of
  shape ``(n, 256, 1)`` with the record dtype (fields sorted by name, Blosc-lz4 level 5 with
  byte shuffle as zarr's default), one of them chunked two trajectories per chunk, plus an empty
  shard that loaders must skip. Size ``s``; 16 trajectories: the 10 reference ``s`` levels and 6
  of them again with other action seeds, rolled out for 256 steps with sticky uniform-random
  multi-discrete actions and auto-reset to the same level. ``action_mask`` comes from the
  reference's ``get_valid_action_mask`` on the pre-step state, ``done`` uses the reset convention
  (``done[t]``: state ``t`` starts a new episode), ``mask`` is all True, ``level_rngs`` is a fake
  per-level key.
* ``flat_s/``: the same transitions flattened, 2 shards of shape ``(n,)`` (flat layout).
* ``reference_loaders.npz``: what ``kinetix.data`` 3.0.2 returns on them with fixed seeds
  (trajectory batches, validation batch, flat batches, ``length``, shard order), every
  ``EnvState`` leaf under ``<prefix>/env_state/<field path>``.

Total on disk is well under 2 MB.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import zarr  # noqa: E402
from numcodecs import Blosc  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (before kinetix.render/util: circular import)
from kinetix.data.bc_utils import get_valid_action_mask  # noqa: E402
from kinetix.data.data_utils import ShuffledDatasetManager, TrajectoryDatasetManager  # noqa: E402
from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import BlindObservations, MultiDiscreteActions  # noqa: E402
from kinetix.util.saving import load_from_json_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "packages" / "kinetix-data" / "tests" / "data" / "released"
T = 256
LEVELS = [
    "h0_weak_thrust",
    "h1_thrust_over_ball",
    "h2_one_wheel_car",
    "h3_point_the_thruster",
    "h4_thrust_aim",
    "h5_rotate_fall",
    "h6_unicycle_right",
    "h7_unicycle_left",
    "h8_unicycle_balance",
    "h9_explode_then_thrust_over",
]
N_EXTRA = 6  # levels rolled out a second time with another action seed
TRAJ_SHARDS = {"shard_000": (0, 5, 1), "shard_001": (5, 9, 2), "shard_002": (9, 13, 1),
               "shard_003": (13, 16, 1), "shard_004_empty": (0, 0, 1)}  # fmt: skip
FLAT_SHARDS = {"part_a": (0, 9), "part_b": (9, 16)}  # trajectory ranges, flattened


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """Map every leaf of ``tree`` to ``prefix + "a/b/c"`` (its attribute path)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[prefix + name] = np.asarray(leaf)
    return out


def rollouts() -> dict[str, np.ndarray]:
    states, static = [], None
    for name in LEVELS:
        state, static_i, _ = load_from_json_file(f"s/{name}.json")
        static = static_i if static is None else static
        assert static_i == static, f"{name}: static params differ"
        states.append(state)
    states = states + states[:N_EXTRA]
    levels = jax.tree.map(lambda *x: jnp.stack(x), *states)
    params = EnvParams()
    nmb, ntb = static.num_motor_bindings, static.num_thruster_bindings
    dims = jnp.array([3] * nmb + [2] * ntb)

    env = KinetixEnv(
        action_type=MultiDiscreteActions(params, static),
        observation_type=BlindObservations(params, static),
        static_env_params=static,
        auto_reset=True,
    )

    def one(level, key):
        _, state = env.reset(key, params, override_reset_state=level)

        def body(carry, key):
            state, action, last_done = carry
            k_change, k_new, k_step = jax.random.split(key, 3)
            fresh = jnp.floor(jax.random.uniform(k_new, (nmb + ntb,)) * dims).astype(jnp.int32)
            change = jax.random.uniform(k_change) < 0.1
            action = jnp.where(change, fresh, action)
            _, next_state, _, done, _ = env.step(
                k_step, state, action, params, override_reset_state=level
            )
            return (next_state, action, done), (state, action, last_done)

        init_action = jnp.floor(jax.random.uniform(key, (nmb + ntb,)) * dims).astype(jnp.int32)
        _, (traj, actions, dones) = jax.lax.scan(
            body, (state, init_action, jnp.array(False)), jax.random.split(key, T)
        )
        return traj, actions, dones

    keys = jax.random.split(jax.random.PRNGKey(7), len(states))
    traj, actions, dones = jax.jit(jax.vmap(one))(levels, keys)
    n = actions.shape[0]
    flat_state = jax.tree.map(lambda x: x.reshape((n * T,) + x.shape[2:]), traj)
    mask = get_valid_action_mask(flat_state, static, actions.reshape(n * T, -1))
    fields = flatten(traj, "env_state/")
    fields["action"] = np.asarray(actions, np.int32)
    fields["action_mask"] = np.asarray(mask).reshape(n, T, -1)
    fields["done"] = np.asarray(dones, bool)
    fields["mask"] = np.ones((n, T), bool)
    fields["level_rngs"] = np.broadcast_to(
        np.asarray(
            jax.random.key_data(keys) if hasattr(jax.random, "key_data") else keys, np.uint32
        )[:, None],
        (n, T, 2),
    ).copy()
    return fields


def to_records(fields: dict[str, np.ndarray], lead: int) -> np.ndarray:
    names = sorted(fields)
    dtype = np.dtype([(k, fields[k].dtype, fields[k].shape[lead:]) for k in names])
    rec = np.zeros(fields["action"].shape[:lead], dtype)
    for k in names:
        rec[k] = fields[k]
    return rec


def write(fields: dict[str, np.ndarray]) -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    compressor = Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)
    traj = to_records(fields, 2)[:, :, None]  # (N, T, 1)
    group = zarr.open_group(str(OUT / "traj_s"), mode="w")
    for name, (a, b, rows_per_chunk) in TRAJ_SHARDS.items():
        arr = group.create_dataset(
            name, shape=(b - a, T, 1), chunks=(rows_per_chunk, T, 1), dtype=traj.dtype,
            compressor=compressor,
        )  # fmt: skip
        if b > a:
            arr[:] = traj[a:b]
    flat = to_records(fields, 2).reshape(-1)
    group = zarr.open_group(str(OUT / "flat_s"), mode="w")
    for name, (a, b) in FLAT_SHARDS.items():
        part = flat[a * T : b * T]
        arr = group.create_dataset(
            name, shape=part.shape, chunks=(512,), dtype=part.dtype, compressor=compressor
        )
        arr[:] = part


def batch_dict(batch, prefix: str) -> dict[str, np.ndarray]:
    out = {
        f"{prefix}/{k}": np.asarray(getattr(batch, k)) for k in ("action", "mask", "action_mask")
    }
    if batch.done is not None:
        out[f"{prefix}/done"] = np.asarray(batch.done)
    out.update(flatten(batch.env_state, f"{prefix}/env_state/"))
    return out


def record_loaders() -> None:
    out: dict[str, np.ndarray] = {}
    meta = {}
    manager = TrajectoryDatasetManager(
        str(OUT / "traj_s"), batch_size=4, seed=0, n_val_shards=1, val_batch_size=3
    )
    meta["traj"] = {"batch_size": 4, "seed": 0, "n_val_shards": 1, "val_batch_size": 3,
                    "length": int(manager.length), "shard_names": list(manager.shard_names),
                    "all_shard_names": list(manager.all_shard_names)}  # fmt: skip
    for i in range(3):
        out.update(batch_dict(manager.load_next_batch(), f"traj_batch{i}"))
    out.update(batch_dict(manager.validation_batch, "traj_val"))
    manager = ShuffledDatasetManager(str(OUT / "flat_s"), batch_size=64, seed=3)
    meta["flat"] = {"batch_size": 64, "seed": 3, "length": int(manager.length),
                    "shard_names": list(manager.shard_names)}  # fmt: skip
    for i in range(2):
        out.update(batch_dict(manager.load_next_batch(), f"flat_batch{i}"))
    out["meta"] = np.asarray(json.dumps(meta))
    np.savez_compressed(OUT / "reference_loaders.npz", **out)
    print(json.dumps(meta, indent=1))


def main() -> None:
    fields = rollouts()
    write(fields)
    record_loaders()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
