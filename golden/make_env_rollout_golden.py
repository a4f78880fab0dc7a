"""Rollouts of the reference env on sampled levels (issue golden item 7(b)/(c)).

Run it with the *reference* venv (``kinetix-env==3.0.2``, never our packages), from the repo root::

    JAX_COMPILATION_CACHE_DIR=$HOME/.cache/kinetix-tests/jax-ref \\
        /work/venvs/ref/bin/python golden/make_env_rollout_golden.py [--sizes s m l]

For each size (``LEVELS_PER_SIZE``: 50 s, 30 m, 20 l levels from
``jax.random.split(PRNGKey(1), n)`` with the reference's ``sample_kinetix_level``) and each action
type (continuous, discrete, multi_discrete) it draws ``N_STEPS`` random actions per level from the
action space (``PRNGKey(2 + type index)``), resets the blind-observation env into each level and
steps it ``N_STEPS`` times with ``override_reset_state`` = the level (auto-reset to itself),
vmapped over levels. It writes ``packages/kinetix-env/tests/golden/rollout_<size>.npz`` with

* ``init/<leaf>``: every leaf of the sampled levels (stacked over levels);
* ``mask``: ``get_valid_action_mask`` of the levels (``(n, NMB + NTB)`` bool);
* ``<action type>/actions``, ``/reward`` and ``/done`` (``(n, N_STEPS)``);
* ``<action type>/step1/<leaf>`` and ``/step50/<leaf>`` for ``COMPARED_LEAVES`` (body poses and
  velocities; ``timestep``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (before kinetix.render: circular import)
from kinetix.data.bc_utils import get_valid_action_mask  # noqa: E402
from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import (  # noqa: E402
    BlindObservations,
    ContinuousActions,
    DiscreteActions,
    MultiDiscreteActions,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sampler_stats_golden import GOLDEN, sample_levels  # noqa: E402

LEVELS_PER_SIZE = {"s": 50, "m": 30, "l": 20}
N_STEPS = 50
ACTION_TYPES = {
    "continuous": ContinuousActions,
    "discrete": DiscreteActions,
    "multi_discrete": MultiDiscreteActions,
}
COMPARED_LEAVES = [
    f"{body}/{field}"
    for body in ("polygon", "circle")
    for field in ("position", "rotation", "velocity", "angular_velocity")
] + ["timestep"]


def flatten(tree) -> dict[str, np.ndarray]:
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[name] = np.asarray(leaf)
    return out


def rollout(env, params, levels, actions):
    """``(reward, done, state after step 1, state after the last step)``, vmapped over levels."""

    def one(level, acts):
        _, start = env.reset(jax.random.PRNGKey(0), params, level)
        keys = jax.random.split(jax.random.PRNGKey(1), acts.shape[0])

        def body(state, x):
            key, action = x
            _, state, reward, done, _ = env.step(key, state, action, params, level)
            return state, (reward, done, state)

        last, (reward, done, states) = jax.lax.scan(body, start, (keys, acts))
        first = jax.tree.map(lambda x: x[0], states)
        return reward, done, first, last

    return jax.jit(jax.vmap(one))(levels, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["s", "m", "l"])
    args = parser.parse_args()
    params = EnvParams()
    for size in args.sizes:
        n = LEVELS_PER_SIZE[size]
        levels, static = sample_levels(size, n, seed=1)
        levels = jax.tree.map(jnp.asarray, levels)
        arrays = {f"init/{k}": v for k, v in flatten(levels).items()}
        n_channels = static.num_motor_bindings + static.num_thruster_bindings
        arrays["mask"] = np.asarray(
            get_valid_action_mask(levels, static, jnp.zeros((n, n_channels)))
        )
        for i, (name, action_type) in enumerate(ACTION_TYPES.items()):
            t0 = time.time()
            # The reference's make_kinetix_env does not accept the blind observation type.
            env = KinetixEnv(
                action_type=action_type(params, static),
                observation_type=BlindObservations(params, static),
                static_env_params=static,
                reset_function=None,
                auto_reset=True,
            )
            space = env.action_space(params)
            keys = jax.random.split(jax.random.PRNGKey(2 + i), n * N_STEPS)
            actions = jax.vmap(space.sample)(keys)
            actions = actions.reshape(n, N_STEPS, *actions.shape[1:])
            reward, done, first, last = rollout(env, params, levels, actions)
            arrays[f"{name}/actions"] = np.asarray(actions)
            arrays[f"{name}/reward"] = np.asarray(reward)
            arrays[f"{name}/done"] = np.asarray(done)
            first, last = flatten(first), flatten(last)
            for leaf in COMPARED_LEAVES:
                arrays[f"{name}/step1/{leaf}"] = first[leaf]
                arrays[f"{name}/step{N_STEPS}/{leaf}"] = last[leaf]
            print(
                f"{size} {name}: {time.time() - t0:.1f}s, done {float(np.mean(done)):.3f}, "
                f"reward sum {float(np.sum(reward)):.3f}",
                flush=True,
            )
        arrays["meta/reference"] = np.asarray("kinetix-env==3.0.2, jax2d==1.0.1, jax 0.9.0")
        arrays["meta/n_steps"] = np.asarray(N_STEPS)
        np.savez_compressed(GOLDEN / f"rollout_{size}.npz", **arrays)
        print(size, "written", (GOLDEN / f"rollout_{size}.npz").stat().st_size, "bytes", flush=True)


if __name__ == "__main__":
    main()
