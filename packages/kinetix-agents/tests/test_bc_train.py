"""The BC run loop: online evaluation schedule, metrics rows, RMS statistics, checkpoints."""

from __future__ import annotations

import jax
import numpy as np
from _ag2_helpers import SyntheticLoader
from _ag2_subprocess import TINY_BC

from kinetix.agents.bc_train import run_bc, run_directory
from kinetix.agents.config import TrainBCConfig, load_config
from kinetix.agents.metrics import read_metrics_csv


def test_run_bc_evaluates_logs_and_tracks_rms(tmp_path):
    config = load_config(
        TrainBCConfig,
        [
            *TINY_BC,
            "learning.num_updates=5",
            "learning.minibatch_size=16",
            "learning.rms_norm=true",
            "eval.eval_freq=2",
            "misc.log_freq=2",
            "misc.checkpoint_save_freq=10",
            f"misc.save_path={tmp_path}",
        ],
    )
    calls = []

    def online_eval(network, rms, step):
        calls.append((step, float(rms.count)))
        return {"solve_rate": step / 10}

    result = run_bc(config, data=SyntheticLoader(batch_size=4, t=4), online_eval=online_eval)
    assert (
        result.run_dir
        == run_directory(config, "bc")
        == tmp_path / "bc-Kinetix-Blind-MultiDiscrete-s-s0"
    )
    # eval at the start and every 2 steps; RMS has seen 16 observations per step (+ epsilon)
    assert [s for s, _ in calls] == [0, 2, 4]
    np.testing.assert_allclose([c for _, c in calls], [1e-4, 32 + 1e-4, 64 + 1e-4], rtol=1e-6)
    rows = read_metrics_csv(result.run_dir / "metrics.csv")
    train_steps = [r["step"] for r in rows if not np.isnan(r.get("bc/loss", np.nan))]
    eval_rows = {
        r["step"]: r["eval/solve_rate"] for r in rows if not np.isnan(r["eval/solve_rate"])
    }
    assert train_steps == [2, 4, 5]  # every log_freq steps and the last one
    assert eval_rows == {0: 0.0, 2: 0.2, 4: 0.4}
    assert int(result.state.step) == 5 and result.resumed_from is None
    # the final step is always checkpointed, off-period
    assert sorted(p.name for p in (result.run_dir / "checkpoints").iterdir()) == ["5"]
    assert np.isclose(float(jax.device_get(result.state.rms.count)), 80 + 1e-4)
