"""The agents on the REAL kinetix-render observations (``symbolic_flat``, ``symbolic_entity``,
``symbolic_flat_padded``, ``pixels``) of the s-size level ``h0_weak_thrust``: network shapes, one
PPO update, BC steps and evaluation per observation type, and permutation invariance of the entity
networks under :func:`kinetix.environment.permute_state`.

PPO and evaluation run on the no-op ``KinetixDummyEnv`` (real observations of the real level, no
physics) so each observation type costs one small compile; PPO on the physics env is covered by
``test_ppo.py`` (and here by the ``slow`` test)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REFERENCE_LEVELS

from kinetix.agents.bc import as_bc_batch, init_bc_state, make_bc_optimizer, make_bc_step
from kinetix.agents.evaluation import evaluate
from kinetix.agents.models import (
    EntityTransformerEncoder,
    ModelConfig,
    PermutationInvariantEncoder,
    PixelEncoder,
    make_network,
)
from kinetix.agents.ppo import PPOConfig, make_train
from kinetix.environment import load_from_json_file, make_kinetix_env, permute_state

OBS_TYPES = ("symbolic_flat", "symbolic_entity", "symbolic_flat_padded", "pixels")
TINY = ModelConfig(
    actor_depth=1,
    critic_depth=1,
    actor_width=8,
    critic_width=8,
    transformer_depth=1,
    transformer_size=8,
    transformer_encoder_size=8,
    num_heads=4,
    symbolic_embedding_dim=8,
    encoder_size=8,
)
PPO = PPOConfig(
    num_train_envs=2, num_steps=3, num_minibatches=1, update_epochs=1, total_timesteps=6
)


@pytest.fixture(scope="module")
def level(weak_thrust):
    return weak_thrust


def _setup(level, obs_type, *, dummy=True, model=TINY):
    state, static, params = level
    env = make_kinetix_env("multi_discrete", obs_type, None, params, static, create_dummy_env=dummy)
    net = make_network(model, obs_type, "multi_discrete", params, static, key=jax.random.PRNGKey(0))
    return state, static, params, env, net


def _shapes(tree):
    return [tuple(x.shape) for x in jax.tree.leaves(tree)]


@pytest.mark.parametrize("obs_type", OBS_TYPES)
def test_network_on_real_observation(level, obs_type):
    state, static, params, env, net = _setup(level, obs_type)
    expected_encoder = {
        "symbolic_flat": "FlatEncoder",
        "symbolic_entity": EntityTransformerEncoder.__name__,
        "symbolic_flat_padded": PermutationInvariantEncoder.__name__,
        "pixels": PixelEncoder.__name__,
    }[obs_type]
    assert type(net.encoder).__name__ == expected_encoder
    # batch entry 0: the level; entry 1: the level with every polygon moved
    moved = state.replace(polygon=state.polygon.replace(position=state.polygon.position + 0.5))
    states = jax.tree.map(lambda a, b: jnp.stack([a, b]), state, moved)

    @eqx.filter_jit
    def forward(n, s):
        obs = jax.vmap(env.observation_type.get_obs)(s)
        batched = jax.tree.map(lambda x: jnp.broadcast_to(x, (2, *x.shape)), obs)  # T = 2
        _, dist, value = n(n.initialize_carry(2), (batched, jnp.zeros((2, 2), bool)))
        return obs, dist.sample(jax.random.PRNGKey(0)), value

    obs, action, value = forward(net, states)
    if obs_type == "pixels":
        h = static.screen_dim[0] // static.downscale
        assert obs.image.shape == (2, h, h, 3) and obs.global_info.shape == (2, 1)
        assert float(obs.image.min()) >= 0.0 and float(obs.image.max()) <= 1.0
    if obs_type == "symbolic_flat_padded":
        assert obs.ndim == 3  # one row per entity, pooled by the permutation-invariant MLP
    assert value.shape == (2, 2) and np.isfinite(np.asarray(value)).all()
    assert action.shape == (2, 2, 6)
    # the encoder reads the observation: the moved level gets a different value
    assert abs(float(value[0, 1]) - float(value[0, 0])) > 1e-6


@pytest.mark.parametrize("obs_type", OBS_TYPES)
def test_ppo_update_and_evaluation_on_real_observation(level, obs_type):
    state, static, params, env, net = _setup(level, obs_type)
    levels = jax.tree.map(lambda x: x[None], state)
    trainer = make_train(PPO, env, params, static, net, train_levels=levels)
    final, metrics = trainer.train(jax.random.PRNGKey(0))
    one = jax.eval_shape(env.observation_type.get_obs, state)
    assert _shapes(final.obs) == [(2, *s) for s in _shapes(one)]
    for k in ("total_loss", "value_loss", "actor_loss", "entropy", "grad_norm"):
        assert metrics[k].shape == (1,) and np.isfinite(np.asarray(metrics[k])).all(), k
    assert float(metrics["grad_norm"][0]) > 0.0
    # the update moved the encoder's parameters (gradients flow through the real observation)
    changed = [
        float(jnp.abs(a - b).max())
        for a, b in zip(
            jax.tree.leaves(eqx.filter(final.network.encoder, eqx.is_inexact_array)),
            jax.tree.leaves(eqx.filter(net.encoder, eqx.is_inexact_array)),
        )
    ]
    assert max(changed) > 0.0

    # the dummy env never ends an episode: nothing solved, every attempt runs max_steps
    res = evaluate(
        final.network, levels, env, params, static, num_attempts=2, max_steps=3,
        key=jax.random.PRNGKey(1),
    )  # fmt: skip
    assert res["solved"].shape == (1, 2) and not res["solved"].any()
    np.testing.assert_array_equal(res["lengths"], 3)
    np.testing.assert_array_equal(res["returns"], 0.0)


@pytest.mark.parametrize("obs_type", OBS_TYPES)
def test_bc_steps_on_real_observation(level, obs_type):
    state, static, params, env, net = _setup(level, obs_type)
    B, T = 2, 2
    states = jax.tree.map(lambda x: jnp.broadcast_to(x, (B, T, *x.shape)), state)
    actions = np.broadcast_to(np.array([1, 2, 0, 1, 1, 0], np.int32), (B, T, 6)).copy()
    batch = as_bc_batch(
        {
            "action": actions,
            "action_mask": np.ones((B, T, 6), bool),
            "mask": np.ones((B, T), bool),
            "env_state": states,
        }
    )
    opt = make_bc_optimizer(1e-2, 10)
    step = make_bc_step(opt, env.observation_type.get_obs)
    bc = init_bc_state(net, opt, jax.random.PRNGKey(0))
    losses = []
    for _ in range(3):
        bc, m = step(bc, batch)
        losses.append(float(m["loss"]))
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0], losses  # fitting a fixed batch lowers its NLL


@pytest.mark.parametrize(
    "model",
    [TINY, TINY.__class__(**{**TINY.__dict__, "permutation_invariant_mlp": True})],
    ids=["transformer", "perm_invariant_mlp"],
)
def test_entity_network_is_invariant_to_permuting_the_level(model):
    # m/h7_car_flip: 2 movable polygons, 2 circles, 2 joints, 2 thrusters to shuffle
    car_flip = load_from_json_file(REFERENCE_LEVELS / "m" / "h7_car_flip.json")
    state, static, params, env, net = _setup(car_flip, "symbolic_entity", model=model)
    # big heads so the comparison is not vacuous (orthogonal(0.01) heads give tiny logits)
    net = eqx.tree_at(
        lambda n: n.trunk.action_head.dense.kernel, net, net.trunk.action_head.dense.kernel * 100
    )
    get_obs = env.observation_type.get_obs

    @eqx.filter_jit
    def apply(n, s):
        o = jax.tree.map(lambda x: x[None, None], get_obs(s))
        _, dist, value = n(n.initialize_carry(1), (o, jnp.zeros((1, 1), bool)))
        return dist.logits, value

    logits, value = apply(net, state)
    permuted_any = False
    for seed in range(3):
        permuted = permute_state(jax.random.PRNGKey(seed), state, static)
        a, b = get_obs(state), get_obs(permuted)
        permuted_any |= not np.array_equal(np.asarray(a.polygons), np.asarray(b.polygons))
        permuted_any |= not np.array_equal(np.asarray(a.joints), np.asarray(b.joints))
        logits_p, value_p = apply(net, permuted)
        np.testing.assert_allclose(np.asarray(logits_p), np.asarray(logits), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(value_p), np.asarray(value), rtol=1e-4, atol=1e-5)
    assert permuted_any, "permute_state left the observation unchanged for every seed"
    # not vacuous: moving a shape changes the output
    moved = state.replace(polygon=state.polygon.replace(position=state.polygon.position + 0.3))
    assert np.abs(np.asarray(apply(net, moved)[0]) - np.asarray(logits)).max() > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("obs_type", OBS_TYPES)
def test_ppo_update_on_physics_env_with_real_observation(level, obs_type):
    state, static, params, env, net = _setup(level, obs_type, dummy=False)
    levels = jax.tree.map(lambda x: x[None], state)
    final, metrics = make_train(PPO, env, params, static, net, train_levels=levels).train(
        jax.random.PRNGKey(0)
    )
    assert np.isfinite(np.asarray(metrics["total_loss"])).all()
    assert float(metrics["grad_norm"][0]) > 0.0
    assert int(final.env_state.env_state.timestep.max()) > 0  # the physics env advanced
