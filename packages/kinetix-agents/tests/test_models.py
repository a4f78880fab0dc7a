import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import (
    EntityObs,
    EntityObsFn,
    FlatObsFn,
    PixelObsFn,
)

from kinetix.agents.models import ModelConfig, count_params, make_network
from kinetix.environment import EnvParams, static_env_params_from_size

P, C, J, H = 6, 3, 2, 2  # m-size slot counts


def _net(cfg=ModelConfig(), obs_cls=EntityObsFn, action="multi_discrete", size="m"):
    static = static_env_params_from_size(size)
    params = EnvParams()
    return make_network(
        cfg, obs_cls(params, static), action, params, static, key=jax.random.PRNGKey(0)
    )


@pytest.mark.parametrize(
    "cfg, expected",
    [
        (ModelConfig(), 786_369),  # tf-paper, the README's "786k"
        (ModelConfig(recurrent_model=True), 1_115_073),
        (ModelConfig.preset("tf-s"), 1_955_233),
        (ModelConfig(permutation_invariant_mlp=True), 221_521),
    ],
)
def test_param_counts_match_reference(cfg, expected):
    # shapes only (no initialisation work); the materialised default is checked below
    static, params = static_env_params_from_size("m"), EnvParams()
    shapes = eqx.filter_eval_shape(
        make_network,
        cfg,
        EntityObsFn(params, static),
        "multi_discrete",
        params,
        static,
        key=jax.random.PRNGKey(0),
    )
    assert count_params(shapes) == expected


def test_materialised_default_param_count():
    assert count_params(_net()) == 786_369


def _random_entity_obs(seed: int) -> EntityObs:
    rng = np.random.default_rng(seed)
    p_mask = np.array([1, 1, 1, 1, 1, 0], bool)
    c_mask = np.array([1, 1, 0], bool)
    active = np.concatenate([p_mask, c_mask])
    s = P + C
    att = rng.random((4, s, s)) < 0.5
    att = att | att.transpose(0, 2, 1)
    att[0] = True
    att &= active[None, :, None] & active[None, None, :]
    joint_idx = np.array([[4, 6], [1, 2], [6, 4], [2, 1]], np.int32)
    return EntityObs(
        circles=jnp.asarray(rng.normal(size=(C, 19)), jnp.float32),
        polygons=jnp.asarray(rng.normal(size=(P, 27)), jnp.float32),
        joints=jnp.asarray(rng.normal(size=(2 * J, 22)), jnp.float32),
        thrusters=jnp.asarray(rng.normal(size=(H, 8)), jnp.float32),
        circle_mask=jnp.asarray(c_mask),
        polygon_mask=jnp.asarray(p_mask),
        joint_mask=jnp.asarray([True, False, True, False]),
        thruster_mask=jnp.asarray([True, False]),
        attention_mask=jnp.asarray(att),
        joint_indexes=jnp.asarray(joint_idx),
        thruster_indexes=jnp.asarray([7, 0], jnp.int32),
    )


def _permute(obs: EntityObs, seed: int) -> EntityObs:
    rng = np.random.default_rng(seed)
    pp, cp = rng.permutation(P), rng.permutation(C)
    jp, hp = rng.permutation(2 * J), rng.permutation(H)
    shape_perm = np.concatenate([pp, P + cp])  # new slot i holds old shape shape_perm[i]
    inverse = np.argsort(shape_perm)  # old index -> new index
    att = np.asarray(obs.attention_mask)[:, shape_perm][:, :, shape_perm]
    return EntityObs(
        circles=obs.circles[cp],
        polygons=obs.polygons[pp],
        joints=obs.joints[jp],
        thrusters=obs.thrusters[hp],
        circle_mask=obs.circle_mask[cp],
        polygon_mask=obs.polygon_mask[pp],
        joint_mask=obs.joint_mask[jp],
        thruster_mask=obs.thruster_mask[hp],
        attention_mask=jnp.asarray(att),
        joint_indexes=jnp.asarray(inverse[np.asarray(obs.joint_indexes)[jp]], jnp.int32),
        thruster_indexes=jnp.asarray(inverse[np.asarray(obs.thruster_indexes)[hp]], jnp.int32),
    )


@eqx.filter_jit
def _apply_jit(net, obs):
    batched = jax.tree.map(lambda x: x[None, None], obs)
    _, dist, value = net(net.initialize_carry(1), (batched, jnp.zeros((1, 1), bool)))
    return dist.logits, value


