"""Convert between the released format (zarr v2 record shards) and ours (zarr v3 per field).

``released_to_ours`` keeps every stored value (all released fields are per step) and records the
source shard names, sizes, chunking and compressor in the manifest's provenance, so
``ours_to_released`` rebuilds the same shards (names, row counts, fields, values: a round trip
is exact in content). A conversion that was interrupted resumes where it stopped.

Example:
    >>> from kinetix.data.convert import released_to_ours, ours_to_released    # doctest: +SKIP
    >>> released_to_ours("./data/10M/s", "./ours/10M/s")                        # doctest: +SKIP
    >>> ours_to_released("./ours/10M/s", "./back/10M/s")                        # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from kinetix.data.action_mask import valid_action_mask_np
from kinetix.data.fields import fields_to_env_state
from kinetix.data.format import DatasetFormatError, Manifest, make_field_spec
from kinetix.data.reader import FormatReader
from kinetix.data.released import open_released, write_released_shard
from kinetix.data.writer import DatasetWriter

__all__ = ["ours_to_released", "released_to_ours", "progress_bar"]

_BLOCK_BYTES = 256 << 20  # raw bytes per append: few rewrites of each partially filled shard


def progress_bar(total: int, desc: str, enabled: bool = True, unit: str = "traj") -> Any:
    """A tqdm bar if tqdm is installed (and ``enabled``), else a plain line-printing stand-in."""
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm(total=total, desc=desc, unit=unit, unit_scale=True)
        except ImportError:
            pass
    return _PlainBar(total, desc, enabled, unit)


class _PlainBar:
    def __init__(self, total: int, desc: str, enabled: bool, unit: str):
        self.total, self.desc, self.enabled, self.unit, self.n = total, desc, enabled, unit, 0
        self._next = 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.enabled and (self.n >= self._next or self.n >= self.total):
            print(f"{self.desc}: {self.n}/{self.total} {self.unit}", flush=True)
            self._next = self.n + max(1, self.total // 20)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _blocks(n: int, per_block: int) -> Iterable[tuple[int, int]]:
    for lo in range(0, n, per_block):
        yield lo, min(n, lo + per_block)


def released_to_ours(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    provenance: dict[str, Any] | None = None,
    compression: dict[str, Any] | None = None,
    shard_bytes: int = 1 << 30,
    progress: bool = True,
) -> Manifest:
    """Convert a released split (local zarr v2 group) to our format at ``dst`` (any location).

    Args:
        src: released split directory (``.zgroup`` at its root).
        dst: destination path or URL; an interrupted conversion to the same ``dst`` resumes.
        provenance: extra provenance merged into the manifest.
        compression, shard_bytes: layout of our format (see :class:`DatasetWriter`).
        progress: show a progress bar.

    Raises:
        DatasetFormatError: flat layout, or ``dst`` holds a dataset converted from other shards.
    """
    rel = open_released(src)
    if rel.layout != "trajectory":
        raise DatasetFormatError(
            f"{src}: flat (per-transition) shards cannot become trajectories; our format stores "
            "(num_trajectories, T, ...) arrays"
        )
    t = int(rel.num_steps)
    shards = [[name, rel.num_records(i)] for i, name in enumerate(rel.shards)]
    info = rel.shard_info(0)
    source = {
        "format": "released zarr v2",
        "path": os.path.abspath(os.fspath(src)),
        "shards": shards,
        "empty_shards": list(rel.empty_shards),
        "chunks": list(info.chunks),
        "compressor": info.metadata.get("compressor"),
        "field_order": list(rel.field_names),
    }
    fields = {}
    for name in rel.field_names:
        sub = rel.step_dtype.fields[name][0]
        fields[name] = make_field_spec(name, sub.base, sub.shape, True, t, shard_bytes=shard_bytes)
    first = rel.read_shard(0, 0, min(rel.num_records(0), 64))
    from kinetix.data.episodes import _detect_convention

    convention = _detect_convention(first["done"], first["env_state/timestep"])
    writer = DatasetWriter(
        dst,
        rel.static_env_params,
        provenance={**(provenance or {}), "converted_from": source},
        fields=fields,
        action_type="multi_discrete",
        done_convention=convention,
        compression=compression,
        shard_bytes=shard_bytes,
    )
    done_rows = writer.num_trajectories
    if done_rows and writer.manifest.provenance.get("converted_from", {}).get("shards") != shards:
        raise DatasetFormatError(
            f"{dst}: already holds a dataset that was not converted from the shards of {src}"
        )
    per_block = max(1, _BLOCK_BYTES // (rel.record_bytes * t))
    total = rel.total_records
    with writer, progress_bar(total, "convert", progress) as bar:
        bar.update(done_rows)
        offset = 0
        for i, (_, count) in enumerate(shards):
            for lo, hi in _blocks(count, per_block):
                if offset + hi <= done_rows:
                    continue
                lo = max(lo, done_rows - offset)
                block = {k: np.asarray(v) for k, v in rel.read_shard(i, lo, hi).items()}
                writer.append(block)
                bar.update(hi - lo)
            offset += count
    assert writer.manifest is not None
    return writer.manifest


def ours_to_released(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    trajectories_per_shard: int = 1024,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> list[str]:
    """Write a dataset in our format as a released-format zarr v2 group at local ``dst``.

    Shard names, sizes, chunking and compressor come from the manifest's ``converted_from``
    provenance when present (exact round trip); otherwise shards are ``shard_00000, ...`` of
    ``trajectories_per_shard`` rows with one trajectory per chunk. Per-trajectory fields (such as
    ``level_id``) have no place in the released layout and are left out; a missing
    ``action_mask`` is computed from the states.

    Returns:
        The shard names written.
    """
    reader = FormatReader(src)
    m = reader.manifest
    step_fields = [n for n, f in m.fields.items() if f.per_step]
    dropped = [n for n, f in m.fields.items() if not f.per_step]
    if dropped and log is not None:
        log(f"per-trajectory fields left out of the released layout: {dropped}")
    origin = m.provenance.get("converted_from") or {}
    if origin.get("shards"):
        plan = [(str(name), int(count)) for name, count in origin["shards"]]
        if sum(c for _, c in plan) != m.num_trajectories:
            plan = []
    else:
        plan = []
    if not plan:
        plan = [
            (f"shard_{k:05d}", hi - lo)
            for k, (lo, hi) in enumerate(_blocks(m.num_trajectories, trajectories_per_shard))
        ]
    chunks = tuple(origin["chunks"]) if origin.get("chunks") else None
    kwargs: dict[str, Any] = {"chunks": chunks}
    if "compressor" in origin:
        kwargs["compressor"] = origin["compressor"]
    os.makedirs(dst, exist_ok=True)
    start = 0
    with progress_bar(m.num_trajectories, "convert", progress) as bar:
        for name, count in plan:
            fields = reader.read(start, start + count, step_fields)
            if "action_mask" not in fields:
                state = fields_to_env_state(fields, m.static_env_params, check=False)
                fields["action_mask"] = valid_action_mask_np(state, m.static_env_params)
            write_released_shard(os.path.join(dst, name), fields, "trajectory", **kwargs)
            start += count
            bar.update(count)
        for name in origin.get("empty_shards", []):
            empty = {k: v[:0] for k, v in reader.read(0, 1, step_fields).items()}
            write_released_shard(os.path.join(dst, name), empty, "trajectory", **kwargs)
    return [name for name, _ in plan]
