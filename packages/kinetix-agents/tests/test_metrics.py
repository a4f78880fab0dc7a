"""Metrics CSV logging (growing columns, resume truncation), progress bar and plots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinetix.agents.metrics import MetricsLogger, ProgressBar, read_metrics_csv, scalar_metrics
from kinetix.agents.plots import plot_learning_curves


def test_scalar_metrics_flattens_and_averages():
    out = scalar_metrics({"a": np.float32(1.5), "b": {"c": np.array([1.0, 3.0])}, "s": "x"})
    assert out == {"a": 1.5, "b/c": 2.0}


def test_csv_grows_columns_and_resume_drops_later_rows(tmp_path):
    log = MetricsLogger(tmp_path)
    log.log(1, {"loss": 1.0})
    log.log(2, {"loss": 0.5, "eval": {"solve_rate": 0.25}})
    log.log(3, {"loss": 0.25})
    rows = read_metrics_csv(log.path)
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert math.isnan(rows[0]["eval/solve_rate"]) and rows[1]["eval/solve_rate"] == 0.25
    assert rows[2]["loss"] == 0.25

    resumed = MetricsLogger(tmp_path, resume_step=2)
    assert [r["step"] for r in read_metrics_csv(resumed.path)] == [1, 2]
    resumed.log(3, {"loss": 0.125})
    assert read_metrics_csv(resumed.path)[-1] == {
        "step": 3,
        "loss": 0.125,
        "eval/solve_rate": pytest.approx(math.nan, nan_ok=True),
    }

    fresh = MetricsLogger(tmp_path)  # a new run starts a new file
    assert read_metrics_csv(fresh.path) == []


def test_disabled_logger_writes_nothing(tmp_path):
    log = MetricsLogger(tmp_path / "x", enabled=False)
    log.log(1, {"loss": 1.0})
    assert not (tmp_path / "x").exists()


def test_tensorboard_needs_tensorboardx(tmp_path):
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="tensorboardX"):
            MetricsLogger(tmp_path, use_tensorboard=True)
    else:
        log = MetricsLogger(tmp_path, use_tensorboard=True)
        log.log(1, {"loss": 1.0})
        log.close()
        assert any((tmp_path / "tensorboard").iterdir())


def test_progress_bar_counts_steps(capsys):
    bar = ProgressBar(10, initial=4, desc="t")
    bar.update(3, {"loss": 0.5})
    assert bar._bar.n == 7
    bar.close()
    silent = ProgressBar(10, enabled=False)
    silent.update(1)
    silent.close()


def test_plot_learning_curves_writes_png_and_checks_keys(tmp_path):
    pytest.importorskip("matplotlib")
    log = MetricsLogger(tmp_path)
    for step in range(1, 6):
        log.log(step, {"loss": 1.0 / step, "lr": 0.1})
    out = plot_learning_curves(log.path, tmp_path / "curves.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(KeyError, match="no column"):
        plot_learning_curves(log.path, tmp_path / "x.png", keys=["nope"])