def _apply(net, obs):
    logits, value = _apply_jit(net, obs)
    return np.asarray(logits), np.asarray(value)


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(),
        ModelConfig(
            aggregate_mode="mean", transformer_ffn=True, multilayer_joint_thruster_mixing=True
        ),
        ModelConfig(permutation_invariant_mlp=True),
    ],
)
def test_entity_models_are_permutation_invariant(cfg):
    net = _net(cfg)
    # Scale the heads up so the check is not vacuous (orthogonal(0.01) heads give tiny logits).
    net = eqx.tree_at(
        lambda n: n.trunk.action_head.dense.kernel, net, net.trunk.action_head.dense.kernel * 100
    )
    obs = _random_entity_obs(0)
    logits, value = _apply(net, obs)
    logits_p, value_p = _apply(net, _permute(obs, 1))
    np.testing.assert_allclose(logits_p, logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(value_p, value, rtol=1e-4, atol=1e-5)
    # and the output does depend on the features: changing an active polygon changes it
    changed = EntityObs(**{**obs.__dict__, "polygons": obs.polygons.at[0].add(1.0)})
    assert np.abs(_apply(net, changed)[0] - logits).max() > 1e-4


def test_inactive_entities_do_not_matter():
    net = _net()
    obs = _random_entity_obs(0)
    changed = EntityObs(
        **{**obs.__dict__, "polygons": obs.polygons.at[5].add(7.0)}
    )  # inactive slot
    np.testing.assert_allclose(_apply(net, changed)[1], _apply(net, obs)[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("obs_cls", [FlatObsFn, PixelObsFn, EntityObsFn])
@pytest.mark.parametrize(
    "action, shape", [("multi_discrete", (6,)), ("discrete", ()), ("continuous", (6,))]
)
def test_heads_shapes_and_masks(obs_cls, action, shape):
    cfg = ModelConfig(
        actor_depth=1, critic_depth=1, actor_width=16, critic_width=16, transformer_depth=1
    )
    net = _net(cfg, obs_cls, action, size="s")
    static = static_env_params_from_size("s")
    from kinetix.environment import create_empty_env

    ob = obs_cls(EnvParams(), static).get_obs(create_empty_env(static))
    T, B = 3, 2
    obs = jax.tree.map(lambda x: jnp.broadcast_to(x, (T, B) + x.shape), ob)
    dones = jnp.zeros((T, B), bool)
    call = eqx.filter_jit(lambda n, h, x, m: n(h, x, m))
    hidden, dist, value = call(net, net.initialize_carry(B), (obs, dones), None)
    assert value.shape == (T, B)
    a = dist.sample(jax.random.PRNGKey(0))
    assert a.shape == (T, B) + shape
    assert dist.log_prob(a).shape == (T, B)
    assert dist.entropy().shape == (T, B)
    assert dist.mode().shape == (T, B) + shape
    if action == "discrete":
        mask = jnp.zeros((T, B, 11), bool).at[..., 8].set(True).at[..., 0].set(True)
        _, mdist, _ = call(net, net.initialize_carry(B), (obs, dones), mask)
        probs = np.asarray(mdist.probs)
        assert np.all(probs[..., 1:8] == 0) and np.all(probs[..., 9:] == 0)
        np.testing.assert_allclose(probs[..., [0, 8]].sum(-1), 1.0, rtol=1e-6)
    elif action == "multi_discrete":
        assert dist.log_prob_per_dim(a).shape == (T, B, 6)
        mask = jnp.broadcast_to(jnp.array([True, False, False, False, True, False]), (T, B, 6))
        _, mdist, _ = call(net, net.initialize_carry(B), (obs, dones), mask)
        probs = np.asarray(mdist.probs)
        assert np.all(probs[..., [1, 2, 3, 5], 1:] == 0)
        assert np.all(probs[..., 0, :] > 0)
    else:
        assert dist.log_prob_per_dim(a).shape == (T, B, 6)
        np.testing.assert_array_equal(np.asarray(net.trunk.action_head.log_std), 0.0)


def test_gru_resets_carry_on_done():
    cfg = ModelConfig(
        recurrent_model=True, actor_depth=1, critic_depth=1, actor_width=16, critic_width=16
    )
    net = _net(cfg, FlatObsFn, "discrete", size="s")
    rng = np.random.default_rng(0)
    n = net.encoder.dense.kernel.shape[0]
    obs = jnp.asarray(rng.normal(size=(4, 2, n)), jnp.float32)
    dones = jnp.array([[False, False], [False, True], [False, False], [False, False]])
    h0 = net.initialize_carry(2)
    assert h0[0].shape == (2, 256) and not np.any(np.asarray(h0[0]))
    _, dist, value = net(h0, (obs, dones))
    # env 1 restarts at t = 1: its outputs from t = 1 equal a fresh run from t = 1
    _, dist2, value2 = net(h0, (obs[1:], jnp.zeros((3, 2), bool)))
    np.testing.assert_allclose(np.asarray(value)[1:, 1], np.asarray(value2)[:, 1], rtol=1e-5)
    assert np.abs(np.asarray(value)[1:, 0] - np.asarray(value2)[:, 0]).max() > 1e-6


def test_init_scales():
    net = _net()
    head = np.asarray(net.trunk.action_head.dense.kernel)
    # orthogonal(0.01): columns have norm 0.01
    np.testing.assert_allclose(np.linalg.norm(head, axis=0), 0.01, rtol=1e-4)
    np.testing.assert_array_equal(np.asarray(net.trunk.action_head.dense.bias), 0.0)
    k = np.asarray(net.trunk.actor.layers[0].kernel)
    np.testing.assert_allclose(k.T @ k, 2.0 * np.eye(k.shape[1]), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(activation="gelu"), "activation"),
        (dict(num_heads=6), "multiple of 4"),
        (dict(aggregate_mode="max"), "aggregate_mode"),
        (dict(dropout_prob=0.1), "transformer_ffn"),
    ],
)
def test_bad_model_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)


