"""Kinetix agents: Equinox actor-critics, PPO, behaviour cloning, BC->PPO fine-tuning,
evaluation, orbax checkpoints and the ``kinetix`` CLI.

Example::

    import jax
    from kinetix.agents import ModelConfig, PPOConfig, evaluate, make_network, make_train

    net = make_network(ModelConfig(), "symbolic_entity", "multi_discrete", env_params,
                       static_env_params, key=jax.random.PRNGKey(0))
    trainer = make_train(PPOConfig(), env, env_params, static_env_params, net)
    state, metrics = trainer.train(jax.random.PRNGKey(0))
"""

from kinetix.agents import distributed
from kinetix.agents.bc import BCState, bc_loss, make_bc_optimizer, make_bc_step
from kinetix.agents.bc_train import run_bc
from kinetix.agents.checkpoint import CheckpointManager, LoadedPolicy, load_policy
from kinetix.agents.config import (
    ConfigError,
    EvalConfig,
    FinetuneConfig,
    TrainBCConfig,
    TrainPPOConfig,
    load_config,
)
from kinetix.agents.distributions import Categorical, DiagGaussian, MultiCategorical
from kinetix.agents.evaluation import evaluate, rollout_episode
from kinetix.agents.finetune import load_bc_into_ppo, run_finetune, run_ppo
from kinetix.agents.gae import compute_gae
from kinetix.agents.metrics import MetricsLogger
from kinetix.agents.models import ActorCritic, ModelConfig, count_params, make_network
from kinetix.agents.plots import plot_learning_curves
from kinetix.agents.ppo import PPOConfig, PPOState, Trainer, make_train
from kinetix.agents.rms import RunningMeanStandard, init_rms, normalise, update_rms

__all__ = [
    "BCState",
    "CheckpointManager",
    "ConfigError",
    "EvalConfig",
    "FinetuneConfig",
    "LoadedPolicy",
    "MetricsLogger",
    "TrainBCConfig",
    "TrainPPOConfig",
    "bc_loss",
    "distributed",
    "load_bc_into_ppo",
    "load_config",
    "load_policy",
    "make_bc_optimizer",
    "make_bc_step",
    "plot_learning_curves",
    "run_bc",
    "run_finetune",
    "run_ppo",
    "ActorCritic",
    "Categorical",
    "DiagGaussian",
    "ModelConfig",
    "MultiCategorical",
    "PPOConfig",
    "PPOState",
    "RunningMeanStandard",
    "Trainer",
    "compute_gae",
    "count_params",
    "evaluate",
    "init_rms",
    "make_network",
    "make_train",
    "normalise",
    "rollout_episode",
    "update_rms",
]
