import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SIZES, golden, golden_states, index_state, jitted_renderer
from hypothesis import given, settings
from hypothesis import strategies as st

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.render import (
    make_inverse_render_symbolic,
    make_render_symbolic,
    symbolic_flat_size,
    symbolic_padded_shape,
)
from kinetix.render.renderer_symbolic_flat import kept_polygon_slots

PARAMS = EnvParams()
STATIC_S = static_env_params_from_size("s")

# The reference's measured sizes (spec tables; also the reference's observation_space formula).
FLAT_SIZE = {"s": 140, "m": 247, "l": 679}
PADDED_SHAPE = {"s": (6, 41), "m": (10, 45), "l": (21, 59)}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("prefix", ["state/", "edge_state/"])
def test_flat_and_padded_equal_reference_exactly(size, prefix):
    states = golden_states(size, prefix)
    data = golden(size)
    obs_prefix = prefix.replace("state/", "obs/")
    for padded, name in [(False, "symbolic_flat"), (True, "symbolic_flat_padded")]:
        # Leading (levels, timesteps) or (edge cases,) dims, rendered in one call.
        ours = np.asarray(jitted_renderer("padded" if padded else "flat", size)(states))
        ref = data[obs_prefix + name]
        assert ours.dtype == ref.dtype == np.float32
        assert ours.shape == ref.shape
        bad = np.argwhere(ours != ref)
        assert len(bad) == 0, f"{name} {size}: {len(bad)} entries differ, first at {bad[:5]}"


def test_fixtures_exercise_clipping_nan_and_inactive_rows():
    data = golden("s")
    flat = data["obs/symbolic_flat"]
    assert np.any(flat == 10.0) or np.any(flat == -10.0)  # clipped inverse inertias
    edge = data["edge_obs/symbolic_flat"]
    assert np.any(np.abs(edge[1]) == 10.0)
    assert np.all(edge[0][52:-1] == 0)  # empty arena: circles/joints/thrusters all zero


@pytest.mark.parametrize("size", SIZES)
def test_shapes_match_reference_sizes(size):
    static = static_env_params_from_size(size)
    assert symbolic_flat_size(PARAMS, static) == FLAT_SIZE[size]
    assert symbolic_padded_shape(PARAMS, static) == PADDED_SHAPE[size]
    state = create_empty_env(static)
    flat = jax.eval_shape(make_render_symbolic(PARAMS, static), state)
    padded = jax.eval_shape(make_render_symbolic(PARAMS, static, padded=True), state)
    assert flat.shape == (FLAT_SIZE[size],) and flat.dtype == jnp.float32
    assert padded.shape == PADDED_SHAPE[size] and padded.dtype == jnp.float32


def test_single_state_batch_and_vmap_agree():
    states = golden_states("s")
    render = make_render_symbolic(PARAMS, STATIC_S)
    batched = np.asarray(jax.jit(render)(states))
    via_vmap = np.asarray(jax.jit(jax.vmap(jax.vmap(render)))(states))
    np.testing.assert_array_equal(batched, via_vmap)
    for i, t in [(0, 0), (4, 3), (8, 2)]:
        np.testing.assert_array_equal(np.asarray(render(index_state(states, i, t))), batched[i, t])
    # Three leading dims.
    more = jax.tree.map(lambda x: x[None], states)
    np.testing.assert_array_equal(np.asarray(jax.jit(render)(more))[0], batched)


def test_padded_rows_hold_the_flat_blocks():
    states = golden_states("m")
    static = static_env_params_from_size("m")
    flat = np.asarray(jitted_renderer("flat", "m")(states))
    padded = np.asarray(jitted_renderer("padded", "m")(states))
    n = static.num_polygons + static.num_circles
    widths = [26, 18, 22 + 2 * n, 8 + n]
    rows = [len(kept_polygon_slots(static)), static.num_circles, static.num_joints, 2]
    offset, row = 0, 0
    for kind, (w, r) in enumerate(zip(widths, rows)):
        for _ in range(r):
            np.testing.assert_array_equal(padded[..., row, :w], flat[..., offset : offset + w])
            assert np.all(padded[..., row, w:-5] == 0)
            np.testing.assert_array_equal(
                padded[..., row, -5:-1], np.eye(4)[kind] + 0 * flat[..., :4]
            )
            offset, row = offset + w, row + 1
    np.testing.assert_array_equal(padded[..., :, -1], np.repeat(flat[..., -1:], row, axis=-1))


def test_inactive_entities_are_zero_and_walls_dropped():
    state = create_empty_env(STATIC_S)
    circle = state.circle.replace(
        position=state.circle.position.at[1].set(jnp.array([3.0, 4.0])),
        radius=state.circle.radius.at[1].set(0.5),
    )
    obs = np.asarray(jitted_renderer("flat", "s")(state.replace(circle=circle)))
    assert np.all(obs[52:88] == 0)  # both circles inactive
    active = state.replace(circle=circle.replace(active=circle.active.at[1].set(True)))
    obs = np.asarray(jitted_renderer("flat", "s")(active))
    np.testing.assert_array_equal(obs[70:72], [3.0, 4.0])  # circle 1 starts at 52 + 18
    assert obs[70 + 16] == 0.5 and obs[70 + 17] == 1.0
    # Polygon rows: floor (slot 0) then slot 4; walls 1-3 are not in the vector.
    assert obs[0 + 8] == 1.0 and np.all(obs[26:52] == 0)  # floor role one-hot, slot 4 inactive


