"""Behaviour cloning: the loss on hand-computed examples, mask alignment in trajectory mode,
flat vs trajectory batches, schedules, and that updates fit a small batch."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _ag2_helpers import blind_get_obs, synthetic_batch, tiny_network

from kinetix.agents.bc import (
    as_bc_batch,
    bc_loss,
    bc_loss_and_metrics,
    init_bc_state,
    make_bc_optimizer,
    make_bc_step,
    make_bc_validation_fn,
    render_observations,
)

LP = jnp.array([[-1.0, -2.0, -3.0], [-0.5, -1.0, -4.0], [-2.0, -2.0, -2.0]])
MASK = jnp.array([[True, True, False], [False, False, False], [False, False, True]])


def test_disentangled_loss_hand_computed():
    # per transition: (-1-2)/2 = -1.5 ; no valid dims -> 0 ; -2/1 = -2 ; mean over 3 -> 3.5/3
    w = jnp.array([1.0, 1.0, 1.0])
    assert float(bc_loss(LP, MASK, w)) == pytest.approx(3.5 / 3)
    # expert weights: only transitions 0 and 2 count, normalised by their weight sum 2
    w = jnp.array([1.0, 0.0, 1.0])
    assert float(bc_loss(LP, MASK, w)) == pytest.approx(3.5 / 2)
    # all weights zero: denominator clamped to 1, loss 0
    assert float(bc_loss(LP, MASK, jnp.zeros(3))) == 0.0


def test_joint_loss_hand_computed_ignores_masks():
    w = jnp.array([1.0, 0.0, 1.0])
    # sums: -6, -5.5, -6 -> weighted (6 + 6) / 2
    assert float(bc_loss(LP, MASK, w, disentangled=False)) == pytest.approx(6.0)
    assert float(bc_loss(LP, None, jnp.ones(3), disentangled=False)) == pytest.approx(17.5 / 3)


def test_loss_accepts_leading_batch_and_time_axes():
    lp = LP.reshape(1, 3, 3)
    assert float(bc_loss(lp, MASK[None], jnp.ones((1, 3)))) == pytest.approx(3.5 / 3)


def test_loss_errors_name_the_shapes():
    with pytest.raises(ValueError, match="action_mask has shape"):
        bc_loss(LP, MASK[:, :2], jnp.ones(3))
    with pytest.raises(ValueError, match="needs an action_mask"):
        bc_loss(LP, None, jnp.ones(3))
    with pytest.raises(ValueError, match="3 transitions, weight has 2"):
        bc_loss(LP, MASK, jnp.ones(2))


def test_trajectory_loss_pairs_each_transition_with_its_own_mask():
    # B != T and masks differ per trajectory: a time-major/batch-major mix-up changes the value.
    net = tiny_network()
    raw = synthetic_batch(3, b=3, t=5)
    batch = as_bc_batch(raw)
    obs = render_observations(blind_get_obs, batch.env_state)
    loss, metrics = bc_loss_and_metrics(net, obs, batch, disentangled=True)

    hidden = net.initialize_carry(1)
    total, count = 0.0, 0
    for i in range(3):
        for t in range(5):
            o = obs[i, t][None, None]
            _, dist, _ = net(hidden, (o, jnp.zeros((1, 1), bool)))
            lp = np.asarray(dist.log_prob_per_dim(raw["action"][i, t][None, None]))[0, 0]
            m = raw["action_mask"][i, t]
            total += (lp * m).sum() / max(1, m.sum())
            count += 1
    assert float(loss) == pytest.approx(-total / count, rel=1e-5)
    assert float(metrics["nll_disentangled"]) == pytest.approx(-total / count, rel=1e-5)
    assert float(metrics["nll_joint"]) > float(metrics["nll_disentangled"])


def test_flat_batch_matches_trajectory_batch():
    net = tiny_network()
    raw = synthetic_batch(4, b=2, t=3)
    traj = as_bc_batch(raw)
    flat_raw = jax.tree.map(lambda x: np.asarray(x).reshape(6, *np.shape(x)[2:]), raw)
    del flat_raw["done"]
    flat = as_bc_batch(flat_raw)
    assert flat.action.shape == (6, 1, raw["action"].shape[-1])
    for disentangled in (True, False):
        lt, _ = bc_loss_and_metrics(
            net, render_observations(blind_get_obs, traj.env_state), traj, disentangled=disentangled
        )
        lf, _ = bc_loss_and_metrics(
            net, render_observations(blind_get_obs, flat.env_state), flat, disentangled=disentangled
        )
        assert float(lt) == pytest.approx(float(lf), rel=1e-6)


def test_as_bc_batch_errors():
    raw = synthetic_batch(0, b=2, t=3)
    with pytest.raises(KeyError, match="action_mask"):
        as_bc_batch({k: v for k, v in raw.items() if k != "action_mask"})
    with pytest.raises(ValueError, match=r"expected \(B, T, A\)"):
        as_bc_batch({**raw, "action": np.zeros(3)})


def test_schedules_hand_computed():
    params = {"w": jnp.zeros(())}
    grads = {"w": jnp.ones(())}

    def lrs(opt, n):
        state, out = opt.init(params), []
        for _ in range(n):
            _, state = opt.update(grads, state, params)
            out.append(float(state.hyperparams["learning_rate"]))
        return out

    # inject_hyperparams evaluates the schedule at the update's count (0, 1, ...)
    assert lrs(make_bc_optimizer(1.0, 10), 3) == pytest.approx([1.0, 1.0, 1.0])
    assert lrs(make_bc_optimizer(1.0, 10, anneal_lr=True), 3) == pytest.approx([1.0, 0.9, 0.8])
    # warmup w=0.2 of 10 steps: 0, 0.5 then linear decay from step 2: 1 - (0.3-0.2)/0.8 at step 3
    got = lrs(make_bc_optimizer(1.0, 10, warmup_lr=True, warmup_frac=0.2), 4)
    assert got == pytest.approx([0.0, 0.5, 1.0, 1 - 0.1 / 0.8])


def test_updates_fit_a_fixed_batch_and_validation_matches():
    net = tiny_network()
    opt = make_bc_optimizer(3e-2, 100)
    state = init_bc_state(net, opt, jax.random.PRNGKey(0))
    step = make_bc_step(opt, blind_get_obs)
    validate = make_bc_validation_fn(blind_get_obs)
    batch = as_bc_batch(synthetic_batch(1, b=4, t=6))
    first = float(validate(state, batch)["loss"])
    for _ in range(40):
        state, metrics = step(state, batch)
    last = float(validate(state, batch)["loss"])
    assert int(state.step) == 40
    assert np.isfinite(float(metrics["grad_norm"]))
    assert last < 0.5 * first
