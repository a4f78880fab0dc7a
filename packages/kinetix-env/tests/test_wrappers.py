import jax
import jax.numpy as jnp
import numpy as np
from conftest import ScriptedEngine, scripted_scene

from kinetix.environment import (
    BlindObservations,
    ContinuousActions,
    EnvParams,
    KinetixEnv,
    LogEnvState,
    LogWrapper,
    static_env_params_from_size,
)

STATIC = static_env_params_from_size("s")


def test_log_wrapper_accumulates_and_reports_episodes():
    params = EnvParams(dense_reward_scale=1.0)
    # distance 3 -> 2 -> 1, goal in the third step's first substep: episode of 3 steps.
    env = LogWrapper(
        KinetixEnv(
            ContinuousActions(params, STATIC),
            BlindObservations(params, STATIC),
            STATIC,
            physics_engine=ScriptedEngine(STATIC, [0, 0, 0, 0, 1, 0], [0] * 6, [3, 3, 2, 2, 1, 1]),
        )
    )
    start = scripted_scene(STATIC)
    key = jax.random.PRNGKey(0)
    _, state = env.reset(key, params, start)
    assert isinstance(state, LogEnvState) and float(state.episode_returns) == 0.0
    rewards, infos = [], []
    for _ in range(3):
        _, state, r, d, info = env.step(
            key, state, jnp.zeros(6), params, LogEnvState(start, 0.0, 0, 0.0, 0, 0)
        )
        rewards.append(float(r))
        infos.append(info)
    np.testing.assert_allclose(rewards, [0.0, 1.0, 2.0])
    last = infos[-1]
    assert bool(last["returned_episode"]) and bool(last["returned_episode_solved"])
    np.testing.assert_allclose(float(last["returned_episode_returns"]), 3.0)
    assert int(last["returned_episode_lengths"]) == 3 and int(last["timestep"]) == 3
    assert float(state.episode_returns) == 0.0 and int(state.episode_lengths) == 0
    assert not bool(infos[0]["returned_episode"])
    # Attribute access falls through to the env.
    assert env.static_env_params == STATIC
    assert hash(env) == hash(LogWrapper(env._env)) and env == LogWrapper(env._env)
