"""KinetixEnv: step logic with a scripted engine (fast), and golden rollouts of the reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import LEVELS_DIR, ScriptedEngine, flatten_state, golden, scripted_scene

from kinetix.environment import (
    ActionType,
    BlindObservations,
    ContinuousActions,
    EnvParams,
    KinetixDummyEnv,
    KinetixEnv,
    ObservationType,
    load_from_json_file,
    make_kinetix_env,
    static_env_params_from_size,
)
from kinetix.environment.actions import _discrete_to_bindings, _multi_discrete_to_bindings

STATIC = static_env_params_from_size("s").replace(frame_skip=3)
KEY = jax.random.PRNGKey(0)


def scripted_env(goal, lava, distance, nan=None, auto_reset=True, reset_fn=None, params=None):
    params = params or EnvParams()
    return KinetixEnv(
        action_type=ContinuousActions(params, STATIC),
        observation_type=BlindObservations(params, STATIC),
        static_env_params=STATIC,
        reset_function=reset_fn,
        physics_engine=ScriptedEngine(STATIC, goal, lava, distance, nan),
        auto_reset=auto_reset,
    )


def run(env, n, params=None, action=None, start=None):
    """Step ``n`` times from ``start`` (auto-resetting to it); return per-step outputs."""
    params = params or EnvParams()
    start = scripted_scene(STATIC) if start is None else start
    action = jnp.zeros(6) if action is None else action
    state, out = start, []
    for _ in range(n):
        obs, state, r, d, info = env.step(KEY, state, action, params, start)
        out.append((float(r), bool(d), bool(info["GoalR"]), float(info["distance"]), state, obs))
    return out


def test_first_terminal_substep_wins():
    # substeps: 0 nothing, 1 lava, 2 goal -> reward -1 (plus no shaping on the first step).
    env = scripted_env([0, 0, 1], [0, 1, 0], [3.0, 2.5, 2.0])
    r, d, g, dist, state, _ = run(env, 1)[0]
    assert (r, d, g, dist) == (-1.0, True, False, 2.5)
    # goal first, lava later -> +1; lava and goal in the same substep -> -1.
    assert run(scripted_env([1, 0, 0], [0, 1, 0], [1, 1, 1]), 1)[0][:3] == (1.0, True, True)
    assert run(scripted_env([1, 0, 0], [1, 0, 0], [1, 1, 1]), 1)[0][:3] == (-1.0, True, False)


def test_all_substeps_run_even_after_a_terminal_contact():
    env = scripted_env([1, 0, 0], [0, 0, 0], [1, 1, 1], auto_reset=False)
    state = run(env, 1)[0][4]
    assert float(state.polygon.rotation[4]) == 3.0  # three substeps counted
    assert int(state.timestep) == 1 and float(state.last_distance) == -1.0


def test_dense_shaping_and_last_distance():
    params = EnvParams(dense_reward_scale=0.5)
    env = scripted_env([0] * 9, [0] * 9, [4.0, 3.5, 3.0, 2.5, 2.75, 2.0, 1.0, 1.0, 1.0])
    steps = run(env, 3, params)
    # info is the last substep's; the first step has no shaping.
    assert [s[3] for s in steps] == [3.0, 2.0, 1.0]
    np.testing.assert_allclose([s[0] for s in steps], [0.0, 0.5 * (3.0 - 2.0), 0.5 * (2 - 1)])
    assert [float(s[4].last_distance) for s in steps] == [3.0, 2.0, 1.0]
    assert [int(s[4].timestep) for s in steps] == [1, 2, 3]
    # Blind observation = one-hot of the timestep.
    assert [int(np.argmax(s[5])) for s in steps] == [1, 2, 3]
    # Zero scale disables shaping.
    steps = run(env, 2, EnvParams(dense_reward_scale=0.0))
    assert [s[0] for s in steps] == [0.0, 0.0]


def test_terminal_step_gets_shaping_and_auto_resets():
    params = EnvParams(dense_reward_scale=0.5)
    env = scripted_env([0, 0, 0, 0, 1, 0], [0] * 6, [4.0, 4.0, 4.0, 3.0, 2.0, 2.0])
    (r1, d1, *_), (r2, d2, g2, dist2, state2, obs2) = run(env, 2, params)
    assert (r1, d1) == (0.0, False)
    assert d2 and g2 and dist2 == 2.0
    np.testing.assert_allclose(r2, 1.0 + 0.5 * (4.0 - 2.0))
    # The returned state is the reset (override) state.
    start = scripted_scene(STATIC)
    for k, v in flatten_state(state2).items():
        np.testing.assert_array_equal(v, flatten_state(start)[k], err_msg=k)
    assert int(np.argmax(obs2)) == 0


def test_truncation_at_max_timesteps():
    env = scripted_env([0] * 3, [0] * 3, [1.0] * 3, auto_reset=False)
    steps = run(env, 3, EnvParams(max_timesteps=2))
    assert [s[1] for s in steps] == [False, True, True]
    assert [s[0] for s in steps] == [0.0, 0.0, 0.0]  # time-outs give no terminal reward
    assert float(steps[1][4].last_distance) == -1.0


def test_nan_anywhere_ends_the_episode():
    env = scripted_env([0] * 3, [0] * 3, [1.0] * 3, nan=[0, 1, 0], auto_reset=False)
    r, d, *_ = run(env, 1)[0]
    assert d and r == 0.0


def test_reset_uses_override_or_reset_fn_with_split_key():
    def reset_fn(rng):
        s = scripted_scene(STATIC)
        return s.replace(last_distance=jax.random.uniform(rng))

    env = scripted_env([0], [0], [1.0], reset_fn=reset_fn)
    _, state = env.reset(KEY)
    assert float(state.last_distance) == float(jax.random.uniform(jax.random.split(KEY)[1]))
    other = scripted_scene(STATIC).replace(timestep=jnp.asarray(5, jnp.int32))
    _, state = env.reset(KEY, EnvParams(), other)
    assert int(state.timestep) == 5
    with pytest.raises(ValueError, match="no reset function"):
        scripted_env([0], [0], [1.0]).reset(KEY)


def test_action_reaches_the_engine():
    env = scripted_env([0], [0], [1.0], auto_reset=False)
    s = scripted_scene(STATIC).replace(motor_bindings=jnp.array([1], jnp.int32))
    state = run(env, 1, action=jnp.array([0.0, 0.5, 0, 0, 0.25, 0]), start=s)[0][4]
    # command [motor0 <- ch1 = 0.5, thruster0 <- ch0 = 0.25] summed per substep, three substeps.
    np.testing.assert_allclose(float(state.circle.angular_velocity[0]), 3 * 0.75)


def test_env_identity_for_jit():
    a = scripted_env([0], [0], [1.0])
    b = scripted_env([0], [0], [1.0])
    assert a == b and hash(a) == hash(b)
    assert a != scripted_env([0], [0], [1.0], auto_reset=False)
    assert a != scripted_env([1], [0], [1.0])  # engine hash_key differs


def test_vmapped_step():
    env = scripted_env([0, 1, 0], [0, 0, 0], [3.0, 2.0, 1.0])
    start = scripted_scene(STATIC)
    states = jax.tree.map(lambda x: jnp.stack([x, x]), start)
    keys = jax.random.split(KEY, 2)
    _, _, r, d, info = jax.vmap(env.step, in_axes=(0, 0, 0, None, None))(
        keys, states, jnp.zeros((2, 6)), EnvParams(), start
    )
    np.testing.assert_array_equal(np.asarray(d), [True, True])


def test_make_kinetix_env_resolution(monkeypatch):
    from kinetix.environment import observations

    monkeypatch.setattr(observations.metadata, "entry_points", lambda group: [])
    env = make_kinetix_env(
        ActionType.DISCRETE, ObservationType.BLIND, None, static_env_params=STATIC
    )
    assert env.action_space().n == 11 and env.auto_reset
    assert env.observation_space().shape == (257,)
    env2 = make_kinetix_env(
        "multi_discrete", "blind", None, static_env_params=STATIC, auto_reset=False
    )
    assert env2.action_space().shape == (6,) and not env2.auto_reset
    assert make_kinetix_env("continuous", "blind", None).static_env_params.num_polygons == 12
    for missing in (ObservationType.PIXELS, "symbolic_entity"):
        with pytest.raises(KeyError, match="pip install kinetix-render"):
            make_kinetix_env(ActionType.CONTINUOUS, missing, None, static_env_params=STATIC)
    with pytest.raises(ValueError, match="unknown action type"):
        make_kinetix_env("joystick", "blind", None)
    custom = make_kinetix_env("continuous", BlindObservations, None, static_env_params=STATIC)
    assert isinstance(custom.observation_type, BlindObservations)


def test_physics_numerics_is_plumbed_to_the_engine():
    def env(**kw):
        return make_kinetix_env("continuous", "blind", None, static_env_params=STATIC, **kw)

    exact, fast = env(), env(physics_numerics="fast")
    assert exact.physics_engine.numerics == "exact" and fast.physics_engine.numerics == "fast"
    assert exact != fast and hash(exact) != hash(fast)  # separate jit traces
    assert fast == env(physics_numerics="fast")
    with pytest.raises(ValueError, match="numerics must be one of.*'approx'"):
        env(physics_numerics="approx")
    # Same model: one env step (three substeps) agrees to float32 rounding.
    start = scripted_scene(STATIC)
    action = jnp.array([0.0, 0.5, 0, 0, 0.25, 0])
    out = [jax.jit(e.step)(KEY, start, action, EnvParams(), start)[1] for e in (exact, fast)]
    for a, b in zip(flatten_state(out[0]).values(), flatten_state(out[1]).values()):
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-5, atol=1e-5)


def test_dummy_env():
    env = make_kinetix_env(
        "continuous",
        "blind",
        lambda rng: scripted_scene(STATIC),
        static_env_params=STATIC,
        create_dummy_env=True,
    )
    assert isinstance(env, KinetixDummyEnv)
    _, state = env.reset(KEY)
    assert int(state.polygon_shape_roles[4]) == 0  # the dummy resets to the empty env
    obs, state2, r, d, info = env.step(KEY, state, jnp.zeros(6))
    assert float(r) == 0.0 and not bool(d) and float(info["distance"]) == 0.0
    assert int(state2.timestep) == 0


# ----------------------------------------------------------------------------- golden rollouts


def _as_continuous(kind, actions):
    """Raw actions of any type to the equivalent per-binding continuous actions."""
    if kind == "continuous":
        return jnp.asarray(actions)
    fn = _discrete_to_bindings if kind == "discrete" else _multi_discrete_to_bindings
    return jax.vmap(lambda a: fn(a, STATIC_S))(jnp.asarray(actions))


STATIC_S = static_env_params_from_size("s")
SLOW = pytest.mark.slow
ROLLOUTS = [
    ("s/h6_unicycle_right", "multi_discrete"),
    ("s/h0_weak_thrust", "continuous"),
    ("s/h5_rotate_fall", "discrete"),
    pytest.param("m/h7_car_flip", "multi_discrete", marks=SLOW),
    pytest.param("l/hard_pinball", "continuous", marks=SLOW),
]
_ENVS = {}


def _golden_env(static, kind):
    # One env per size (continuous actions, override reset) so the s rollouts share a compile;
    # the other action types are replayed through their exact per-binding equivalents, and the
    # real action classes are checked against that mapping in test_actions.py. The m/l rollouts
    # use their own action class.
    size_key = (static, "continuous" if static == STATIC_S else kind)
    if size_key not in _ENVS:
        _ENVS[size_key] = make_kinetix_env(size_key[1], "blind", None, EnvParams(), static)
    return _ENVS[size_key]


@pytest.mark.parametrize("level, kind", ROLLOUTS)
def test_rollout_matches_reference(level, kind):
    ref = golden(f"env_{level.replace('/', '_')}_{kind}")
    start, static, _ = load_from_json_file(LEVELS_DIR / f"{level}.json")
    overrides = {k.split("/", 1)[1]: v.item() for k, v in ref.items() if k.startswith("override/")}
    params = EnvParams().replace(**overrides)
    env = _golden_env(static, kind)
    actions = ref["actions"]
    if env.action_type.__class__ is ContinuousActions:
        actions = _as_continuous(kind, actions)
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params, start)
    steps = set(ref["state_steps"].tolist())
    for t in range(len(actions)):
        key, step_key = jax.random.split(key)
        obs, state, r, d, info = env.step(step_key, state, jnp.asarray(actions[t]), params, start)
        where = f"{level} step {t + 1}"
        assert bool(d) == bool(ref["done"][t]), where
        assert bool(info["GoalR"]) == bool(ref["goal"][t]), where
        np.testing.assert_allclose(float(r), ref["reward"][t], atol=2e-5, err_msg=where)
        np.testing.assert_allclose(
            float(info["distance"]), ref["distance"][t], rtol=1e-5, atol=1e-5, err_msg=where
        )
        assert int(state.timestep) == ref["timestep"][t], where
        np.testing.assert_allclose(
            float(state.last_distance), ref["last_distance"][t], rtol=1e-5, atol=1e-5, err_msg=where
        )
        if t + 1 in steps:
            prefix = f"state_{t + 1}/"
            for name, a in flatten_state(state).items():
                b = ref[prefix + name]
                assert a.dtype == b.dtype and a.shape == b.shape, f"{where} {name}"
                if np.issubdtype(a.dtype, np.floating):
                    np.testing.assert_allclose(
                        a, b, atol=1e-4, rtol=1e-4, err_msg=f"{where} {name}"
                    )
                else:
                    np.testing.assert_array_equal(a, b, err_msg=f"{where} {name}")
    # Blind observations use the env's own params (default max_timesteps).
    assert obs.shape == (EnvParams().max_timesteps + 1,)


def test_golden_fixture_sanity():
    ref = golden("env_s_h6_unicycle_right_multi_discrete")
    # The reference solves h6 at step 64 with reward 1 + shaping, then auto-resets.
    assert ref["done"].tolist().index(True) == 63 and ref["goal"][63]
    np.testing.assert_allclose(ref["reward"][63], 1.0001, atol=1e-4)
    assert ref["timestep"][63] == 0 and ref["last_distance"][63] == -1
