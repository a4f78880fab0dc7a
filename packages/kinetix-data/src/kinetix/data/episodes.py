"""Episode-level access in the style of Minari / D4RL: ``open_dataset(path_or_url)``.

A dataset is a sequence of trajectories (one level each, ``T`` stored steps, auto-reset after the
episode ends) in on-disk order. :func:`open_dataset` opens our format (any tensorstore location,
including ``http(s)://``) or a released-format split (a local zarr v2 group).

Example:
    >>> from kinetix.data import open_dataset                       # doctest: +SKIP
    >>> ds = open_dataset("/data/1M/m")                             # doctest: +SKIP
    >>> print(ds.describe())                                        # doctest: +SKIP
    >>> ep = ds.episode(0)                                          # doctest: +SKIP
    >>> ep.env_state.polygon.position.shape, ep.action.shape, ep.length  # doctest: +SKIP
    ((256, 6, 2), (256, 6), 41)
    >>> short = ds.filter(max_length=64)                            # doctest: +SKIP
    >>> for ep in short.sample_episodes(4, seed=0): ...             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from kinetix.data.fields import fields_to_env_state
from kinetix.data.format import DatasetFormatError, FieldSpec, is_our_format
from kinetix.data.reader import FormatReader
from kinetix.environment import StaticEnvParams

__all__ = ["Episode", "TrajectoryDataset", "open_dataset", "episode_lengths"]


# --------------------------------------------------------------------------- sources


class _ReleasedSource:
    """Adapter giving a released-format split the same row-reading interface as our format."""

    def __init__(self, path: str):
        from kinetix.data.released import open_released

        self.released = open_released(path)
        if self.released.layout != "trajectory":
            raise DatasetFormatError(
                f"{path}: flat (per-transition) layout has no trajectories; use "
                "ShuffledDatasetManager for it"
            )
        self.where = str(path)
        self.format = "released (zarr v2)"
        self.trajectory_length = int(self.released.num_steps)
        counts = [self.released.num_records(i) for i in range(len(self.released.shards))]
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_trajectories = int(self._offsets[-1])
        self.static_env_params = self.released.static_env_params
        dt = self.released.step_dtype
        self.fields = {
            n: FieldSpec(n, dt.fields[n][0].base.name, tuple(dt.fields[n][0].shape), True, 1, 1)
            for n in self.released.field_names
        }
        self.done_convention: str | None = None  # not recorded; detected from timesteps
        self.env_size = _size_name(self.static_env_params)
        self.action_type = "multi_discrete"
        self.provenance: dict[str, Any] = {"source": "released Kinetix-Offline shards"}

    def read(self, start: int, stop: int, names: Sequence[str] | None = None):
        names = list(self.fields) if names is None else list(names)
        parts: list[dict[str, np.ndarray]] = []
        shard = int(np.searchsorted(self._offsets, start, side="right") - 1)
        pos = start
        while pos < stop:
            lo = pos - int(self._offsets[shard])
            hi = min(stop, int(self._offsets[shard + 1])) - int(self._offsets[shard])
            rec = self.released.read_records(shard, lo, hi)
            parts.append({n: np.asarray(rec[n]) for n in names})
            pos += hi - lo
            shard += 1
        if not parts:
            return {n: np.zeros((0, self.trajectory_length, *self.fields[n].shape)) for n in names}
        if len(parts) == 1:
            return {n: np.ascontiguousarray(parts[0][n]) for n in names}
        return {n: np.concatenate([p[n] for p in parts]) for n in names}

    def read_rows(self, rows, names=None):
        rows = np.asarray(rows, dtype=np.int64)
        names = list(self.fields) if names is None else list(names)
        if rows.size == 0:
            return self.read(0, 0, names)
        out = {n: [] for n in names}
        for r in rows:
            one = self.read(int(r), int(r) + 1, names)
            for n in names:
                out[n].append(one[n])
        return {n: np.concatenate(v) for n, v in out.items()}


class _OurSource:
    def __init__(self, path: str | os.PathLike):
        self.reader = FormatReader(path)
        m = self.reader.manifest
        self.where = self.reader.where
        self.format = f"kinetix-data v{m.schema_version} (zarr v3, sharded)"
        self.num_trajectories = m.num_trajectories
        self.trajectory_length = m.trajectory_length
        self.static_env_params = m.static_env_params
        self.fields = m.fields
        self.done_convention: str | None = m.done_convention
        self.env_size = m.env_size
        self.action_type = m.action_type
        self.provenance = m.provenance

    def read(self, start, stop, names=None):
        return self.reader.read(start, stop, names)

    def read_rows(self, rows, names=None):
        return self.reader.read_rows(rows, names)


def _size_name(static: StaticEnvParams) -> str | None:
    from kinetix.environment import static_env_params_from_size

    for size in ("s", "m", "l"):
        if static_env_params_from_size(size) == static:
            return size
    return None


# --------------------------------------------------------------------------- episodes


@dataclasses.dataclass(frozen=True)
class Episode:
    """One stored trajectory.

    Attributes:
        index: row in the dataset's on-disk order.
        env_state: ``EnvState`` with leading axis ``T`` (the state observed before each action).
        action: ``(T, A)`` actions.
        done: ``(T,)`` episode-boundary flags (see the dataset's ``done_convention``).
        length: steps of the first episode (until the level was solved or ended); ``T`` if the
            first episode did not end within the stored steps.
        extras: every other stored field (``action_mask``, ``level_id``, ``level_rngs``...).
    """

    index: int
    env_state: Any
    action: np.ndarray
    done: np.ndarray
    length: int
    extras: dict[str, np.ndarray]

    @property
    def num_steps(self) -> int:
        """Stored steps ``T`` (steps after ``length`` replay the level after an auto-reset)."""
        return int(self.done.shape[0])


def episode_lengths(done: np.ndarray, convention: str) -> np.ndarray:
    """First-episode length of each row of ``done`` ``(N, T)``.

    ``"reset"``: ``done[t]`` (t >= 1) marks the first state of the next episode, so the length is
    the first such ``t``; ``"terminal"``: ``done[t]`` marks the last step, length ``t + 1``.

    Example:
        >>> import numpy as np
        >>> d = np.zeros((2, 6), bool); d[0, 3] = True
        >>> episode_lengths(d, "reset").tolist(), episode_lengths(d, "terminal").tolist()
        ([3, 6], [4, 6])
    """
    done = np.asarray(done, bool)
    n, t = done.shape
    if convention == "reset":
        d = done.copy()
        d[:, 0] = False
        first = np.where(d.any(1), d.argmax(1), t)
    elif convention == "terminal":
        first = np.where(done.any(1), done.argmax(1) + 1, t)
    else:
        raise ValueError(f"done convention {convention!r}; expected 'reset' or 'terminal'")
    return first.astype(np.int64)


def _detect_convention(done: np.ndarray, timestep: np.ndarray) -> str:
    """Which convention ``done`` follows, judged from where ``timestep`` restarts at 0."""
    restart = timestep[:, 1:] == 0
    if np.array_equal(done[:, 1:], restart):
        return "reset"
    if np.array_equal(done[:, :-1], restart):
        return "terminal"
    return "reset"


class TrajectoryDataset:
    """Trajectories of one dataset (or a filtered view of one), in on-disk order.

    Build with :func:`open_dataset`; :meth:`filter` returns another view.
    """

    def __init__(self, source: Any, indices: np.ndarray | None = None, block: int = 64):
        self._source = source
        self._indices = indices  # None = all rows, contiguous
        self._block = int(block)
        self._lengths: np.ndarray | None = None
        self._convention = source.done_convention

    # ------------------------------------------------------------------ metadata

    @property
    def num_trajectories(self) -> int:
        """Trajectories in this view."""
        return self._source.num_trajectories if self._indices is None else len(self._indices)

    @property
    def trajectory_length(self) -> int:
        return self._source.trajectory_length

    @property
    def total_steps(self) -> int:
        """Stored transitions (``num_trajectories * T``)."""
        return self.num_trajectories * self.trajectory_length

    @property
    def static_env_params(self) -> StaticEnvParams:
        return self._source.static_env_params

    @property
    def env_size(self) -> str | None:
        return self._source.env_size

    @property
    def fields(self) -> dict[str, FieldSpec]:
        return dict(self._source.fields)

    @property
    def field_names(self) -> list[str]:
        return list(self._source.fields)

    @property
    def indices(self) -> np.ndarray:
        """On-disk row of each trajectory of this view."""
        if self._indices is None:
            return np.arange(self._source.num_trajectories, dtype=np.int64)
        return self._indices

    @property
    def done_convention(self) -> str:
        if self._convention is None:
            n = min(self._source.num_trajectories, self._block)
            f = self._source.read(0, n, ["done", "env_state/timestep"])
            self._convention = _detect_convention(f["done"], f["env_state/timestep"])
        return self._convention

    def __len__(self) -> int:
        return self.num_trajectories

    def describe(self) -> str:
        """A readable multi-line summary (counts, sizes, fields)."""
        s = self.static_env_params
        lines = [
            f"dataset: {self._source.where}",
            f"format: {self._source.format}",
            f"trajectories: {self.num_trajectories:,}"
            + ("" if self._indices is None else f" (view of {self._source.num_trajectories:,})"),
            f"steps per trajectory (T): {self.trajectory_length}",
            f"total steps: {self.total_steps:,}",
            f"env size: {self.env_size or 'custom'} (polygons={s.num_polygons}, "
            f"circles={s.num_circles}, joints={s.num_joints}, thrusters={s.num_thrusters})",
            f"action type: {self._source.action_type}; done convention: {self.done_convention}",
            f"fields ({len(self.fields)}):",
        ]
        for name, f in self.fields.items():
            lead = "(N, T" if f.per_step else "(N"
            shape = lead + "".join(f", {x}" for x in f.shape) + ")"
            lines.append(f"  {name:<48} {f.dtype:<8} {shape}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (
            f"TrajectoryDataset({self._source.where!r}, trajectories={self.num_trajectories}, "
            f"T={self.trajectory_length}, env_size={self.env_size!r})"
        )

    # ------------------------------------------------------------------ reading

    def read(self, rows: Sequence[int] | slice, fields: Sequence[str] | None = None):
        """Raw field arrays for view rows (a slice or index list), leading axis = rows."""
        idx = self.indices[rows] if isinstance(rows, slice) else self.indices[np.asarray(rows)]
        idx = np.atleast_1d(idx)
        if idx.size and np.all(np.diff(idx) == 1):
            return self._source.read(int(idx[0]), int(idx[-1]) + 1, fields)
        return self._source.read_rows(idx, fields)

    def _episodes_from(self, rows: np.ndarray, f: dict[str, np.ndarray]) -> list[Episode]:
        lengths = episode_lengths(f["done"], self.done_convention)
        state = fields_to_env_state(f, self.static_env_params, check=False)
        out = []
        for k, row in enumerate(rows):
            out.append(
                Episode(
                    index=int(row),
                    env_state=_take(state, k),
                    action=f["action"][k],
                    done=f["done"][k],
                    length=int(lengths[k]),
                    extras={
                        n: v[k]
                        for n, v in f.items()
                        if not n.startswith("env_state/") and n not in ("action", "done")
                    },
                )
            )
        return out

    def episode(self, i: int) -> Episode:
        """Trajectory ``i`` of this view (negative indices count from the end)."""
        n = self.num_trajectories
        if not -n <= i < n:
            raise IndexError(f"episode {i} out of range for {n} trajectories")
        row = int(self.indices[i % n])
        return self._episodes_from(np.array([row]), self._source.read(row, row + 1))[0]

    def __getitem__(self, i: int) -> Episode:
        return self.episode(i)

    def iterate_episodes(self, indices: Sequence[int] | None = None) -> Iterator[Episode]:
        """Yield episodes in on-disk order (or of ``indices``, view positions, in that order),
        reading ``block`` trajectories per call."""
        pos = np.arange(self.num_trajectories) if indices is None else np.asarray(indices)
        for lo in range(0, len(pos), self._block):
            chunk = pos[lo : lo + self._block]
            rows = self.indices[chunk]
            yield from self._episodes_from(rows, self.read(chunk))

    def __iter__(self) -> Iterator[Episode]:
        return self.iterate_episodes()

    def sample_episodes(self, n: int, seed: int | None = None, replace: bool = False):
        """``n`` episodes drawn uniformly (without replacement by default), returned in the drawn
        order; rows are read in sorted order for locality."""
        if not replace and n > self.num_trajectories:
            raise ValueError(
                f"cannot sample {n} episodes without replacement from {self.num_trajectories}"
            )
        rng = np.random.default_rng(seed)
        pos = rng.choice(self.num_trajectories, size=n, replace=replace)
        order = np.argsort(pos, kind="stable")
        eps = list(self.iterate_episodes(pos[order]))
        out: list[Episode | None] = [None] * n
        for k, ep in zip(order, eps):
            out[k] = ep
        return out

    def episode_lengths(self) -> np.ndarray:
        """First-episode length of every trajectory of the view (reads only ``done``)."""
        if self._lengths is None:
            parts = []
            for lo in range(0, self.num_trajectories, 4096):
                done = self.read(slice(lo, lo + 4096), ["done"])["done"]
                parts.append(episode_lengths(done, self.done_convention))
            self._lengths = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        return self._lengths

    def num_active_shapes(self) -> np.ndarray:
        """Active non-arena polygons plus active circles at ``t = 0``, per trajectory."""
        nsf = self.static_env_params.num_static_fixated_polys
        names = ["env_state/polygon/active", "env_state/circle/active"]
        parts = []
        for lo in range(0, self.num_trajectories, 1024):
            f = self.read(slice(lo, lo + 1024), names)
            p = f[names[0]][:, 0, nsf:].sum(-1)
            parts.append(p + f[names[1]][:, 0].sum(-1))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def filter(
        self,
        predicate: Callable[[Episode], bool] | None = None,
        *,
        min_length: int | None = None,
        max_length: int | None = None,
        env_size: str | None = None,
        min_shapes: int | None = None,
        max_shapes: int | None = None,
    ) -> TrajectoryDataset:
        """A view of the trajectories that pass every given condition (on-disk order kept).

        Args:
            predicate: called with each :class:`Episode` (reads every trajectory: slowest).
            min_length, max_length: bounds on the first-episode length (inclusive).
            env_size: keep everything if the dataset's size is this, nothing otherwise.
            min_shapes, max_shapes: bounds on :meth:`num_active_shapes` (level complexity).

        Example:
            >>> quick = ds.filter(max_length=64, min_shapes=3)   # doctest: +SKIP
        """
        keep = np.ones(self.num_trajectories, bool)
        if env_size is not None and env_size != self.env_size:
            keep[:] = False
        if min_length is not None or max_length is not None:
            lengths = self.episode_lengths()
            if min_length is not None:
                keep &= lengths >= min_length
            if max_length is not None:
                keep &= lengths <= max_length
        if min_shapes is not None or max_shapes is not None:
            shapes = self.num_active_shapes()
            if min_shapes is not None:
                keep &= shapes >= min_shapes
            if max_shapes is not None:
                keep &= shapes <= max_shapes
        if predicate is not None:
            candidates = np.flatnonzero(keep)
            for pos, ep in zip(candidates, self.iterate_episodes(candidates)):
                keep[pos] = bool(predicate(ep))
        view = TrajectoryDataset(self._source, self.indices[keep], self._block)
        view._convention = self._convention
        return view


def _take(tree: Any, k: int) -> Any:
    import jax

    return jax.tree.map(lambda x: x[k], tree)


def open_dataset(
    path_or_url: str | os.PathLike, *, block: int = 64, allow_empty: bool = False
) -> TrajectoryDataset:
    """Open a dataset in our format (any location) or a released-format split (local).

    Args:
        path_or_url: directory, ``file://``, ``gs://``, ``s3://`` or ``http(s)://`` URL of our
            format (``dataset.json`` at the root), or a local released zarr v2 group.
        block: trajectories read per call while iterating.
        allow_empty: accept a dataset with zero committed trajectories.

    Raises:
        DatasetFormatError: the location holds neither format, or fails validation (the message
            names the file/field and what was expected); an empty dataset unless ``allow_empty``.

    Example:
        >>> ds = open_dataset("http://127.0.0.1:8000/my_ds")     # doctest: +SKIP
        >>> ds.num_trajectories, ds.total_steps                  # doctest: +SKIP
    """
    text = os.fspath(path_or_url)
    if is_our_format(text):
        source: Any = _OurSource(text)
    elif "://" not in text or text.startswith("file://"):
        local = text[len("file://") :] if text.startswith("file://") else text
        if not os.path.exists(local):
            raise DatasetFormatError(f"{local}: no such file or directory")
        if not os.path.exists(os.path.join(local, ".zgroup")):
            raise DatasetFormatError(
                f"{local}: neither our format (no dataset.json) nor a released zarr v2 group "
                "(no .zgroup)"
            )
        source = _ReleasedSource(local)
    else:
        _OurSource(text)  # raises the reader's error (unreachable host, missing manifest...)
        raise AssertionError("unreachable")
    if source.num_trajectories == 0 and not allow_empty:
        raise DatasetFormatError(
            f"{source.where}: dataset is empty (0 committed trajectories); pass "
            "allow_empty=True to open it anyway"
        )
    return TrajectoryDataset(source, block=block)


def trajectory_for_render(path: str, index: int) -> tuple[Any, int]:
    """``(env_state with leading T, first-episode length)`` of trajectory ``index`` in the dataset
    at ``path`` (either format). Registered as the ``"dataset"`` reader of the
    ``kinetix.trajectory_sources`` entry points, which ``kinetix-render --dataset`` uses without
    importing this package.
    """
    episode = open_dataset(path).episode(index)
    return episode.env_state, int(episode.length)
