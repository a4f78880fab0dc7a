"""Our own trajectory dataset format: a ``dataset.json`` manifest plus one zarr v3 array per field.

Layout of a dataset rooted at any tensorstore kvstore (a local directory, ``file://``, ``gs://``,
``s3://``, ``http(s)://``)::

    dataset.json                      manifest (the only source of truth for the row count)
    zarr.json                         zarr v3 group (so generic zarr tools can browse it)
    action/zarr.json, action/c/...    one zarr v3 array per field, shape (num_trajectories, T, ...)
    env_state/polygon/position/...    "/"-joined EnvState attribute paths, as in the released data
    level_id/...                      optional per-trajectory fields, shape (num_trajectories, ...)

Every array uses the ``sharding_indexed`` codec: inner chunks of ``chunk_trajectories``
trajectories (zstd + crc32c) packed into shard files of ``shard_trajectories`` trajectories, so a
split is a few hundred large files rather than millions of small ones. Rows at or beyond the
manifest's ``num_trajectories`` are uncommitted (a writer killed mid-append) and never read.

Example:
    >>> from kinetix.data.format import Manifest, read_manifest  # doctest: +SKIP
    >>> m = read_manifest("/data/my_dataset")                   # doctest: +SKIP
    >>> m.num_trajectories, m.trajectory_length                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorstore as ts

from kinetix.data.fields import ENV_STATE_PREFIX, expected_fields
from kinetix.environment import StaticEnvParams

__all__ = [
    "FORMAT_NAME",
    "MANIFEST_NAME",
    "dataset_context",
    "SCHEMA_VERSION",
    "DatasetFormatError",
    "FieldSpec",
    "Manifest",
    "env_state_field_specs",
    "field_array_spec",
    "is_our_format",
    "kvstore_spec",
    "read_manifest",
    "shard_keys",
    "static_env_params_from_dict",
    "static_env_params_to_dict",
    "write_manifest",
]

FORMAT_NAME = "kinetix-trajectories"
SCHEMA_VERSION = 1
MANIFEST_NAME = "dataset.json"

#: Fields stored per step ``(N, T, ...)``; any other top-level batch key is per trajectory.
PER_STEP_NAMES = frozenset({"action", "action_mask", "done", "mask", "level_rngs", "reward"})
DONE_CONVENTIONS = ("reset", "terminal")

_MAX_CHUNKS_PER_SHARD = 1024
_DEFAULT_SHARD_BYTES = 1 << 30  # raw bytes per shard file (~50 MB on disk at ~20x compression)


class DatasetFormatError(ValueError):
    """A dataset is missing a file or field, or its contents do not match what was expected."""


# --------------------------------------------------------------------------- locations


def kvstore_spec(path_or_url: str | os.PathLike) -> dict[str, Any]:
    """The tensorstore kvstore spec (a directory, with a trailing ``/``) of a dataset location.

    Args:
        path_or_url: a local path, or a URL tensorstore understands (``file://``, ``gs://``,
            ``s3://``, ``http://``, ``https://``, ``memory://``).

    Example:
        >>> kvstore_spec("/tmp/ds")
        {'driver': 'file', 'path': '/tmp/ds/'}
    """
    text = os.fspath(path_or_url)
    if "://" not in text:
        return {"driver": "file", "path": os.path.abspath(text).rstrip("/") + "/"}
    if not text.endswith("/"):
        text += "/"
    try:
        return ts.KvStore.Spec(text).to_json()
    except Exception as err:  # tensorstore raises ValueError subclasses with terse messages
        raise DatasetFormatError(f"cannot parse dataset location {text!r}: {err}") from err


def _join(spec: Mapping[str, Any], key: str) -> dict[str, Any]:
    out = dict(spec)
    out["path"] = str(spec.get("path", "")) + key
    return out


def _describe(spec: Mapping[str, Any]) -> str:
    if spec.get("driver") == "http":
        return f"{spec['base_url']}{spec.get('path', '')}"
    if spec.get("driver") == "file":
        return str(spec["path"])
    return f"{spec.get('driver')}://{spec.get('bucket', '')}/{spec.get('path', '')}"


def dataset_context(cache_bytes: int = 0) -> ts.Context:
    """A tensorstore context for one dataset: a decoded-chunk cache pool, and bounded HTTP
    retries so an unreachable server fails in seconds rather than retrying for minutes."""
    return ts.Context(
        {
            "cache_pool": {"total_bytes_limit": int(cache_bytes)},
            "http_request_retries": {
                "max_retries": 4,
                "initial_delay": "0.1s",
                "max_delay": "1s",
            },
        }
    )


def _open_kv(spec: Mapping[str, Any]) -> ts.KvStore:
    return ts.KvStore.open(dict(spec), context=dataset_context()).result()


# --------------------------------------------------------------------------- static params


def static_env_params_to_dict(static_env_params: StaticEnvParams) -> dict[str, Any]:
    """A JSON-friendly dict of every ``StaticEnvParams`` field."""
    out = dataclasses.asdict(static_env_params)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def static_env_params_from_dict(data: Mapping[str, Any]) -> StaticEnvParams:
    """Inverse of :func:`static_env_params_to_dict` (unknown keys raise a clear error)."""
    names = {f.name: f for f in dataclasses.fields(StaticEnvParams)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise DatasetFormatError(f"static_env_params has unknown keys {unknown}")
    kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return StaticEnvParams(**kwargs)


# --------------------------------------------------------------------------- env_state fields


def env_state_field_specs(static_env_params: StaticEnvParams) -> dict[str, tuple[tuple, str]]:
    """``{"env_state/<path>": (per-step shape, dtype name)}`` for a static size, in pytree order.

    Example:
        >>> from kinetix.environment import static_env_params_from_size
        >>> env_state_field_specs(static_env_params_from_size("s"))["env_state/polygon/position"]
        ((5, 2), 'float32')
    """
    return {
        name: (tuple(shape), np.dtype(dtype).name)
        for name, (dtype, shape) in expected_fields(static_env_params).items()
        if name.startswith(ENV_STATE_PREFIX)
    }


# --------------------------------------------------------------------------- manifest


@dataclasses.dataclass(frozen=True)
class FieldSpec:
    """One stored field.

    Attributes:
        name: ``"action"``, ``"env_state/polygon/position"``, ``"level_id"``, ...
        dtype: numpy dtype name (``"float32"``, ``"int32"``, ``"bool"``, ``"uint32"``, ...).
        shape: the shape of one step (``per_step``) or of one trajectory's value.
        per_step: stored as ``(N, T, *shape)`` if True, else ``(N, *shape)``.
        chunk_trajectories: trajectories per inner chunk (the decode unit).
        shard_trajectories: trajectories per shard file (a multiple of ``chunk_trajectories``).
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    per_step: bool
    chunk_trajectories: int
    shard_trajectories: int

    def array_shape(self, num_trajectories: int, trajectory_length: int) -> tuple[int, ...]:
        lead = (num_trajectories, trajectory_length) if self.per_step else (num_trajectories,)
        return lead + tuple(self.shape)

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["shape"] = list(self.shape)
        return d

    @staticmethod
    def from_json(d: Mapping[str, Any]) -> FieldSpec:
        try:
            return FieldSpec(
                name=str(d["name"]),
                dtype=np.dtype(d["dtype"]).name,
                shape=tuple(int(x) for x in d["shape"]),
                per_step=bool(d["per_step"]),
                chunk_trajectories=int(d["chunk_trajectories"]),
                shard_trajectories=int(d["shard_trajectories"]),
            )
        except (KeyError, TypeError) as err:
            raise DatasetFormatError(f"malformed field entry in manifest: {d!r} ({err})") from err


def make_field_spec(
    name: str,
    dtype: Any,
    shape: Sequence[int],
    per_step: bool,
    trajectory_length: int,
    chunk_trajectories: int | None = None,
    shard_bytes: int = _DEFAULT_SHARD_BYTES,
) -> FieldSpec:
    """A :class:`FieldSpec` with chunk/shard sizes chosen from the raw bytes of one trajectory.

    Shards target ``shard_bytes`` raw bytes each, so big fields get many shards and small ones
    (``done``, ``level_id``) one shard for the whole dataset.
    """
    dtype = np.dtype(dtype)
    per_traj = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
    if per_step:
        per_traj *= trajectory_length
    if chunk_trajectories is None:
        chunk_trajectories = 32 if per_step else 4096
    # The shard index costs 16 bytes per inner chunk and is rewritten with the shard: cap it.
    chunks = min(
        _MAX_CHUNKS_PER_SHARD, max(1, shard_bytes // max(1, per_traj * chunk_trajectories))
    )
    shard = chunks * chunk_trajectories
    return FieldSpec(
        name=name,
        dtype=dtype.name,
        shape=tuple(int(s) for s in shape),
        per_step=per_step,
        chunk_trajectories=int(chunk_trajectories),
        shard_trajectories=int(shard),
    )


@dataclasses.dataclass(frozen=True)
class Manifest:
    """Contents of ``dataset.json``.

    Attributes:
        num_trajectories: committed trajectories (rows ``[0, num_trajectories)`` of every array).
        trajectory_length: ``T``, stored steps per trajectory.
        fields: the stored fields, by name.
        static_env_params: static sizes of every stored state.
        env_size: ``"s"``, ``"m"``, ``"l"`` or None for a custom size.
        action_type: ``"multi_discrete"``, ``"continuous"`` or ``"discrete"``.
        done_convention: ``"reset"`` (``done[t]``: state ``t`` starts a new episode, PPO's
            ``last_done``) or ``"terminal"`` (``done[t]``: the episode ended after action ``t``).
        env_params: the ``EnvParams`` fields used to collect (JSON), or None.
        engine_version: versions of the packages that produced the states.
        provenance: free-form JSON (who/what/when collected the data, source shards, ...).
        compression: ``{"codec": "zstd", "level": 3}`` (or ``{"codec": "none"}``).
    """

    num_trajectories: int
    trajectory_length: int
    fields: dict[str, FieldSpec]
    static_env_params: StaticEnvParams
    env_size: str | None = None
    action_type: str = "multi_discrete"
    done_convention: str = "reset"
    env_params: dict[str, Any] | None = None
    engine_version: dict[str, str] = dataclasses.field(default_factory=dict)
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    compression: dict[str, Any] = dataclasses.field(
        default_factory=lambda: {"codec": "zstd", "level": 3}
    )
    schema_version: int = SCHEMA_VERSION

    @property
    def total_steps(self) -> int:
        return self.num_trajectories * self.trajectory_length

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "schema_version": self.schema_version,
            "num_trajectories": self.num_trajectories,
            "trajectory_length": self.trajectory_length,
            "total_steps": self.total_steps,
            "env_size": self.env_size,
            "static_env_params": static_env_params_to_dict(self.static_env_params),
            "action_type": self.action_type,
            "done_convention": self.done_convention,
            "env_params": self.env_params,
            "engine_version": dict(self.engine_version),
            "compression": dict(self.compression),
            "fields": [f.to_json() for f in self.fields.values()],
            "provenance": self.provenance,
        }

    @staticmethod
    def from_json(data: Mapping[str, Any], where: str = "dataset.json") -> Manifest:
        """Parse and validate a manifest dict (errors name ``where`` and the bad entry)."""
        if data.get("format") != FORMAT_NAME:
            raise DatasetFormatError(
                f"{where}: format is {data.get('format')!r}, expected {FORMAT_NAME!r}"
            )
        version = data.get("schema_version")
        if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
            raise DatasetFormatError(
                f"{where}: schema_version {version!r} is not supported "
                f"(this kinetix-data reads 1..{SCHEMA_VERSION})"
            )
        try:
            fields = [FieldSpec.from_json(f) for f in data["fields"]]
            manifest = Manifest(
                num_trajectories=int(data["num_trajectories"]),
                trajectory_length=int(data["trajectory_length"]),
                fields={f.name: f for f in fields},
                static_env_params=static_env_params_from_dict(data["static_env_params"]),
                env_size=data.get("env_size"),
                action_type=str(data.get("action_type", "multi_discrete")),
                done_convention=str(data.get("done_convention", "reset")),
                env_params=data.get("env_params"),
                engine_version=dict(data.get("engine_version", {})),
                provenance=dict(data.get("provenance", {})),
                compression=dict(data.get("compression", {"codec": "zstd", "level": 3})),
                schema_version=version,
            )
        except KeyError as err:
            raise DatasetFormatError(f"{where}: required key {err} is missing") from err
        if manifest.num_trajectories < 0 or manifest.trajectory_length < 1:
            raise DatasetFormatError(
                f"{where}: num_trajectories={manifest.num_trajectories}, trajectory_length="
                f"{manifest.trajectory_length}; expected >= 0 and >= 1"
            )
        if manifest.done_convention not in DONE_CONVENTIONS:
            raise DatasetFormatError(
                f"{where}: done_convention {manifest.done_convention!r} not in {DONE_CONVENTIONS}"
            )
        manifest.check_env_state_fields(where)
        return manifest

    def check_env_state_fields(self, where: str = "dataset.json") -> None:
        """Raise unless every ``env_state/*`` field matches the static sizes (and none is missing)."""
        expected = env_state_field_specs(self.static_env_params)
        for name, (shape, dtype) in expected.items():
            spec = self.fields.get(name)
            if spec is None:
                raise DatasetFormatError(f"{where}: field {name!r} is missing from the manifest")
            if spec.shape != shape or spec.dtype != dtype or not spec.per_step:
                raise DatasetFormatError(
                    f"{where}: field {name!r} is {spec.dtype}{list(spec.shape)} "
                    f"(per_step={spec.per_step}); static_env_params imply per-step {dtype}{list(shape)}"
                )
        extra = sorted(n for n in self.fields if n.startswith("env_state/") and n not in expected)
        if extra:
            raise DatasetFormatError(f"{where}: unexpected env_state fields {extra}")


def read_manifest(location: str | os.PathLike | Mapping[str, Any]) -> Manifest:
    """Read and validate ``dataset.json`` at a dataset location (path, URL or kvstore spec).

    Raises:
        DatasetFormatError: the manifest is missing, unreadable or invalid.
    """
    spec = location if isinstance(location, Mapping) else kvstore_spec(location)
    where = _describe(spec) + MANIFEST_NAME
    try:
        kv = _open_kv(spec)
        result = kv.read(MANIFEST_NAME).result()
    except Exception as err:
        raise DatasetFormatError(f"cannot read {where}: {err}") from err
    if result.state != "value":
        raise DatasetFormatError(
            f"{where} not found: expected a kinetix-data dataset manifest at that location"
        )
    try:
        data = json.loads(bytes(result.value).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetFormatError(f"{where} is not valid JSON: {err}") from err
    return Manifest.from_json(data, where)


def write_manifest(location: str | os.PathLike | Mapping[str, Any], manifest: Manifest) -> None:
    """Replace ``dataset.json`` in one kvstore write (atomic on file, GCS and S3 stores)."""
    spec = location if isinstance(location, Mapping) else kvstore_spec(location)
    kv = _open_kv(spec)
    payload = json.dumps(manifest.to_json(), indent=1).encode("utf-8")
    kv.write(MANIFEST_NAME, payload).result()


def is_our_format(location: str | os.PathLike) -> bool:
    """Whether ``dataset.json`` exists at ``location`` (no validation)."""
    try:
        return _open_kv(kvstore_spec(location)).read(MANIFEST_NAME).result().state == "value"
    except Exception:
        return False


# --------------------------------------------------------------------------- zarr v3 arrays


def _codecs(compression: Mapping[str, Any], itemsize: int) -> list[dict[str, Any]]:
    codecs: list[dict[str, Any]] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    codec = compression.get("codec", "zstd")
    if codec == "zstd":
        level = int(compression.get("level", 3))
        codecs.append({"name": "zstd", "configuration": {"level": level, "checksum": False}})
    elif codec == "blosc":
        codecs.append(
            {
                "name": "blosc",
                "configuration": {
                    "cname": compression.get("cname", "lz4"),
                    "clevel": int(compression.get("level", 5)),
                    "shuffle": "shuffle",
                    "typesize": int(itemsize),
                    "blocksize": 0,
                },
            }
        )
    elif codec != "none":
        raise DatasetFormatError(f"unknown compression codec {codec!r}; expected zstd|blosc|none")
    codecs.append({"name": "crc32c"})  # lets `verify` catch flipped bits per chunk
    return codecs


def field_array_spec(
    location: Mapping[str, Any],
    field: FieldSpec,
    num_trajectories: int,
    trajectory_length: int,
    compression: Mapping[str, Any],
) -> dict[str, Any]:
    """The tensorstore ``zarr3`` spec (with metadata, for creating) of one field's array."""
    shape = list(field.array_shape(num_trajectories, trajectory_length))
    rest = [max(1, x) for x in shape[1:]]  # zero-length entity axes (no circle pairs) allowed
    dtype = np.dtype(field.dtype)
    fill: Any = False if dtype == np.bool_ else 0
    return {
        "driver": "zarr3",
        "kvstore": _join(location, field.name + "/"),
        # Every committed shard must exist, even all-zero ones: a missing file is damage.
        "store_data_equal_to_fill_value": True,
        "metadata": {
            "shape": shape,
            "data_type": dtype.name,
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": [field.shard_trajectories, *rest]},
            },
            "codecs": [
                {
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": [field.chunk_trajectories, *rest],
                        "codecs": _codecs(compression, dtype.itemsize),
                        "index_codecs": [
                            {"name": "bytes", "configuration": {"endian": "little"}},
                            {"name": "crc32c"},
                        ],
                        "index_location": "end",
                    },
                }
            ],
            "fill_value": fill,
            "attributes": {"kinetix_field": field.to_json()},
        },
    }


def shard_keys(field: FieldSpec, num_trajectories: int) -> list[str]:
    """Keys (relative to the dataset root) of the shard files holding committed rows of a field."""
    if 0 in field.shape:
        return []  # an empty entity axis (e.g. no circle-circle pairs) stores nothing
    n_shards = -(-num_trajectories // field.shard_trajectories)
    tail = "/0" * (len(field.shape) + (2 if field.per_step else 1) - 1)
    return [f"{field.name}/c/{i}{tail}" for i in range(n_shards)]


def group_keys(field_names: Sequence[str]) -> list[str]:
    """``zarr.json`` keys of the implicit groups (root, ``env_state``, ``env_state/polygon``...)."""
    groups = {""}
    for name in field_names:
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            groups.add("/".join(parts[:i]) + "/")
    return sorted(g + "zarr.json" for g in groups)
