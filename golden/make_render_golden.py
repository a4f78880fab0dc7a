"""Write the kinetix-render symbolic/entity golden fixtures from the reference ``kinetix-env==3.0.2``.

Run it in a venv where the *reference* is installed (never our packages)::

    python golden/make_render_golden.py            # from the repository root

For each size preset ``s``, ``m``, ``l`` it takes the 3 reference level files of
``packages/kinetix-env/tests/data/reference_levels/<size>/`` plus ``N_SAMPLED`` levels drawn with the
reference's ``sample_kinetix_level``, steps every level with the reference env (continuous random
actions, no auto-reset) and records the states after ``TIMESTEPS`` env steps. It then renders
those states with the reference's ``make_render_symbolic`` (flat and padded) and
``make_render_entities`` and writes ``packages/kinetix-render/tests/golden/symbolic_<size>.npz``:

* ``state/<path>``: every ``EnvState`` leaf, shape ``(L, T, ...)`` (levels x timesteps);
* ``obs/symbolic_flat`` ``(L, T, D)``, ``obs/symbolic_flat_padded`` ``(L, T, rows, width)``,
  ``obs/entity/<field>`` ``(L, T, ...)`` (every ``EntityObservation`` field);
* ``edge_state/<path>`` / ``edge_obs/...``: ``(E, ...)`` hand-edited states that exercise the
  clipping and NaN handling (the empty arena; a level with NaN / +-inf / huge values injected
  into positions, velocities, inverse inertias and joint/thruster fields; non-default gravity);
* ``level_names`` ``(L,)``, ``timesteps`` ``(T,)`` and ``meta/*``.

The fixtures are float32 arrays, about 1-2 MB in total; the tests compare our observations with
them exactly.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jax2d.engine import PhysicsEngine  # noqa: E402

# The reference needs kinetix.environment imported before kinetix.render (circular import).
from kinetix.environment import (  # noqa: E402
    UEDParams,
    sample_kinetix_level,
    static_env_params_from_size,
)
from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import BlindObservations, ContinuousActions  # noqa: E402
from kinetix.environment.utils import create_empty_env  # noqa: E402
from kinetix.render import make_render_entities, make_render_symbolic  # noqa: E402
from kinetix.util.saving import load_from_json_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVELS_DIR = REPO / "packages" / "kinetix-env" / "tests" / "data" / "reference_levels"
OUT_DIR = REPO / "packages" / "kinetix-render" / "tests" / "golden"

TIMESTEPS = (0, 1, 10, 50)
N_SAMPLED = 6
SEED = 2024


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """Map every leaf of ``tree`` to ``prefix + "a/b/c"`` (its attribute path)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[prefix + name] = np.asarray(leaf)
    return out


def stack(trees):
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def load_levels(size: str, static) -> tuple[list[str], list]:
    names, states = [], []
    for path in sorted((LEVELS_DIR / size).glob("*.json")):
        state, level_static, _ = load_from_json_file(str(path))
        if level_static.num_polygons != static.num_polygons:
            raise ValueError(f"{path}: static sizes {level_static} differ from preset {size}")
        names.append(f"{size}/{path.stem}")
        states.append(state)
    return names, states


def sample_levels(size: str, static, env_params, k: int) -> tuple[list[str], list]:
    engine = PhysicsEngine(static)
    ued_params = UEDParams()

    def sample(rng):
        return sample_kinetix_level(rng, engine, env_params, static, ued_params)

    rngs = jax.random.split(jax.random.PRNGKey(SEED + k), N_SAMPLED)
    levels = jax.block_until_ready(jax.jit(jax.vmap(sample))(rngs))
    names = [f"sampled_{size}_{i}" for i in range(N_SAMPLED)]
    return names, [jax.tree.map(lambda x, i=i: x[i], levels) for i in range(N_SAMPLED)]


