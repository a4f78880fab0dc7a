"""Expert-data collection: one specialist PPO agent per random level, one trajectory per level.

For each level id ``i`` in ``[level_start, level_start + num_levels)`` the level is drawn from
``fold_in(PRNGKey(seed), i)`` (through the no-op filter, as the reference's sampled sets), so a
rerun, or another process given a disjoint id range, reproduces exactly the same levels. Levels
are processed in chunks of ``chunk_size``: the chunk's specialists are trained together
(``jax.vmap`` of :meth:`Trainer.train`, each specialist resetting only to its own level), then
each plays one greedy (mode-action) trajectory of exactly ``T = max_timesteps`` steps on its
level with auto-reset. Levels whose **first** episode reaches the goal are appended to the
dataset; the others are dropped.

Stored per step (kinetix-data spec sec. 2): ``env_state[t]`` is the state *before* action ``t``,
``action[t]`` the action taken in it, ``action_mask[t]`` the valid-channel mask of that state,
``done[t]`` the reset convention (``state t starts a new episode``, False at ``t = 0``),
``mask`` all True, ``level_rngs`` the level's key; our format adds a per-trajectory
``level_id``.

Resuming: after a chunk's data is committed, its id range is added to ``collect_state.json``
(written atomically, after the data), which also pins the settings the data was collected with.
A rerun of the same command skips the recorded chunks; a chunk interrupted between the data and
the state file is recomputed (deterministically) and its rows are deduplicated on ``level_id``
(our format) or its shard, renamed into place atomically, already exists (released layout).
Each process must write its own output directory.

Stalls: an XLA:CPU program can wedge (every thread idle, no error); a batched LAPACK QR in the
networks' init did, before our initialiser stopped using LAPACK. As a guard, the command line
(:func:`collect_from_command_line`) runs a :class:`~kinetix.agents.stall.StallWatchdog` that
re-executes the same command when a chunk uses no CPU for ``stall_timeout_s``; the rerun resumes
as above.

Example::

    from kinetix.agents.collect import CollectConfig, collect

    report = collect(CollectConfig(out="/tmp/experts_s", env_size="s", num_levels=64))
    print(report.summary())

or ``python -m kinetix.agents.collect out=/tmp/experts_s num_levels=64 chunk_size=8``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.models import ModelConfig, make_network
from kinetix.agents.ppo import PPOConfig, make_train
from kinetix.agents.stall import StallWatchdog, restart_process
from kinetix.environment import (
    EnvParams,
    StaticEnvParams,
    make_kinetix_env,
    make_vmapped_filtered_level_sampler,
    static_env_params_from_size,
)
from kinetix.environment.ued import make_reset_fn_sample_kinetix_level

__all__ = [
    "CollectConfig",
    "CollectReport",
    "collect",
    "collect_from_command_line",
    "main",
    "STATE_FILE",
]

STATE_FILE = "collect_state.json"
_FORMATS = ("ours", "released")
_SIZES = ("s", "m", "l")
_OBS_TYPES = ("symbolic_flat", "symbolic_entity", "symbolic_flat_padded", "pixels")
_ACTION_TYPES = ("multi_discrete", "discrete", "continuous")
# Settings that change what a level id produces; a resume must use the same values.
_PINNED = (
    "env_size",
    "seed",
    "chunk_size",
    "format",
    "observation_type",
    "action_type",
    "max_timesteps",
    "dense_reward_scale",
    "filter_levels",
    "level_filter_n_steps",
    "level_filter_sample_ratio",
    "num_train_envs",
    "num_steps",
    "total_timesteps",
    "num_minibatches",
    "update_epochs",
    "lr",
    "ent_coef",
    "gamma",
    "gae_lambda",
    "network_depth",
    "network_width",
)


@dataclasses.dataclass(frozen=True)
class CollectConfig:
    """Settings of an expert-collection run (defaults: a small CPU-friendly specialist).

    Attributes:
        out: output dataset directory (local path; one per process).
        env_size: ``"s"``, ``"m"`` or ``"l"``.
        num_levels: level ids this process handles: ``[level_start, level_start + num_levels)``.
        level_start: first level id (give each process a disjoint range).
        chunk_size: levels whose specialists are trained together (``vmap``).
        seed: level ``i`` is sampled from ``fold_in(PRNGKey(seed), i)``.
        format: ``"ours"`` (kinetix-data's format, default) or ``"released"`` (zarr v2 record
            shards as in Kinetix-Offline, one shard per chunk).
        observation_type, action_type: what the specialists see and emit (``"released"`` needs
            ``multi_discrete``).
        max_timesteps: episode cap and stored trajectory length ``T`` (256 as released).
        dense_reward_scale: shaping weight used while training the specialists.
        filter_levels, level_filter_n_steps, level_filter_sample_ratio: the no-op level filter.
        num_train_envs, num_steps, total_timesteps, num_minibatches, update_epochs, lr,
            ent_coef, gamma, gae_lambda: each specialist's PPO (``total_timesteps`` per level).
        network_depth, network_width: actor and critic MLP sizes of a specialist.
        stall_timeout_s: on a CPU backend, seconds a chunk may run without using CPU before
            it counts as an XLA:CPU stall (see :mod:`kinetix.agents.stall`); ``0`` disables.
            The command line then restarts itself and resumes; a library call only reports it.
        max_restarts: stall restarts allowed to one command-line invocation.

    Example:
        >>> CollectConfig(out="/tmp/d", num_levels=10, level_start=20).level_ids
        range(20, 30)
    """

    out: str
    env_size: str = "s"
    num_levels: int = 64
    level_start: int = 0
    chunk_size: int = 8
    seed: int = 0
    format: str = "ours"
    observation_type: str = "symbolic_flat"
    action_type: str = "multi_discrete"
    max_timesteps: int = 256
    dense_reward_scale: float = 0.1
    filter_levels: bool = True
    level_filter_n_steps: int = 64
    level_filter_sample_ratio: int = 2
    num_train_envs: int = 32
    num_steps: int = 64
    total_timesteps: int = 131072
    num_minibatches: int = 4
    update_epochs: int = 4
    lr: float = 3e-4
    ent_coef: float = 0.01
    gamma: float = 0.995
    gae_lambda: float = 0.9
    network_depth: int = 2
    network_width: int = 64
    stall_timeout_s: float = 600.0
    max_restarts: int = 3

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError("CollectConfig.out is empty; expected an output directory")
        _choice("env_size", self.env_size, _SIZES)
        _choice("format", self.format, _FORMATS)
        _choice("observation_type", self.observation_type, _OBS_TYPES)
        _choice("action_type", self.action_type, _ACTION_TYPES)
        for name in ("num_levels", "chunk_size", "max_timesteps", "network_depth"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CollectConfig.{name} = {getattr(self, name)}; expected > 0")
        if self.stall_timeout_s < 0 or self.max_restarts < 0:
            raise ValueError(
                f"CollectConfig.stall_timeout_s = {self.stall_timeout_s}, max_restarts = "
                f"{self.max_restarts}; expected >= 0 (0 disables)"
            )
        if self.level_start < 0:
            raise ValueError(f"CollectConfig.level_start = {self.level_start}; expected >= 0")
        if self.format == "released" and self.action_type != "multi_discrete":
            raise ValueError(
                "CollectConfig.format = 'released' stores multi-discrete actions; got "
                f"action_type = {self.action_type!r}"
            )
        self.ppo_config()  # validates the PPO settings

    @property
    def level_ids(self) -> range:
        """The level ids this process handles."""
        return range(self.level_start, self.level_start + self.num_levels)

    def ppo_config(self) -> PPOConfig:
        """The specialists' :class:`PPOConfig`."""
        return PPOConfig(
            num_train_envs=self.num_train_envs,
            num_steps=self.num_steps,
            total_timesteps=self.total_timesteps,
            num_minibatches=self.num_minibatches,
            update_epochs=self.update_epochs,
            lr=self.lr,
            ent_coef=self.ent_coef,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
        )

    def model_config(self) -> ModelConfig:
        """The specialists' network options (an MLP trunk of ``network_depth x network_width``)."""
        return ModelConfig(
            actor_depth=self.network_depth,
            critic_depth=self.network_depth,
            actor_width=self.network_width,
            critic_width=self.network_width,
        )

    def env_params(self) -> EnvParams:
        return EnvParams(
            max_timesteps=self.max_timesteps, dense_reward_scale=self.dense_reward_scale
        )

    def static_env_params(self) -> StaticEnvParams:
        return static_env_params_from_size(self.env_size)

    def pinned(self) -> dict[str, Any]:
        """The settings a resumed run must share with the stored data."""
        return {k: getattr(self, k) for k in _PINNED}


