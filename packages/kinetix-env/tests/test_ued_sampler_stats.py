"""Our level sampler against per-level statistics of the reference's (2,000 levels per size).

The fixtures ``golden/sampler_stats_<size>.npz`` come from ``golden/make_sampler_stats_golden.py``
(reference ``sample_kinetix_level``, keys ``split(PRNGKey(0), 2000)``). We sample as many levels
from different keys and compare, for every statistic, the means (NaN-aware) within
``4 * sqrt(se_ours^2 + se_ref^2)`` and, for the count statistics, the frequency of every value
within ``4`` standard errors of the difference of two proportions.
"""

import jax
import numpy as np
import pytest
from conftest import golden

from jax2d.engine import PhysicsEngine
from kinetix.environment import EnvParams, static_env_params_from_size
from kinetix.environment.ued import UEDParams, sample_kinetix_level

N_LEVELS = 2000
N_SE = 4.0
ARENA = 4
# Statistics that are counts (their whole distribution is compared, not only the mean).
COUNT_PREFIXES = ("floor_role", "n_", "any_control")


def level_statistics(levels, static) -> dict[str, np.ndarray]:
    """One value per level for each statistic (NaN where a mean has nothing to average).

    Mirrors ``level_statistics`` in ``golden/make_sampler_stats_golden.py``.
    """
    pa = np.asarray(levels.polygon.active)[:, ARENA:]
    ca = np.asarray(levels.circle.active)
    pr = np.asarray(levels.polygon_shape_roles)
    cr = np.asarray(levels.circle_shape_roles)
    p_im = np.asarray(levels.polygon.inverse_mass)[:, ARENA:]
    c_im = np.asarray(levels.circle.inverse_mass)
    ja = np.asarray(levels.joint.active)
    fixed_joint = np.asarray(levels.joint.is_fixed_joint)
    rev = ja & ~fixed_joint
    motor_on = rev & np.asarray(levels.joint.motor_on)
    ta = np.asarray(levels.thruster.active)
    half = np.abs(np.asarray(levels.polygon.vertices)[:, ARENA:, 0, :])
    shapes = np.concatenate([pa, ca], 1)
    pos = np.concatenate(
        [np.asarray(levels.polygon.position)[:, ARENA:], np.asarray(levels.circle.position)], 1
    )

    def mean_over(values, mask):
        count = mask.sum(1)
        total = np.where(mask, values, 0.0).sum(1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def role(r):
        return ((pr[:, ARENA:] == r) & pa).sum(1) + ((cr == r) & ca).sum(1)

    out = {
        "floor_role": pr[:, 0],
        "n_polygons": pa.sum(1),
        "n_circles": ca.sum(1),
        "n_shapes": shapes.sum(1),
        "n_neutral": role(0),
        "n_green": role(1),
        "n_blue": role(2),
        "n_red": role(3),
        "n_fixated": ((p_im == 0) & pa).sum(1) + ((c_im == 0) & ca).sum(1),
        "n_joints": ja.sum(1),
        "n_fixed_joints": (ja & fixed_joint).sum(1),
        "n_revolute_joints": rev.sum(1),
        "n_motors_on": motor_on.sum(1),
        "n_joint_limits": (rev & np.asarray(levels.joint.motor_has_joint_limits)).sum(1),
        "n_thrusters": ta.sum(1),
        "any_control": motor_on.any(1) | ta.any(1),
        "mean_rect_half_x": mean_over(half[..., 0], pa),
        "mean_rect_half_y": mean_over(half[..., 1], pa),
        "mean_circle_radius": mean_over(np.asarray(levels.circle.radius), ca),
        "mean_motor_speed": mean_over(np.asarray(levels.joint.motor_speed), rev),
        "mean_motor_power": mean_over(np.asarray(levels.joint.motor_power), rev),
        "mean_thruster_power": mean_over(np.asarray(levels.thruster.power), ta),
        "mean_shape_x": mean_over(pos[..., 0], shapes),
        "mean_shape_y": mean_over(pos[..., 1], shapes),
    }
    bindings = np.asarray(levels.motor_bindings)
    for b in range(static.num_motor_bindings):
        out[f"n_motor_binding_{b}"] = (rev & (bindings == b)).sum(1)
    bindings = np.asarray(levels.thruster_bindings)
    for b in range(static.num_thruster_bindings):
        out[f"n_thruster_binding_{b}"] = (ta & (bindings == b)).sum(1)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def _se_of_mean(x: np.ndarray) -> tuple[float, float]:
    x = x[~np.isnan(x)]
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else 0.0


def compare_statistics(ours: dict, ref: dict) -> list[str]:
    """Human-readable failures of the mean and count-distribution checks (empty: all agree)."""
    failures = []
    assert set(ours) == set(ref), set(ours) ^ set(ref)
    for name in sorted(ref):
        a, b = ours[name], ref[name]
        (ma, sa), (mb, sb) = _se_of_mean(a), _se_of_mean(b)
        tol = N_SE * np.hypot(sa, sb) + 1e-6
        if abs(ma - mb) > tol:
            failures.append(f"mean {name}: ours {ma:.4f} ref {mb:.4f} (tolerance {tol:.4f})")
        if name.startswith(COUNT_PREFIXES):
            for v in np.union1d(np.unique(a), np.unique(b)):
                pa, pb = np.mean(a == v), np.mean(b == v)
                p = (pa * len(a) + pb * len(b)) / (len(a) + len(b))
                tol = N_SE * np.sqrt(p * (1 - p) * (1 / len(a) + 1 / len(b))) + 1e-6
                if abs(pa - pb) > tol:
                    failures.append(
                        f"P({name} == {v:g}): ours {pa:.4f} ref {pb:.4f} (tolerance {tol:.4f})"
                    )
    return failures


def test_compare_statistics_detects_a_shift():
    rng = np.random.default_rng(0)
    ref = {"n_red": rng.binomial(1, 0.27, N_LEVELS).astype(float)}
    same = {"n_red": rng.binomial(1, 0.27, N_LEVELS).astype(float)}
    shifted = {"n_red": rng.binomial(1, 0.20, N_LEVELS).astype(float)}
    assert compare_statistics(same, ref) == []
    assert any("n_red" in f for f in compare_statistics(shifted, ref))


@pytest.mark.parametrize(
    "size",
    ["s", pytest.param("m", marks=pytest.mark.slow), pytest.param("l", marks=pytest.mark.slow)],
)
def test_sampler_statistics_match_the_reference(size):
    ref = golden(f"sampler_stats_{size}")
    ref = {k.removeprefix("stats/"): v.astype(np.float64) for k, v in ref.items()
           if k.startswith("stats/")}  # fmt: skip
    static = static_env_params_from_size(size)
    engine = PhysicsEngine(static)
    params, ued = EnvParams(), UEDParams()
    sample = jax.jit(jax.vmap(lambda k: sample_kinetix_level(k, engine, params, static, ued)))
    levels = sample(jax.random.split(jax.random.PRNGKey(7), N_LEVELS))
    ours = level_statistics(levels, static)
    failures = compare_statistics(ours, ref)
    assert not failures, "\n".join(failures)
