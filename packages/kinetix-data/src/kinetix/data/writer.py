"""``DatasetWriter``: append whole trajectories to a dataset in our format, atomically.

Each :meth:`DatasetWriter.append` writes the new rows of every field array first and replaces
``dataset.json`` last. The manifest's ``num_trajectories`` is the only commit point, so a writer
killed at any moment leaves the previously committed dataset readable; rows it wrote past that
count are invisible and get overwritten when a new writer resumes. With ``dedup_key`` (for example
``"level_id"``) a resumed collection loop can skip trajectories it already stored.

Example:
    >>> from kinetix.environment import static_env_params_from_size
    >>> from kinetix.data.writer import DatasetWriter
    >>> static = static_env_params_from_size("s")
    >>> with DatasetWriter("/tmp/my_ds", static, env_size="s", dedup_key="level_id") as w:  # doctest: +SKIP
    ...     w.append({"action": a, "done": d, "env_state": states, "level_id": ids})
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorstore as ts

from kinetix.data.fields import env_state_to_fields
from kinetix.data.format import (
    PER_STEP_NAMES,
    DatasetFormatError,
    FieldSpec,
    Manifest,
    dataset_context,
    env_state_field_specs,
    field_array_spec,
    group_keys,
    is_our_format,
    kvstore_spec,
    make_field_spec,
    read_manifest,
    static_env_params_to_dict,
    write_manifest,
)
from kinetix.environment import StaticEnvParams, static_env_params_from_size

__all__ = ["DatasetWriter", "flatten_batch", "package_versions"]


def package_versions() -> dict[str, str]:
    """Installed versions of the packages whose code shaped the stored states."""
    out = {}
    for name in ("jax2d", "kinetix-env", "kinetix-data", "jax"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def _size_name(static_env_params: StaticEnvParams) -> str | None:
    for size in ("s", "m", "l"):
        if static_env_params_from_size(size) == static_env_params:
            return size
    return None


def flatten_batch(batch: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """``{"action", "done", "env_state": EnvState, ...}`` to flat ``{field name: numpy array}``.

    ``env_state`` may be an ``EnvState`` pytree or already-flat ``env_state/<path>`` keys.
    """
    out: dict[str, np.ndarray] = {}
    for key, value in batch.items():
        if key == "env_state" and not isinstance(value, np.ndarray):
            out.update(env_state_to_fields(value))
        else:
            out[key] = np.asarray(value)
    return out


class DatasetWriter:
    """Append trajectories to a dataset in our format (creating it on first use).

    Args:
        path: local directory or tensorstore URL (``gs://``, ``s3://``, ``file://``...).
        static_env_params: static sizes of the stored states; must match an existing dataset.
        env_size: ``"s"``/``"m"``/``"l"``, or None to infer it from ``static_env_params``.
        provenance: free-form JSON stored in the manifest (collection config, policy, seed...).
        fields: optional explicit field layout ``{name: FieldSpec}``; by default inferred from the
            first batch (``action``, ``action_mask``, ``done``, ``mask``, ``level_rngs``,
            ``reward`` and ``env_state/*`` are per step, every other key per trajectory).
        action_type: stored in the manifest; None infers it (integer actions: multi_discrete,
            float: continuous).
        done_convention: ``"reset"`` or ``"terminal"`` (see :class:`~kinetix.data.format.Manifest`).
        env_params: JSON-able dict of the ``EnvParams`` used (lets ``verify --replay`` reproduce).
        dedup_key: a per-trajectory field (``"level_id"``, ``"seed"``); rows whose value is
            already stored are skipped by :meth:`append`.
        compression: ``{"codec": "zstd", "level": 3}`` (default), ``{"codec": "blosc"}`` or
            ``{"codec": "none"}``.
        chunk_trajectories: trajectories per inner chunk of per-step fields (default 32).
        shard_bytes: target raw bytes per shard file (default 1 GiB).

    Raises:
        DatasetFormatError: ``path`` holds a dataset with different static sizes, length or fields.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        static_env_params: StaticEnvParams,
        env_size: str | None = None,
        provenance: Mapping[str, Any] | None = None,
        fields: Mapping[str, FieldSpec] | None = None,
        *,
        action_type: str | None = None,
        done_convention: str = "reset",
        env_params: Mapping[str, Any] | None = None,
        dedup_key: str | None = None,
        compression: Mapping[str, Any] | None = None,
        chunk_trajectories: int | None = None,
        shard_bytes: int = 1 << 30,
    ):
        self.location = kvstore_spec(path)
        self.path = os.fspath(path)
        self.static_env_params = static_env_params
        self.dedup_key = dedup_key
        self._chunk_trajectories = chunk_trajectories
        self._shard_bytes = int(shard_bytes)
        self._arrays: dict[str, ts.TensorStore] = {}
        self._keys: set[Any] = set()
        self._closed = False
        self._context = dataset_context()
        self._defaults = dict(
            env_size=env_size or _size_name(static_env_params),
            action_type=action_type,
            done_convention=done_convention,
            env_params=dict(env_params) if env_params is not None else None,
            provenance=dict(provenance or {}),
            compression=dict(compression or {"codec": "zstd", "level": 3}),
        )
        self._manifest: Manifest | None = None
        if is_our_format(path):
            self._resume(read_manifest(self.location))
        self._given_fields = dict(fields) if fields is not None else None

    # ------------------------------------------------------------------ properties

    @property
    def num_trajectories(self) -> int:
        """Committed trajectories (those a reader opening the dataset now would see)."""
        return 0 if self._manifest is None else self._manifest.num_trajectories

    @property
    def manifest(self) -> Manifest | None:
        """The last committed manifest, or None before the first append."""
        return self._manifest

    def __contains__(self, key: Any) -> bool:
        """Whether a trajectory with this ``dedup_key`` value is already stored."""
        return _hashable(np.asarray(key)) in self._keys

    def __len__(self) -> int:
        return self.num_trajectories

    # ------------------------------------------------------------------ setup

    def _resume(self, manifest: Manifest) -> None:
        if manifest.static_env_params != self.static_env_params:
            old, new = (
                static_env_params_to_dict(manifest.static_env_params),
                static_env_params_to_dict(self.static_env_params),
            )
            diff = {k: (old[k], new[k]) for k in old if old[k] != new[k]}
            raise DatasetFormatError(
                f"{self.path}: existing dataset has different static_env_params "
                f"(field: (stored, given)) {diff}"
            )
        self._manifest = manifest
        for field in manifest.fields.values():
            self._arrays[field.name] = self._open_existing(field, manifest)
        if self.dedup_key is not None:
            if self.dedup_key not in manifest.fields:
                raise DatasetFormatError(
                    f"{self.path}: dedup_key {self.dedup_key!r} is not a stored field "
                    f"(fields: {sorted(n for n in manifest.fields if '/' not in n)})"
                )
            if manifest.num_trajectories:
                stored = self._arrays[self.dedup_key][: manifest.num_trajectories].read().result()
                self._keys = {_hashable(row) for row in stored}

    def _open_existing(self, field: FieldSpec, manifest: Manifest) -> ts.TensorStore:
        spec = field_array_spec(
            self.location, field, 0, manifest.trajectory_length, manifest.compression
        )
        spec.pop("metadata")
        try:
            return ts.open(spec, open=True, context=self._context).result()
        except Exception as err:
            raise DatasetFormatError(
                f"{self.path}: cannot open array of field {field.name!r} "
                f"({field.name}/zarr.json): {err}"
            ) from err

    def _create(self, fields: dict[str, FieldSpec], trajectory_length: int | None) -> None:
        if trajectory_length is None:
            raise DatasetFormatError("trajectory_length is unknown; append a batch first")
        action = fields.get("action")
        action_type = self._defaults["action_type"]
        if action_type is None:
            is_int = action is not None and np.issubdtype(np.dtype(action.dtype), np.integer)
            action_type = "multi_discrete" if is_int else "continuous"
        manifest = Manifest(
            num_trajectories=0,
            trajectory_length=trajectory_length,
            fields=fields,
            static_env_params=self.static_env_params,
            env_size=self._defaults["env_size"],
            action_type=action_type,
            done_convention=self._defaults["done_convention"],
            env_params=self._defaults["env_params"],
            engine_version=package_versions(),
            provenance=self._defaults["provenance"],
            compression=self._defaults["compression"],
        )
        manifest.check_env_state_fields(self.path)
        if self.dedup_key is not None and self.dedup_key not in fields:
            raise DatasetFormatError(f"dedup_key {self.dedup_key!r} is not among the fields")
        if self.dedup_key is not None and fields[self.dedup_key].per_step:
            raise DatasetFormatError(f"dedup_key {self.dedup_key!r} must be a per-trajectory field")
        self._manifest = manifest
        futures = [
            ts.open(
                field_array_spec(self.location, f, 0, trajectory_length, manifest.compression),
                create=True,
                delete_existing=True,
                context=self._context,
            )
            for f in fields.values()
        ]
        for f, fut in zip(fields.values(), futures):
            self._arrays[f.name] = fut.result()
        kv = ts.KvStore.open(self.location, context=self._context).result()
        group = b'{"zarr_format": 3, "node_type": "group", "attributes": {}}'
        for key in group_keys(list(fields)):
            kv.write(key, group).result()
        write_manifest(self.location, manifest)

    def _infer_fields(self, flat: Mapping[str, np.ndarray]) -> tuple[dict[str, FieldSpec], int]:
        if "done" not in flat or flat["done"].ndim < 2:
            raise DatasetFormatError(
                "batch needs 'done' with shape (num_trajectories, T) to define T; "
                f"got {None if 'done' not in flat else flat['done'].shape}"
            )
        length = int(flat["done"].shape[1])
        specs = {}
        for name, arr in flat.items():
            per_step = name.startswith("env_state/") or name in PER_STEP_NAMES
            sub = arr.shape[2:] if per_step else arr.shape[1:]
            specs[name] = make_field_spec(
                name,
                arr.dtype,
                sub,
                per_step,
                length,
                chunk_trajectories=self._chunk_trajectories if per_step else None,
                shard_bytes=self._shard_bytes,
            )
        return dict(sorted(specs.items())), length

    # ------------------------------------------------------------------ append

    def _validate(self, flat: dict[str, np.ndarray], manifest: Manifest) -> int:
        missing = sorted(set(manifest.fields) - set(flat))
        extra = sorted(set(flat) - set(manifest.fields))
        if missing or extra:
            raise DatasetFormatError(
                f"batch fields do not match the dataset at {self.path}: missing {missing}, "
                f"unexpected {extra}"
            )
        n = None
        for name, field in manifest.fields.items():
            arr = flat[name]
            if n is None:
                n = int(arr.shape[0]) if arr.ndim else -1
            expected = field.array_shape(n, manifest.trajectory_length)
            if tuple(arr.shape) != expected:
                raise DatasetFormatError(
                    f"field {name!r}: batch shape {tuple(arr.shape)}, expected {expected} "
                    f"(num_trajectories, {'T, ' if field.per_step else ''}{field.shape}) "
                    f"for the dataset at {self.path}"
                )
            if not np.can_cast(arr.dtype, field.dtype, casting="same_kind"):
                raise DatasetFormatError(
                    f"field {name!r}: batch dtype {arr.dtype} cannot be stored as {field.dtype}"
                )
            flat[name] = np.ascontiguousarray(arr, dtype=field.dtype)
        return int(n or 0)

    def append(self, batch: Mapping[str, Any]) -> int:
        """Append a batch of whole trajectories; returns how many rows were added.

        Args:
            batch: ``action (N, T, A)``, ``done (N, T)``, ``env_state`` (an ``EnvState`` with
                leaves ``(N, T, ...)``), and optional extra fields (per-step ones named in the
                class doc, others per trajectory with leading axis ``N``).

        Rows whose ``dedup_key`` value is already stored (or repeated in the batch) are dropped.
        Nothing is visible to readers until the new manifest is written; if this raises, the
        committed dataset is unchanged.
        """
        if self._closed:
            raise RuntimeError(f"DatasetWriter for {self.path} is closed")
        flat = flatten_batch(batch)
        if self._manifest is None:
            specs, length = self._infer_fields(flat)
            if self._given_fields is not None:
                specs = dict(self._given_fields)
            self._check_env_state(flat)
            self._validate(dict(flat), _probe_manifest(specs, length, self.static_env_params))
            self._create(specs, length)
        manifest = self._manifest
        assert manifest is not None
        self._check_env_state(flat)
        n = self._validate(flat, manifest)
        if self.dedup_key is not None:
            keep, seen = [], set()
            for i, row in enumerate(flat[self.dedup_key]):
                key = _hashable(row)
                if key not in self._keys and key not in seen:
                    keep.append(i)
                    seen.add(key)
            if len(keep) < n:
                flat = {k: v[keep] for k, v in flat.items()}
                n = len(keep)
        if n == 0:
            return 0
        start = manifest.num_trajectories
        stop = start + n
        grow = [name for name in manifest.fields if self._arrays[name].shape[0] < stop]
        resizes = [
            self._arrays[name].resize(
                exclusive_max=[stop] + [None] * (self._arrays[name].rank - 1), expand_only=True
            )
            for name in grow
        ]
        for name, fut in zip(grow, resizes):
            self._arrays[name] = fut.result()
        writes = [self._arrays[name][start:stop].write(flat[name]) for name in manifest.fields]
        for w in writes:
            w.result()
        new = _replace(manifest, num_trajectories=stop)
        write_manifest(self.location, new)
        self._manifest = new
        if self.dedup_key is not None:
            self._keys.update(_hashable(row) for row in flat[self.dedup_key])
        return n

    def _check_env_state(self, flat: Mapping[str, np.ndarray]) -> None:
        expected = env_state_field_specs(self.static_env_params)
        for name, (shape, _) in expected.items():
            arr = flat.get(name)
            if arr is None:
                raise DatasetFormatError(f"batch is missing env_state field {name!r}")
            if tuple(arr.shape[2:]) != shape:
                raise DatasetFormatError(
                    f"field {name!r}: per-step shape {tuple(arr.shape[2:])} does not match "
                    f"static_env_params (expected {shape}); is the batch from another env size?"
                )

    def close(self) -> None:
        """Release the array handles (the dataset is already committed after each append)."""
        self._arrays.clear()
        self._closed = True

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _hashable(row: Any) -> Any:
    arr = np.asarray(row)
    return arr.item() if arr.ndim == 0 else tuple(arr.ravel().tolist())


def _replace(manifest: Manifest, **changes: Any) -> Manifest:
    return dataclasses.replace(manifest, **changes)


def _probe_manifest(
    specs: dict[str, FieldSpec], length: int, static_env_params: StaticEnvParams
) -> Manifest:
    return Manifest(
        num_trajectories=0,
        trajectory_length=length,
        fields=specs,
        static_env_params=static_env_params,
    )