def rollout(states, static, env_params, key) -> list:
    """States of every level after each of ``TIMESTEPS`` env steps, shape ``(L, T, ...)``."""
    action_type = ContinuousActions(env_params, static)
    env = KinetixEnv(
        action_type=action_type,
        observation_type=BlindObservations(env_params, static),
        static_env_params=static,
        reset_function=None,
        auto_reset=False,
    )
    batch = stack(states)
    n = len(states)

    @jax.jit
    def step(key, state):
        k_act, k_step = jax.random.split(key)
        actions = jax.vmap(action_type.random_action)(jax.random.split(k_act, n))
        keys = jax.random.split(k_step, n)
        _, state, _, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            keys, state, actions, env_params
        )
        return state

    recorded = []
    for t in range(max(TIMESTEPS) + 1):
        if t in TIMESTEPS:
            recorded.append(batch)
        if t < max(TIMESTEPS):
            key, sub = jax.random.split(key)
            batch = step(sub, batch)
    return jax.tree.map(lambda *xs: jnp.stack(xs, axis=1), *recorded)


def edge_states(level_state, static) -> list:
    """The empty arena and a level with NaN / inf / huge values and odd gravity injected."""
    empty = create_empty_env(static)
    s = level_state
    poly, circ = s.polygon, s.circle
    j, th = s.joint, s.thruster
    weird = s.replace(
        gravity=jnp.array([0.5, -23.7], jnp.float32),
        polygon=poly.replace(
            position=poly.position.at[4, 0].set(jnp.nan).at[0, 1].set(jnp.inf),
            velocity=poly.velocity.at[4, 1].set(-jnp.inf).at[0, 0].set(1e6),
            inverse_inertia=poly.inverse_inertia.at[4].set(187.5),
            angular_velocity=poly.angular_velocity.at[4].set(jnp.nan),
            rotation=poly.rotation.at[0].set(7.5),
        ),
        circle=circ.replace(
            velocity=circ.velocity.at[0, 0].set(jnp.nan),
            angular_velocity=circ.angular_velocity.at[0].set(250.0),
            radius=circ.radius.at[0].set(jnp.inf),
        ),
        joint=j.replace(
            motor_speed=j.motor_speed.at[0].set(jnp.nan),
            min_rotation=j.min_rotation.at[0].set(-jnp.inf),
            rotation=j.rotation.at[0].set(1.25),
            motor_has_joint_limits=j.motor_has_joint_limits.at[0].set(True),
            active=j.active.at[0].set(True),
        ),
        thruster=th.replace(power=th.power.at[0].set(jnp.inf), active=th.active.at[0].set(True)),
    )
    return [empty, weird]


def render_all(states, env_params, static, prefix: str) -> dict[str, np.ndarray]:
    flat = make_render_symbolic(env_params, static)
    padded = make_render_symbolic(env_params, static, True)
    entity = make_render_entities(env_params, static)
    lead = jax.tree.leaves(states)[0].ndim - jax.tree.leaves(create_empty_env(static))[0].ndim

    def batched(fn):
        for _ in range(lead):
            fn = jax.vmap(fn)
        return jax.jit(fn)

    out = {
        f"{prefix}/symbolic_flat": np.asarray(batched(flat)(states)),
        f"{prefix}/symbolic_flat_padded": np.asarray(batched(padded)(states)),
    }
    ent = batched(entity)(states)
    for field in (
        "circles",
        "polygons",
        "joints",
        "thrusters",
        "circle_mask",
        "polygon_mask",
        "joint_mask",
        "thruster_mask",
        "attention_mask",
        "joint_indexes",
        "thruster_indexes",
    ):
        out[f"{prefix}/entity/{field}"] = np.asarray(getattr(ent, field))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    ap.add_argument("--sizes", default="sml")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    env_params = EnvParams()
    for k, size in enumerate(args.sizes):
        static = static_env_params_from_size(size)
        names, levels = load_levels(size, static)
        s_names, s_levels = sample_levels(size, static, env_params, k)
        names, levels = names + s_names, levels + s_levels
        states = rollout(levels, static, env_params, jax.random.PRNGKey(SEED + 100 + k))
        edges = stack(edge_states(levels[0], static))
        arrays = {
            **flatten(states, "state/"),
            **render_all(states, env_params, static, "obs"),
            **flatten(edges, "edge_state/"),
            **render_all(edges, env_params, static, "edge_obs"),
            "level_names": np.asarray(names),
            "timesteps": np.asarray(TIMESTEPS, np.int32),
            "meta/jax_version": np.asarray(jax.__version__),
            "meta/reference": np.asarray("kinetix-env==3.0.2, jax2d==1.0.1"),
        }
        path = args.out / f"symbolic_{size}.npz"
        np.savez_compressed(path, **arrays)
        print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes)", flush=True)


if __name__ == "__main__":
    main()
