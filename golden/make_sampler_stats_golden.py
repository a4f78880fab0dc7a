"""Per-level statistics of the reference's procedural level distribution (``kinetix-env==3.0.2``).

Run it with the *reference* venv (never our packages), from the repository root::

    JAX_COMPILATION_CACHE_DIR=$HOME/.cache/kinetix-tests/jax-ref \\
        /work/venvs/ref/bin/python golden/make_sampler_stats_golden.py [--sizes s m l] [--n 2000]

It samples ``n`` levels per size with the reference's ``sample_kinetix_level`` (one jit of the
single-level sampler, looped over ``jax.random.split(PRNGKey(0), n)``) and writes
``packages/kinetix-env/tests/golden/sampler_stats_<size>.npz``: one column per statistic (see
``level_statistics``; ``stats/<name>``, one value per level) plus ``meta/*``. The test
``test_ued_sampler_stats.py`` computes the same statistics (its own copy of
``level_statistics``) on our sampler's levels and compares means and count distributions.

``sample_levels`` is shared with ``make_env_rollout_golden.py``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import numpy as np  # noqa: E402

import kinetix.environment  # noqa: E402, F401  (before kinetix.render: circular import)
from jax2d.engine import PhysicsEngine  # noqa: E402
from kinetix.environment.env_state import EnvParams  # noqa: E402
from kinetix.environment.ued.distributions import sample_kinetix_level  # noqa: E402
from kinetix.environment.ued.ued_state import UEDParams  # noqa: E402
from kinetix.environment.utils import static_env_params_from_size  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "packages" / "kinetix-env" / "tests" / "golden"
ARENA = 4  # polygon slots 0..3 are the arena (floor, walls, ceiling)


def sample_levels(size: str, n: int, seed: int, chunk: int = 1):
    """``n`` reference levels of ``size`` from ``jax.random.split(PRNGKey(seed), n)``, stacked."""
    static = static_env_params_from_size(size)
    engine = PhysicsEngine(static)
    params, ued = EnvParams(), UEDParams()
    one = jax.jit(lambda k: sample_kinetix_level(k, engine, params, static, ued))
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    t0 = time.time()
    out = []
    for i in range(n):
        out.append(jax.tree.map(np.asarray, one(keys[i])))
        if i == 0:
            print(f"  {size}: first level (compile) {time.time() - t0:.1f}s", flush=True)
    print(f"  {size}: {n} levels in {time.time() - t0:.1f}s", flush=True)
    return jax.tree.map(lambda *xs: np.stack(xs), *out), static


def level_statistics(levels, static) -> dict[str, np.ndarray]:
    """One value per level for each statistic (NaN where a mean has nothing to average)."""
    pa = np.asarray(levels.polygon.active)[:, ARENA:]
    ca = np.asarray(levels.circle.active)
    pr = np.asarray(levels.polygon_shape_roles)
    cr = np.asarray(levels.circle_shape_roles)
    p_im = np.asarray(levels.polygon.inverse_mass)[:, ARENA:]
    c_im = np.asarray(levels.circle.inverse_mass)
    ja = np.asarray(levels.joint.active)
    fixed_j = ja & np.asarray(levels.joint.is_fixed_joint)
    rev = ja & ~np.asarray(levels.joint.is_fixed_joint)
    ta = np.asarray(levels.thruster.active)
    half = np.abs(np.asarray(levels.polygon.vertices)[:, ARENA:, 0, :])  # (n, P-4, 2)
    radius = np.asarray(levels.circle.radius)

    def nanmean(values, mask):
        cnt = mask.sum(1)
        tot = np.where(mask, values, 0.0).sum(1)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)

    def role(r):
        return ((pr[:, ARENA:] == r) & pa).sum(1) + ((cr == r) & ca).sum(1)

    out = {
        "floor_role": pr[:, 0],
        "n_polygons": pa.sum(1),
        "n_circles": ca.sum(1),
        "n_shapes": pa.sum(1) + ca.sum(1),
        "n_neutral": role(0),
        "n_green": role(1),
        "n_blue": role(2),
        "n_red": role(3),
        "n_fixated": ((p_im == 0) & pa).sum(1) + ((c_im == 0) & ca).sum(1),
        "n_joints": ja.sum(1),
        "n_fixed_joints": fixed_j.sum(1),
        "n_revolute_joints": rev.sum(1),
        "n_motors_on": (rev & np.asarray(levels.joint.motor_on)).sum(1),
        "n_joint_limits": (rev & np.asarray(levels.joint.motor_has_joint_limits)).sum(1),
        "n_thrusters": ta.sum(1),
        "any_control": (rev & np.asarray(levels.joint.motor_on)).any(1) | ta.any(1),
        "mean_rect_half_x": nanmean(half[..., 0], pa),
        "mean_rect_half_y": nanmean(half[..., 1], pa),
        "mean_circle_radius": nanmean(radius, ca),
        "mean_motor_speed": nanmean(np.asarray(levels.joint.motor_speed), rev),
        "mean_motor_power": nanmean(np.asarray(levels.joint.motor_power), rev),
        "mean_thruster_power": nanmean(np.asarray(levels.thruster.power), ta),
        "mean_shape_x": nanmean(
            np.concatenate(
                [
                    np.asarray(levels.polygon.position)[:, ARENA:, 0],
                    np.asarray(levels.circle.position)[..., 0],
                ],
                1,
            ),
            np.concatenate([pa, ca], 1),
        ),
        "mean_shape_y": nanmean(
            np.concatenate(
                [
                    np.asarray(levels.polygon.position)[:, ARENA:, 1],
                    np.asarray(levels.circle.position)[..., 1],
                ],
                1,
            ),
            np.concatenate([pa, ca], 1),
        ),
    }
    mb = np.asarray(levels.motor_bindings)
    for b in range(static.num_motor_bindings):
        out[f"n_motor_binding_{b}"] = (rev & (mb == b)).sum(1)
    tb = np.asarray(levels.thruster_bindings)
    for b in range(static.num_thruster_bindings):
        out[f"n_thruster_binding_{b}"] = (ta & (tb == b)).sum(1)
    return {k: np.asarray(v) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["s", "m", "l"])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for size in args.sizes:
        levels, static = sample_levels(size, args.n, args.seed)
        stats = level_statistics(levels, static)
        arrays = {f"stats/{k}": v.astype(np.float32) for k, v in stats.items()}
        arrays["meta/reference"] = np.asarray("kinetix-env==3.0.2, jax2d==1.0.1")
        arrays["meta/seed"] = np.asarray(args.seed)
        arrays["meta/n"] = np.asarray(args.n)
        np.savez_compressed(GOLDEN / f"sampler_stats_{size}.npz", **arrays)
        means = {k: float(np.nanmean(v)) for k, v in stats.items()}
        print(size, {k: round(v, 3) for k, v in means.items()}, flush=True)


if __name__ == "__main__":
    main()