def test_clip_option_and_nan_handling():
    state = create_empty_env(STATIC_S)
    poly = state.polygon
    state = state.replace(
        polygon=poly.replace(
            active=poly.active.at[4].set(True),
            inverse_inertia=poly.inverse_inertia.at[4].set(187.5),
            velocity=poly.velocity.at[4].set(jnp.array([jnp.nan, -jnp.inf])),
        )
    )
    clipped = np.asarray(jitted_renderer("flat", "s")(state))
    raw = np.asarray(jitted_renderer("flat", "s", clip=False)(state))
    row = 26
    assert clipped[row + 5] == 10.0 and raw[row + 5] == 187.5
    assert clipped[row + 2] == 0.0 and raw[row + 2] == 0.0  # NaN -> 0
    assert clipped[row + 3] == -10.0  # -inf clipped first
    assert raw[row + 3] == np.finfo(np.float32).min  # nan_to_num without the clip
    assert not np.any(np.isnan(raw))


def test_gravity_is_last_entry():
    state = create_empty_env(STATIC_S).replace(gravity=jnp.array([0.0, -5.0]))
    obs = jitted_renderer("flat", "s")(state)
    assert float(obs[-1]) == np.float32(-5.0) / np.float32(10.0)


def test_wrong_static_sizes_raise_a_clear_error():
    state = create_empty_env(static_env_params_from_size("m"))
    with pytest.raises(ValueError, match=r"state\.polygon\.position has shape \(6, 2\)"):
        jitted_renderer("flat", "s")(state)


@pytest.mark.parametrize("size", ["s", "m"])
def test_inverse_round_trip(size):
    states = golden_states(size)
    static = static_env_params_from_size(size)
    render = jitted_renderer("flat", size)
    obs = render(states)
    back = jax.jit(make_inverse_render_symbolic(None, PARAMS, static))(obs)
    # Geometry, actives, roles and topology come back exactly.
    for name in ("position", "velocity", "radius", "active"):
        np.testing.assert_array_equal(
            getattr(back.circle, name), getattr(states.circle, name) * _active(states.circle, name)
        )
    poly_active = np.asarray(states.polygon.active)
    np.testing.assert_array_equal(back.polygon.active, poly_active)
    np.testing.assert_array_equal(
        np.asarray(back.polygon.position)[poly_active],
        np.asarray(states.polygon.position)[poly_active],
    )
    np.testing.assert_array_equal(
        np.asarray(back.polygon_shape_roles)[poly_active],
        np.asarray(states.polygon_shape_roles)[poly_active],
    )
    ja = np.asarray(states.joint.active)
    np.testing.assert_array_equal(back.joint.active, ja)
    for name in ("a_index", "b_index", "a_relative_pos", "b_relative_pos", "motor_on"):
        np.testing.assert_array_equal(
            np.asarray(getattr(back.joint, name))[ja], np.asarray(getattr(states.joint, name))[ja]
        )
    ta = np.asarray(states.thruster.active)
    np.testing.assert_array_equal(
        np.asarray(back.thruster.object_index)[ta], np.asarray(states.thruster.object_index)[ta]
    )
    np.testing.assert_array_equal(back.collision_matrix, states.collision_matrix)
    # Rendering the rebuilt state gives the observation back (up to atan2/atanh rounding).
    np.testing.assert_allclose(render(back), obs, atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match=rf"expected \(\.\.\., {FLAT_SIZE[size]}\)"):
        make_inverse_render_symbolic(None, PARAMS, static)(obs[..., :-1])


def _active(body, name):
    mask = np.asarray(body.active)
    return mask[..., None] if getattr(body, name).ndim > mask.ndim else mask


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    special=st.sampled_from([np.nan, np.inf, -np.inf, 3e38, -1e6, 0.0]),
    where=st.integers(0, 10_000),
)
def test_any_state_gives_a_bounded_finite_vector_with_zero_inactive_rows(seed, special, where):
    rng = np.random.default_rng(seed)
    state = create_empty_env(STATIC_S)
    leaves, treedef = jax.tree_util.tree_flatten(state)
    noisy = []
    for leaf in leaves:
        x = np.asarray(leaf)
        if x.dtype == np.float32:
            x = rng.normal(0, 20, x.shape).astype(np.float32)
            if x.size:
                x.reshape(-1)[where % x.size] = special
        elif x.dtype == np.bool_:
            x = rng.random(x.shape) < 0.5
        noisy.append(jnp.asarray(x))
    state = jax.tree_util.tree_unflatten(treedef, noisy)
    obs = np.asarray(jitted_renderer("flat", "s")(state))
    assert obs.shape == (140,) and np.isfinite(obs).all() and np.abs(obs).max() <= 10.0
    circle_rows = obs[52:88].reshape(2, 18)
    for c in range(2):
        if not bool(state.circle.active[c]):
            assert np.all(circle_rows[c] == 0)
    if not bool(state.thruster.active[0]):
        assert np.all(obs[124:139] == 0)


def test_kept_polygon_slots_drop_walls_and_ceiling_only():
    assert kept_polygon_slots(STATIC_S).tolist() == [0, 4]
    assert kept_polygon_slots(static_env_params_from_size("l")).tolist() == [0, *range(4, 12)]
    assert kept_polygon_slots(STATIC_S.replace(num_static_fixated_polys=1)).tolist() == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert kept_polygon_slots(STATIC_S.replace(num_static_fixated_polys=0)).tolist() == [
        0,
        1,
        2,
        3,
        4,
    ]
