import sys
from importlib import metadata

import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.environment.observations import (
    ENTRY_POINT_GROUP,
    BlindObservations,
    KinetixObservation,
    ObservationType,
    get_observation_registry,
    resolve_observation,
)

STATIC = static_env_params_from_size("s")


class TimestepObservation(KinetixObservation):
    """A test observation registered through a fake entry point."""

    def get_obs(self, state):
        return jnp.asarray([state.timestep], jnp.float32)


def test_observation_type_names():
    assert (
        ObservationType.from_string("symbolic_flat_padded") is ObservationType.SYMBOLIC_FLAT_PADDED
    )
    assert [t.value for t in ObservationType] == [0, 1, 2, 3, 4]
    assert ObservationType.PIXELS.key == "pixels"
    with pytest.raises(ValueError, match="unknown observation type"):
        ObservationType.from_string("rgb")


def test_blind_observation():
    obs = BlindObservations(EnvParams(max_timesteps=10), STATIC)
    state = create_empty_env(STATIC).replace(timestep=jnp.asarray(3, jnp.int32))
    out = obs.get_obs(state)
    assert out.shape == (11,) and int(np.argmax(out)) == 3 and float(out.sum()) == 1.0
    assert obs.observation_space(EnvParams()).shape == (11,)
    assert obs.hash_key() != BlindObservations(EnvParams(), STATIC).hash_key()


def test_registry_with_explicit_entry_points():
    ep = metadata.EntryPoint("pixels", f"{__name__}:TimestepObservation", ENTRY_POINT_GROUP)
    reg = get_observation_registry([ep])
    assert set(reg) == {"blind", "pixels"}
    obs = resolve_observation(ObservationType.PIXELS, EnvParams(), STATIC, reg)
    assert isinstance(obs, TimestepObservation) and obs.static_env_params == STATIC


def test_registry_reads_installed_distributions(tmp_path, monkeypatch):
    dist = tmp_path / "fake_renderer-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-renderer\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nfake_timestep_obs = {__name__}:TimestepObservation\n"
    )
    # A name no real distribution uses, so an installed kinetix-render cannot shadow it.
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    reg = get_observation_registry()
    assert "fake_timestep_obs" in reg and "blind" in reg
    obs = resolve_observation("fake_timestep_obs", EnvParams(), STATIC)
    assert isinstance(obs, TimestepObservation)


def test_unregistered_type_says_what_to_install():
    with pytest.raises(KeyError, match="pip install kinetix-render"):
        resolve_observation(ObservationType.SYMBOLIC_ENTITY, EnvParams(), STATIC, {})
    with pytest.raises(TypeError):
        resolve_observation(3.5, EnvParams(), STATIC, {})


def test_instances_and_factories_pass_through():
    inst = BlindObservations(EnvParams(), STATIC)
    assert resolve_observation(inst, EnvParams(), STATIC, {}) is inst
    made = resolve_observation(TimestepObservation, EnvParams(), STATIC, {})
    assert isinstance(made, TimestepObservation)
