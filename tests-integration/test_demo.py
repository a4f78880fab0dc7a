"""The README's main job end to end at smoke size: ``run_demo`` writes a report whose table,
curves, GIF and JSON agree with each other. Collection is replaced by the hand-made levels'
scripted solutions (a PPO expert this small solves too little to test with)."""

from __future__ import annotations

import dataclasses
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.agents.demo import QUICK_CONFIG, DemoConfig, StageResult, main, run_demo
from kinetix.data import DatasetWriter, valid_action_mask_np
from kinetix.environment import load_evaluation_levels, load_handmade_suite

LEVELS = ["rocket_up", "aim_the_burst", "topple_tower"]


def _scripted_collect(config, e, data_dir):
    t0 = time.perf_counter()
    T = int(e.env_params.max_timesteps)
    suite = {lvl.name: lvl for lvl in load_handmade_suite("s")}
    levels, _ = load_evaluation_levels([suite[n].level_name for n in LEVELS], e.static)
    actions = jnp.asarray(np.stack([suite[n].solution_actions(T) for n in LEVELS]))

    def play(level, acts):
        key = jax.random.PRNGKey(0)
        _, s0 = e.env.reset(key, e.env_params, level)

        def step(carry, a):
            s, prev_done = carry
            _, nxt, _, done, _ = e.env.step(key, s, a, e.env_params, level)
            return (nxt, done), (s, prev_done)

        return jax.lax.scan(step, (s0, jnp.zeros((), bool)), acts)[1]

    states, dones = jax.tree.map(np.asarray, jax.jit(jax.vmap(play))(levels, actions))
    with DatasetWriter(data_dir, e.static, action_type="multi_discrete") as w:
        w.append(
            {
                "action": np.asarray(actions),
                "action_mask": valid_action_mask_np(states, e.static),
                "done": dones,
                "env_state": states,
            }
        )
    return StageResult("collect", time.perf_counter() - t0, len(LEVELS) * T, {"solved": 3})


def test_run_demo_writes_a_consistent_report(tmp_path):
    config = dataclasses.replace(QUICK_CONFIG, gif_level="s/rocket_up")
    report = run_demo(config, tmp_path, collect_fn=_scripted_collect)
    assert report == tmp_path / "report.md"
    text = report.read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    for agent in ("bc", "finetune", "scratch"):
        for split in ("heldout", "handmade"):
            rate = results["table"][agent][split]["solve_rate"]
            assert 0.0 <= rate <= 1.0
            per_level = results["table"][agent][split]["per_level_solve_rate"]
            assert np.isclose(np.mean(per_level), rate)
    # The table shows the JSON's numbers; both PPO runs used the same budget.
    ft = results["table"]["finetune"]["heldout"]["solve_rate"]
    assert f"| BC→PPO (fine-tuned) | {ft:.3f} |" in text
    steps = results["stages"]["finetune"]["env_steps"]
    assert steps == results["stages"]["scratch"]["env_steps"] == config.ppo_timesteps
    assert results["curves"]["finetune"]["env_steps"][-1] == steps
    assert results["stages"]["collect"]["env_steps"] == len(LEVELS) * config.max_timesteps
    assert len(results["curves"]["finetune"]["env_steps"]) == config.curve_points + 1
    bc = results["curves"]["bc"]["loss"]
    assert bc[-1] < bc[0]
    try:
        import matplotlib  # noqa: F401  (the `plots` extra)
    except ImportError:
        assert "learning_curves.png: skipped" in text
    else:
        assert (tmp_path / "learning_curves.png").stat().st_size > 1000
    gif = (tmp_path / "best_agent.gif").read_bytes()
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    assert "`s/rocket_up`" in text


def test_bad_demo_settings_are_named():
    with pytest.raises(ValueError, match="collector = 'x'"):
        DemoConfig(collector="x")
    with pytest.raises(ValueError, match="num_collect_levels = 300"):
        DemoConfig(num_collect_levels=300)
    with pytest.raises(ValueError, match="ppo_timesteps = 4096"):
        DemoConfig(ppo_timesteps=4096)  # fewer updates than learning-curve points
    with pytest.raises(SystemExit, match="bad override 'ppo_steps=3'"):
        main(["ppo_steps=3"])