def test_from_mapping_strict():
    assert ModelConfig.from_mapping({"actor_depth": 2}).actor_depth == 2
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_mapping({"actor_dept": 2}, strict=True)


@pytest.mark.parametrize("shape", [(64, 64), (128, 6), (6, 128), (3, 4, 5), (1, 32)])
def test_orthogonal_init_equals_jax_without_lapack(shape):
    """Same matrix as jax.nn.initializers.orthogonal (to rounding), orthonormal, and a vmapped
    init compiles to plain ops: a batched LAPACK QR wedged XLA:CPU's thread pool in the
    vmapped specialist training of `kinetix collect`."""
    from kinetix.agents.models.layers import orthogonal

    key = jax.random.PRNGKey(7)
    ours = np.asarray(orthogonal(0.5)(key, shape, jnp.float32))
    want = np.asarray(jax.nn.initializers.orthogonal(0.5)(key, shape, jnp.float32))
    np.testing.assert_allclose(ours, want, atol=2e-6)
    m = ours.reshape(-1, shape[-1]) / 0.5
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, np.eye(gram.shape[0]), atol=2e-6)
    keys = jax.random.split(key, 3)
    text = jax.jit(jax.vmap(lambda k: orthogonal(1.0)(k, shape))).lower(keys).as_text()
    assert "custom_call" not in text and "lapack" not in text.lower()


def test_vmapped_network_init_has_no_lapack_call():
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    static, params = static_env_params_from_size("s"), EnvParams()

    def init(k):
        net = make_network(
            ModelConfig(), FlatObsFn(params, static), "multi_discrete", params, static, key=k
        )
        return eqx.filter(net, eqx.is_array)

    text = jax.jit(jax.vmap(init)).lower(keys).as_text()
    assert "lapack" not in text.lower() and "custom_call" not in text


def test_vmapped_init_of_many_layers_finishes():
    """The shape of the wedge: eight orthogonal kernels initialised under one vmap. With
    jax.nn.initializers.orthogonal (batched LAPACK QR) this never finished on our 2-core CI
    machine, on the first call; ours must finish, run in a subprocess with a time limit."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import jax
        from kinetix.agents.models.layers import orthogonal

        shapes = [(64, 64), (128, 64), (64, 6), (6, 64), (64, 1), (32, 64), (64, 32), (96, 64)]

        def init(k):
            ks = jax.random.split(k, len(shapes))
            return [orthogonal(1.0)(kk, s) for kk, s in zip(ks, shapes)]

        f = jax.jit(jax.vmap(init))
        for i in range(20):
            jax.block_until_ready(f(jax.random.split(jax.random.PRNGKey(i), 8)))
        print("finished")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "finished" in proc.stdout, proc.stderr[-2000:]