def _choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"CollectConfig.{name} = {value!r}; expected one of {list(choices)}")


@dataclasses.dataclass(frozen=True)
class CollectReport:
    """What a :func:`collect` call did.

    Attributes:
        levels_processed: levels trained and rolled out by this call.
        levels_solved: of those, levels whose trajectory was kept.
        levels_skipped: levels of the range already done by an earlier run.
        transitions_written: stored steps added by this call (``levels_solved * T``).
        bytes_on_disk: size of the output directory after the run.
        wall_time_s: seconds this call took (compilation included).
        total_levels_done, total_levels_solved: over every run recorded in the output.
    """

    levels_processed: int
    levels_solved: int
    levels_skipped: int
    transitions_written: int
    bytes_on_disk: int
    wall_time_s: float
    total_levels_done: int
    total_levels_solved: int

    @property
    def levels_per_second(self) -> float:
        return self.levels_processed / self.wall_time_s if self.wall_time_s > 0 else 0.0

    @property
    def solve_fraction(self) -> float:
        return self.levels_solved / self.levels_processed if self.levels_processed else 0.0

    def summary(self) -> str:
        return (
            f"levels processed {self.levels_processed} (skipped {self.levels_skipped} already "
            f"done), solved {self.levels_solved} ({self.solve_fraction:.1%}); transitions "
            f"written {self.transitions_written}; {self.bytes_on_disk} bytes on disk; "
            f"{self.wall_time_s:.1f} s ({self.levels_per_second:.3f} levels/s); output total "
            f"{self.total_levels_solved}/{self.total_levels_done} levels solved"
        )


