"""Evaluation (the reference's protocol): for each level, ``num_attempts`` independent stochastic
rollouts (temperature 1, zero initial carries) of ``max_timesteps`` steps, auto-resetting to the
same level; each attempt scores its **first** episode:

* ``length``: steps up to and including the first ``done`` (``max_steps`` if none),
* ``return``: reward summed over the first episode,
* ``solved``: the first episode ended with the goal contact (``GoalR`` at its done step).

Per level: means over attempts (``solve_rate``, ``return``, ``length``); overall: the mean over
levels and ``best_of_k`` (fraction of levels solved in at least one attempt).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.rms import RunningMeanStandard, normalise
from kinetix.environment import EnvParams, EnvState, StaticEnvParams

__all__ = ["evaluate", "rollout_episode", "num_levels"]


def num_levels(levels: EnvState) -> int:
    """Size of the leading (level) axis of a batch of levels."""
    return int(jax.tree.leaves(levels)[0].shape[0])


def _unwrap(env: Any) -> Any:
    return getattr(env, "_env", env)


def _policy_step(network, carry, obs, done, mask, rms, key, temperature, deterministic):
    if rms is not None:
        obs = normalise(rms, obs)
    add_t = lambda x: jax.tree.map(lambda y: y[None], x)
    carry, dist, _ = network(carry, (add_t(obs), done[None]), add_t(mask))
    action = dist.mode() if deterministic else dist.sample(key, temperature)
    return carry, action[0]


@eqx.filter_jit
def _evaluate_rollouts(
    network,
    levels: EnvState,
    env: Any,
    env_params: EnvParams,
    key: jax.Array,
    num_attempts: int,
    max_steps: int,
    temperature: float,
    deterministic: bool,
    use_action_mask: bool,
    rms: RunningMeanStandard | None,
):
    n_levels = jax.tree.leaves(levels)[0].shape[0]
    n = n_levels * num_attempts
    # attempt-major layout: env i plays level i % n_levels
    tiled = jax.tree.map(lambda x: jnp.concatenate([x] * num_attempts, axis=0), levels)
    key, k_reset = jax.random.split(key)
    obs, state = jax.vmap(env.reset, in_axes=(0, None, 0))(
        jax.random.split(k_reset, n), env_params, tiled
    )
    v_step = jax.vmap(env.step, in_axes=(0, 0, 0, None, 0))
    v_mask = jax.vmap(env.valid_action_mask)

    def step(runner, k):
        obs, state, carry, done, seen, ret, length, solved = runner
        k_act, k_env = jax.random.split(k)
        mask = v_mask(state) if use_action_mask else None
        carry, action = _policy_step(
            network, carry, obs, done, mask, rms, k_act, temperature, deterministic
        )
        obs, state, reward, done, info = v_step(
            jax.random.split(k_env, n), state, action, env_params, tiled
        )
        active = ~seen
        ret = ret + jnp.where(active, reward, 0.0)
        length = length + active.astype(jnp.int32)
        solved = jnp.where(active & done, info["GoalR"].astype(bool), solved)
        seen = seen | done
        return (obs, state, carry, done, seen, ret, length, solved), None

    zeros_b = jnp.zeros((n,), bool)
    runner = (
        obs,
        state,
        network.initialize_carry(n),
        zeros_b,
        zeros_b,
        jnp.zeros((n,), jnp.float32),
        jnp.zeros((n,), jnp.int32),
        zeros_b,
    )
    runner, _ = jax.lax.scan(step, runner, jax.random.split(key, max_steps))
    _, _, _, _, seen, ret, length, solved = runner
    shape = (num_attempts, n_levels)
    return (
        solved.reshape(shape).T,
        ret.reshape(shape).T,
        length.reshape(shape).T,
        seen.reshape(shape).T,
    )


def evaluate(
    network: eqx.Module,
    levels: EnvState,
    env: Any,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    *,
    num_attempts: int = 20,
    key: jax.Array,
    max_steps: int | None = None,
    temperature: float = 1.0,
    deterministic: bool = False,
    use_action_mask: bool = False,
    rms: RunningMeanStandard | None = None,
    level_names: list[str] | None = None,
) -> dict[str, Any]:
    """Solve rate, return and length of a policy on a batch of levels.

    Args:
        network: actor-critic (``network(hidden, (obs, dones), mask) -> (hidden, dist, value)``).
        levels: a batch of level states (leading axis L), e.g. from
            :func:`kinetix.environment.load_evaluation_levels`, a filtered sampler, or training
            levels; they must have ``static_env_params``' sizes.
        env: a :class:`~kinetix.environment.KinetixEnv` with auto-reset (optionally wrapped).
        env_params, static_env_params: the env's parameters.
        num_attempts: stochastic attempts per level (the reference uses 20).
        key: PRNG key.
        max_steps: rollout length (default ``env_params.max_timesteps``).
        temperature: sampling temperature; ``deterministic=True`` takes the mode instead.
        use_action_mask: feed the env's valid-action mask to the policy.
        rms: observation statistics, if the network was trained with ``rms_norm``.
        level_names: optional names, returned as ``"level_names"``.

    Returns:
        numpy values: ``solved (L, A)`` bool, ``returns (L, A)``, ``lengths (L, A)``,
        ``episode_ended (L, A)``, per-level ``solve_rate``, ``episode_return``,
        ``episode_length`` ``(L,)``, and scalars ``mean_solve_rate``, ``mean_return``,
        ``mean_length``, ``best_of_k_solve_rate``.

    Raises:
        ValueError: ``num_attempts < 1`` or levels whose sizes differ from ``static_env_params``.

    Example:
        >>> res = evaluate(net, levels, env, env_params, static, num_attempts=5,
        ...                key=jax.random.PRNGKey(0))
        >>> res["solve_rate"].shape
        (num_levels,)
    """
    if num_attempts < 1:
        raise ValueError(f"evaluate: num_attempts = {num_attempts}; expected >= 1")
    n_poly = levels.polygon.position.shape[1]
    if n_poly != static_env_params.num_polygons:
        raise ValueError(
            f"evaluate: levels have {n_poly} polygon slots but static_env_params.num_polygons = "
            f"{static_env_params.num_polygons}; pad them with expand_env_state or "
            "load_evaluation_levels(static_env_params_override=...)"
        )
    if max_steps is None:
        max_steps = int(env_params.max_timesteps)
    env = _unwrap(env)
    solved, ret, length, ended = _evaluate_rollouts(
        network,
        levels,
        env,
        env_params,
        key,
        num_attempts,
        max_steps,
        temperature,
        deterministic,
        use_action_mask,
        rms,
    )
    solved, ret, length, ended = (np.asarray(x) for x in (solved, ret, length, ended))
    out: dict[str, Any] = {
        "solved": solved,
        "returns": ret,
        "lengths": length,
        "episode_ended": ended,
        "solve_rate": solved.mean(1),
        "episode_return": ret.mean(1),
        "episode_length": length.mean(1),
        "mean_solve_rate": float(solved.mean()),
        "mean_return": float(ret.mean()),
        "mean_length": float(length.mean()),
        "best_of_k_solve_rate": float(solved.any(1).mean()),
    }
    if level_names is not None:
        out["level_names"] = list(level_names)
    return out


@eqx.filter_jit
def _rollout(network, level, env, env_params, key, max_steps, deterministic, use_action_mask, rms):
    key, k_reset = jax.random.split(key)
    obs, state = env.reset(k_reset, env_params, level)
    add_b = lambda x: jax.tree.map(lambda y: y[None], x)

    def step(runner, k):
        obs, state, carry, done = runner
        k_act, k_env = jax.random.split(k)
        mask = add_b(env.valid_action_mask(state)) if use_action_mask else None
        carry, action = _policy_step(
            network, carry, add_b(obs), done[None], mask, rms, k_act, 1.0, deterministic
        )
        action = action[0]
        next_obs, next_state, reward, next_done, info = env.step(
            k_env, state, action, env_params, level
        )
        out = (state, action, reward, next_done, info["GoalR"])
        return (next_obs, next_state, carry, next_done), out

    runner = (obs, state, network.initialize_carry(1), jnp.zeros((), bool))
    _, traj = jax.lax.scan(step, runner, jax.random.split(key, max_steps))
    return traj


def rollout_episode(
    network: eqx.Module,
    level: EnvState,
    env: Any,
    env_params: EnvParams,
    *,
    key: jax.Array,
    max_steps: int | None = None,
    deterministic: bool = False,
    use_action_mask: bool = False,
    rms: RunningMeanStandard | None = None,
) -> dict[str, Any]:
    """Play one episode of one (unbatched) level and return its trajectory.

    The trajectory stops at the first ``done``: ``states`` holds the state *before* each step
    (length = episode length), suitable for ``kinetix.render.video.make_frames``.

    Returns:
        ``{"states": EnvState with leading time axis, "actions", "rewards", "dones",
        "length": int, "return": float, "solved": bool}`` (numpy, cut to the episode).
    """
    if max_steps is None:
        max_steps = int(env_params.max_timesteps)
    states, actions, rewards, dones, goal = _rollout(
        network,
        level,
        _unwrap(env),
        env_params,
        key,
        max_steps,
        deterministic,
        use_action_mask,
        rms,
    )
    dones = np.asarray(dones)
    length = int(np.argmax(dones)) + 1 if dones.any() else max_steps
    cut = lambda x: np.asarray(x)[:length]
    return {
        "states": jax.tree.map(cut, states),
        "actions": cut(actions),
        "rewards": cut(rewards),
        "dones": cut(dones),
        "length": length,
        "return": float(np.asarray(rewards)[:length].sum()),
        "solved": bool(dones.any() and np.asarray(goal)[length - 1]),
    }
