"""Reset functions (``rng -> EnvState``) for training, and the filtered batch level sampler."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from jax2d.engine import PhysicsEngine
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.expansion import expand_env_state
from kinetix.environment.levels import load_evaluation_levels
from kinetix.environment.ued.distributions import sample_kinetix_level
from kinetix.environment.ued.edit_mutators import (
    resize_shape_without_settling,
    rotate_shape_without_settling,
    settle,
)
from kinetix.environment.ued.mutators import (
    mutate_add_connected_shape,
    mutate_add_connected_shape_proper,
    mutate_add_shape,
    mutate_add_thruster,
    mutate_change_gravity,
    mutate_change_shape_location,
    mutate_change_shape_rotation,
    mutate_change_shape_size,
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_remove_thruster,
    mutate_swap_role,
    mutate_toggle_fixture,
)
from kinetix.environment.ued.ued_state import UEDParams
from kinetix.environment.utils import create_empty_env, static_env_params_from_size

__all__ = [
    "ALL_MUTATION_FNS",
    "ACCEL_MUTATIONS",
    "make_mutate_env",
    "make_reset_fn_sample_kinetix_level",
    "make_reset_fn_sample_kinetix_level_different_static_env_params",
    "make_reset_fn_sample_empty_level",
    "make_reset_fn_list_of_levels",
    "make_reset_fn_from_config",
    "make_vmapped_filtered_level_sampler",
]

ResetFn = Callable[[jax.Array], EnvState]

# ACCEL's edit mix (order and weights of the reference): the weight of an addition is 1 only
# when there is room for it; removals of joints and shapes are defined but switched off.
ACCEL_MUTATIONS = (
    mutate_add_shape,
    mutate_add_connected_shape_proper,
    mutate_remove_joint,
    mutate_remove_shape,
    mutate_swap_role,
    mutate_add_thruster,
    mutate_remove_thruster,
    mutate_toggle_fixture,
    mutate_change_shape_size,
    mutate_change_shape_location,
    mutate_change_shape_rotation,
)

# The reference's list of single mutations (used by its level editor).
ALL_MUTATION_FNS = [
    mutate_add_shape,
    mutate_add_connected_shape,
    mutate_remove_joint,
    mutate_swap_role,
    mutate_toggle_fixture,
    mutate_add_thruster,
    mutate_remove_thruster,
    mutate_remove_shape,
    mutate_change_gravity,
]


def make_mutate_env(
    static_env_params: StaticEnvParams,
    env_params: EnvParams,
    ued_params: UEDParams,
) -> Callable[..., EnvState]:
    """ACCEL's level editor: ``mutate(rng, level, n=1)`` applies ``n`` random edits in sequence.

    Each edit draws one of :data:`ACCEL_MUTATIONS` with weights (on the current level) add shape
    1 if a polygon or circle slot is free; add jointed shape 1 if also a joint slot is free;
    remove joint 0; remove shape 0; swap roles 1; add thruster 1 if a thruster slot is free;
    remove thruster 1 if one is active; toggle fixture 0.1; change size, location, rotation 1.
    ``n`` is static (a ``lax.scan`` length); ``mutate`` is jit/vmap-able.

    Example::

        mutate = make_mutate_env(static, EnvParams(), UEDParams())
        edited = mutate(jax.random.PRNGKey(0), level, 5)
    """
    s, ued = static_env_params, ued_params
    # The resize and rotate edits share one compiled copy of the settle steps (after the switch).
    unsettled = {
        mutate_change_shape_size: resize_shape_without_settling,
        mutate_change_shape_rotation: rotate_shape_without_settling,
    }
    settles = jnp.array([f in unsettled for f in ACCEL_MUTATIONS])
    branches = [
        (lambda k, lv, f=unsettled.get(f, f): f(k, lv, env_params, s, ued)) for f in ACCEL_MUTATIONS
    ]

    def edit(level: EnvState, key: jax.Array) -> tuple[EnvState, None]:
        k_kind, k_edit = jax.random.split(key)
        shape_room = ~jnp.all(level.polygon.active) | ~jnp.all(level.circle.active)
        joint_room = shape_room & ~jnp.all(level.joint.active)
        weights = jnp.stack([
            shape_room, joint_room, False, False, True, ~jnp.all(level.thruster.active),
            jnp.any(level.thruster.active), 0.1, 1.0, 1.0, 1.0,
        ]).astype(jnp.float32)  # fmt: skip
        kind = jax.random.choice(k_kind, len(branches), p=weights / weights.sum())
        level = jax.lax.switch(kind, branches, k_edit, level)
        level = jax.lax.cond(settles[kind], lambda lv: settle(lv, env_params, s), lambda lv: lv,
                             level)  # fmt: skip
        return level, None

    def mutate(rng: jax.Array, level: EnvState, n: int = 1) -> EnvState:
        level, _ = jax.lax.scan(edit, level, jax.random.split(rng, n))
        return level

    return mutate


def make_reset_fn_sample_kinetix_level(
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    ued_params: UEDParams | None = None,
    physics_engine: PhysicsEngine | None = None,
) -> ResetFn:
    """A fresh procedural level at every reset."""
    ued_params = ued_params or UEDParams()
    engine = physics_engine or PhysicsEngine(static_env_params)

    def reset(rng: jax.Array) -> EnvState:
        return sample_kinetix_level(rng, engine, env_params, static_env_params, ued_params)

    return reset


def make_reset_fn_sample_kinetix_level_different_static_env_params(
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    different_static_env_params: Sequence[StaticEnvParams],
    ued_params: UEDParams | None = None,
) -> ResetFn:
    """Pick one of several sizes uniformly, sample a level of that size, pad it to
    ``static_env_params``."""
    samplers = [
        make_reset_fn_sample_kinetix_level(env_params, inner, ued_params)
        for inner in different_static_env_params
    ]
    branches = [(lambda rng, f=f: expand_env_state(f(rng), static_env_params)) for f in samplers]

    def reset(rng: jax.Array) -> EnvState:
        rng, k = jax.random.split(rng)
        return jax.lax.switch(jax.random.randint(k, (), 0, len(branches)), branches, rng)

    return reset


def make_reset_fn_sample_empty_level(
    env_params: EnvParams, static_env_params: StaticEnvParams
) -> ResetFn:
    """Always the empty arena."""

    def reset(rng: jax.Array) -> EnvState:
        return create_empty_env(static_env_params)

    return reset


def make_reset_fn_list_of_levels(
    levels: Sequence[str], static_env_params: StaticEnvParams
) -> ResetFn:
    """Load the named level files once (padded to ``static_env_params``); each reset picks one
    uniformly."""
    if not levels:
        raise ValueError("make_reset_fn_list_of_levels needs at least one level")
    stacked, _ = load_evaluation_levels(levels, static_env_params_override=static_env_params)
    n = len(levels)

    def reset(rng: jax.Array) -> EnvState:
        _, k = jax.random.split(rng)
        i = jax.random.randint(k, (), 0, n)
        return jax.tree.map(lambda x: x[i], stacked)

    return reset


def make_reset_fn_from_config(
    config: Mapping[str, Any],
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    physics_engine: PhysicsEngine | None = None,
    ued_params: UEDParams | None = None,
) -> ResetFn:
    """The reset function named by ``config["train_level_mode"]``: ``"list"`` (uses
    ``config["train_levels_list"]``), ``"random"``, ``"random_all"`` (s, m or l, padded) or
    ``"dummy"`` (empty arena)."""
    mode = config["train_level_mode"]
    if mode == "list":
        return make_reset_fn_list_of_levels(config["train_levels_list"], static_env_params)
    if mode == "random":
        return make_reset_fn_sample_kinetix_level(
            env_params, static_env_params, ued_params, physics_engine
        )
    if mode == "random_all":
        sizes = [static_env_params_from_size(size) for size in ("s", "m", "l")]
        return make_reset_fn_sample_kinetix_level_different_static_env_params(
            env_params, static_env_params, sizes, ued_params
        )
    if mode == "dummy":
        return make_reset_fn_sample_empty_level(env_params, static_env_params)
    raise ValueError(
        f"config['train_level_mode'] = {mode!r} is not supported; expected one of "
        "'list', 'random', 'random_all', 'dummy'"
    )


def make_vmapped_filtered_level_sampler(
    level_sampler: ResetFn,
    env_params: EnvParams,
    static_env_params: StaticEnvParams,
    config: Mapping[str, Any],
    env: Any,
    ued_params: UEDParams | None = None,
    return_rngs: bool = False,
) -> Callable[[jax.Array, int], Any]:
    """``reset(rng, n)`` drawing ``n`` levels, avoiding levels solved by doing nothing.

    With ``config["filter_levels"]`` and ``config["level_filter_n_steps"] > 0``:
    ``level_filter_sample_ratio * n`` levels are sampled, each is rolled out with the all-zero
    action for ``level_filter_n_steps`` steps (auto-resetting to itself), and ``n`` of them are
    drawn without replacement with weight 0.001 for those whose first episode ended with reward
    > 0.5 and 1 otherwise. Otherwise ``n`` levels are sampled. Returns the levels (and the keys
    used to reset them if ``return_rngs``). Note: for discrete actions the all-zero action is
    "motor channel 0 = -1", as in the reference.
    """

    @partial(jax.jit, static_argnums=(1,))
    def reset(rng: jax.Array, n_samples: int):
        n_steps = config.get("level_filter_n_steps", 0)
        if config.get("filter_levels", False) and n_steps > 0:
            m = config.get("level_filter_sample_ratio", 2) * n_samples
            rng, k = jax.random.split(rng)
            levels = jax.vmap(level_sampler)(jax.random.split(k, m))
            rng, k = jax.random.split(rng)
            level_rngs = jax.random.split(k, m)
            _, start = jax.vmap(env.reset, in_axes=(0, None, 0))(level_rngs, env_params, levels)
            action = jnp.zeros((m, *env.action_space(env_params).shape), dtype=jnp.int32)

            def noop_step(states, key):
                keys = jax.random.split(key, m)
                _, states, reward, done, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None, 0))(
                    keys, states, action, env_params, start
                )
                return states, (done, reward)

            rng, k = jax.random.split(rng)
            _, (done, rewards) = jax.lax.scan(noop_step, start, jax.random.split(k, n_steps))
            first_done = jnp.argmax(done, axis=0)
            solved = rewards[first_done, jnp.arange(m)] > 0.5
            p = jnp.where(solved, 0.001, 1.0)
            rng, k = jax.random.split(rng)
            idx = jax.random.choice(
                k, jnp.arange(m), shape=(n_samples,), replace=False, p=p / p.sum()
            )
            levels = jax.tree.map(lambda x: x[idx], levels)
            level_rngs = level_rngs[idx]
        else:
            rng, k = jax.random.split(rng)
            level_rngs = jax.random.split(k, n_samples)
            levels = jax.vmap(level_sampler)(level_rngs)
        return (levels, level_rngs) if return_rngs else levels

    return reset
