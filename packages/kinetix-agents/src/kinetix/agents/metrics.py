"""Training metrics: a CSV file per run (optionally TensorBoard) and a tqdm progress bar.

Only process 0 writes in a multi-process run. A resumed run drops the CSV rows logged after
the checkpoint it resumed from, so the file matches an uninterrupted run.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MetricsLogger", "ProgressBar", "read_metrics_csv", "scalar_metrics"]


def scalar_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Flatten a (nested) dict of scalars/arrays to ``{"prefix/name": float}``; arrays with
    more than one element are averaged (their name gets no suffix)."""
    out: dict[str, float] = {}
    for k, v in metrics.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(scalar_metrics(v, name + "/"))
            continue
        if v is None:
            continue
        a = np.asarray(v)
        if a.dtype.kind not in "biuf":
            continue
        out[name] = float(a.mean()) if a.size else math.nan
    return out


def read_metrics_csv(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a metrics CSV as dicts of floats (empty cells are NaN)."""
    with open(path, newline="") as f:
        return [
            {k: (float(v) if v not in ("", None) else math.nan) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


class MetricsLogger:
    """Append metrics rows ``step, <name>...`` to ``<directory>/metrics.csv``.

    The column set grows as new names appear (the file is rewritten with the wider header).

    Args:
        directory: run directory (created if missing).
        use_tensorboard: also write TensorBoard events (needs ``tensorboardX``).
        resume_step: drop existing rows with ``step > resume_step`` (resuming a killed run);
            None starts a fresh file.
        enabled: False turns every call into a no-op (non-zero processes).

    Example:
        >>> import tempfile
        >>> log = MetricsLogger(tempfile.mkdtemp())
        >>> log.log(1, {"loss": 0.5})
        >>> read_metrics_csv(log.path)[0]["loss"]
        0.5
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        use_tensorboard: bool = False,
        resume_step: int | None = None,
        enabled: bool = True,
    ):
        self.enabled = enabled
        self.path = Path(directory) / "metrics.csv"
        self._rows: list[dict[str, float]] = []
        self._columns: list[str] = ["step"]
        self._tb = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            self._rows = [r for r in read_metrics_csv(self.path) if r["step"] <= resume_step]
            for r in self._rows:
                self._add_columns(r)
        self._rewrite()
        if use_tensorboard:
            try:
                from tensorboardX import SummaryWriter
            except ImportError as e:
                raise ImportError(
                    "misc.use_tensorboard=True needs tensorboardX: pip install "
                    "'kinetix-agents[tensorboard]'"
                ) from e
            self._tb = SummaryWriter(str(self.path.parent / "tensorboard"))

    def _add_columns(self, row: Mapping[str, Any]) -> bool:
        new = [k for k in row if k not in self._columns]
        self._columns.extend(sorted(new))
        return bool(new)

    def _rewrite(self) -> None:
        with open(self.path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self._columns, restval="")
            w.writeheader()
            for r in self._rows:
                w.writerow(_fmt(r))

    def log(self, step: int, metrics: Mapping[str, Any], prefix: str = "") -> None:
        """Log one row of scalars at ``step`` (nested dicts are flattened with ``/``)."""
        if not self.enabled:
            return
        row = {"step": float(step), **scalar_metrics(metrics, prefix)}
        self._rows.append(row)
        if self._add_columns(row):
            self._rewrite()
        else:
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self._columns, restval="").writerow(_fmt(row))
        if self._tb is not None:
            for k, v in row.items():
                if k != "step":
                    self._tb.add_scalar(k, v, int(step))

    def close(self) -> None:
        """Flush TensorBoard."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def _fmt(row: Mapping[str, float]) -> dict[str, str]:
    return {k: (str(int(v)) if k == "step" else repr(float(v))) for k, v in row.items()}


class ProgressBar:
    """A tqdm bar over training steps showing steps/s, ETA and a few metrics.

    Args:
        total: number of steps of the whole run.
        initial: steps already done (resumed runs).
        desc: label.
        enabled: False makes it silent.
    """

    def __init__(self, total: int, *, initial: int = 0, desc: str = "", enabled: bool = True):
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True
            )

    def update(self, n: int, metrics: Mapping[str, Any] | None = None) -> None:
        """Advance by ``n`` steps and show ``metrics`` (first few scalars)."""
        if self._bar is None:
            return
        if metrics:
            shown = {k: f"{v:.4g}" for k, v in list(scalar_metrics(metrics).items())[:4]}
            self._bar.set_postfix(shown, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
