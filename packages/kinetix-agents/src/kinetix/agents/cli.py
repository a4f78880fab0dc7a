"""The ``kinetix`` command line: ``kinetix <command> [key=value ...]``.

Commands and their configs (see :mod:`kinetix.agents.config`)::

    kinetix train-ppo env_size=s learning.num_train_envs=256 learning.total_timesteps=1e7
    kinetix train-bc dataset_dir=/data/1M/m learning.lr=3e-4 env_size=m
    kinetix finetune bc_checkpoint=runs/bc-.../checkpoints env_size=m
    kinetix eval checkpoint=runs/bc-.../checkpoints eval.eval_levels=[s/h0_unicycle]
    kinetix collect out=/data/experts_s env_size=s num_levels=1024 level_start=0

``kinetix <command> --help`` lists every key with its type and default; ``--print-config``
prints the resolved config and exits. In a multi-process run set
``KINETIX_COORDINATOR_ADDRESS``, ``KINETIX_NUM_PROCESSES`` and ``KINETIX_PROCESS_ID`` (see
:func:`kinetix.agents.distributed.initialize`).

New commands register a :class:`Command` in :data:`COMMANDS` (``collect`` is added there).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["COMMANDS", "Command", "main"]


@dataclasses.dataclass(frozen=True)
class Command:
    """A ``kinetix`` sub-command.

    Attributes:
        name: the command word.
        summary: one line for ``kinetix --help``.
        config_class: name of its config dataclass in :mod:`kinetix.agents.config` (resolved
            lazily so ``kinetix --help`` does not import JAX).
        run: ``run(config) -> None``; imported lazily as ``"module:function"``.
        restartable: the command resumes from its own committed progress, so when it runs as
            the process's command line ``run`` is called with ``command_line=True`` and may
            re-execute the process to recover from an XLA:CPU stall (``collect``).
    """

    name: str
    summary: str
    config_class: str
    run: str
    restartable: bool = False


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "train-ppo", "train PPO from scratch", "TrainPPOConfig", "kinetix.agents.cli:_run_ppo"
        ),
        Command(
            "train-bc",
            "behaviour cloning on a kinetix-data dataset",
            "TrainBCConfig",
            "kinetix.agents.cli:_run_bc",
        ),
        Command(
            "finetune",
            "PPO initialised from a BC checkpoint",
            "FinetuneConfig",
            "kinetix.agents.cli:_run_finetune",
        ),
        Command(
            "eval",
            "evaluate a checkpoint on hand-designed / sampled levels",
            "EvalConfig",
            "kinetix.agents.cli:_run_eval",
        ),
        Command(
            "collect",
            "expert data: a specialist PPO per random level, solved trajectories kept",
            "CollectSettings",
            "kinetix.agents.cli:_run_collect",
            restartable=True,
        ),
    )
}


def _resolve(spec: str) -> Callable[..., Any]:
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _config_class(command: Command) -> type:
    from kinetix.agents import config as config_module

    return getattr(config_module, command.config_class)


def _keys_help(cls: type) -> str:
    from kinetix.agents.config import config_keys

    rows = config_keys(cls)
    width = max(len(k) for k, _, _ in rows)
    lines = [f"config keys (key=value; {cls.__name__}):"]
    for key, tname, default in rows:
        shown = "(required)" if default == "???" else json.dumps(default)
        lines.append(f"  {key:<{width}}  {tname:<10} {shown}")
    return "\n".join(lines)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinetix",
        description="Kinetix agents: PPO, behaviour cloning, fine-tuning and evaluation. "
        "Configure with key=value overrides (e.g. learning.lr=3e-4 env_size=m).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {c.name:<10} {c.summary}" for c in COMMANDS.values())
        + "\n\n`kinetix <command> --help` lists the command's config keys and defaults.",
    )
    sub = parser.add_subparsers(dest="command", metavar="command")
    for c in COMMANDS.values():
        p = sub.add_parser(
            c.name,
            help=c.summary,
            description=c.summary,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(_command=c)
        p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides")
        p.add_argument(
            "--print-config", action="store_true", help="print the resolved config and exit"
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kinetix`` script.

    Returns:
        The exit status (0 on success, 2 on a usage or config error).

    Example:
        >>> main(["train-bc", "dataset_dir=/data/m", "--print-config"])  # doctest: +SKIP
    """
    command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    # Command help lists the config keys: build it only for the command asked about, since
    # resolving config classes imports the agents package (and JAX).
    if len(argv) >= 2 and argv[0] in COMMANDS and ("-h" in argv or "--help" in argv):
        command = COMMANDS[argv[0]]
        sub_parser = parser._subparsers._group_actions[0].choices[command.name]  # type: ignore[union-attr]
        sub_parser.epilog = _keys_help(_config_class(command))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    command: Command = args._command
    from omegaconf import OmegaConf

    from kinetix.agents.config import ConfigError, load_config

    try:
        config = load_config(_config_class(command), args.overrides)
    except ConfigError as e:
        print(f"kinetix {command.name}: error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(OmegaConf.to_yaml(OmegaConf.structured(config)), end="")
        return 0
    from kinetix.agents.distributed import initialize

    initialize()
    try:
        run = _resolve(command.run)
        run(config, command_line=command_line) if command.restartable else run(config)
    except ConfigError as e:
        print(f"kinetix {command.name}: error: {e}", file=sys.stderr)
        return 2
    return 0


def _run_bc(config: Any) -> None:
    from kinetix.agents.bc_train import run_bc

    result = run_bc(config)
    print(f"behaviour cloning done: {result.run_dir}")


def _run_ppo(config: Any) -> None:
    from kinetix.agents.finetune import run_ppo

    result = run_ppo(config)
    print(f"PPO done: {result.run_dir}")


def _run_finetune(config: Any) -> None:
    from kinetix.agents.finetune import run_finetune

    result = run_finetune(config)
    print(f"fine-tuning done: {result.run_dir}")


def _run_eval(config: Any) -> None:
    from kinetix.agents.checkpoint import load_policy
    from kinetix.agents.config import config_from_dict, env_params_from_config
    from kinetix.agents.online_eval import make_online_eval

    loaded = load_policy(config.checkpoint)
    run_config = config_from_dict(loaded.config)
    run_config.eval = config.eval
    run_config.seed = config.seed
    env_params, static = env_params_from_config(run_config)
    results = make_online_eval(run_config, env_params, static)(
        loaded.network, loaded.rms, int(loaded.metadata.get("step", 0))
    )
    summary = {k: float(v) for k, v in results.items()}
    text = json.dumps(summary, indent=2, sort_keys=True)
    print(text)
    if config.output:
        Path(config.output).write_text(text + "\n")


def _run_collect(config: Any, command_line: bool = False) -> None:
    from kinetix.agents.collect import CollectConfig, collect_from_command_line
    from kinetix.agents.config import ConfigError

    try:
        collect_config = CollectConfig(**dataclasses.asdict(config))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    report = collect_from_command_line(collect_config, restart_on_stall=command_line)
    print(report.summary())


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
