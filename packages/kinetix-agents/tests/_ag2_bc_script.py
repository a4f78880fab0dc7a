"""Subprocess used by the checkpoint/distributed/CLI tests: a tiny BC run on synthetic data.

Usage: python _ag2_bc_script.py OUT_NPZ DELAY_S key=value...

Writes the final train state's arrays to OUT_NPZ and prints ``RESUMED_FROM <step|None>``.
With KINETIX_* distributed variables set it joins a multi-process run first.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

# Importing the kinetix.agents package imports jax2d, whose import already starts the XLA
# backend (too late for jax.distributed), so the real initialize() is loaded from its file
# first (kinetix/agents/__init__.py should call initialize() before its other imports, as the
# reference does at import; until then this is the only order that works).
_spec = importlib.util.spec_from_file_location(
    "_kinetix_distributed",
    Path(__file__).resolve().parents[1] / "src" / "kinetix" / "agents" / "distributed.py",
)
_distributed = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_distributed)
_distributed.initialize()

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402
from _ag2_helpers import SyntheticLoader  # noqa: E402

from kinetix.agents.bc_train import run_bc  # noqa: E402
from kinetix.agents.config import TrainBCConfig, load_config  # noqa: E402


class SlowLoader(SyntheticLoader):
    def __init__(self, delay: float, **kw):
        super().__init__(**kw)
        self.delay = delay

    def load_next_batch(self):
        time.sleep(self.delay)
        return super().load_next_batch()


def main() -> None:
    out, delay, *overrides = sys.argv[1:]
    config = load_config(TrainBCConfig, overrides)
    pid, count = jax.process_index(), jax.process_count()
    global_trajs = config.learning.minibatch_size // 4
    loader = SlowLoader(
        float(delay),
        batch_size=global_trajs // count,
        t=4,
        seed=config.seed,
        shard_index=pid,
        total_shard_count=count,
    )
    result = run_bc(config, data=loader, online_eval=None)
    leaves = jax.tree.leaves(eqx.filter(result.state, eqx.is_array))
    arrays = {f"a{i}": np.asarray(jax.device_get(x)) for i, x in enumerate(leaves)}
    if jax.process_index() == 0:
        np.savez(out, **arrays)
    print(f"PROCESSES {count} DEVICES {jax.device_count()}", flush=True)
    print(f"RESUMED_FROM {result.resumed_from}", flush=True)


if __name__ == "__main__":
    main()
