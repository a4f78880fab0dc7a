"""Expert collection: what is stored, that it replays to the goal, resume and process splits.

One tiny collection (size s, 4 levels in chunks of 2, a few PPO updates, T = 64) is shared by
the tests; the other runs reuse its compiled programs through the persistent compile cache.
Collections run as the real command line (``python -m kinetix.agents.collect``) in a
subprocess: that is the path users run, with its stall restart (XLA:CPU wedged inside this
vmapped training until the networks' init stopped using LAPACK; see kinetix.agents.stall).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.agents.collect import (
    STATE_FILE,
    CollectConfig,
    CollectReport,
    collect,
    level_key,
    parse_overrides,
)
from kinetix.data import open_released
from kinetix.data.episodes import open_dataset
from kinetix.data.fields import fields_to_env_state
from kinetix.environment import make_kinetix_env

T = 64


def tiny(out, **kw) -> CollectConfig:
    base = dict(
        out=str(out),
        env_size="s",
        num_levels=4,
        chunk_size=2,
        seed=0,
        max_timesteps=T,
        filter_levels=False,
        num_train_envs=4,
        num_steps=16,
        total_timesteps=128,
        num_minibatches=1,
        update_epochs=1,
    )
    base.update(kw)
    return CollectConfig(**base)


def run_cli(config: CollectConfig) -> CollectReport:
    """``python -m kinetix.agents.collect`` with ``config``'s keys; its JSON report."""
    defaults = CollectConfig(out=config.out)
    keys = [
        f"{f.name}={getattr(config, f.name)}"
        for f in dataclasses.fields(CollectConfig)
        if f.name == "out" or getattr(config, f.name) != getattr(defaults, f.name)
    ]
    env = dict(os.environ)
    env.setdefault("JAX_PLATFORMS", "cpu")
    env.setdefault(
        "JAX_COMPILATION_CACHE_DIR", str(Path.home() / ".cache" / "kinetix-tests" / "jax")
    )
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    proc = subprocess.run(
        [sys.executable, "-m", "kinetix.agents.collect", *keys, "--no-progress", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return CollectReport(**json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def collected(tmp_path_factory):
    out = tmp_path_factory.mktemp("experts")
    config = tiny(out)
    report = run_cli(config)
    return config, report


def _read_all(path):
    ds = open_dataset(path, allow_empty=True)
    n = ds.num_trajectories
    return ds, (ds.read(slice(0, n)) if n else {})


def test_report_matches_dataset(collected):
    config, report = collected
    assert report.levels_processed == 4 and report.levels_skipped == 0
    ds, f = _read_all(config.out)
    assert ds.num_trajectories == report.levels_solved == report.total_levels_solved
    assert report.transitions_written == report.levels_solved * T
    assert report.bytes_on_disk > 0
    if report.levels_solved:
        ids = f["level_id"]
        assert len(set(ids.tolist())) == len(ids)
        assert set(ids.tolist()) <= set(config.level_ids)
        # level_rngs is the key the level was sampled from, repeated over the steps
        for k, i in enumerate(ids):
            np.testing.assert_array_equal(f["level_rngs"][k, 0], np.asarray(level_key(0, int(i))))
            assert (f["level_rngs"][k] == f["level_rngs"][k, 0]).all()
        assert f["mask"].all()
        assert not f["done"][:, 0].any()
        ts = f["env_state/timestep"]
        np.testing.assert_array_equal(f["done"][:, 1:], ts[:, 1:] == 0)


def test_stored_trajectories_replay_to_the_goal(collected):
    """Stepping the stored actions from the stored first state reproduces the stored states
    (state t is the one *before* action t) and the first episode ends at the goal."""
    config, report = collected
    if report.levels_solved == 0:
        pytest.skip("no level solved at this tiny budget")
    ds, f = _read_all(config.out)
    static, params = config.static_env_params(), config.env_params()
    states = fields_to_env_state(f, static, check=False)
    env = make_kinetix_env(config.action_type, "symbolic_flat", None, params, static)

    @jax.jit
    def replay(first, actions):
        def step(s, a):
            _, s2, _, done, info = env.step(jax.random.PRNGKey(0), s, a, params, first)
            return s2, (s, done, info["GoalR"])

        return jax.lax.scan(step, first, actions)[1]

    for k in range(ds.num_trajectories):
        first = jax.tree.map(lambda x: jnp.asarray(x[k, 0]), states)
        seen, done, goal = replay(first, jnp.asarray(f["action"][k]))
        stored = jax.tree.map(lambda x: x[k], states)
        # the stored rollout ran vmapped, the replay unbatched: equal up to float rounding
        np.testing.assert_array_equal(np.asarray(seen.timestep), stored.timestep)
        for name in ("polygon", "circle"):
            for leaf in ("position", "rotation"):
                a = np.asarray(getattr(getattr(seen, name), leaf))
                b = getattr(getattr(stored, name), leaf)
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
        done = np.asarray(done)
        assert done.any()
        assert bool(np.asarray(goal)[int(np.argmax(done))])
        valid = f["action_mask"][k]
        assert valid.shape == (T, 6) and valid.dtype == bool


def test_rerun_adds_nothing(collected):
    config, report = collected
    before = _read_all(config.out)[1]
    again = collect(config, progress=False)
    assert again.levels_processed == 0 and again.levels_skipped == 4
    assert again.transitions_written == 0
    after = _read_all(config.out)[1]
    assert sorted(before) == sorted(after)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_state_file_records_every_level(collected):
    import json
    import os

    config, report = collected
    with open(os.path.join(config.out, STATE_FILE)) as f:
        state = json.load(f)
    assert state["done_ranges"] == [[0, 4]]
    assert state["levels_solved"] == report.levels_solved
    assert state["settings"] == config.pinned()


def test_resume_with_other_settings_is_refused(collected):
    config, _ = collected
    with pytest.raises(ValueError, match="seed"):
        collect(dataclasses.replace(config, seed=1), progress=False)


def test_process_splits_are_disjoint_and_reproducible(collected, tmp_path):
    """Two 'processes' with ranges [0, 2) and [2, 4) give the same trajectories as the
    single run over [0, 4) (same chunking), with disjoint level ids."""
    config, report = collected
    parts = []
    for start in (0, 2):
        cfg = dataclasses.replace(
            config, out=str(tmp_path / f"p{start}"), level_start=start, num_levels=2
        )
        r = run_cli(cfg)
        assert r.levels_processed == 2
        parts.append(_read_all(cfg.out)[1])
    ids = [set(p["level_id"].tolist()) if p else set() for p in parts]
    assert ids[0] <= {0, 1} and ids[1] <= {2, 3}
    assert not ids[0] & ids[1]
    whole = _read_all(config.out)[1]
    assert ids[0] | ids[1] == (set(whole["level_id"].tolist()) if whole else set())
    for p in parts:
        for k, i in enumerate(p.get("level_id", [])):
            row = int(np.flatnonzero(whole["level_id"] == i)[0])
            np.testing.assert_array_equal(p["action"][k], whole["action"][row])
            np.testing.assert_array_equal(
                p["env_state/polygon/position"][k], whole["env_state/polygon/position"][row]
            )


def test_released_layout(collected, tmp_path):
    config, report = collected
    cfg = dataclasses.replace(config, out=str(tmp_path / "released"), format="released")
    r = run_cli(cfg)
    assert r.levels_solved == report.levels_solved
    if r.levels_solved == 0:
        pytest.skip("no level solved at this tiny budget")
    ds = open_released(cfg.out)
    assert ds.total_records == report.levels_solved
    whole = _read_all(config.out)[1]
    got = np.concatenate([ds.read_records(i)["action"] for i in range(len(ds.shards))])
    rngs = np.concatenate([ds.read_records(i)["level_rngs"] for i in range(len(ds.shards))])
    order = np.argsort(whole["level_id"])
    np.testing.assert_array_equal(got.reshape(whole["action"].shape), whole["action"][order])
    assert rngs.reshape(whole["level_rngs"].shape)[:, 0].tolist() == [
        np.asarray(level_key(0, int(i))).tolist() for i in whole["level_id"][order]
    ]
    assert collect(cfg, progress=False).levels_processed == 0


def test_parse_overrides():
    cfg = parse_overrides(["out=/tmp/x", "num_levels=1e2", "filter_levels=false", "lr=1e-3"])
    assert (cfg.num_levels, cfg.filter_levels, cfg.lr) == (100, False, 1e-3)
    with pytest.raises(ValueError, match="unknown key 'num_level'"):
        parse_overrides(["out=/tmp/x", "num_level=3"])
    with pytest.raises(ValueError, match="num_levels"):
        parse_overrides(["out=/tmp/x", "num_levels=2.5"])
    with pytest.raises(ValueError, match="out="):
        parse_overrides(["num_levels=3"])


def test_config_errors():
    with pytest.raises(ValueError, match="format"):
        CollectConfig(out="/tmp/x", format="zarr")
    with pytest.raises(ValueError, match="multi-discrete"):
        CollectConfig(out="/tmp/x", format="released", action_type="continuous")
    with pytest.raises(ValueError, match="num_levels"):
        CollectConfig(out="/tmp/x", num_levels=0)


def test_kinetix_collect_command(tmp_path, capsys):
    from kinetix.agents.cli import main

    out = tmp_path / "cli"
    assert main(["collect", f"out={out}", "num_levels=3", "--print-config"]) == 0
    assert "num_levels: 3" in capsys.readouterr().out
    assert main(["collect", f"out={out}", "format=zarr"]) == 2
    assert "format" in capsys.readouterr().err
    assert not out.exists()
