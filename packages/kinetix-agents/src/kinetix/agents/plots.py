"""Learning-curve plots (PNG) from a run's ``metrics.csv``; matplotlib is imported lazily
(``pip install 'kinetix-agents[plots]'``)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from kinetix.agents.metrics import read_metrics_csv

__all__ = ["plot_learning_curves"]


def plot_learning_curves(
    csv_path: str | os.PathLike,
    out_path: str | os.PathLike,
    keys: Sequence[str] | None = None,
    *,
    title: str = "",
) -> Path:
    """Plot metrics against ``step``, one panel per key, into a PNG.

    Args:
        csv_path: a ``metrics.csv`` written by :class:`~kinetix.agents.metrics.MetricsLogger`.
        out_path: the PNG to write.
        keys: columns to plot (default: every column, at most 12).
        title: figure title.

    Returns:
        The written path.

    Raises:
        KeyError: a requested key is not a column of the CSV.
        ImportError: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("plots need matplotlib: pip install 'kinetix-agents[plots]'") from e
    rows = read_metrics_csv(csv_path)
    columns = [c for c in (rows[0].keys() if rows else []) if c != "step"]
    if keys is None:
        keys = columns[:12]
    missing = [k for k in keys if k not in columns]
    if missing:
        raise KeyError(f"{csv_path}: no column(s) {missing}; columns: {columns}")
    n = max(1, len(keys))
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows if not math.isnan(r.get(key, math.nan))]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="." if len(pts) < 50 else None)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
