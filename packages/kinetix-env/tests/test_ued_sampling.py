import jax
import jax.numpy as jnp
import numpy as np

from kinetix.environment import create_empty_env, static_env_params_from_size
from kinetix.environment.ued import UEDParams
from kinetix.environment.ued.sampling import (
    random_point_in_circle,
    random_point_in_polygon,
    sample_dimensions,
    sample_role,
    weighted_choice,
    write_body,
)

STATIC = static_env_params_from_size("s")
KEYS = jax.random.split(jax.random.PRNGKey(0), 4000)


def test_weighted_choice_frequencies():
    w = jnp.array([0.0, 1.0, 3.0, 0.0])
    draws = np.asarray(jax.vmap(lambda k: weighted_choice(k, w))(KEYS))
    assert set(np.unique(draws)) == {1, 2}
    assert abs(np.mean(draws == 2) - 0.75) < 0.03
    assert int(weighted_choice(KEYS[0], jnp.zeros(3))) == 0


def _with_roles(poly_roles, circ_roles):
    s = create_empty_env(STATIC)
    return s.replace(
        polygon=s.polygon.replace(active=s.polygon.active.at[4].set(poly_roles[4] >= 0)),
        circle=s.circle.replace(active=jnp.asarray([r >= 0 for r in circ_roles])),
        polygon_shape_roles=jnp.asarray([max(r, 0) for r in poly_roles], jnp.int32),
        circle_shape_roles=jnp.asarray([max(r, 0) for r in circ_roles], jnp.int32),
    )


def _role_freq(state, allowed=None):
    roles = np.asarray(jax.vmap(lambda k: sample_role(k, state, allowed))(KEYS))
    return np.bincount(roles, minlength=4) / len(roles)


def test_roles_green_and_blue_first_then_grey_or_one_red():
    empty = _with_roles([0, 0, 0, 0, -1], [-1, -1])
    f = _role_freq(empty)
    assert f[0] == 0 and f[3] == 0 and abs(f[1] - 0.5) < 0.03
    green = _with_roles([0, 0, 0, 0, 1], [-1, -1])
    assert _role_freq(green)[2] == 1.0
    both = _with_roles([0, 0, 0, 0, 1], [2, -1])
    f = _role_freq(both)
    assert abs(f[3] - 0.25) < 0.03 and f[1] == 0 and f[2] == 0
    red_floor = _with_roles([3, 0, 0, 0, 1], [2, -1])
    assert _role_freq(red_floor)[0] == 1.0
    f = _role_freq(empty, jnp.array([1.0, 0.0, 1.0, 1.0]))
    assert f[2] == 1.0


def test_dimensions_and_anchor_points():
    ued = UEDParams()
    verts, half, r = jax.vmap(lambda k: sample_dimensions(k, True, ued, 1.0))(KEYS[:500])
    half = np.asarray(half)
    assert half.min() >= 0.05 and half.max() <= 2 * 1.0 / (2 * np.sqrt(2)) + 1e-6
    assert np.all(np.asarray(r) == 0)
    np.testing.assert_allclose(np.asarray(verts[:, 0]), half)  # top-right corner first
    _, half_c, rc = jax.vmap(lambda k: sample_dimensions(k, False, ued, 1.0))(KEYS[:500])
    rc = np.asarray(rc)
    assert rc.min() >= 0.1 and rc.max() <= 0.4 + 1e-6 and np.all(np.asarray(half_c) == 0)
    box = jnp.array([[1.0, 0.5], [1.0, -0.5], [-1.0, -0.5], [-1.0, 0.5]])
    pts = np.asarray(jax.vmap(lambda k: random_point_in_polygon(k, box, 4))(KEYS[:500]))
    assert np.all(np.abs(pts) <= [1.0, 0.5])
    pts = np.asarray(jax.vmap(lambda k: random_point_in_circle(k, 0.3))(KEYS[:500]))
    assert np.all(np.linalg.norm(pts, axis=1) <= 0.3 + 1e-6)


def test_write_body_uses_first_free_slot():
    s = create_empty_env(STATIC)
    body = jax.tree.map(lambda x: x[4], s.polygon).replace(
        active=jnp.asarray(True), radius=jnp.asarray(0.3, jnp.float32)
    )
    out, slot = write_body(s, jnp.asarray(False), body, jnp.asarray(2))
    assert int(slot) == 0 and bool(out.circle.active[0]) and int(out.circle_shape_roles[0]) == 2
    out, slot = write_body(out, jnp.asarray(True), body, jnp.asarray(1))
    assert int(slot) == 4 and bool(out.polygon.active[4]) and int(out.polygon_shape_roles[4]) == 1
