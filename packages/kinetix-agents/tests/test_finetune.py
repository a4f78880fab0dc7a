"""Fine-tuning: PPO state initialised from a BC checkpoint (actor only or with critic, RMS
reuse), model-mismatch errors, and a tiny end-to-end fine-tuning run."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _ag2_helpers import TINY_MODEL_OVERRIDES

from kinetix.agents.checkpoint import CheckpointManager
from kinetix.agents.config import (
    ConfigError,
    FinetuneConfig,
    TrainBCConfig,
    build_network_for_config,
    config_to_dict,
    load_config,
)
from kinetix.agents.finetune import build_ppo, load_bc_into_ppo, run_finetune
from kinetix.agents.metrics import read_metrics_csv

ENV = ["env_size=s", "env.observation_type=blind", "env.max_timesteps=16", *TINY_MODEL_OVERRIDES]
PPO = [
    "learning.num_train_envs=4",
    "learning.num_steps=4",
    "learning.num_minibatches=2",
    "learning.update_epochs=1",
    "learning.total_timesteps=32",
    "learning.rms_norm=true",
    "train_levels.train_level_mode=dummy",
    "eval.eval_freq=0",
    "misc.progress_bar=false",
    "misc.save_plots=false",
]


def _arrays(tree):
    return [np.asarray(x) for x in jax.tree.leaves(eqx.filter(tree, eqx.is_array))]


def _equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(b), strict=True))


@pytest.fixture(scope="module")
def bc_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("bc") / "checkpoints"
    bc_config = load_config(TrainBCConfig, ["dataset_dir=unused", "learning.rms_norm=true", *ENV])
    network, rms = build_network_for_config(config_to_dict(bc_config), seed=5)
    rms = eqx.tree_at(lambda r: r.mean, rms, jax.tree.map(lambda m: m + 0.5, rms.mean))
    with CheckpointManager(
        path,
        save_every=1,
        metadata={"config": config_to_dict(bc_config), "kind": "bc", "has_rms": True},
    ) as mgr:
        mgr.save(1, {"x": jnp.zeros(1)}, policy={"network": network, "rms": rms})
    return path, network, rms


@pytest.fixture(scope="module")
def fresh(bc_checkpoint):
    config = load_config(FinetuneConfig, [f"bc_checkpoint={bc_checkpoint[0]}", *ENV, *PPO])
    trainer = build_ppo(config)[0]
    return config, trainer.init(jax.random.PRNGKey(0))


def test_physics_numerics_reaches_the_env(bc_checkpoint):
    base = [f"bc_checkpoint={bc_checkpoint[0]}", *ENV, *PPO]
    assert build_ppo(load_config(FinetuneConfig, base))[1].physics_engine.numerics == "exact"
    config = load_config(FinetuneConfig, [*base, "env.physics_numerics=fast"])
    assert build_ppo(config)[1].physics_engine.numerics == "fast"


def test_actor_only_load_keeps_fresh_critic(bc_checkpoint, fresh):
    path, bc_net, bc_rms = bc_checkpoint
    config, state = fresh
    assert not _equal(state.network.trunk.actor, bc_net.trunk.actor)
    out = load_bc_into_ppo(state, str(path), config=config, load_critic=False, reuse_rms=True)
    assert _equal(out.network.encoder, bc_net.encoder)
    assert _equal(out.network.trunk.actor, bc_net.trunk.actor)
    assert _equal(out.network.trunk.action_head, bc_net.trunk.action_head)
    assert _equal(out.network.trunk.critic, state.network.trunk.critic)
    assert _equal(out.network.trunk.value_head, state.network.trunk.value_head)
    assert _equal(out.rms, bc_rms)
    assert _equal(out.opt_state, state.opt_state)  # optimiser state is never taken from BC


def test_critic_and_rms_knobs(bc_checkpoint, fresh):
    path, bc_net, _ = bc_checkpoint
    config, state = fresh
    out = load_bc_into_ppo(state, str(path), config=config, load_critic=True, reuse_rms=False)
    assert _equal(out.network, bc_net)
    assert _equal(out.rms, state.rms)


def test_model_mismatch_is_a_clear_error(bc_checkpoint, fresh):
    path, _, _ = bc_checkpoint
    config, state = fresh
    other = load_config(
        FinetuneConfig, [f"bc_checkpoint={path}", *ENV, *PPO, "model.actor_width=16"]
    )
    with pytest.raises(ConfigError, match="actor_width: checkpoint 8 vs run 16"):
        load_bc_into_ppo(state, str(path), config=other)
    bad = load_config(
        FinetuneConfig, [f"bc_checkpoint={path}", *ENV, "misc.load_only_params=false"]
    )
    with pytest.raises(ConfigError, match="load_only_params=False"):
        run_finetune(bad)


def test_finetune_run_end_to_end(bc_checkpoint, tmp_path):
    path, bc_net, _ = bc_checkpoint
    config = load_config(
        FinetuneConfig,
        [f"bc_checkpoint={path}", *ENV, *PPO, f"misc.save_path={tmp_path}", "misc.run_name=ft"],
    )
    seen = []
    result = run_finetune(
        config,
        online_eval=lambda net, rms, step: (
            seen.append((step, _equal(net.trunk.actor, bc_net.trunk.actor))) or {"solve_rate": 0.0}
        ),
    )
    assert seen[0] == (0, True)  # the initial evaluation sees the BC actor
    assert int(result.state.update_step) == 2
    assert not _equal(result.state.network.trunk.actor, bc_net.trunk.actor)
    rows = read_metrics_csv(tmp_path / "ft" / "metrics.csv")
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert (tmp_path / "ft" / "checkpoints" / "2").is_dir()