# --------------------------------------------------------------------------- the jitted chunk


def level_key(seed: int, level_id: int) -> jax.Array:
    """The PRNG key of level ``level_id`` (also stored as ``level_rngs``)."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), level_id)


def _make_chunk_fn(config: CollectConfig):
    """``chunk(level_keys (C, 2)) -> trajectories`` (jitted; the expensive part)."""
    env_params, static = config.env_params(), config.static_env_params()
    env = make_kinetix_env(config.action_type, config.observation_type, None, env_params, static)
    sampler = make_vmapped_filtered_level_sampler(
        make_reset_fn_sample_kinetix_level(env_params, static),
        env_params,
        static,
        {
            "filter_levels": config.filter_levels,
            "level_filter_n_steps": config.level_filter_n_steps,
            "level_filter_sample_ratio": config.level_filter_sample_ratio,
        },
        env,
    )
    ppo, model = config.ppo_config(), config.model_config()
    T = config.max_timesteps

    def build_network(key):
        return make_network(
            model, config.observation_type, config.action_type, env_params, static, key=key
        )

    template = eqx.filter_eval_shape(build_network, jax.random.PRNGKey(0))

    def sample(key):
        return jax.tree.map(lambda x: x[0], sampler(key, 1))

    def train(level, key):
        trainer = make_train(
            ppo,
            env,
            env_params,
            static,
            template,
            train_levels=jax.tree.map(lambda x: x[None], level),
            network_init_fn=build_network,
        )
        state, metrics = trainer.train(key)
        return state.network, metrics["episode_solved"][-1]

    def rollout(network, level, key):
        obs, start = env.reset(key, env_params, level)

        def step(runner, k):
            obs, s, carry, prev_done, seen, solved = runner
            add_tb = lambda x: jax.tree.map(lambda y: y[None, None], x)
            carry, dist, _ = network(carry, (add_tb(obs), prev_done[None, None]))
            action = dist.mode()[0, 0]
            obs, s_next, _, done, info = env.step(k, s, action, env_params, level)
            solved = jnp.where(~seen & done, info["GoalR"].astype(bool), solved)
            return (obs, s_next, carry, done, seen | done, solved), (s, action, prev_done)

        false = jnp.zeros((), bool)
        runner = (obs, start, network.initialize_carry(1), false, false, false)
        runner, (states, actions, dones) = jax.lax.scan(step, runner, jax.random.split(key, T))
        return states, actions, dones, runner[5]

    # Three programs rather than one: each compiles faster, and the fused one stalled XLA:CPU.
    v_sample = jax.jit(jax.vmap(sample))
    v_train = eqx.filter_jit(jax.vmap(train))
    v_rollout = eqx.filter_jit(jax.vmap(rollout))

    def chunk(keys):
        split = jax.vmap(lambda k: jax.random.split(k, 3))(keys)
        levels = v_sample(split[:, 0])
        networks, train_solve = v_train(levels, split[:, 1])
        states, actions, dones, solved = v_rollout(networks, levels, split[:, 2])
        return states, actions, dones, solved, train_solve

    return chunk


# --------------------------------------------------------------------------- progress state


def _read_state(out: str) -> dict[str, Any] | None:
    path = os.path.join(out, STATE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable collection state ({err}); expected JSON") from err


def _write_state(out: str, state: dict[str, Any]) -> None:
    path = os.path.join(out, STATE_FILE)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _check_resume(state: dict[str, Any], config: CollectConfig) -> None:
    stored, given = state.get("settings", {}), config.pinned()
    diff = {k: (stored.get(k), v) for k, v in given.items() if stored.get(k) != v}
    if diff:
        raise ValueError(
            f"{os.path.join(config.out, STATE_FILE)}: the output was collected with other "
            f"settings (key: (stored, given)) {diff}; use another `out` or the same settings"
        )


def _done_ids(state: dict[str, Any] | None) -> set[int]:
    ids: set[int] = set()
    for lo, hi in (state or {}).get("done_ranges", []):
        ids.update(range(lo, hi))
    return ids


def _merge_ranges(ranges: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # a file removed while we walk
                total += os.path.getsize(os.path.join(root, name))
    return total


# --------------------------------------------------------------------------- writing


def _trajectory_fields(
    config: CollectConfig, ids: np.ndarray, keys: np.ndarray, states, actions, dones
) -> dict[str, Any]:
    from kinetix.data import valid_action_mask_np

    static = config.static_env_params()
    n, T = dones.shape
    return {
        "action": actions,
        "action_mask": valid_action_mask_np(states, static),
        "done": dones,
        "mask": np.ones((n, T), bool),
        "level_rngs": np.broadcast_to(keys[:, None, :], (n, T, keys.shape[-1])).copy(),
        "env_state": states,
        "level_id": ids.astype(np.int64),
    }


class _OursSink:
    def __init__(self, config: CollectConfig):
        from kinetix.data.writer import DatasetWriter

        env_params = config.env_params()
        self.writer = DatasetWriter(
            config.out,
            config.static_env_params(),
            env_size=config.env_size,
            provenance={"collector": "kinetix.agents.collect", "settings": config.pinned()},
            action_type=config.action_type,
            done_convention="reset",
            env_params={
                "max_timesteps": env_params.max_timesteps,
                "dense_reward_scale": env_params.dense_reward_scale,
            },
            dedup_key="level_id",
        )

    def write(self, first_id: int, fields: dict[str, Any]) -> int:
        return self.writer.append(fields)

    def close(self) -> None:
        self.writer.close()


class _ReleasedSink:
    def __init__(self, config: CollectConfig):
        self.root = config.out
        group = os.path.join(self.root, ".zgroup")
        if not os.path.exists(group):
            tmp = f"{group}.tmp-{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(json.dumps({"zarr_format": 2}, indent=4))
            os.replace(tmp, group)

    def write(self, first_id: int, fields: dict[str, Any]) -> int:
        import shutil

        from kinetix.data import env_state_to_fields, write_released_shard

        name = f"shard_{first_id:012d}"
        final = os.path.join(self.root, name)
        if os.path.exists(os.path.join(final, ".zarray")):
            return 0  # committed by an interrupted run (renames are atomic)
        flat = {k: v for k, v in fields.items() if k not in ("env_state", "level_id")}
        flat.update(env_state_to_fields(fields["env_state"]))
        # Staged under a hidden directory (readers skip it), then renamed into place.
        staging = os.path.join(self.root, ".staging", name)
        shutil.rmtree(staging, ignore_errors=True)
        write_released_shard(staging, flat, "trajectory")
        os.replace(staging, final)
        return int(fields["done"].shape[0])

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- collect


def collect(
    config: CollectConfig,
    *,
    progress: bool = True,
    on_stall: Callable[[str], None] | None = None,
) -> CollectReport:
    """Train a specialist per level, keep the solved levels' trajectories, append them.

    Args:
        config: what to collect and where (see :class:`CollectConfig`).
        progress: show a tqdm bar (levels/s, solve fraction, ETA) on stderr.
        on_stall: called (from a watchdog thread) if a chunk stops using CPU for
            ``config.stall_timeout_s`` on a CPU backend; the stacks are printed first. The
            command line passes :func:`kinetix.agents.stall.restart_process`; the default
            only reports.

    Returns:
        A :class:`CollectReport` (also printed by the command line).

    Raises:
        ValueError: ``config.out`` was collected with other settings, or its state file is
            unreadable.

    Example:
        >>> report = collect(CollectConfig(out="/tmp/experts", num_levels=4, chunk_size=2,
        ...                                num_train_envs=8, total_timesteps=4096))  # doctest: +SKIP
        >>> report.levels_solved <= 4  # doctest: +SKIP
        True
    """
    t0 = time.perf_counter()
    os.makedirs(config.out, exist_ok=True)
    state = _read_state(config.out)
    if state is not None:
        _check_resume(state, config)
    else:
        state = {"settings": config.pinned(), "done_ranges": [], "levels_solved": 0}
    done = _done_ids(state)
    chunks = [
        range(lo, min(lo + config.chunk_size, config.level_ids.stop))
        for lo in range(config.level_ids.start, config.level_ids.stop, config.chunk_size)
    ]
    todo = [c for c in chunks if not set(c) <= done]
    skipped = config.num_levels - sum(len(c) for c in todo)
    sink = (_OursSink if config.format == "ours" else _ReleasedSink)(config)
    chunk_fn = _make_chunk_fn(config) if todo else None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=config.num_levels,
            initial=skipped,
            unit="level",
            desc=f"collect {config.env_size}",
            file=sys.stderr,
        )
    processed = solved_n = written = 0
    # A wedged XLA:CPU program idles; on an accelerator the host may idle legitimately.
    timeout = config.stall_timeout_s if jax.default_backend() == "cpu" else 0.0
    watchdog = StallWatchdog(timeout, on_stall or (lambda message: None))
    try:
        with watchdog:
            for chunk in todo:
                with watchdog.guard(f"the chunk of levels [{chunk.start}, {chunk.stop})"):
                    ids, keys, (states, actions, dones, solved) = _run_chunk(
                        config, chunk_fn, chunk
                    )
                keep = np.flatnonzero(solved)
                if keep.size:
                    pick = lambda x: x[keep]
                    fields = _trajectory_fields(
                        config, ids[keep], keys[keep], jax.tree.map(pick, states), pick(actions),
                        pick(dones),
                    )  # fmt: skip
                    written += sink.write(chunk.start, fields) * config.max_timesteps
                # The state file is written only after the chunk's data is committed.
                state["done_ranges"] = _merge_ranges(
                    state["done_ranges"] + [[chunk.start, chunk.stop]]
                )
                state["levels_solved"] = int(state.get("levels_solved", 0)) + int(keep.size)
                _write_state(config.out, state)
                processed += len(chunk)
                solved_n += int(keep.size)
                if bar is not None:
                    bar.update(len(chunk))
                    bar.set_postfix(solved=f"{solved_n / processed:.1%}")
    finally:
        sink.close()
        if bar is not None:
            bar.close()
    return CollectReport(
        levels_processed=processed,
        levels_solved=solved_n,
        levels_skipped=skipped,
        transitions_written=written,
        bytes_on_disk=_dir_bytes(config.out),
        wall_time_s=time.perf_counter() - t0,
        total_levels_done=len(_done_ids(state)),
        total_levels_solved=int(state.get("levels_solved", 0)),
    )


def _run_chunk(config: CollectConfig, chunk_fn, chunk: range):
    """Level ids (padded to ``chunk_size``), their keys, and the chunk's results on the host."""
    ids = np.arange(chunk.start, chunk.start + config.chunk_size)  # pad the last chunk
    keys = np.asarray(jax.vmap(lambda i: level_key(config.seed, i))(jnp.asarray(ids)))
    states, actions, dones, solved, _ = chunk_fn(jnp.asarray(keys))
    states, actions, dones, solved = jax.device_get((states, actions, dones, solved))
    return ids, keys, (states, actions, dones, np.asarray(solved)[: len(chunk)])


