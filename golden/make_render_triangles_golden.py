"""Write pixel golden fixtures of states WITH triangles from the reference ``kinetix-env==3.0.2``.

The main pixel fixtures (``make_render_pixels_golden.py``) hold only rectangles. A triangle is a
polygon with ``n_vertices == 3`` whose 4th vertex slot still holds a value the reference's quad
shader reads (it ignores ``n_vertices``): the leftover corner of the sampled rectangle
(``UEDParams(generate_triangles=True)``), ``-delta_centre_of_mass`` (jax2d's
``add_polygon_to_scene`` with 3 vertices), or a duplicated vertex (hand edits). Run it in a venv
where the *reference* is installed (never our packages)::

    python golden/make_render_triangles_golden.py            # from the repository root

It writes ``packages/kinetix-render/tests/golden/pixels_triangles.npz``: ``N`` ``StaticEnvParams()``-sized (12 polygons, circles, joints and thrusters) states
stacked along a leading axis (every ``EnvState`` leaf under ``state/<"/"-joined field path>``), the
reference's ``make_render_pixels`` frames at downscale 4 (``image``) and of a few states at
downscale 2 and 1 (``image_ds2``/``image_ds1`` with ``ds2_index``/``ds1_index``), and ``names``.
Images use the ``uint16`` ``2 * value`` encoding of ``make_render_pixels_golden.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from make_render_pixels_golden import encode_image, flatten  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (must precede kinetix.render: circular import)
from jax2d.engine import PhysicsEngine  # noqa: E402
from jax2d.scene import add_polygon_to_scene  # noqa: E402
from kinetix.environment import UEDParams, sample_kinetix_level  # noqa: E402
from kinetix.environment.env import KinetixEnv  # noqa: E402
from kinetix.environment.env_state import EnvParams, StaticEnvParams  # noqa: E402
from kinetix.environment.spaces import BlindObservations, ContinuousActions  # noqa: E402
from kinetix.environment.utils import create_empty_env  # noqa: E402
from kinetix.render.renderer_pixels import make_render_pixels  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "packages" / "kinetix-render" / "tests" / "golden"

SAMPLED_SEEDS = tuple(range(20, 30))
SAMPLED_STEPS = (0, 10)
DS2_INDEX = (0, 3, 22, 25)
DS1_INDEX = (1, 23)

# (position, clockwise local vertices, rotation, role, fixated) of hand-built triangles.
TRIANGLES = [
    ((1.5, 2.0), ((-0.5, 0.4), (0.6, 0.3), (-0.1, -0.5)), 0.0, 0, False),
    ((2.7, 1.2), ((-0.3, 0.3), (0.3, 0.3), (0.0, -0.3)), 0.7, 1, False),
    ((3.6, 3.3), ((0.0, 0.8), (0.7, -0.4), (-0.7, -0.4)), 2.1, 2, False),
    ((0.9, 4.0), ((-0.2, 0.1), (0.25, 0.05), (0.0, -0.15)), -1.3, 3, True),
    ((4.3, 0.9), ((-0.9, 0.9), (0.9, 0.9), (0.9, -0.9)), 3.9, 1, False),
    ((2.2, 3.7), ((-0.45, 0.0), (0.45, 0.0), (0.0, -0.7)), 5.5, 2, True),
]


def triangle_scenes(static: StaticEnvParams) -> list:
    """Empty arenas filled with hand-built triangles (cycling TRIANGLES), three placements."""
    states = []
    free = static.num_polygons - static.num_static_fixated_polys
    for start in range(0, len(TRIANGLES), free):
        for shift, extra_rot in ((0.0, 0.0), (0.37, 1.1), (-0.21, 4.4)):
            state = create_empty_env(static)
            for k in range(free):
                pos, verts, rot, role, fixated = TRIANGLES[(start + k) % len(TRIANGLES)]
                state, (idx, _) = add_polygon_to_scene(
                    state,
                    static,
                    position=jnp.array(pos) + shift,
                    vertices=jnp.array(verts),
                    n_vertices=3,
                    rotation=rot + extra_rot,
                    fixated=fixated,
                )
                state = state.replace(
                    polygon_shape_roles=state.polygon_shape_roles.at[idx].set(role)
                )
            states.append(state)
    return states


def duplicated_vertex(states: list) -> list:
    """Hand edits: every triangle's 4th slot set to its 1st or 3rd vertex (a degenerate edge)."""
    out = []
    for k, state in enumerate(states):
        v = state.polygon.vertices
        src = 0 if k % 2 == 0 else 2
        tri = (state.polygon.n_vertices == 3)[:, None]
        v = v.at[:, 3].set(jnp.where(tri, v[:, src], v[:, 3]))
        out.append(state.replace(polygon=state.polygon.replace(vertices=v)))
    return out


