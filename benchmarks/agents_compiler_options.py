"""One PPO update (default entity transformer, size s) with and without ``cpu_compiler_options()``.

Every ``eqx.filter_jit`` of the trainer gets the options when the argument is ``opts`` (or a JSON
object of XLA options); run once per mode, each in a fresh interpreter (persistent compile cache
off):

    python benchmarks/agents_compiler_options.py default
    python benchmarks/agents_compiler_options.py opts
    python benchmarks/agents_compiler_options.py '{"xla_cpu_use_fusion_emitters": false}'
"""

from __future__ import annotations

import json
import sys
import time

import equinox as eqx
import jax

from jax2d.compiler_options import cpu_compiler_options

ENVS, STEPS = 256, 64


def main(mode: str) -> None:
    if mode == "default":
        options = {}
    elif mode == "opts":
        options = cpu_compiler_options()
    elif mode.startswith("{"):
        options = json.loads(mode)
    else:
        raise SystemExit(f"mode must be 'default', 'opts' or a JSON object (got {mode!r})")
    if options:
        plain = eqx.filter_jit
        eqx.filter_jit = lambda f=None, **kw: plain(f, compiler_options=options, **kw)
    jax.config.update("jax_enable_compilation_cache", False)
    from kinetix.agents._config_schema import TrainPPOConfig
    from kinetix.agents.config import load_config
    from kinetix.agents.finetune import build_ppo

    cfg = load_config(
        TrainPPOConfig,
        [
            "env_size=s",
            f"learning.num_train_envs={ENVS}",
            f"learning.num_steps={STEPS}",
            "learning.num_minibatches=8",
            "learning.update_epochs=2",
            "learning.total_timesteps=1000000",
            "train_levels.train_level_mode=random",
        ],
    )
    trainer = build_ppo(cfg)[0]
    state = trainer.init(jax.random.PRNGKey(0))
    t0 = time.perf_counter()
    state, _ = trainer.update(state, 1)
    jax.block_until_ready(state)
    first = time.perf_counter() - t0
    cpu = []
    for _ in range(3):
        t0 = time.process_time()
        state, _ = trainer.update(state, 1)
        jax.block_until_ready(state)
        cpu.append(time.process_time() - t0)
    print(
        f"jax {jax.__version__} {mode}: first call (compile + run) {first:.1f} s; "
        f"one update {min(cpu):.2f} CPU s ({ENVS * STEPS} env steps)"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "default")
