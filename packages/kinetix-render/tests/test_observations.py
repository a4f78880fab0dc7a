import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import SIZES, golden_states, index_state

from kinetix.environment import (
    ActionType,
    EnvParams,
    ObservationType,
    create_empty_env,
    get_observation_registry,
    make_kinetix_env,
    static_env_params_from_size,
)
from kinetix.environment.spaces import Box, Dict
from kinetix.render import observations as obs_mod
from kinetix.render.observations import (
    EntityObservations,
    PixelObservations,
    SymbolicEntityObservations,
    SymbolicFlatObservations,
    SymbolicFlatPaddedObservations,
    SymbolicObservations,
)

PARAMS = EnvParams()
STATIC_S = static_env_params_from_size("s")

# The reference's measured shapes (spec section 1).
FLAT = {"s": (140,), "m": (247,), "l": (679,)}
PADDED = {"s": (6, 41), "m": (10, 45), "l": (21, 59)}
N_SHAPES = {"s": 7, "m": 9, "l": 16}


def test_installed_distribution_registers_every_observation_type():
    registry = get_observation_registry()
    expected = {
        "pixels": PixelObservations,
        "symbolic_flat": SymbolicFlatObservations,
        "symbolic_flat_padded": SymbolicFlatPaddedObservations,
        "symbolic_entity": SymbolicEntityObservations,
    }
    for name, cls in expected.items():
        assert name in registry, f"{name} missing: is kinetix-render installed?"
        assert type(registry[name](PARAMS, STATIC_S)) is cls
    for t in ObservationType:
        assert t.key in registry  # blind comes with kinetix-env


@pytest.mark.parametrize(
    "obs_type, cls",
    [
        (ObservationType.SYMBOLIC_FLAT, SymbolicFlatObservations),
        (ObservationType.SYMBOLIC_FLAT_PADDED, SymbolicFlatPaddedObservations),
        (ObservationType.SYMBOLIC_ENTITY, SymbolicEntityObservations),
        (ObservationType.PIXELS, PixelObservations),
    ],
)
def test_make_kinetix_env_finds_the_renderer(obs_type, cls):
    env = make_kinetix_env(ActionType.CONTINUOUS, obs_type, None, PARAMS, STATIC_S)
    assert type(env.observation_type) is cls


@pytest.mark.parametrize("size", SIZES)
def test_symbolic_spaces_match_reference_shapes_and_contain_observations(size):
    static = static_env_params_from_size(size)
    state = create_empty_env(static)
    flat = SymbolicFlatObservations(PARAMS, static)
    padded = SymbolicFlatPaddedObservations(PARAMS, static)
    assert flat.observation_space(PARAMS).shape == FLAT[size]
    assert padded.observation_space(PARAMS).shape == PADDED[size]
    for o in (flat, padded):
        out = jax.eval_shape(o.get_obs, state)
        assert out.shape == o.observation_space(PARAMS).shape and out.dtype == jnp.float32
    entity = SymbolicEntityObservations(PARAMS, static)
    space = entity.observation_space(PARAMS)
    assert isinstance(space, Dict)
    out = jax.eval_shape(entity.get_obs, state)
    for name, box in space.spaces.items():
        assert getattr(out, name).shape == box.shape, name
        assert getattr(out, name).dtype == box.dtype, name
    assert space.spaces["attention_mask"].shape == (4, N_SHAPES[size], N_SHAPES[size])


def test_spaces_contain_real_observations():
    state = index_state(golden_states("s"), 2, 3)
    for o in (
        SymbolicFlatObservations(PARAMS, STATIC_S),
        SymbolicFlatPaddedObservations(PARAMS, STATIC_S),
        SymbolicEntityObservations(PARAMS, STATIC_S),
    ):
        x = jax.jit(o.get_obs)(state)
        space = o.observation_space(PARAMS)
        assert bool(jax.jit(lambda x, space=space: space.contains(x))(x)), type(o).__name__
    unclipped = SymbolicFlatObservations(PARAMS, STATIC_S, clip=False)
    assert unclipped.observation_space(PARAMS).high == np.inf
    light = SymbolicEntityObservations(PARAMS, STATIC_S, ignore_mask=True)
    assert "attention_mask" not in light.observation_space(PARAMS).spaces


def test_env_reset_and_step_return_the_observation():
    level = index_state(golden_states("s"), 0, 0)
    env = make_kinetix_env(
        ActionType.CONTINUOUS,
        ObservationType.SYMBOLIC_FLAT,
        lambda key: level,
        PARAMS,
        STATIC_S,
        create_dummy_env=True,
    )
    obs, state = env.reset(jax.random.PRNGKey(0), PARAMS, override_reset_state=level)
    expected = SymbolicFlatObservations(PARAMS, STATIC_S).get_obs(level)
    np.testing.assert_array_equal(obs, expected)
    assert env.observation_space(PARAMS).shape == (140,)
    obs2, *_ = env.step(jax.random.PRNGKey(1), state, jnp.zeros(6), PARAMS)
    np.testing.assert_array_equal(obs2, expected)


def test_pixel_space_follows_downscale():
    assert PixelObservations(PARAMS, STATIC_S).observation_space(PARAMS).shape == (125, 125, 3)
    ds2 = STATIC_S.replace(downscale=2)
    space = PixelObservations(PARAMS, ds2).observation_space(PARAMS)
    assert isinstance(space, Box) and space.shape == (250, 250, 3) and space.high == 1.0


def test_hash_keys_cover_options():
    keys = {
        SymbolicFlatObservations(PARAMS, STATIC_S).hash_key(),
        SymbolicFlatObservations(PARAMS, STATIC_S, clip=False).hash_key(),
        SymbolicFlatPaddedObservations(PARAMS, STATIC_S).hash_key(),
        SymbolicEntityObservations(PARAMS, STATIC_S).hash_key(),
        SymbolicEntityObservations(PARAMS, STATIC_S, ignore_mask=True).hash_key(),
        PixelObservations(PARAMS, STATIC_S).hash_key(),
        PixelObservations(PARAMS.replace(pixels_per_unit=50), STATIC_S).hash_key(),
    }
    assert len(keys) == 7
    for k in keys:
        hash(k)
    flat = make_kinetix_env(ActionType.CONTINUOUS, "symbolic_flat", None, PARAMS, STATIC_S)
    padded = make_kinetix_env(ActionType.CONTINUOUS, "symbolic_flat_padded", None, PARAMS, STATIC_S)
    assert hash(flat) != hash(padded) and flat != padded


def test_reference_class_names_are_aliases():
    assert SymbolicObservations is SymbolicFlatObservations
    assert EntityObservations is SymbolicEntityObservations
    assert obs_mod.SymbolicPaddedObservations is SymbolicFlatPaddedObservations


def test_pixel_observation_through_the_env():
    env = make_kinetix_env(ActionType.CONTINUOUS, ObservationType.PIXELS, None, PARAMS, STATIC_S)
    state = create_empty_env(STATIC_S)
    obs = jax.jit(env.get_obs)(state)
    space = env.observation_space(PARAMS)
    assert obs.image.shape == space.shape and obs.image.dtype == jnp.float32
    assert float(obs.image.min()) >= 0.0 and float(obs.image.max()) <= 1.0
    np.testing.assert_array_equal(obs.global_info, np.asarray(state.gravity[1:]) / 10.0)
