"""Write the kinetix-data replay fixture from the reference ``kinetix-env==3.0.2``.

Run it in the reference venv (never our packages)::

    python golden/make_data_replay_golden.py        # from the repository root

It records 6 short trajectories (T = 48 steps) on three small ("s") reference levels with fixed
multi-discrete action sequences (all motors +1 and thrusters on; or sticky random), with blind
observations and auto-reset to the level, and writes
``packages/kinetix-data/tests/golden/replay_s.npz``: every ``EnvState`` leaf as
``env_state/<path>`` ``(N, T, ...)`` (the state before each action), ``action (N, T, 6)``,
``done (N, T)`` in the reset convention (``done[t]``: state ``t`` starts a new episode) and
``goal_reached (N,)`` (the first episode ended with green touching blue). ``kinetix-data verify
--replay`` must reproduce ``goal_reached`` with our environment.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import BlindObservations, MultiDiscreteActions  # noqa: E402
from kinetix.util.saving import load_from_json_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVELS = REPO / "packages" / "kinetix-env" / "tests" / "data" / "reference_levels" / "s"
OUT = REPO / "packages" / "kinetix-data" / "tests" / "golden" / "replay_s.npz"
T = 48


def _path_name(path) -> str:
    return "/".join(str(getattr(k, "name", getattr(k, "key", k))) for k in path)


def main() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for level in ("h5_rotate_fall", "h0_weak_thrust", "h6_unicycle_right"):
        level_state, static, _ = load_from_json_file(str(LEVELS / f"{level}.json"))
        params = EnvParams()
        env = KinetixEnv(
            action_type=MultiDiscreteActions(params, static),
            observation_type=BlindObservations(params, static),
            static_env_params=static,
            reset_function=lambda _rng, s=level_state: s,
            auto_reset=True,
        )
        for policy in ("push", "random"):
            if policy == "push":
                actions = np.ones((T, 6), np.int32)
            else:
                actions = np.repeat(rng.integers(0, 3, (T // 8, 6)), 8, axis=0).astype(np.int32)
            _, state = env.reset(jax.random.PRNGKey(0), params)
            states, dones, alive, goal = [], [], True, False
            prev_done = False
            for t in range(T):
                states.append(state)
                dones.append(prev_done)
                _, state, _, done, info = env.step(
                    jax.random.PRNGKey(t), state, jnp.asarray(actions[t]), params
                )
                if alive and bool(done):
                    goal, alive = bool(info["GoalR"]), False
                prev_done = bool(done)
            stacked = jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *states)
            leaves = jax.tree_util.tree_flatten_with_path(stacked)[0]
            row = {"env_state/" + _path_name(p): v for p, v in leaves}
            row.update(action=actions, done=np.asarray(dones), goal_reached=np.asarray(goal))
            rows.append(row)
            print(level, policy, "goal" if goal else "no goal")
    out = {k: np.stack([r[k] for r in rows]) for k in rows[0]}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
