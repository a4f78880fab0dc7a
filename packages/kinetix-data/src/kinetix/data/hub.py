"""Hugging Face Hub: download a Kinetix-Offline split, or stream a dataset over HTTP(S).

The public data lives at ``huggingface.co/datasets/mbeukman/Kinetix-Offline`` with one folder per
split, ``{policy_steps}/{size}`` (``1M/s``, ``1M/m``, ``1M/l``, ``10M/s``, ``10M/m``).
:func:`download` fetches one split with ``huggingface_hub.snapshot_download`` (resumable, parallel;
set ``HF_ENDPOINT`` for a mirror). A dataset in our format can also be read in place from any
HTTP(S) server that honours ``Range`` requests (tensorstore's ``http`` kvstore reads only the
shard indexes and the chunks it needs): ``open_dataset("https://host/path/to/dataset")``.

Example:
    >>> from kinetix.data.hub import download                  # doctest: +SKIP
    >>> path = download("10M/s", "./data")                     # doctest: +SKIP
    >>> from kinetix.data import open_dataset                  # doctest: +SKIP
    >>> open_dataset(path).num_trajectories                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from kinetix.data.format import MANIFEST_NAME

__all__ = ["REPO_ID", "SPLITS", "download", "find_dataset_root", "hub_resolve_url"]

#: Hugging Face dataset repository of the released data.
REPO_ID = "mbeukman/Kinetix-Offline"
#: Released splits: ``{policy_steps}/{size}`` (there is no ``10M/l``).
SPLITS = ("1M/s", "1M/m", "1M/l", "10M/s", "10M/m")


def _is_root(path: Path) -> bool:
    return (path / ".zgroup").is_file() or (path / MANIFEST_NAME).is_file()


def find_dataset_root(path: str | os.PathLike) -> Path:
    """The dataset root at ``path`` or one/two levels below it (a ``.zgroup`` or ``dataset.json``).

    Raises:
        FileNotFoundError: none found (names the directory searched).
    """
    path = Path(path)
    if _is_root(path):
        return path
    for depth in ("*", "*/*"):
        found = sorted(p for p in path.glob(depth) if p.is_dir() and _is_root(p))
        if found:
            return found[0]
    raise FileNotFoundError(
        f"{path}: no dataset found (expected .zgroup for the released format or {MANIFEST_NAME} "
        "for ours, at that directory or up to two levels below)"
    )


def download(
    split: str,
    local_dir: str | os.PathLike,
    *,
    repo_id: str = REPO_ID,
    revision: str | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    max_workers: int = 8,
) -> Path:
    """Download one split into ``local_dir/<split>`` and return the dataset root.

    Args:
        split: one of :data:`SPLITS` for the released repository; any folder name for another
            ``repo_id`` (for example a dataset in our format you uploaded).
        local_dir: destination; files keep their repository paths (``local_dir/1M/m/...``).
        repo_id: Hugging Face dataset repository.
        revision: branch, tag or commit (default ``main``).
        token: Hub token for private repositories (default: the logged-in user, if any).
        endpoint: Hub URL (default: ``$HF_ENDPOINT`` at call time, else huggingface.co).
        max_workers: parallel file downloads.

    Raises:
        ValueError: an unknown split of the released repository.
        FileNotFoundError: the download finished but holds no dataset root for that split.

    Example:
        >>> download("10M/s", "./data")   # doctest: +SKIP
        PosixPath('data/10M/s')
    """
    from huggingface_hub import snapshot_download

    split = split.strip("/")
    if repo_id == REPO_ID and split not in SPLITS:
        raise ValueError(f"unknown split {split!r} of {REPO_ID}; expected one of {list(SPLITS)}")
    snapshot_download(
        repo_id=repo_id,
        repo_type="dataset",
        revision=revision,
        local_dir=os.fspath(local_dir),
        allow_patterns=[f"{split}/*"],
        token=token,
        endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None,
        max_workers=max_workers,
    )
    return find_dataset_root(Path(local_dir) / split)


def hub_resolve_url(
    split: str, *, repo_id: str = REPO_ID, revision: str = "main", endpoint: str | None = None
) -> str:
    """The ``resolve`` URL of a split folder, for streaming a dataset in our format hosted on the
    Hub with ``open_dataset(url)`` (the server must honour ``Range`` requests).

    Example:
        >>> hub_resolve_url("mine/s", repo_id="me/data", endpoint="https://huggingface.co")
        'https://huggingface.co/datasets/me/data/resolve/main/mine/s/'
    """
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    return f"{endpoint}/datasets/{repo_id}/resolve/{revision}/{split.strip('/')}/"