# --------------------------------------------------------------------------- command line


def parse_overrides(overrides: Sequence[str]) -> CollectConfig:
    """A :class:`CollectConfig` from ``key=value`` strings (``out=/tmp/d num_levels=64``).

    Raises:
        ValueError: malformed item, unknown key (listing the valid ones) or a bad value.
    """
    fields = {f.name: f for f in dataclasses.fields(CollectConfig)}
    values: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ValueError(f"override {item!r} is not of the form key=value (e.g. num_levels=64)")
        if key not in fields:
            raise ValueError(f"unknown key {key!r}; valid keys: {', '.join(fields)}")
        default = fields[key].default
        try:
            values[key] = _parse_value(raw.strip(), default)
        except ValueError:
            kind = type(default).__name__ if default is not dataclasses.MISSING else "str"
            raise ValueError(f"bad value for {key!r}: {raw!r} (expected {kind})") from None
    if "out" not in values:
        raise ValueError("collect needs out=<output directory>")
    return CollectConfig(**values)


def _parse_value(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        low = raw.lower()
        if low not in ("true", "false", "1", "0"):
            raise ValueError(raw)
        return low in ("true", "1")
    if isinstance(default, int):
        f = float(raw)
        if not f.is_integer():
            raise ValueError(raw)
        return int(f)
    if isinstance(default, float):
        return float(raw)
    return raw


def collect_from_command_line(
    config: CollectConfig, *, progress: bool = True, restart_on_stall: bool = True
) -> CollectReport:
    """:func:`collect` as ``kinetix collect`` runs it: with ``restart_on_stall`` (only when this
    call *is* the process's command line), a chunk that stops using CPU for
    ``config.stall_timeout_s`` re-executes the same command, which resumes after the last
    committed chunk, at most ``config.max_restarts`` times (see :mod:`kinetix.agents.stall`).
    """
    on_stall = restart_process(config.max_restarts, what="collect") if restart_on_stall else None
    return collect(config, progress=progress, on_stall=on_stall)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kinetix.agents.collect key=value ...``; prints the report.

    Returns:
        0 on success, 2 on a usage or config error.
    """
    command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        print("flags: --no-progress (no bar), --json (also print the report as one JSON line)")
        print("keys (key=value):")
        for f in dataclasses.fields(CollectConfig):
            shown = "(required)" if f.default is dataclasses.MISSING else repr(f.default)
            print(f"  {f.name:<26} {shown}")
        return 0 if argv else 2
    no_progress, as_json = "--no-progress" in argv, "--json" in argv
    argv = [a for a in argv if a not in ("--no-progress", "--json")]
    try:
        config = parse_overrides(argv)
    except ValueError as err:
        print(f"collect: error: {err}", file=sys.stderr)
        return 2
    report = collect_from_command_line(
        config, progress=not no_progress, restart_on_stall=command_line
    )
    print(report.summary())
    if as_json:
        print(json.dumps(dataclasses.asdict(report)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