def make_rollout(static: StaticEnvParams, params: EnvParams):
    """``rollout(state, steps, seed)``: states after ``steps`` seeded random-action steps (no
    auto-reset), with ONE jitted step shared by every rollout (compiling per level is slow)."""
    env = KinetixEnv(
        action_type=ContinuousActions(params, static),
        observation_type=BlindObservations(params, static),
        static_env_params=static,
        reset_function=lambda _rng: create_empty_env(static),
        auto_reset=False,
    )
    n_act = static.num_motor_bindings + static.num_thruster_bindings
    step = jax.jit(lambda k, s, a: env.step_env(k, s, a, params)[1])

    def rollout(state, steps: int, seed: int):
        rng = np.random.default_rng(seed)
        key = jax.random.PRNGKey(seed)
        for _ in range(steps):
            action = jnp.asarray(rng.uniform(-1.0, 1.0, size=(n_act,)).astype(np.float32))
            key, sub = jax.random.split(key)
            state = step(sub, state, action)
        return state

    return rollout


def main() -> None:
    params = EnvParams()
    static = StaticEnvParams()  # 12 polygons, circles, joints and thrusters
    engine = PhysicsEngine(static)
    ued = UEDParams(generate_triangles=True)
    rollout = make_rollout(static, params)
    sample = jax.jit(lambda key: sample_kinetix_level(key, engine, params, static, ued))
    states, names = [], []
    for seed in SAMPLED_SEEDS:
        level = sample(jax.random.PRNGKey(seed))
        for t in SAMPLED_STEPS:
            states.append(rollout(level, t, seed))
            names.append(f"sampled_triangles:{seed}@{t}")
    built = triangle_scenes(static)
    for k, s in enumerate(built):
        states.append(s)
        names.append(f"scene_triangles:{k}")
        states.append(rollout(s, 12, 100 + k))
        names.append(f"scene_triangles:{k}@12")
    for k, s in enumerate(duplicated_vertex(built)):
        states.append(s)
        names.append(f"duplicated_vertex:{k}")
    n_tri = [
        int(np.sum(np.asarray(s.polygon.n_vertices == 3) & np.asarray(s.polygon.active)))
        for s in states
    ]
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *states)

    arrays = flatten(stacked, prefix="state/")
    render = jax.jit(jax.vmap(make_render_pixels(params, static)))
    arrays["image"] = encode_image(np.asarray(render(stacked)))
    for ds, index in ((2, DS2_INDEX), (1, DS1_INDEX)):
        sub = jax.tree.map(lambda x, idx=np.asarray(index): x[idx], stacked)
        r = jax.jit(jax.vmap(make_render_pixels(params, static.replace(downscale=ds))))
        arrays[f"image_ds{ds}"] = encode_image(np.asarray(r(sub)))
        arrays[f"ds{ds}_index"] = np.asarray(index, np.int32)
    arrays["names"] = np.asarray(names)
    arrays["num_triangles"] = np.asarray(n_tri, np.int32)
    arrays["meta/jax_version"] = np.asarray(jax.__version__)
    arrays["meta/reference"] = np.asarray("kinetix-env==3.0.2, jax2d==1.0.1, jaxgl==1.0.1")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "pixels_triangles.npz"
    np.savez_compressed(path, **arrays)
    print(
        f"wrote {path.relative_to(REPO)} ({path.stat().st_size} bytes, {len(names)} states, "
        f"{sum(n_tri)} active triangles)",
        flush=True,
    )


if __name__ == "__main__":
    main()
