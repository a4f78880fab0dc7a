"""Regression fixtures for jax2d from levels the parity sweep found (``benchmarks/parity_sweep.py``).

``joint_limit_at_rest_l.npz``: size-l level 44 of the sweep's record (the reference's
``sample_kinetix_level`` on ``jax.random.split(PRNGKey(12347), 150)[44]``, vmapped). Its
revolute joint 4 (bodies 10 and 7) starts at rest far outside its limits, with both anchors on
exactly the same world point. The reference's first solve then sees a relative angular velocity
of exactly 0 and, by its sign rule (spec §2.7), applies no limit impulse in that step; an engine
whose anchor rotation rounds differently by one ulp spins the bodies at ~1.8 rad/s instead.

The file holds the level's ``SimState`` leaves (``init/<path>``), the static sizes
(``static/<field>``) and the reference's state after one ``PhysicsEngine.step`` with zero actions
(``step1/<path>``). Run with the reference venv, after the sweep's record stage for size l
(``--sizes l --n 150``)::

    /work/venvs/ref/bin/python golden/make_jax2d_regressions.py
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (before jax2d users: the reference's import order)
from jax2d.engine import PhysicsEngine, create_empty_sim  # noqa: E402
from jax2d.sim_state import SimParams, StaticSimParams  # noqa: E402
from kinetix.environment.env_state import StaticEnvParams  # noqa: E402

RECORD = Path("/tmp/parity_sweep/record_l.npz")
LEVEL = 44
OUT = Path(__file__).resolve().parents[1] / "packages/jax2d/tests/golden_regressions"


def flatten(obj, prefix: str) -> dict[str, np.ndarray]:
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            out.update(flatten(getattr(obj, f.name), f"{prefix}/{f.name}"))
        return out
    return {prefix: np.asarray(obj)}


def main() -> int:
    if not RECORD.exists():
        raise FileNotFoundError(
            f"{RECORD} missing: run `benchmarks/parity_sweep.py --stage record --sizes l --n 150` "
            "with the reference venv first"
        )
    rec = np.load(RECORD)
    level = {k[len("level/") :]: rec[k][LEVEL] for k in rec.files if k.startswith("level/")}
    static_env = StaticEnvParams(**{
        k[len("meta/static/") :]: int(rec[k]) for k in rec.files if k.startswith("meta/static/")
    })  # fmt: skip
    engine = PhysicsEngine(static_env)

    def fill(obj, prefix):
        if dataclasses.is_dataclass(obj):
            return obj.replace(**{
                f.name: fill(getattr(obj, f.name), f"{prefix}/{f.name}" if prefix else f.name)
                for f in dataclasses.fields(obj)
            })  # fmt: skip
        return jnp.asarray(level[prefix], dtype=np.asarray(obj).dtype)

    state = fill(create_empty_sim(static_env), "")
    actions = jnp.zeros((static_env.num_joints + static_env.num_thrusters,), jnp.float32)
    nxt, _ = jax.jit(engine.step)(state, SimParams(), actions)
    arrays = {**flatten(state, "init"), **flatten(nxt, "step1")}
    for f in dataclasses.fields(StaticSimParams):
        arrays[f"static/{f.name}"] = np.asarray(getattr(static_env, f.name))
    arrays["meta/jax_version"] = np.asarray(jax.__version__)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "joint_limit_at_rest_l.npz", **arrays)
    w = np.asarray(nxt.polygon.angular_velocity)
    print("reference angular velocity of bodies 10 and 7 after one step:", w[10], w[7])
    return 0


if __name__ == "__main__":
    sys.exit(main())
