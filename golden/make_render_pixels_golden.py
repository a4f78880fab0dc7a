"""Write the pixel-renderer golden fixtures from the reference ``kinetix-env==3.0.2`` (jaxgl 1.0.1).

Run it in a venv where the *reference* is installed (never our packages)::

    python golden/make_render_pixels_golden.py            # from the repository root

It writes, under ``packages/kinetix-render/tests/golden/``:

* ``pixels_<size>.npz`` for ``size`` in s, m, l: ``N`` states stacked along a leading axis (every
  ``EnvState`` leaf under ``state/<"/"-joined field path>``), namely the three reference levels of
  that size (``packages/kinetix-env/tests/data/reference_levels``) at steps 0, 15 and 40 of a seeded
  random-action rollout and three procedurally sampled levels at steps 0 and 15; with the
  reference's ``make_render_pixels`` output at downscale 4 (``image``), its
  ``make_render_pixels_rl`` ``global_info`` (``global_info``) and the RL image of the first state
  (``image_rl0``), and a few states rendered at downscale 2 and 1 (``image_ds2``, ``image_ds1``
  with their state indices ``ds2_index``, ``ds1_index``);
* ``pixels_textures.npz``: the reference's joint and thruster texture arrays.

Images are stored as ``uint16`` holding ``2 * value`` when every value is a multiple of 0.5 (the
reference's colours are), which is exact; otherwise as float32. ``names`` lists each state's
source (``level:<size>/<name>@<step>`` or ``sampled:<seed>@<step>``). Total size: a few hundred kB.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (must precede kinetix.render: circular import)
from jax2d.engine import PhysicsEngine  # noqa: E402
from kinetix.environment import UEDParams, sample_kinetix_level  # noqa: E402
from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.spaces import BlindObservations, ContinuousActions  # noqa: E402
from kinetix.render.renderer_pixels import make_render_pixels, make_render_pixels_rl  # noqa: E402
from kinetix.render.textures import (  # noqa: E402
    FJOINT_TEXTURE_6_RGBA,
    RJOINT_TEXTURE_6_RGBA,
    THRUSTER_TEXTURE_16_RGBA,
)
from kinetix.util.saving import load_from_json_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LEVELS_DIR = REPO / "packages" / "kinetix-env" / "tests" / "data" / "reference_levels"
OUT = REPO / "packages" / "kinetix-render" / "tests" / "golden"

LEVEL_STEPS = (0, 15, 40)
SAMPLED_STEPS = (0, 15)
SAMPLED_SEEDS = (11, 12, 13)
# Indices (into the stacked states) also rendered at downscale 2 and 1.
DS2_INDEX = (1, 4, 10)
DS1_INDEX = (2, 12)


def flatten(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """Map every leaf of ``tree`` to ``prefix + "a/b/c"`` (its attribute path)."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[prefix + name] = np.asarray(leaf)
    return out


def encode_image(images: np.ndarray) -> np.ndarray:
    """uint16 ``2 * value`` when exact, else float32."""
    twice = np.asarray(images, np.float64) * 2.0
    if np.all(twice == np.round(twice)) and twice.min() >= 0 and twice.max() < 2**16:
        return twice.astype(np.uint16)
    return np.asarray(images, np.float32)


def rollout(state, static, params, steps: tuple[int, ...], seed: int) -> list:
    """States at ``steps`` of a seeded random continuous-action rollout (no auto-reset)."""
    env = KinetixEnv(
        action_type=ContinuousActions(params, static),
        observation_type=BlindObservations(params, static),
        static_env_params=static,
        reset_function=lambda _rng: state,
        auto_reset=False,
    )
    n_act = static.num_motor_bindings + static.num_thruster_bindings
    step = jax.jit(lambda k, s, a: env.step_env(k, s, a, params)[1])
    rng = np.random.default_rng(seed)
    key = jax.random.PRNGKey(seed)
    out, current = [], state
    for t in range(max(steps) + 1):
        if t in steps:
            out.append(current)
        if t < max(steps):
            action = jnp.asarray(rng.uniform(-1.0, 1.0, size=(n_act,)).astype(np.float32))
            key, sub = jax.random.split(key)
            current = step(sub, current, action)
    return out


def make_size(size: str) -> None:
    params = EnvParams()
    states, names = [], []
    static = None
    for path in sorted((LEVELS_DIR / size).glob("*.json")):
        level, static, _ = load_from_json_file(str(path))
        for t, s in zip(LEVEL_STEPS, rollout(level, static, params, LEVEL_STEPS, seed=len(states))):
            states.append(s)
            names.append(f"level:{size}/{path.stem}@{t}")
    engine = PhysicsEngine(static)
    ued = UEDParams()
    for seed in SAMPLED_SEEDS:
        level = sample_kinetix_level(jax.random.PRNGKey(seed), engine, params, static, ued)
        for t, s in zip(SAMPLED_STEPS, rollout(level, static, params, SAMPLED_STEPS, seed=seed)):
            states.append(s)
            names.append(f"sampled:{seed}@{t}")
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)

    arrays = flatten(stacked, prefix="state/")
    render = jax.jit(jax.vmap(make_render_pixels(params, static)))
    images = np.asarray(render(stacked))
    arrays["image"] = encode_image(images)
    rl = jax.jit(jax.vmap(make_render_pixels_rl(params, static)))(stacked)
    arrays["global_info"] = np.asarray(rl.global_info)
    arrays["image_rl0"] = np.asarray(rl.image[0], np.float32)
    for ds, index in ((2, DS2_INDEX), (1, DS1_INDEX)):
        sub = jax.tree.map(lambda x, idx=np.asarray(index): x[idx], stacked)
        r = jax.jit(jax.vmap(make_render_pixels(params, static.replace(downscale=ds))))
        arrays[f"image_ds{ds}"] = encode_image(np.asarray(r(sub)))
        arrays[f"ds{ds}_index"] = np.asarray(index, np.int32)
    arrays["names"] = np.asarray(names)
    arrays["meta/jax_version"] = np.asarray(jax.__version__)
    arrays["meta/reference"] = np.asarray("kinetix-env==3.0.2, jax2d==1.0.1, jaxgl==1.0.1")
    path = OUT / f"pixels_{size}.npz"
    np.savez_compressed(path, **arrays)
    print(
        f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes, {len(names)} states)",
        flush=True,
    )


def make_textures() -> None:
    path = OUT / "pixels_textures.npz"
    np.savez_compressed(
        path,
        fixed_joint=np.asarray(FJOINT_TEXTURE_6_RGBA),
        revolute_joint=np.asarray(RJOINT_TEXTURE_6_RGBA),
        thruster=np.asarray(THRUSTER_TEXTURE_16_RGBA),
    )
    print(f"wrote {path.relative_to(REPO)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="sml", help="which size presets to record (default: sml)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    make_textures()
    for size in args.sizes:
        make_size(size)


if __name__ == "__main__":
    main()
