"""Run configs: defaults, key=value overrides, derived values and error messages."""

from __future__ import annotations

import dataclasses

import pytest

from kinetix.agents.config import (
    ConfigError,
    EvalConfig,
    FinetuneConfig,
    TrainBCConfig,
    TrainPPOConfig,
    bc_num_updates,
    config_from_dict,
    config_keys,
    config_to_dict,
    env_name,
    env_params_from_config,
    load_config,
    model_config,
    ppo_config,
)
from kinetix.agents.models import ModelConfig
from kinetix.agents.ppo import PPOConfig


def test_defaults_follow_the_reference():
    bc = load_config(TrainBCConfig, ["dataset_dir=/d"])
    assert (bc.learning.lr, bc.learning.minibatch_size, bc.learning.weight_decay) == (
        3e-4,
        8192,
        0.0,
    )
    assert (bc.eval.eval_freq, bc.misc.checkpoint_save_freq) == (4096, 32768)
    assert bc.disentangled_bc_loss and bc.use_trajectory_data and bc.env_size == "m"
    assert bc_num_updates(bc) == 10_737_418_240 // 8192
    ppo = load_config(TrainPPOConfig)
    assert ppo_config(ppo) == PPOConfig()
    assert model_config(ppo) == ModelConfig()
    assert (ppo.eval.eval_freq, ppo.misc.checkpoint_save_freq) == (64, 512)
    assert env_name(ppo) == "Kinetix-SymbolicEntity-MultiDiscrete"


def test_overrides_reach_every_group_with_types():
    cfg = load_config(
        TrainBCConfig,
        [
            "dataset_dir=/data/1M/m",
            "learning.lr=1e-3",
            "env_size=s",
            "model.transformer_depth=3",
            "eval.eval_levels=[s/h0,m/h1]",
            "misc.use_tensorboard=true",
            "learning.num_updates=7",
        ],
    )
    assert cfg.learning.lr == 1e-3 and isinstance(cfg.learning.lr, float)
    assert cfg.env_size == "s" and cfg.model.transformer_depth == 3
    assert cfg.eval.eval_levels == ["s/h0", "m/h1"]
    assert cfg.misc.use_tensorboard is True
    assert bc_num_updates(cfg) == 7
    params, static = env_params_from_config(cfg)
    assert static.num_polygons == 5 and params.dense_reward_scale == 0.2


def test_ppo_and_finetune_learning_keys_mirror_ppo_config():
    keys = {k for k, _, _ in config_keys(TrainPPOConfig)}
    for f in dataclasses.fields(PPOConfig):
        assert f"learning.{f.name}" in keys
    for f in dataclasses.fields(ModelConfig):
        assert f"model.{f.name}" in keys
    ft = load_config(FinetuneConfig, ["bc_checkpoint=/ck", "learning.num_train_envs=64"])
    assert ft.load_critic is False and ft.reuse_rms is True
    assert ppo_config(ft).num_train_envs == 64


