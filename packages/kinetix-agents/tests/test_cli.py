"""The ``kinetix`` command line: help texts, config errors, and an end-to-end ``train-bc`` on
the released-format golden data of kinetix-data, then ``load_policy`` on its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.agents.cli import COMMANDS, main
from kinetix.agents.config import TrainBCConfig, config_keys

RELEASED_TRAJ = (
    Path(__file__).resolve().parents[2] / "kinetix-data" / "tests" / "data" / "released" / "traj_s"
)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for name, command in COMMANDS.items():
        assert name in out and command.summary in out
    assert {"train-ppo", "train-bc", "finetune", "eval"} <= set(COMMANDS)


def test_command_help_lists_keys_with_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train-bc", "--help"])
    out = capsys.readouterr().out
    lines = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")
    }
    for key, tname, default in config_keys(TrainBCConfig):
        assert key in lines, key
        assert lines[key][0] == tname
        shown = "(required)" if default == "???" else json.dumps(default)
        assert " ".join(lines[key][1:]) == shown, key
    assert lines["learning.lr"][1] == "0.0003"
    assert lines["dataset_dir"][1] == "(required)"
    assert lines["eval.eval_freq"][1] == "4096"


def test_no_command_prints_usage_and_fails(capsys):
    assert main([]) == 2
    assert "train-bc" in capsys.readouterr().out


def test_config_errors_exit_2_with_the_message(capsys):
    assert main(["train-bc", "dataset_dir=/d", "learning.lrr=1"]) == 2
    err = capsys.readouterr().err
    assert "kinetix train-bc: error: unknown config key 'learning.lrr'" in err
    assert "Did you mean learning.lr" in err
    assert main(["train-bc"]) == 2
    assert "needs a value for dataset_dir" in capsys.readouterr().err


def test_print_config_shows_overrides(capsys):
    assert main(["train-bc", "dataset_dir=/d", "learning.lr=1e-3", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "dataset_dir: /d" in out and "lr: 0.001" in out


S_LEVEL = (
    Path(__file__).resolve().parents[2]
    / "kinetix-env"
    / "tests"
    / "data"
    / "reference_levels"
    / "s"
)


@pytest.fixture(scope="module")
def bc_run(tmp_path_factory):
    if not RELEASED_TRAJ.is_dir():
        pytest.skip("kinetix-data golden data not present")
    tmp_path = tmp_path_factory.mktemp("cli")
    args = [
        "train-bc",
        f"dataset_dir={RELEASED_TRAJ}",
        "env_size=s",
        "env.observation_type=blind",
        "model.actor_depth=1",
        "model.critic_depth=1",
        "model.actor_width=8",
        "model.critic_width=8",
        "learning.minibatch_size=512",  # 2 trajectories of 256 steps
        "validation_batch_size=256",
        "learning.num_updates=3",
        "learning.lr=1e-2",
        "misc.log_freq=1",
        "misc.checkpoint_save_freq=2",
        "misc.progress_bar=false",
        "eval.eval_freq=0",
        f"misc.save_path={tmp_path}",
        "misc.run_name=bc",
    ]
    assert main(args) == 0
    return tmp_path / "bc"


def test_train_bc_end_to_end_then_load_policy(bc_run):
    from kinetix.agents.checkpoint import load_policy
    from kinetix.agents.metrics import read_metrics_csv

    run_dir = bc_run
    rows = read_metrics_csv(run_dir / "metrics.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    for r in rows:
        assert np.isfinite(r["bc/loss"]) and np.isfinite(r["validation/loss"])
        assert r["bc/loss"] == pytest.approx(r["bc/nll_disentangled"])
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["2", "3"]
    assert (run_dir / "learning_curves.png").stat().st_size > 1000

    loaded = load_policy(run_dir / "checkpoints")
    assert loaded.metadata["step"] == 3 and loaded.config["env_size"] == "s"
    assert loaded.metadata["versions"]["engine_version"]
    obs = jax.nn.one_hot(jnp.array([0, 5, 9]), 257)
    action, _ = loaded.policy(obs, jax.random.PRNGKey(0))
    assert action.shape == (3, 6)
    assert bool(jnp.all((action >= 0) & (action <= 2)))
    greedy, _ = loaded.policy(obs, jax.random.PRNGKey(1), greedy=True)
    greedy2, _ = loaded.policy(obs, jax.random.PRNGKey(2), greedy=True)
    np.testing.assert_array_equal(np.asarray(greedy), np.asarray(greedy2))


def test_eval_command_on_a_level_file(bc_run, tmp_path, capsys):
    level = sorted(S_LEVEL.glob("*.json"))[0]
    out = tmp_path / "eval.json"
    args = [
        "eval",
        f"checkpoint={bc_run / 'checkpoints'}",
        f"eval.eval_levels=[{level}]",
        "eval.eval_on_sampled=false",
        "eval.eval_num_attempts=2",
        f"output={out}",
    ]
    assert main(args) == 0
    results = json.loads(out.read_text())
    assert 0.0 <= results["hand_designed/mean_solve_rate"] <= 1.0
    assert 1 <= results["hand_designed/mean_length"] <= 256
    assert json.loads(capsys.readouterr().out) == results
