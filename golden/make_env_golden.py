"""Write the kinetix-env golden fixtures from the reference ``kinetix-env==3.0.2``.

Run it in a venv where the *reference* is installed (never our packages)::

    python golden/make_env_golden.py            # from the repository root

It writes, under ``packages/kinetix-env/tests/``:

* ``data/reference_levels/{s,m,l}/<name>.json``: a few level files copied verbatim from the
  reference wheel (3 per size), used as loader fixtures;
* ``golden/level_<size>_<name>.npz``: the reference's ``load_from_json_file`` result for each of
  them (every ``EnvState`` leaf under its ``/``-joined field path, plus ``static/<field>`` and
  ``params/<field>`` entries);
* ``golden/empty_<size>.npz``: ``create_empty_env`` of each size preset;
* ``golden/expand_*.npz``: ``expand_env_state`` of small levels to bigger presets;
* ``golden/permute_*.npz``: ``permute_state`` with a fixed key;
* ``golden/env_*.npz``: short rollouts of ``KinetixEnv.step`` (blind observations, auto-reset to
  the level) with fixed actions: per-step rewards, dones, info and a few full states.

The fixtures are small (a few hundred kB in total) and committed; the test suite compares against
them without needing the reference installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import (  # noqa: E402
    BlindObservations,
    ContinuousActions,
    DiscreteActions,
    MultiDiscreteActions,
)
from kinetix.environment.utils import (  # noqa: E402
    create_empty_env,
    permute_state,
    static_env_params_from_size,
)
from kinetix.util.saving import (  # noqa: E402
    BASE_DIR,
    expand_env_state,
    load_from_json_file,
)

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "packages" / "kinetix-env" / "tests"

LEVELS = {
    "s": ["h0_weak_thrust", "h5_rotate_fall", "h6_unicycle_right"],
    "m": ["h7_car_flip", "h9_spin_the_right_way", "h12_thrustfall_left"],
    "l": ["car_swing_around", "h6_lorry", "hard_pinball"],
}

ACTION_CLASSES = {
    "continuous": ContinuousActions,
    "discrete": DiscreteActions,
    "multi_discrete": MultiDiscreteActions,
}


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """Map every leaf of ``tree`` to ``prefix + "a/b/c"`` (its attribute path)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[prefix + name] = np.asarray(leaf)
    return out


def params_entries(static, params) -> dict[str, np.ndarray]:
    out = {}
    for k, v in vars(static).items():
        out[f"static/{k}"] = np.asarray(v)
    for k, v in vars(params).items():
        out[f"params/{k}"] = np.asarray(v)
    return out


def save(out_dir: Path, name: str, arrays: dict[str, np.ndarray]) -> None:
    path = out_dir / f"{name}.npz"
    meta = {
        "meta/jax_version": np.asarray(jax.__version__),
        "meta/reference": np.asarray("kinetix-env==3.0.2, jax2d==1.0.1"),
    }
    np.savez_compressed(path, **arrays, **meta)
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes, {len(arrays)} arrays)")


def make_levels(out_dir: Path, levels_dir: Path) -> dict[str, tuple]:
    loaded = {}
    for size, names in LEVELS.items():
        (levels_dir / size).mkdir(parents=True, exist_ok=True)
        for name in names:
            src = Path(BASE_DIR) / size / f"{name}.json"
            shutil.copyfile(src, levels_dir / size / f"{name}.json")
            state, static, params = load_from_json_file(str(src))
            loaded[f"{size}/{name}"] = (state, static, params)
            save(
                out_dir,
                f"level_{size}_{name}",
                {**flatten(state), **params_entries(static, params)},
            )
    return loaded


def make_empty_expand_permute(out_dir: Path, loaded: dict[str, tuple]) -> None:
    for size in "sml":
        static = static_env_params_from_size(size)
        save(out_dir, f"empty_{size}", flatten(create_empty_env(static)))
    for src, target in [
        ("s/h6_unicycle_right", "m"),
        ("s/h0_weak_thrust", "l"),
        ("m/h7_car_flip", "l"),
    ]:
        state = loaded[src][0]
        static = static_env_params_from_size(target)
        expanded = expand_env_state(state, static)
        save(out_dir, f"expand_{src.replace('/', '_')}_to_{target}", flatten(expanded))
    for src, seed in [("m/h7_car_flip", 3), ("l/h6_lorry", 7)]:
        state, static, _ = loaded[src]
        permuted = permute_state(jax.random.PRNGKey(seed), state, static)
        save(out_dir, f"permute_{src.replace('/', '_')}_seed{seed}", flatten(permuted))


