"""``kinetix-data``: download, inspect, convert and verify Kinetix datasets.

Commands::

    kinetix-data download 10M/s ./data                 # one split of mbeukman/Kinetix-Offline
    kinetix-data inspect ./data                        # every split below ./data: counts, bytes
    kinetix-data inspect ./data/10M/s --fields         # plus every field's shape and dtype
    kinetix-data convert ./data/10M/s ./ours/10M/s     # released -> ours (or ours -> released)
    kinetix-data verify ./ours/10M/s --replay 64       # decode everything; replay 64 trajectories

Example:
    >>> from kinetix.data.cli import main
    >>> main(["--help"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kinetix.data.format import MANIFEST_NAME, DatasetFormatError, is_our_format, shard_keys

__all__ = ["main", "inspect_dataset", "find_splits"]


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n:.1f} TB"


def _dir_bytes(path: Path) -> tuple[int, int]:
    total, files = 0, 0
    for dirpath, _, names in os.walk(path):
        for name in names:
            total += os.path.getsize(os.path.join(dirpath, name))
            files += 1
    return total, files


def find_splits(root: str | os.PathLike) -> list[Path]:
    """Dataset roots at or below ``root`` (directories with ``.zgroup`` or ``dataset.json``)."""
    root = Path(root)
    if (root / ".zgroup").is_file() or (root / MANIFEST_NAME).is_file():
        return [root]
    found = []
    for dirpath, dirnames, names in os.walk(root):
        if ".zgroup" in names or MANIFEST_NAME in names:
            found.append(Path(dirpath))
            dirnames.clear()  # shards/fields below a root are not splits
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def inspect_dataset(location: str, show_fields: bool = False) -> str:
    """A readable report of one dataset (our format at any location, or a released split)."""
    from kinetix.data.episodes import open_dataset

    ds = open_dataset(location, allow_empty=True)
    lines = []
    local = "://" not in location or location.startswith("file://")
    if local:
        path = Path(location[len("file://") :] if location.startswith("file://") else location)
        size, files = _dir_bytes(path)
    else:
        size, files = None, None
    source = ds._source
    shards = (
        len(source.released.shards)
        if hasattr(source, "released")
        else sum(len(shard_keys(f, ds.num_trajectories)) for f in ds.fields.values())
    )
    raw = sum(
        np.dtype(f.dtype).itemsize
        * int(np.prod(f.shape, dtype=np.int64))
        * (ds.trajectory_length if f.per_step else 1)
        for f in ds.fields.values()
    )
    raw_total = raw * ds.num_trajectories
    lines.append(f"{location}")
    lines.append(f"  format:        {source.format}")
    lines.append(
        f"  shards:        {shards}" + (" (shard files)" if not hasattr(source, "released") else "")
    )
    lines.append(f"  trajectories:  {ds.num_trajectories:,} x T={ds.trajectory_length}")
    lines.append(f"  transitions:   {ds.total_steps:,}")
    s = ds.static_env_params
    lines.append(
        f"  env size:      {ds.env_size or 'custom'} (polygons={s.num_polygons}, circles="
        f"{s.num_circles}, joints={s.num_joints}, thrusters={s.num_thrusters})"
    )
    lines.append(
        f"  fields:        {len(ds.fields)} ({_human(raw / max(1, ds.trajectory_length))} per step)"
    )
    if size is not None:
        ratio = f", {raw_total / size:.1f}x compression" if size else ""
        lines.append(
            f"  bytes on disk: {_human(size)} in {files} files ({_human(raw_total)} decoded{ratio})"
        )
    else:
        lines.append(f"  bytes decoded: {_human(raw_total)}")
    if ds.num_trajectories:
        lengths = ds.episode_lengths()
        solved = (lengths < ds.trajectory_length).mean()
        lines.append(
            f"  episodes:      first-episode length mean {lengths.mean():.1f}, median "
            f"{int(np.median(lengths))}, {solved:.0%} end before T "
            f"(done convention: {ds.done_convention})"
        )
    if show_fields:
        lines.append("  field                                            dtype    shape")
        for name, f in ds.fields.items():
            shape = ("(N, T" if f.per_step else "(N") + "".join(f", {x}" for x in f.shape) + ")"
            lines.append(f"    {name:<47} {f.dtype:<8} {shape}")
    return "\n".join(lines)


def _cmd_download(args: argparse.Namespace) -> int:
    from kinetix.data.hub import REPO_ID, download

    root = download(
        args.split,
        args.local_dir,
        repo_id=args.repo_id or REPO_ID,
        revision=args.revision,
        max_workers=args.workers,
    )
    print(f"downloaded {args.split} to {root}")
    print(inspect_dataset(str(root)))
    return 0


def _cmd_inspect(args: argparse.Namespace) -> int:
    location = args.path
    if "://" in location and not location.startswith("file://"):
        print(inspect_dataset(location, args.fields))
        return 0
    splits = find_splits(location)
    if not splits:
        print(
            f"error: no dataset (.zgroup or {MANIFEST_NAME}) at or below {location}",
            file=sys.stderr,
        )
        return 2
    if len(splits) > 1:
        print(f"{len(splits)} datasets below {location}:")
    for i, split in enumerate(splits):
        if i:
            print()
        print(inspect_dataset(str(split), args.fields))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from kinetix.data.convert import ours_to_released, released_to_ours

    if is_our_format(args.src):
        names = ours_to_released(
            args.src,
            args.dst,
            trajectories_per_shard=args.trajectories_per_shard,
            progress=not args.quiet,
            log=print,
        )
        print(f"wrote {len(names)} released-format shards to {args.dst}")
    else:
        compression = {"codec": args.codec, "level": args.level}
        m = released_to_ours(args.src, args.dst, compression=compression, progress=not args.quiet)
        print(f"wrote {m.num_trajectories:,} trajectories in our format to {args.dst}")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from kinetix.data.verify import verify_dataset

    report = verify_dataset(args.path, replay=args.replay, progress=not args.quiet)
    print(report.summary())
    return 0 if report.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinetix-data", description="Download, inspect, convert and verify Kinetix datasets."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("download", help="download one split from the Hugging Face Hub")
    p.add_argument("split", help="1M/s, 1M/m, 1M/l, 10M/s or 10M/m (or a folder of --repo-id)")
    p.add_argument("local_dir", help="destination directory")
    p.add_argument(
        "--repo-id", default=None, help="dataset repo (default mbeukman/Kinetix-Offline)"
    )
    p.add_argument("--revision", default=None)
    p.add_argument("--workers", type=int, default=8)
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("inspect", help="summarise datasets: counts, bytes, fields")
    p.add_argument("path", help="a dataset, a directory of splits, or a URL of our format")
    p.add_argument("--fields", action="store_true", help="list every field with shape and dtype")
    p.set_defaults(func=_cmd_inspect)

    p = sub.add_parser("convert", help="released <-> our format (direction from the source)")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--codec", default="zstd", choices=["zstd", "blosc", "none"])
    p.add_argument("--level", type=int, default=3, help="compression level")
    p.add_argument("--trajectories-per-shard", type=int, default=1024)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("verify", help="decode every shard; optionally replay trajectories")
    p.add_argument("path")
    p.add_argument(
        "--replay", type=int, default=0, metavar="N", help="replay the first N trajectories"
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kinetix-data`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (DatasetFormatError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
