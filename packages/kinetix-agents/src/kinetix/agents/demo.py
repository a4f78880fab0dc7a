"""The README's main job on an embedded default: collect a small expert dataset of ``s`` levels,
behaviour-clone it, fine-tune the clone with PPO, train PPO from scratch with the same env-step
budget, evaluate all three on held-out sampled levels and on the hand-made ``s`` levels, and write
``runs/demo/report.md`` with a table, a learning-curve PNG and a GIF of the best agent.

Level streams are disjoint by construction: the training pool, the held-out levels and the
collection levels come from different keys derived from ``PRNGKey(seed)`` (filtered sampler).
The default collector trains one PPO expert on the collection levels (``collector="shared"``);
``collector="specialists"`` uses :mod:`kinetix.agents.collect` (a specialist per level).

Run it with ``python -m kinetix.agents.demo [--out runs/demo] [--seed 0] [--quick] [--fresh]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from kinetix.agents.models import ModelConfig

__all__ = [
    "DemoConfig",
    "DemoResult",
    "StageResult",
    "QUICK_CONFIG",
    "load_bc_dataset",
    "main",
    "run_demo",
    "run_pipeline",
    "train_bc",
]

_SMALL_MODEL = ModelConfig(actor_depth=2, critic_depth=2, actor_width=64, critic_width=64)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Every knob of the demo pipeline; the defaults are the embedded small run (~15 minutes on
    an idle 2-core CPU including installs).

    Attributes:
        seed: root seed (levels, networks, collection, training, evaluation).
        env_size: static size preset of every level.
        observation_type, action_type: the env's observation and action types.
        model: the actor-critic of BC, fine-tuning and PPO from scratch.
        max_timesteps: episode cap (and stored trajectory length).
        num_train_levels: filtered sampled levels PPO trains on (the training pool).
        num_collect_levels: levels the expert is trained on and plays once (own key).
        collect_timesteps_per_level, collect_num_envs, collect_chunk_size: each level's
            specialist PPO (env steps, parallel envs) and how many are trained together.
        collector: ``"specialists"`` (:mod:`kinetix.agents.collect`, a PPO specialist per level)
            or ``"shared"`` (one PPO expert on all collection levels with the demo's PPO
            settings and ``collect_timesteps_per_level * num_collect_levels`` env steps).
        bc_updates, bc_batch_trajectories, bc_lr: behaviour cloning.
        ppo_timesteps: env-step budget of fine-tuning and of PPO from scratch (each).
        ppo_num_envs, ppo_num_steps, ppo_num_minibatches, ppo_update_epochs, ppo_lr,
            ppo_ent_coef: PPO hyper-parameters shared by both PPO runs.
        curve_points: held-out evaluations along each PPO run (plus one at step 0).
        num_heldout_levels: held-out sampled levels (curves and final table).
        curve_attempts, final_attempts: stochastic attempts per level for the curves / table.
        gif_level: the hand-made level of the GIF (``s/<name>``); None: the first hand-made one.

    Example:
        >>> DemoConfig(ppo_timesteps=8192, ppo_num_envs=16, ppo_num_steps=32).ppo_updates
        16
    """

    seed: int = 0
    env_size: str = "s"
    observation_type: str = "symbolic_flat"
    action_type: str = "multi_discrete"
    model: ModelConfig = _SMALL_MODEL
    max_timesteps: int = 256
    num_train_levels: int = 256
    num_collect_levels: int = 32
    collect_timesteps_per_level: int = 49_152
    collect_num_envs: int = 32
    collect_chunk_size: int = 8
    collector: str = "shared"
    bc_updates: int = 400
    bc_batch_trajectories: int = 8
    bc_lr: float = 1e-3
    ppo_timesteps: int = 491_520
    ppo_num_envs: int = 64
    ppo_num_steps: int = 64
    ppo_num_minibatches: int = 4
    ppo_update_epochs: int = 4
    ppo_lr: float = 3e-4
    ppo_ent_coef: float = 0.01
    curve_points: int = 6
    num_heldout_levels: int = 64
    curve_attempts: int = 2
    final_attempts: int = 8
    gif_level: str | None = None

    def __post_init__(self) -> None:
        if self.num_collect_levels > self.num_train_levels:
            raise ValueError(
                f"DemoConfig.num_collect_levels = {self.num_collect_levels} must be <= "
                f"num_train_levels = {self.num_train_levels} (the collection levels are tiled to the pool's size)"
                "levels)"
            )
        for name in ("num_collect_levels", "bc_updates", "ppo_timesteps", "num_heldout_levels"):
            if getattr(self, name) <= 0:
                raise ValueError(f"DemoConfig.{name} = {getattr(self, name)}; expected > 0")
        if self.collector not in ("specialists", "shared"):
            raise ValueError(
                f"DemoConfig.collector = {self.collector!r}; expected 'specialists' or 'shared'"
            )
        if self.curve_points < 1:
            raise ValueError(f"DemoConfig.curve_points = {self.curve_points}; expected >= 1")
        steps_per_update = self.ppo_num_envs * self.ppo_num_steps
        if self.ppo_timesteps < steps_per_update * self.curve_points:
            raise ValueError(
                f"DemoConfig.ppo_timesteps = {self.ppo_timesteps} buys fewer than curve_points = "
                f"{self.curve_points} PPO updates of {steps_per_update} env steps"
            )

    @property
    def ppo_chunk(self) -> int:
        """PPO updates between two learning-curve evaluations."""
        return max(1, self.ppo_updates // self.curve_points)

    @property
    def ppo_updates(self) -> int:
        """PPO updates of each PPO run (``ppo_timesteps // (num_envs * num_steps)``)."""
        return self.ppo_timesteps // (self.ppo_num_envs * self.ppo_num_steps)


# A configuration for tests and smoke runs (a minute or two, results meaningless).
QUICK_CONFIG = DemoConfig(
    num_train_levels=16,
    num_collect_levels=4,
    collect_timesteps_per_level=2048,
    collect_num_envs=8,
    collect_chunk_size=4,
    max_timesteps=64,
    bc_updates=20,
    bc_batch_trajectories=2,
    ppo_timesteps=4 * 16 * 32,
    ppo_num_envs=16,
    ppo_num_steps=32,
    ppo_num_minibatches=2,
    ppo_update_epochs=2,
    curve_points=2,
    num_heldout_levels=8,
    curve_attempts=1,
    final_attempts=2,
)


@dataclasses.dataclass
class StageResult:
    """What one stage produced: wall time, process CPU time (both cores summed; a steadier
    figure than wall time on a shared machine), env steps it used, and its metrics."""

    name: str
    wall_s: float
    env_steps: int = 0
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
    cpu_s: float = 0.0


@dataclasses.dataclass
class DemoResult:
    """Everything :func:`run_pipeline` measured (``report.md`` and the headline use it).

    Attributes:
        config: the run's config.
        stages: per stage ``StageResult`` (collect, bc, finetune, scratch, evaluate).
        curves: ``{"finetune"|"scratch": {"env_steps": [...], "heldout_solve_rate": [...],
            "heldout_return": [...], "train_solved": [...], "train_steps": [...]}}`` and
            ``"bc": {"step": [...], "loss": [...]}``.
        table: ``{agent: {"heldout"|"handmade": {"solve_rate", "return"}}}`` for
            ``bc``, ``finetune`` and ``scratch``.
        networks: the three final networks (not serialised).
        dataset_dir: where the collected dataset lives.
    """

    config: DemoConfig
    stages: dict[str, StageResult]
    curves: dict[str, dict[str, list[float]]]
    table: dict[str, dict[str, dict[str, float]]]
    networks: dict[str, Any]
    dataset_dir: Path
    handmade_names: list[str]

    def to_json(self) -> dict[str, Any]:
        """JSON-able summary (config, stages, curves, table)."""
        cfg = dataclasses.asdict(self.config)
        return {
            "config": cfg,
            "stages": {k: dataclasses.asdict(v) for k, v in self.stages.items()},
            "curves": self.curves,
            "table": self.table,
            "handmade_levels": self.handmade_names,
            "dataset_dir": str(self.dataset_dir),
        }


@dataclasses.dataclass(frozen=True)
class _Env:
    """The env (auto-resetting, no reset function: levels are always given) and its params."""

    env: Any
    env_params: Any
    static: Any


def _make_env(config: DemoConfig) -> _Env:
    from kinetix.environment import EnvParams, make_kinetix_env, static_env_params_from_size

    static = static_env_params_from_size(config.env_size)
    env_params = EnvParams(max_timesteps=config.max_timesteps)
    env = make_kinetix_env(config.action_type, config.observation_type, None, env_params, static)
    return _Env(env, env_params, static)


def _sample_levels(e: _Env, key: jax.Array, n: int) -> Any:
    """``n`` filtered random levels (levels the no-op action solves are avoided)."""
    from kinetix.environment import (
        UEDParams,
        make_vmapped_filtered_level_sampler,
        sample_kinetix_level,
    )

    sampler = make_vmapped_filtered_level_sampler(
        lambda rng: sample_kinetix_level(
            rng, e.env.physics_engine, e.env_params, e.static, UEDParams()
        ),
        e.env_params,
        e.static,
        {"filter_levels": True, "level_filter_n_steps": 64, "level_filter_sample_ratio": 2},
        e.env,
    )
    return sampler(key, n)


def _take(levels: Any, n: int) -> Any:
    return jax.tree.map(lambda x: x[:n], levels)


def _progress(msg: str) -> None:
    cpu = time.process_time()
    print(f"[demo {time.strftime('%H:%M:%S')} cpu {cpu:.0f}s] {msg}", flush=True)


# ----------------------------------------------------------------------------------------- BC


def load_bc_dataset(path: str | Path) -> dict[str, Any]:
    """Read a whole (small) dataset into host memory as a BC batch source.

    Returns ``{"action", "action_mask", "mask", "done", "env_state"}`` with leading axes
    ``(N, T)``; ``action_mask`` is recomputed from the states when the dataset has none and
    ``mask`` (expert weight) defaults to ones.

    Raises:
        kinetix.data.DatasetFormatError: the path holds no readable dataset.
    """
    from kinetix.data import fields_to_env_state, open_dataset, valid_action_mask_np

    ds = open_dataset(str(path))
    f = ds.read(slice(None))
    state = fields_to_env_state(f, ds.static_env_params)
    action = np.asarray(f["action"])
    done = np.asarray(f["done"], bool)
    if "action_mask" in f:
        action_mask = np.asarray(f["action_mask"], bool)
    else:
        action_mask = valid_action_mask_np(state, ds.static_env_params)
    mask = np.asarray(f["mask"], np.float32) if "mask" in f else np.ones(done.shape, np.float32)
    return {
        "action": action,
        "action_mask": action_mask,
        "mask": mask,
        "done": done,
        "env_state": state,
        "static_env_params": ds.static_env_params,
    }


def train_bc(
    network: Any,
    data: dict[str, Any],
    get_obs: Callable[[Any], Any],
    *,
    num_updates: int,
    batch_trajectories: int,
    lr: float,
    key: jax.Array,
    log_every: int = 10,
) -> tuple[Any, dict[str, list[float]]]:
    """Behaviour cloning on in-memory trajectories (uniform minibatches of whole trajectories).

    Args:
        network: the initial actor-critic.
        data: :func:`load_bc_dataset`'s output.
        get_obs: the observation function the network reads.
        num_updates, batch_trajectories, lr: optimisation.
        key: PRNG key (minibatch choice).
        log_every: record the loss every this many updates (and at the first and last).

    Returns:
        ``(network, {"step": [...], "loss": [...]})``.

    Example:
        >>> net, curve = train_bc(net, load_bc_dataset("runs/demo/data"), obs_fn.get_obs,
        ...                       num_updates=10, batch_trajectories=4, lr=1e-3,
        ...                       key=jax.random.PRNGKey(0))  # doctest: +SKIP
    """
    from kinetix.agents.bc import BCBatch, init_bc_state, make_bc_optimizer, make_bc_step

    optimizer = make_bc_optimizer(lr, num_updates)
    k_state, k_batches = jax.random.split(key)
    state = init_bc_state(network, optimizer, k_state)
    step = make_bc_step(optimizer, get_obs, disentangled=True)
    n = data["action"].shape[0]
    rng = np.random.default_rng(np.asarray(jax.random.key_data(k_batches)).tolist())
    curve: dict[str, list[float]] = {"step": [], "loss": []}
    for i in range(1, num_updates + 1):
        idx = rng.choice(n, size=batch_trajectories, replace=n < batch_trajectories)
        batch = BCBatch(
            jnp.asarray(data["action"][idx]),
            jnp.asarray(data["action_mask"][idx]),
            jnp.asarray(data["mask"][idx]),
            jnp.asarray(data["done"][idx]),
            jax.tree.map(lambda x: jnp.asarray(x[idx]), data["env_state"]),
        )
        state, metrics = step(state, batch)
        if i == 1 or i % log_every == 0 or i == num_updates:
            curve["step"].append(i)
            curve["loss"].append(float(metrics["loss"]))
    return state.network, curve


# ---------------------------------------------------------------------------------------- PPO


def _ppo(
    config: DemoConfig,
    e: _Env,
    network: Any,
    train_levels: Any,
    heldout: Any,
    key: jax.Array,
    name: str,
) -> tuple[Any, StageResult, dict[str, list[float]]]:
    """PPO on the training pool from ``network``, evaluated on held-out levels along the way."""
    from kinetix.agents.evaluation import evaluate
    from kinetix.agents.ppo import PPOConfig, make_train

    t0 = time.perf_counter()
    pcfg = PPOConfig(
        num_train_envs=config.ppo_num_envs,
        num_steps=config.ppo_num_steps,
        total_timesteps=config.ppo_timesteps,
        num_minibatches=config.ppo_num_minibatches,
        update_epochs=config.ppo_update_epochs,
        lr=config.ppo_lr,
        ent_coef=config.ppo_ent_coef,
    )
    trainer = make_train(pcfg, e.env, e.env_params, e.static, network, train_levels=train_levels)
    k_init, k_eval = jax.random.split(key)
    state = trainer.init(k_init)
    steps_per_update = config.ppo_num_envs * config.ppo_num_steps
    total = config.ppo_updates
    chunk = config.ppo_chunk
    ends = [min(total, k) for k in range(chunk, total + chunk, chunk)]
    curve: dict[str, list[float]] = {k: [] for k in (
        "env_steps", "heldout_solve_rate", "heldout_return", "train_steps", "train_solved"
    )}  # fmt: skip

    def record(done_updates: int) -> None:
        res = evaluate(
            state.network, heldout, e.env, e.env_params, e.static,
            num_attempts=config.curve_attempts, key=jax.random.fold_in(k_eval, done_updates),
        )  # fmt: skip
        curve["env_steps"].append(done_updates * steps_per_update)
        curve["heldout_solve_rate"].append(float(res["mean_solve_rate"]))
        curve["heldout_return"].append(float(res["mean_return"]))

    record(0)
    done = 0
    train_time = 0.0
    for end in ends:
        t = time.perf_counter()
        state, metrics = trainer.update(state, end - done)
        metrics = jax.device_get(metrics)
        train_time += time.perf_counter() - t
        curve["train_steps"] += [float(x) for x in np.asarray(metrics["timesteps"])]
        curve["train_solved"] += [float(x) for x in np.asarray(metrics["episode_solved"])]
        done = end
        record(done)
        _progress(
            f"{name}: {done}/{total} updates, {done * steps_per_update:,} env steps, held-out "
            f"solve rate {curve['heldout_solve_rate'][-1]:.3f}"
        )
    stage = StageResult(
        name,
        time.perf_counter() - t0,
        done * steps_per_update,
        {"train_wall_s": train_time, "updates": done},
    )
    return state.network, stage, curve


# ---------------------------------------------------------------------------------- evaluation


def _final_eval(config: DemoConfig, e: _Env, networks: dict[str, Any], sets: dict[str, Any], key):
    from kinetix.agents.evaluation import evaluate

    table: dict[str, dict[str, dict[str, float]]] = {}
    for agent, net in networks.items():
        table[agent] = {}
        for set_name, levels in sets.items():
            res = evaluate(
                net, levels, e.env, e.env_params, e.static,
                num_attempts=config.final_attempts, key=jax.random.fold_in(key, len(table)),
            )  # fmt: skip
            table[agent][set_name] = {
                "solve_rate": float(res["mean_solve_rate"]),
                "return": float(res["mean_return"]),
                "best_of_k": float(res["best_of_k_solve_rate"]),
                "per_level_solve_rate": [float(x) for x in np.asarray(res["solve_rate"])],
            }
    return table


def _handmade_levels(e: _Env) -> tuple[Any, list[str]]:
    from kinetix.environment import load_evaluation_levels, load_handmade_suite

    names = [lvl.level_name for lvl in load_handmade_suite(_size_of(e))]
    levels, _ = load_evaluation_levels(names, e.static)
    return levels, names


def _size_of(e: _Env) -> str:
    from kinetix.environment import static_env_params_from_size

    for size in ("s", "m", "l"):
        if static_env_params_from_size(size) == e.static:
            return size
    raise ValueError(f"static sizes {e.static} are not one of the s/m/l presets")


# ------------------------------------------------------------------------------------ pipeline


def _collector(config: DemoConfig) -> Callable[[DemoConfig, Any, Path], StageResult]:
    from kinetix.agents import demo_collect

    if config.collector == "specialists":
        return demo_collect.collect_specialists
    return demo_collect.collect_shared


def run_pipeline(
    config: DemoConfig,
    out_dir: str | Path = "runs/demo",
    *,
    collect_fn: Callable[[DemoConfig, Any, Path], StageResult] | None = None,
) -> DemoResult:
    """Collect -> BC -> fine-tune, PPO from scratch, final evaluation (no report files).

    Args:
        config: the pipeline's knobs.
        out_dir: output directory; the dataset goes to ``<out_dir>/data`` (an existing complete
            dataset there is reused, so a rerun skips collection).
        collect_fn: replaces the collection stage (``(config, env, data_dir) -> StageResult``),
            e.g. in tests.
    """
    from kinetix.agents.models import make_network

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    e = _make_env(config)
    k_train, k_heldout, k_net, k_bc, k_ft, k_scratch, k_eval = jax.random.split(
        jax.random.PRNGKey(config.seed), 7
    )
    stages: dict[str, StageResult] = {}
    cpu = time.process_time()

    def tick(name: str) -> None:
        nonlocal cpu
        now = time.process_time()
        stages[name].cpu_s = now - cpu
        cpu = now

    _progress(
        f"sampling {config.num_train_levels} training and {config.num_heldout_levels} held-out levels"
    )
    t0 = time.perf_counter()
    # One batch size for both draws, so the filtered sampler compiles once.
    n = max(config.num_train_levels, config.num_heldout_levels)
    train_levels = _take(_sample_levels(e, k_train, n), config.num_train_levels)
    heldout = _take(_sample_levels(e, k_heldout, n), config.num_heldout_levels)
    handmade, handmade_names = _handmade_levels(e)
    stages["levels"] = StageResult("levels", time.perf_counter() - t0)
    tick("levels")

    data_dir = out / "data"
    _progress(f"collect: {config.num_collect_levels} levels -> {data_dir}")
    stages["collect"] = (collect_fn or _collector(config))(config, e, data_dir)
    tick("collect")
    _progress(f"collect: done in {stages['collect'].wall_s:.0f} s, {stages['collect'].metrics}")

    if not (data_dir / "dataset.json").exists():
        raise RuntimeError(
            f"collect: no level was solved, so {data_dir} holds no expert data; raise "
            "collect_timesteps_per_level or num_collect_levels"
        )
    t0 = time.perf_counter()
    data = load_bc_dataset(data_dir)
    net0 = make_network(
        config.model, e.env.observation_type, config.action_type, e.env_params, e.static, key=k_net
    )
    _progress(f"bc: {config.bc_updates} updates on {data['action'].shape[0]} trajectories")
    bc_net, bc_curve = train_bc(
        net0, data, e.env.observation_type.get_obs, num_updates=config.bc_updates,
        batch_trajectories=config.bc_batch_trajectories, lr=config.bc_lr, key=k_bc,
    )  # fmt: skip
    stages["bc"] = StageResult(
        "bc",
        time.perf_counter() - t0,
        0,
        {"first_loss": bc_curve["loss"][0], "final_loss": bc_curve["loss"][-1],
         "num_trajectories": int(data["action"].shape[0])},
    )  # fmt: skip
    tick("bc")
    _progress(f"bc: loss {bc_curve['loss'][0]:.3f} -> {bc_curve['loss'][-1]:.3f}")

    _progress(f"finetune: BC -> PPO for {config.ppo_timesteps:,} env steps")
    ft_net, stages["finetune"], ft_curve = _ppo(
        config, e, bc_net, train_levels, heldout, k_ft, "finetune"
    )
    tick("finetune")
    _progress(f"scratch: PPO from scratch for {config.ppo_timesteps:,} env steps")
    sc_net, stages["scratch"], sc_curve = _ppo(
        config, e, net0, train_levels, heldout, k_scratch, "scratch"
    )

    tick("scratch")
    _progress("evaluate: held-out sampled and hand-made levels")
    t0 = time.perf_counter()
    networks = {"bc": bc_net, "finetune": ft_net, "scratch": sc_net}
    table = _final_eval(config, e, networks, {"heldout": heldout, "handmade": handmade}, k_eval)
    stages["evaluate"] = StageResult("evaluate", time.perf_counter() - t0)
    tick("evaluate")
    return DemoResult(
        config=config,
        stages=stages,
        curves={"bc": bc_curve, "finetune": ft_curve, "scratch": sc_curve},
        table=table,
        networks=networks,
        dataset_dir=data_dir,
        handmade_names=handmade_names,
    )


def run_demo(
    config: DemoConfig = DemoConfig(),
    out_dir: str | Path = "runs/demo",
    *,
    collect_fn: Callable[[DemoConfig, Any, Path], StageResult] | None = None,
) -> Path:
    """Run the pipeline and write ``report.md``, ``learning_curves.png``, ``best_agent.gif`` and
    ``results.json`` into ``out_dir``; returns the report's path.

    Example:
        >>> run_demo(QUICK_CONFIG, "runs/demo-quick")  # doctest: +SKIP
        PosixPath('runs/demo-quick/report.md')
    """
    from kinetix.agents.demo_report import write_report

    t0 = time.perf_counter()
    result = run_pipeline(config, out_dir, collect_fn=collect_fn)
    _progress("report: table, learning curves, GIF")
    report = write_report(result, Path(out_dir), total_wall_s=time.perf_counter() - t0)
    _progress(f"done: {report}")
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m kinetix.agents.demo [--out DIR] [--seed N] [--quick] [--fresh] [key=value]``."""
    p = argparse.ArgumentParser(prog="python -m kinetix.agents.demo", description=__doc__)
    p.add_argument("--out", default="runs/demo", help="output directory (default runs/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a tiny run (results meaningless)")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="delete <out>/data first (collect again, e.g. after changing collection settings)",
    )
    p.add_argument("overrides", nargs="*", help="DemoConfig fields, e.g. ppo_timesteps=100000")
    args = p.parse_args(argv)
    config = QUICK_CONFIG if args.quick else DemoConfig()
    config = dataclasses.replace(config, seed=args.seed, **_parse_overrides(args.overrides))
    print(json.dumps(dataclasses.asdict(config), default=str))
    if args.fresh:
        import shutil

        shutil.rmtree(Path(args.out) / "data", ignore_errors=True)
    run_demo(config, args.out)
    return 0


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(DemoConfig)}
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in fields or key == "model":
            raise SystemExit(
                f"bad override {item!r}: expected key=value with key one of "
                f"{sorted(k for k in fields if k != 'model')}"
            )
        default = getattr(DemoConfig(), key)
        if value == "None":
            out[key] = None
        elif isinstance(default, bool):
            out[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(default, int):
            out[key] = int(value)
        elif isinstance(default, float):
            out[key] = float(value)
        else:
            out[key] = value
    return out


if __name__ == "__main__":
    sys.exit(main())
