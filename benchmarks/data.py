"""Trajectory loader throughput: our ``TrajectoryDatasetManager`` vs kinetix-env 3.0.2's, same files.

Both loaders read the same released-format zarr v2 group (record dtype, Blosc-lz4, one trajectory
per chunk, as the spec's sample). Each measurement runs in a fresh interpreter (this file in
``--worker`` mode, stdlib-only at import so the reference venv can run it): build the manager,
one warm-up ``load_next_batch``, then ``--batches`` timed calls. Reported: transitions/s
(``batches * batch_size * T / seconds``), manager construction time, and the worker's peak RSS
(``ru_maxrss``, which includes the read-ahead buffers: upstream grain prefetches 500 batches).
Sides alternate, ``--repeats`` times, median reported.

The benchmark dataset is built under ``--data-dir`` (not committed) by replicating the golden
trajectories (``packages/kinetix-data/tests/data/released/traj_s``) into ``--shards`` shards of
``--traj-per-shard`` trajectories with our writer (same layout and codec as upstream's). It is
also converted to OUR format (``<data-dir>_ours_<codec>``, ``--ours-codec``) and a third side,
``ours_v3``, times our ``TrajectoryDatasetManager`` reading that copy (what BC trains from when
the data comes from expert collection). All sides run interleaved in one invocation.

    python benchmarks/data.py --ref-python /work/venvs/refdata/bin/python
    python benchmarks/data.py --ref-python /work/venvs/refdata/bin/python --quick

Writes ``benchmarks/results/data.json`` and prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GOLDEN = ROOT / "packages" / "kinetix-data" / "tests" / "data" / "released" / "traj_s"
RESULT = "@@DATA_BENCH_RESULT@@ "


# ----------------------------------------------------------------------------- worker side
def worker(args: argparse.Namespace) -> None:
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    t0 = time.perf_counter()
    if args.worker in ("ours", "ours_v3"):
        from kinetix.data import TrajectoryDatasetManager

        data_dir = args.data_dir if args.worker == "ours" else ours_dir(args)
        manager = TrajectoryDatasetManager(
            data_dir, batch_size=args.batch_size, seed=0, prefetch=args.prefetch
        )
    else:
        import kinetix.environment  # noqa: F401  (before kinetix.data: circular import upstream)
        from kinetix.data.data_utils import TrajectoryDatasetManager

        manager = TrajectoryDatasetManager(args.data_dir, batch_size=args.batch_size, seed=0)
    build_s = time.perf_counter() - t0
    batch = manager.load_next_batch()
    T = batch.action.shape[1]
    checksum = 0.0
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(args.batches):
        batch = manager.load_next_batch()
        if args.touch:  # make sure decoded data is really there (one float read per trajectory)
            checksum += float(batch.env_state.polygon.position[:, -1, 0, 0].sum())
    secs = time.perf_counter() - t0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    out = {
        "impl": args.worker,
        "transitions_per_s": args.batches * args.batch_size * T / secs,
        "trajectories_per_s": args.batches * args.batch_size / secs,
        "seconds": secs,
        "build_s": build_s,
        # CPU seconds of all the worker's threads during the timed loop, per batch; upstream's
        # grain threads may be reading ahead for later batches in that time, so this is a rate.
        "cpu_ms_per_batch": 1000 * cpu / args.batches,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "checksum": checksum,
    }
    print(RESULT + json.dumps(out), flush=True)
    os._exit(0)  # upstream's grain threads keep the interpreter alive otherwise


# ----------------------------------------------------------------------------- driver side
def build_dataset(data_dir: Path, shards: int, per_shard: int) -> None:
    marker = data_dir / "bench.json"
    want = {"shards": shards, "per_shard": per_shard, "source": str(GOLDEN)}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    import shutil

    import numpy as np

    from kinetix.data import open_released, write_released_shard

    shutil.rmtree(data_dir, ignore_errors=True)
    src = open_released(GOLDEN)
    rows = [src.read_records(i) for i in range(len(src.shards))]
    pool = np.concatenate(rows)
    for s in range(shards):
        idx = (np.arange(per_shard) + s * per_shard) % len(pool)
        rec = pool[idx]
        fields = {name: rec[name] for name in rec.dtype.names}
        write_released_shard(data_dir / f"shard_{s:05d}", fields, "trajectory")
    marker.write_text(json.dumps(want))


CODECS = {
    "zstd1": {"codec": "zstd", "level": 1},
    "zstd3": {"codec": "zstd", "level": 3},
    "lz4": {"codec": "blosc", "cname": "lz4", "level": 5},
    "none": {"codec": "none"},
}


def ours_dir(args: argparse.Namespace) -> Path:
    return Path(f"{args.data_dir}_ours_{args.ours_codec}")


def build_ours(args: argparse.Namespace) -> None:
    """Convert the benchmark split to our format (once per dataset and codec)."""
    dst = ours_dir(args)
    marker = dst / "bench.json"
    want = json.loads((args.data_dir / "bench.json").read_text())
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    import shutil

    from kinetix.data import released_to_ours

    shutil.rmtree(dst, ignore_errors=True)
    released_to_ours(args.data_dir, dst, compression=CODECS[args.ours_codec], progress=False)
    marker.write_text(json.dumps(want))


def run_worker(python: str, impl: str, args: argparse.Namespace) -> dict:
    cmd = [python, str(Path(__file__).resolve()), "--worker", impl, "--data-dir", str(args.data_dir),
           "--batch-size", str(args.batch_size), "--batches", str(args.batches),
           "--prefetch", str(args.prefetch), "--ours-codec", args.ours_codec] + (
               ["--touch"] if args.touch else [])  # fmt: skip
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    raise RuntimeError(f"{impl} worker failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", choices=["ours", "ours_v3", "ref"], help=argparse.SUPPRESS)
    p.add_argument("--ref-python", default="/work/venvs/refdata/bin/python")
    p.add_argument("--ours-python", default=sys.executable)
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/kinetix-data-bench/traj_s"))
    p.add_argument("--shards", type=int, default=16)
    p.add_argument("--traj-per-shard", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32, help="trajectories per batch")
    p.add_argument("--batches", type=int, default=150)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prefetch", type=int, default=2)
    p.add_argument("--touch", action="store_true", help="read one value per trajectory")
    p.add_argument("--quick", action="store_true", help="small dataset, 40 batches, 1 repeat")
    p.add_argument(
        "--ours-codec",
        choices=sorted(CODECS),
        default="zstd3",
        help="codec of the our-format copy (the DatasetWriter default is zstd3)",
    )
    p.add_argument("--sides", default="ref,ours,ours_v3", help="comma-separated sides to time")
    p.add_argument("--out", type=Path, default=HERE / "results" / "data.json")
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.shards, args.traj_per_shard, args.batches, args.repeats = 8, 32, 40, 1
    build_dataset(args.data_dir, args.shards, args.traj_per_shard)
    sides = args.sides.split(",")
    if "ours_v3" in sides:
        build_ours(args)
    runs: dict[str, list[dict]] = {impl: [] for impl in sides}
    for r in range(args.repeats):
        order = sides if r % 2 == 0 else sides[::-1]
        for impl in order:
            python = args.ref_python if impl == "ref" else args.ours_python
            res = run_worker(python, impl, args)
            runs[impl].append(res)
            print(f"  {impl}: {res['transitions_per_s'] / 1e6:.2f} M transitions/s, "
                  f"{res['cpu_ms_per_batch']:.1f} CPU ms/batch, peak RSS {res['peak_rss_mb']:.0f} MB, build {res['build_s']:.2f} s", flush=True)  # fmt: skip

    def med(impl: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[impl])

    summary = {
        impl: {
            k: med(impl, k)
            for k in ("transitions_per_s", "cpu_ms_per_batch", "peak_rss_mb", "build_s")
        }
        for impl in runs
    }
    ref = summary.get("ref")
    speedups = {
        impl: {
            "transitions_per_s": s["transitions_per_s"] / ref["transitions_per_s"],
            "cpu_ms_per_batch": ref["cpu_ms_per_batch"] / s["cpu_ms_per_batch"],
        }
        for impl, s in summary.items()
        if ref and impl != "ref"
    }
    speedup = speedups.get("ours", {}).get("transitions_per_s")
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "loadavg": os.getloadavg(),
        },  # fmt: skip
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "runs": runs,
        "summary": summary,
        "speedup": speedup,
        "speedups_vs_ref": speedups,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    T = 256
    print(f"\nBatch {args.batch_size} trajectories ({args.batch_size * T} transitions), size s, "
          f"{args.shards} shards x {args.traj_per_shard} trajectories, {args.batches} timed batches, "
          f"median of {args.repeats}; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print("| loader | transitions/s | CPU ms / batch | peak RSS (MB) | build (s) |")
    print("|---|---|---|---|---|")
    names = {
        "ref": "kinetix-env 3.0.2 (zarr + grain), released files",
        "ours": "kinetix-data, released files",
        "ours_v3": f"kinetix-data, our format ({args.ours_codec})",
    }
    for impl in sides:
        name, s = names[impl], summary[impl]
        print(f"| {name} | {s['transitions_per_s'] / 1e6:.2f} M | {s['cpu_ms_per_batch']:.1f} | {s['peak_rss_mb']:.0f} | "
              f"{s['build_s']:.2f} |")  # fmt: skip
    for impl, x in speedups.items():
        print(f"\n{impl} vs ref: {x['transitions_per_s']:.1f}x transitions/s, "
              f"{x['cpu_ms_per_batch']:.1f}x less CPU per batch")  # fmt: skip


if __name__ == "__main__":
    main()