# (level, action type, number of steps, action source, env-param overrides)
ROLLOUTS = [
    ("s/h6_unicycle_right", "multi_discrete", 68, "fixed:2,0,0,0,0,0", {}),
    ("s/h0_weak_thrust", "continuous", 24, "random", {}),
    ("s/h5_rotate_fall", "discrete", 24, "random", {"dense_reward_scale": 0.2}),
    ("m/h7_car_flip", "multi_discrete", 16, "random", {}),
    ("l/hard_pinball", "continuous", 12, "random", {"max_timesteps": 8, "dense_reward_scale": 0.2}),
]
STATE_STEPS = (1, 2, 5)


def make_actions(kind: str, source: str, n: int, static, rng: np.random.Generator) -> np.ndarray:
    nmb, ntb = static.num_motor_bindings, static.num_thruster_bindings
    if source.startswith("fixed:"):
        one = np.array([float(x) for x in source[6:].split(",")])
        acts = np.repeat(one[None], n, axis=0)
        return acts.astype(np.int32 if kind != "continuous" else np.float32)
    if kind == "continuous":
        # Out-of-range values on purpose: the env clips motors to [-1, 1] and thrusters to [0, 1].
        return rng.uniform(-1.5, 1.5, size=(n, nmb + ntb)).astype(np.float32)
    if kind == "discrete":
        return rng.integers(0, 2 * nmb + 1 + ntb, size=(n,)).astype(np.int32)
    dims = np.array([3] * nmb + [2] * ntb)
    return np.floor(rng.uniform(size=(n, nmb + ntb)) * dims).astype(np.int32)


def make_rollouts(out_dir: Path, loaded: dict[str, tuple]) -> None:
    rng = np.random.default_rng(1234)
    for level, kind, n, source, overrides in ROLLOUTS:
        level_state, static, _ = loaded[level]
        params = EnvParams().replace(**overrides)
        env = KinetixEnv(
            action_type=ACTION_CLASSES[kind](params, static),
            observation_type=BlindObservations(params, static),
            static_env_params=static,
            reset_function=lambda _rng, s=level_state: s,
            auto_reset=True,
        )
        actions = make_actions(kind, source, n, static, rng)
        key = jax.random.PRNGKey(0)
        obs, state = env.reset(key, params)
        rows: dict[str, list] = {
            k: []
            for k in (
                "reward",
                "done",
                "goal",
                "distance",
                "timestep",
                "last_distance",
                "obs_argmax",
            )
        }
        states = {}
        for t in range(n):
            key, step_key = jax.random.split(key)
            obs, state, reward, done, info = env.step(
                step_key, state, jnp.asarray(actions[t]), params
            )
            rows["reward"].append(np.float32(reward))
            rows["done"].append(bool(done))
            rows["goal"].append(bool(info["GoalR"]))
            rows["distance"].append(np.float32(info["distance"]))
            rows["timestep"].append(int(state.timestep))
            rows["last_distance"].append(np.float32(state.last_distance))
            rows["obs_argmax"].append(int(np.argmax(np.asarray(obs))))
            if t + 1 in STATE_STEPS or t == n - 1:
                states.update(flatten(state, prefix=f"state_{t + 1}/"))
        arrays = {k: np.asarray(v) for k, v in rows.items()}
        arrays["actions"] = actions
        arrays["state_steps"] = np.asarray(sorted({*STATE_STEPS, n}))
        for k, v in overrides.items():
            arrays[f"override/{k}"] = np.asarray(v)
        name = f"env_{level.replace('/', '_')}_{kind}"
        save(out_dir, name, {**arrays, **states})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TESTS / "golden")
    ap.add_argument("--levels-out", type=Path, default=TESTS / "data" / "reference_levels")
    ap.add_argument("--skip-rollouts", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    loaded = make_levels(args.out, args.levels_out)
    make_empty_expand_permute(args.out, loaded)
    if not args.skip_rollouts:
        make_rollouts(args.out, loaded)
    meta = {"reference": "kinetix-env==3.0.2, jax2d==1.0.1", "jax": jax.__version__}
    (args.out / "README.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
