"""Behaviour cloning on offline trajectories: the per-dimension masked loss, the optimiser, the
train state and a jitted update step.

Observations are rendered on the fly from the stored ``env_state`` with any observation
function (vmapped over the batch and time axes), so one dataset serves every observation type.

Unlike the reference, the per-dimension log-likelihoods, the action masks and the expert
weights are kept aligned: the reference flattens log-likelihoods time-major and masks
batch-major in trajectory mode (spec section 5); here every array stays ``(B, T, ...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from kinetix.agents.rms import normalise, update_rms

__all__ = [
    "BCBatch",
    "BCState",
    "as_bc_batch",
    "bc_loss",
    "bc_loss_and_metrics",
    "init_bc_state",
    "make_bc_optimizer",
    "make_bc_step",
    "make_bc_validation_fn",
    "render_observations",
]

# Leading axes of a trajectory batch (B, T) and of a flat batch (B,).
_TRAJECTORY_AXES = 2
_FLAT_AXES = 1


class BCBatch(NamedTuple):
    """One batch of expert data, every leaf ``(B, T, ...)`` (trajectory batches).

    Flat batches (``(B, ...)``) are given a time axis of length 1 by :func:`as_bc_batch`.
    """

    action: jax.Array
    action_mask: jax.Array
    mask: jax.Array
    done: jax.Array
    env_state: Any


def as_bc_batch(batch: Any) -> BCBatch:
    """Normalise a kinetix-data batch (a dict or an ``ActionEnvStateMask``-like object) to a
    :class:`BCBatch` with ``(B, T)`` leading axes (host side, numpy).

    Raises:
        KeyError: a required field is missing.
        ValueError: the action has neither 2 (flat) nor 3 (trajectory) dimensions.
    """

    def get(name: str) -> Any:
        if isinstance(batch, Mapping):
            if name not in batch:
                if name == "done":
                    return None
                raise KeyError(f"BC batch has no field {name!r}; fields: {sorted(batch)}")
            return batch[name]
        return getattr(batch, name, None) if name == "done" else getattr(batch, name)

    action = get("action")
    env_state = get("env_state")
    ndim = np.ndim(action)
    if ndim == 3:
        done = get("done")
        if done is None:
            done = np.zeros(np.shape(action)[:2], dtype=bool)
        return BCBatch(action, get("action_mask"), get("mask"), done, env_state)
    if ndim == 2:
        add_t = lambda x: None if x is None else np.expand_dims(np.asarray(x), 1)
        done = np.zeros((np.shape(action)[0], 1), dtype=bool)
        return BCBatch(
            add_t(action),
            add_t(get("action_mask")),
            add_t(get("mask")),
            done,
            jax.tree.map(add_t, env_state),
        )
    raise ValueError(
        f"BC batch field 'action' has shape {np.shape(action)}; expected (B, T, A) for "
        "trajectory batches or (B, A) for flat batches"
    )


def render_observations(get_obs: Callable[[Any], Any], env_state: Any, num_axes: int = 2) -> Any:
    """Apply a single-state observation function over ``num_axes`` leading batch axes.

    Example:
        >>> import jax.numpy as jnp
        >>> render_observations(lambda s: s * 2, jnp.ones((2, 3, 4))).shape
        (2, 3, 4)
    """
    fn = get_obs
    for _ in range(num_axes):
        fn = jax.vmap(fn)
    return fn(env_state)


def bc_loss(
    log_prob_per_dim: jax.Array,
    action_mask: jax.Array | None,
    weight: jax.Array,
    *,
    disentangled: bool = True,
) -> jax.Array:
    """The behaviour-cloning negative log-likelihood (spec section 5), with aligned masks.

    Args:
        log_prob_per_dim: ``(..., D)`` log-likelihood of each expert action dimension.
        action_mask: ``(..., D)`` bool, True where the dimension controls something.
        weight: ``(...)`` expert weight of each transition (the dataset's ``mask``).
        disentangled: per-transition mean over *valid* dims
            (``-Σ_n w_n Σ_d m_nd ℓ_nd / max(1, Σ_d m_nd) / max(1, Σ_n w_n)``); False gives the
            joint log-likelihood ``-Σ_n w_n Σ_d ℓ_nd / max(1, Σ_n w_n)``.

    Example:
        >>> import jax.numpy as jnp
        >>> lp = jnp.array([[-1.0, -3.0]])
        >>> float(bc_loss(lp, jnp.array([[True, False]]), jnp.array([1.0])))
        1.0
        >>> float(bc_loss(lp, None, jnp.array([1.0]), disentangled=False))
        4.0
    """
    weight = jnp.asarray(weight, jnp.float32)
    lp = log_prob_per_dim.reshape(-1, log_prob_per_dim.shape[-1])
    w = weight.reshape(-1)
    if lp.shape[0] != w.shape[0]:
        raise ValueError(
            f"bc_loss: log_prob_per_dim has {lp.shape[0]} transitions, weight has {w.shape[0]}"
        )
    if disentangled:
        if action_mask is None:
            raise ValueError("bc_loss: the disentangled loss needs an action_mask")
        m = jnp.asarray(action_mask, jnp.float32).reshape(-1, action_mask.shape[-1])
        if m.shape != lp.shape:
            raise ValueError(
                f"bc_loss: action_mask has shape {tuple(action_mask.shape)} but the "
                f"log-likelihoods have {tuple(log_prob_per_dim.shape)}; the disentangled loss "
                "needs one mask entry per action dimension (use disentangled_bc_loss=False for "
                "this action type)"
            )
        per_transition = (m * lp).sum(-1) / jnp.maximum(1.0, m.sum(-1))
    else:
        per_transition = lp.sum(-1)
    return -(w * per_transition).sum() / jnp.maximum(1.0, w.sum())


class BCState(eqx.Module):
    """Behaviour-cloning train state.

    Attributes:
        network: the actor-critic (an ``eqx.Module``; only its inexact arrays are trained).
        opt_state: optax state.
        rms: running observation statistics (``RunningMeanStandard``) or None.
        step: number of updates done (int32 scalar).
        key: PRNG key (uint32 ``(2,)``), for dropout.
    """

    network: Any
    opt_state: Any
    rms: Any
    step: jax.Array
    key: jax.Array


def make_bc_optimizer(
    lr: float,
    num_updates: int,
    *,
    max_grad_norm: float = 1.0,
    weight_decay: float = 0.0,
    adam_eps: float = 1e-5,
    anneal_lr: bool = False,
    warmup_lr: bool = False,
    warmup_frac: float = 0.1,
) -> optax.GradientTransformation:
    """``inject_hyperparams(chain(clip_by_global_norm, AdamW))`` with the reference's schedules.

    Schedules by step ``s`` of ``N = num_updates``: constant; ``anneal_lr``: ``lr (1 - s/N)``;
    ``warmup_lr``: ``lr f/w`` for ``f = s/N < w``, then ``lr (1 - (f - w)/(1 - w))``.

    Example:
        >>> opt = make_bc_optimizer(3e-4, 100)
        >>> float(opt.init({"w": jnp.zeros(2)}).hyperparams["learning_rate"])  # doctest: +ELLIPSIS
        0.0003...
    """
    n = max(1, int(num_updates))

    def schedule(count: jax.Array) -> jax.Array:
        f = jnp.asarray(count, jnp.float32) / n
        if warmup_lr:
            w = warmup_frac
            up = lr * f / w
            down = lr * (1.0 - (f - w) / (1.0 - w))
            return jnp.where(f < w, up, jnp.maximum(down, 0.0))
        if anneal_lr:
            return lr * (1.0 - f)
        return jnp.asarray(lr, jnp.float32)

    def make(learning_rate: Any) -> optax.GradientTransformation:
        return optax.chain(
            optax.clip_by_global_norm(max_grad_norm),
            optax.adamw(learning_rate, eps=adam_eps, weight_decay=weight_decay),
        )

    return optax.inject_hyperparams(make)(learning_rate=schedule)


def init_bc_state(
    network: Any, optimizer: optax.GradientTransformation, key: jax.Array, rms: Any = None
) -> BCState:
    """A fresh :class:`BCState` (step 0)."""
    params = eqx.filter(network, eqx.is_inexact_array)
    return BCState(
        network=network,
        opt_state=optimizer.init(params),
        rms=rms,
        step=jnp.zeros((), jnp.int32),
        key=key,
    )


def _forward_log_probs(
    network: Any, obs: Any, batch: BCBatch, dropout_key: jax.Array | None = None
) -> tuple[jax.Array, jax.Array]:
    """Run the network time-major and return per-dim log-likelihoods and per-dim entropies,
    both batch-major ``(B, T, D)`` so they align with ``batch.action_mask``."""
    to_tm = lambda x: jnp.swapaxes(x, 0, 1)
    b = batch.action.shape[0]
    hidden = network.initialize_carry(b)
    x = (jax.tree.map(to_tm, obs), to_tm(batch.done))
    if dropout_key is None:
        _, dist, _ = network(hidden, x)
    else:
        _, dist, _ = network(hidden, x, key=dropout_key, deterministic=False)
    lp = dist.log_prob_per_dim(to_tm(batch.action))
    ent = dist.entropy_per_dim()
    return to_tm(lp), to_tm(ent)


def bc_loss_and_metrics(
    network: Any,
    obs: Any,
    batch: BCBatch,
    *,
    disentangled: bool,
    dropout_key: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """BC loss plus diagnostics (both NLL variants, masked entropy, motor/thruster NLL).

    Args:
        network: ``network(hidden, (obs, dones)) -> (hidden, dist, value)`` on ``(T, B)`` inputs.
        obs: rendered observations, leaves ``(B, T, ...)``.
        batch: the expert batch (``(B, T)`` leading axes).
        disentangled: which loss is returned as ``loss`` (both are in the metrics).
        dropout_key: enables dropout (training only) when given.
    """
    lp, ent = _forward_log_probs(network, obs, batch, dropout_key)
    w = batch.mask
    has_mask = _dims_match(lp, batch.action_mask)
    if disentangled and not has_mask:
        bc_loss(lp, batch.action_mask, w, disentangled=True)  # raises, naming both shapes
    nll_joint = bc_loss(lp, None, w, disentangled=False)
    nll_masked = bc_loss(lp, batch.action_mask, w, disentangled=True) if has_mask else None
    loss = nll_masked if disentangled else nll_joint
    wf = jnp.asarray(w, jnp.float32)[..., None]
    denom = jnp.maximum(1.0, wf.sum())
    metrics = {
        "loss": loss,
        "nll_joint": nll_joint,
        "entropy": (wf * ent).sum() / denom,
    }
    if has_mask:
        metrics["nll_disentangled"] = nll_masked
    if has_mask and lp.shape[-1] > 2:
        m = jnp.asarray(batch.action_mask, jnp.float32) * wf
        per_dim = -(m * lp).sum((0, 1)) / jnp.maximum(1.0, m.sum((0, 1)))
        metrics["nll_motor"] = per_dim[:-2].mean()
        metrics["nll_thruster"] = per_dim[-2:].mean()
    return loss, metrics


def _dims_match(lp: jax.Array, action_mask: Any) -> bool:
    return action_mask is not None and tuple(action_mask.shape) == tuple(lp.shape)


def _observe(get_obs: Callable, rms: Any, batch: BCBatch, update: bool) -> tuple[Any, Any]:
    obs = render_observations(get_obs, batch.env_state, _TRAJECTORY_AXES)
    if rms is None:
        return obs, rms
    if update:
        rms = update_rms(rms, obs)
    return normalise(rms, obs), rms


def make_bc_step(
    optimizer: optax.GradientTransformation,
    get_obs: Callable[[Any], Any],
    *,
    disentangled: bool = True,
    dropout: bool = False,
) -> Callable[[BCState, BCBatch], tuple[BCState, dict[str, jax.Array]]]:
    """A jitted ``step(state, batch) -> (state, metrics)``: render observations, (update RMS),
    one optimiser step on the BC loss.

    The batch may be sharded over devices on its leading axis (see
    :mod:`kinetix.agents.distributed`); the loss is a mean over the global batch, so gradients
    are the global-batch average on every device.
    """

    @eqx.filter_jit
    def step(state: BCState, batch: BCBatch) -> tuple[BCState, dict[str, jax.Array]]:
        obs, rms = _observe(get_obs, state.rms, batch, update=True)
        params, static = eqx.partition(state.network, eqx.is_inexact_array)
        next_key, dropout_key = jax.random.split(state.key)

        def loss_fn(p):
            return bc_loss_and_metrics(
                eqx.combine(p, static),
                obs,
                batch,
                disentangled=disentangled,
                dropout_key=dropout_key if dropout else None,
            )

        (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = optimizer.update(grads, state.opt_state, params)
        params = eqx.apply_updates(params, updates)
        metrics = dict(metrics)
        metrics["grad_norm"] = optax.tree.norm(grads)
        metrics["lr"] = jnp.asarray(opt_state.hyperparams["learning_rate"], jnp.float32)
        new_state = BCState(
            network=eqx.combine(params, static),
            opt_state=opt_state,
            rms=rms,
            step=state.step + 1,
            key=next_key,
        )
        return new_state, metrics

    return step


def make_bc_validation_fn(
    get_obs: Callable[[Any], Any], *, disentangled: bool = True
) -> Callable[[BCState, BCBatch], dict[str, jax.Array]]:
    """A jitted ``validate(state, batch) -> metrics`` (no RMS update, no gradient)."""

    @eqx.filter_jit
    def validate(state: BCState, batch: BCBatch) -> dict[str, jax.Array]:
        obs, _ = _observe(get_obs, state.rms, batch, update=False)
        _, metrics = bc_loss_and_metrics(state.network, obs, batch, disentangled=disentangled)
        return metrics

    return validate
