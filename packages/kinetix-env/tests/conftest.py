"""Shared helpers for the kinetix-env tests (fixtures written by golden/make_env_golden.py)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

TESTS_DIR = Path(__file__).resolve().parent
GOLDEN_DIR = TESTS_DIR / "golden"
LEVELS_DIR = TESTS_DIR / "data" / "reference_levels"
FIXTURE_LEVELS = sorted(
    p.relative_to(LEVELS_DIR).with_suffix("").as_posix() for p in LEVELS_DIR.glob("*/*.json")
)
# The reference wheel's levels, when its venv is around (optional, for the all-levels test).
REFERENCE_LEVELS_DIR = Path(
    os.environ.get(
        "KINETIX_REFERENCE_LEVELS", "/work/venvs/ref/lib/python3.11/site-packages/kinetix/levels"
    )
)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: compiles a big program; KINETIX_SLOW_TESTS=1 runs it")


def pytest_collection_modifyitems(config, items):
    if os.environ.get("KINETIX_SLOW_TESTS"):
        return
    skip = pytest.mark.skip(reason="slow (big compile); set KINETIX_SLOW_TESTS=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def flatten_state(tree, prefix: str = "") -> dict[str, np.ndarray]:
    """``{"polygon/position": array, ...}``: every leaf under its attribute path."""
    out = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = "/".join(getattr(k, "name", getattr(k, "key", str(k))) for k in path)
        out[prefix + name] = np.asarray(leaf)
    return out


def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(GOLDEN_DIR / f"{name}.npz") as f:
        return dict(f)


def assert_state_matches(
    state, reference: dict[str, np.ndarray], prefix: str = "", atol: float = 0.0, rtol: float = 0.0
) -> None:
    """Every leaf of ``state`` equals ``reference[prefix + path]`` (same dtype and shape; values
    exactly, or within ``atol``/``rtol`` for floats)."""
    ours = flatten_state(state)
    names = {
        k[len(prefix) :]
        for k in reference
        if k.startswith(prefix) and not k[len(prefix) :].startswith(("static/", "params/", "meta/"))
    }
    assert set(ours) == names, set(ours) ^ names
    for name, a in ours.items():
        b = reference[prefix + name]
        assert a.dtype == b.dtype, f"{name}: dtype {a.dtype} != {b.dtype}"
        assert a.shape == b.shape, f"{name}: shape {a.shape} != {b.shape}"
        if np.issubdtype(a.dtype, np.floating) and (atol or rtol):
            np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.fixture(scope="session")
def static_s():
    from kinetix.environment import static_env_params_from_size

    return static_env_params_from_size("s")


class ScriptedEngine:
    """A stand-in physics engine whose contacts follow a script (compiles in milliseconds).

    Scene convention (s-sized statics): polygon 4 green at the origin, circle 0 blue, circle 1
    red. Substep ``k`` (counted in ``polygon.rotation[4]``) puts circle 0 at
    ``(distance[k], 0)``, reports a green-blue contact if ``goal[k]``, a green-red contact if
    ``lava[k]`` and writes a NaN into ``polygon.velocity`` if ``nan[k]``. ``actions`` are added to
    ``circle.angular_velocity[0]`` (summed) so tests can see the command.
    """

    def __init__(self, static, goal, lava, distance, nan=None):
        from jax2d.engine import get_pairwise_interaction_indices

        n = len(goal)
        self.script = (
            tuple(map(bool, goal)),
            tuple(map(bool, lava)),
            tuple(map(float, distance)),
            tuple(map(bool, nan or [False] * n)),
        )
        _, _, _, cc, cr, rr = get_pairwise_interaction_indices(static)
        self.poly_poly_pairs, self.circle_poly_pairs, self.circle_circle_pairs = rr, cr, cc
        self.p = static.num_polygons

    def hash_key(self):
        return ("ScriptedEngine", self.script)

    def step(self, state, params, actions):
        import jax.numpy as jnp

        from jax2d.sim_state import CollisionManifold

        goal, lava, dist, nan = (jnp.asarray(x) for x in self.script)
        k = jnp.minimum(state.polygon.rotation[4].astype(jnp.int32), len(self.script[0]) - 1)
        circle = state.circle.replace(
            position=state.circle.position.at[0].set(jnp.stack([dist[k], 0.0])),
            angular_velocity=state.circle.angular_velocity.at[0].add(jnp.sum(actions)),
        )
        polygon = state.polygon.replace(
            rotation=state.polygon.rotation.at[4].add(1.0),
            velocity=jnp.where(nan[k], jnp.nan, state.polygon.velocity),
        )

        def manifold(n, active):
            z = jnp.zeros((n,), jnp.float32)
            return CollisionManifold(jnp.zeros((n, 2)), z, jnp.zeros((n, 2)), active, z, z, z)

        cr_active = jnp.zeros(len(self.circle_poly_pairs), bool)
        cr_active = cr_active.at[0 * self.p + 4].set(goal[k]).at[1 * self.p + 4].set(lava[k])
        nrr = len(self.poly_poly_pairs)
        manifolds = (
            manifold(nrr, jnp.zeros(nrr, bool)),
            manifold(len(self.circle_poly_pairs), cr_active),
            manifold(len(self.circle_circle_pairs), jnp.zeros(len(self.circle_circle_pairs), bool)),
        )
        return state.replace(polygon=polygon, circle=circle), manifolds


def scripted_scene(static):
    """The empty s-sized arena with the roles ``ScriptedEngine`` expects."""
    import jax.numpy as jnp

    from kinetix.environment import create_empty_env

    s = create_empty_env(static)
    return s.replace(
        polygon=s.polygon.replace(active=s.polygon.active.at[4].set(True)),
        circle=s.circle.replace(active=jnp.ones(static.num_circles, bool)),
        polygon_shape_roles=s.polygon_shape_roles.at[4].set(1),
        circle_shape_roles=s.circle_shape_roles.at[0].set(2).at[1].set(3),
    )