def test_unknown_key_lists_close_matches_and_valid_keys():
    with pytest.raises(ConfigError) as e:
        load_config(TrainBCConfig, ["dataset_dir=/d", "learning.lrr=3e-4"])
    msg = str(e.value)
    assert "unknown config key 'learning.lrr'" in msg
    assert "Did you mean learning.lr" in msg
    assert "Valid keys:" in msg and "misc.save_path" in msg


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("learning.lr=abc", "bad value for config key 'learning.lr'"),
        ("seed=1.5", "bad value for config key 'seed'"),
        ("env_size=xl", r"env_size = 'xl'; expected one of \['s', 'm', 'l'\]"),
        ("env.observation_type=rgb", "env.observation_type = 'rgb'"),
        ("env.physics_numerics=approx", r"env.physics_numerics = 'approx'; expected one of"),
        ("model.num_heads=6", "bad model config: ModelConfig.num_heads = 6"),
        ("learning.lr=-1", "learning.lr = -1.0; expected > 0"),
        ("lr", "not of the form key=value"),
        ("model=tf-xl", "model='tf-xl': expected a model preset"),
    ],
)
def test_bad_values_raise_clear_errors(override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(TrainBCConfig, ["dataset_dir=/d", override])


def test_missing_required_key_and_cross_key_checks():
    with pytest.raises(ConfigError, match="needs a value for dataset_dir"):
        load_config(TrainBCConfig, [])
    with pytest.raises(ConfigError, match="needs a value for checkpoint"):
        load_config(EvalConfig, [])
    with pytest.raises(ConfigError, match="recurrent_model=True needs use_trajectory_data=True"):
        load_config(
            TrainBCConfig,
            ["dataset_dir=/d", "model.recurrent_model=true", "use_trajectory_data=false"],
        )
    with pytest.raises(ConfigError, match="num_minibatches"):
        load_config(TrainPPOConfig, ["learning.num_train_envs=10"])
    with pytest.raises(ConfigError, match="train_levels_list"):
        load_config(TrainPPOConfig, ["train_levels.train_level_mode=list"])


def test_model_preset_then_single_keys():
    cfg = load_config(TrainPPOConfig, ["model.actor_depth=2", "model=tf-s"])
    expected = ModelConfig.preset("tf-s", actor_depth=2)
    assert model_config(cfg) == expected


def test_dict_round_trip_and_keys_listing():
    cfg = load_config(FinetuneConfig, ["bc_checkpoint=/ck", "seed=3"])
    d = config_to_dict(cfg)
    assert d["_target_"] == "FinetuneConfig" and d["seed"] == 3
    assert config_from_dict(d) == cfg
    rows = {k: (t, v) for k, t, v in config_keys(TrainBCConfig)}
    assert rows["dataset_dir"] == ("str", "???")
    assert rows["learning.lr"] == ("float", 3e-4)
    assert rows["eval.eval_freq"] == ("int", 4096)  # the command's own group default


def test_ued_group_selects_the_curriculum():
    from kinetix.agents.config import curriculum_config
    from kinetix.agents.curriculum import ACCELConfig, PLRConfig

    assert curriculum_config(load_config(TrainPPOConfig)) is None
    plr = curriculum_config(
        load_config(TrainPPOConfig, ["ued.ued_method=plr", "ued.buffer_size=9"])
    )
    assert type(plr) is PLRConfig and plr.buffer_size == 9
    accel = curriculum_config(
        load_config(TrainPPOConfig, ["ued.ued_method=accel", "ued.num_edits=2"])
    )
    assert accel == ACCELConfig(num_edits=2)
    with pytest.raises(ConfigError, match="ued.ued_method"):
        load_config(TrainPPOConfig, ["ued.ued_method=sfl"])
    with pytest.raises(ConfigError, match="num_edits"):
        load_config(TrainPPOConfig, ["ued.ued_method=accel", "ued.num_edits=0"])


def test_build_ppo_with_accel_has_an_accel_buffer():
    import jax

    from kinetix.agents.curriculum import ACCELBuffer
    from kinetix.agents.finetune import build_ppo

    config = load_config(
        TrainPPOConfig,
        [
            "env_size=s",
            "env.observation_type=blind",
            "env.max_timesteps=16",
            "model.actor_depth=1",
            "model.critic_depth=1",
            "model.actor_width=8",
            "model.critic_width=8",
            "learning.num_train_envs=4",
            "learning.num_minibatches=2",
            "train_levels.train_level_mode=dummy",
            "ued.ued_method=accel",
            "ued.buffer_size=6",
        ],
    )
    trainer = build_ppo(config)[0]
    # shapes only: tracing init builds the buffer without compiling anything
    state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    assert isinstance(state.plr_buffer, ACCELBuffer)
    assert state.plr_buffer.plr.scores.shape == (6,)
    assert state.plr_buffer.parents.shape == (4,)
