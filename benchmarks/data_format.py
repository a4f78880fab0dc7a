"""Read bandwidth of our dataset format vs reading the same files raw from disk.

Builds (once) a dataset in our format under ``--out`` with synthetic but physics-like ``m``-size
trajectories (per-trajectory constants for shape properties/bindings/masks, random-walk floats for
positions/velocities/impulses), then times, best of ``--repeat``:

* raw: reading every file of the dataset with plain buffered ``read()`` calls (what ``cat`` does);
* ours: ``FormatReader.read`` of all fields, ``--block`` trajectories per call, in order.

Each is timed twice: cold (every file's pages evicted with ``posix_fadvise(DONTNEED)`` first, so
the bytes come from the disk; no root needed) and warm (page cache). Reported: on-disk MB/s for
both and their ratio (goal >= 50%), plus the decoded (logical) bandwidth of ours.

    JAX_PLATFORMS=cpu python benchmarks/data_format.py --trajectories 2048
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from kinetix.data.reader import FormatReader  # noqa: E402
from kinetix.data.writer import DatasetWriter  # noqa: E402
from kinetix.environment import static_env_params_from_size  # noqa: E402
from kinetix.environment.utils import create_empty_env  # noqa: E402

_WALK = ("position", "velocity", "rotation", "angular_velocity", "impulse", "penetration")


def synthetic_batch(n: int, t: int, static, rng: np.random.Generator) -> dict:
    template = jax.eval_shape(create_empty_env, static)
    paths = jax.tree_util.tree_flatten_with_path(template)[0]
    leaves = []
    for path, leaf in paths:
        name = "/".join(str(getattr(p, "name", p)) for p in path)
        shape = (n, 1, *leaf.shape)
        if leaf.dtype == np.bool_:
            x = np.broadcast_to(rng.random(shape) < 0.5, (n, t, *leaf.shape))
        elif np.issubdtype(leaf.dtype, np.integer):
            x = np.broadcast_to(rng.integers(0, 4, shape), (n, t, *leaf.shape))
        elif any(k in name for k in _WALK):
            steps = rng.standard_normal((n, t, *leaf.shape)).astype(np.float32) * 0.01
            x = rng.standard_normal(shape).astype(np.float32) + np.cumsum(steps, axis=1)
        else:
            x = np.broadcast_to(rng.standard_normal(shape), (n, t, *leaf.shape))
        leaves.append(np.ascontiguousarray(x, dtype=leaf.dtype))
    state = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(template), leaves)
    done = np.zeros((n, t), bool)
    done[np.arange(n), rng.integers(1, t, n)] = True
    return {
        "action": np.repeat(rng.integers(0, 3, (n, t // 16, 6)), 16, axis=1).astype(np.int32),
        "done": done,
        "env_state": state,
        "level_id": np.arange(n, dtype=np.int64),
    }


def build(path: str, size: str, trajectories: int, codec: str, level: int) -> None:
    static = static_env_params_from_size(size)
    rng = np.random.default_rng(0)
    with DatasetWriter(path, static, compression={"codec": codec, "level": level}) as w:
        first = w.num_trajectories
        for lo in range(first, trajectories, 256):
            batch = synthetic_batch(min(256, trajectories - lo), 256, static, rng)
            batch["level_id"] = batch["level_id"] + lo
            w.append(batch)


def files_of(path: str) -> list[str]:
    out = []
    for dirpath, _, names in os.walk(path):
        out += [os.path.join(dirpath, n) for n in names]
    return sorted(out)


def evict(files: list[str]) -> None:
    """Drop the files' clean pages from the page cache (so the next read hits the disk)."""
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def raw_read(files: list[str]) -> tuple[int, float]:
    total, t0 = 0, time.perf_counter()
    for f in files:
        with open(f, "rb", buffering=0) as fh:
            while chunk := fh.read(16 << 20):
                total += len(chunk)
    return total, time.perf_counter() - t0


def ours_read(path: str, block: int) -> tuple[int, float]:
    reader = FormatReader(path, cache_bytes=0)
    total, t0 = 0, time.perf_counter()
    for lo in range(0, reader.num_trajectories, block):
        out = reader.read(lo, min(reader.num_trajectories, lo + block))
        total += sum(a.nbytes for a in out.values())
    return total, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/kinetix_data_format_bench")
    ap.add_argument("--size", default="m")
    ap.add_argument("--trajectories", type=int, default=2048)
    ap.add_argument("--codec", default="zstd", choices=["zstd", "blosc", "none"])
    ap.add_argument("--level", type=int, default=3)
    ap.add_argument("--block", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()

    path = f"{args.out}_{args.size}_{args.codec}{args.level}"
    if args.rebuild:
        shutil.rmtree(path, ignore_errors=True)
    t0 = time.perf_counter()
    build(path, args.size, args.trajectories, args.codec, args.level)
    build_s = time.perf_counter() - t0
    files = files_of(path)
    disk = sum(os.path.getsize(f) for f in files)
    cold_raw, cold_ours = [], []
    for _ in range(args.repeat):
        evict(files)
        cold_raw.append(raw_read(files))
        evict(files)
        cold_ours.append(ours_read(path, args.block))
    raw_read(files)  # warm the page cache
    raw = min((raw_read(files) for _ in range(args.repeat)), key=lambda r: r[1])
    ours = min((ours_read(path, args.block) for _ in range(args.repeat)), key=lambda r: r[1])
    craw = min(cold_raw, key=lambda r: r[1])
    cours = min(cold_ours, key=lambda r: r[1])
    result = {
        "dataset": path,
        "trajectories": args.trajectories,
        "files": len(files),
        "disk_MB": round(disk / 1e6, 1),
        "decoded_MB": round(ours[0] / 1e6, 1),
        "compression": round(ours[0] / disk, 2),
        "build_s": round(build_s, 1),
        "cold_raw_read_MB_s": round(disk / craw[1] / 1e6, 1),
        "cold_ours_disk_MB_s": round(disk / cours[1] / 1e6, 1),
        "cold_ratio_disk_bandwidth": round(craw[1] / cours[1], 3),
        "raw_read_MB_s": round(disk / raw[1] / 1e6, 1),
        "ours_disk_MB_s": round(disk / ours[1] / 1e6, 1),
        "ours_decoded_MB_s": round(ours[0] / ours[1] / 1e6, 1),
        "ours_transitions_per_s": round(args.trajectories * 256 / ours[1]),
        "ratio_disk_bandwidth": round(raw[1] / ours[1], 3),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
