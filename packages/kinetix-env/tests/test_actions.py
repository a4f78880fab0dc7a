import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kinetix.environment import (
    ActionType,
    ContinuousActions,
    DiscreteActions,
    EnvParams,
    MultiDiscreteActions,
    StaticEnvParams,
    create_empty_env,
    get_valid_action_mask,
    valid_binding_mask,
)
from kinetix.environment.actions import action_class

# 3 joints, 2 thrusters, NMB=4, NTB=2: engine command = [m0, m1, m2, t0, t1].
STATIC = StaticEnvParams(num_polygons=5, num_circles=2, num_joints=3, num_thrusters=2, frame_skip=2)
PARAMS = EnvParams()


@pytest.fixture(scope="module")
def state():
    s = create_empty_env(STATIC)
    return s.replace(
        motor_bindings=jnp.array([0, 3, 0], jnp.int32),
        thruster_bindings=jnp.array([1, 0], jnp.int32),
        joint=s.joint.replace(
            active=jnp.array([True, True, False]), is_fixed_joint=jnp.array([False, True, False])
        ),
        thruster=s.thruster.replace(active=jnp.array([True, False])),
    )


def test_action_type_from_string():
    assert ActionType.from_string("continuous") is ActionType.CONTINUOUS
    assert ActionType.from_string("discrete") is ActionType.DISCRETE
    assert ActionType.from_string("multi_discrete") is ActionType.MULTI_DISCRETE
    with pytest.raises(ValueError, match="unknown action type"):
        ActionType.from_string("box")
    assert action_class("discrete") is DiscreteActions


def test_continuous_clips_and_expands(state):
    a = ContinuousActions(PARAMS, STATIC)
    cmd = a.process_action(jnp.array([2.0, 0.3, 0.0, -0.5, -0.7, 1.5]), state, STATIC)
    # motors: joint0 <- ch0 (clip 2 -> 1), joint1 <- ch3, joint2 <- ch0; thruster channels are
    # [-0.7, 1.5]: t0 <- ch1 (1.5 -> 1), t1 <- ch0 (-0.7 -> 0).
    np.testing.assert_allclose(np.asarray(cmd), [1.0, -0.5, 1.0, 1.0, 0.0])
    assert cmd.dtype == jnp.float32


def test_motor_auto_forces_plus_one(state):
    s = state.replace(motor_auto=jnp.array([False, True, False]))
    a = ContinuousActions(PARAMS, STATIC)
    cmd = a.process_action(jnp.array([-1.0, 0, 0, -1.0, 0, 0]), s, STATIC)
    np.testing.assert_allclose(np.asarray(cmd), [-1.0, 1.0, -1.0, 0.0, 0.0])
    d = DiscreteActions(PARAMS, STATIC)
    np.testing.assert_allclose(np.asarray(d.process_action(8, s, STATIC)), [0, 1, 0, 0, 0])


@pytest.mark.parametrize(
    "action, per_binding",
    [
        (0, [-1, 0, 0, 0, 0, 0]),
        (1, [1, 0, 0, 0, 0, 0]),
        (6, [0, 0, 0, -1, 0, 0]),
        (7, [0, 0, 0, 1, 0, 0]),
        (8, [0, 0, 0, 0, 0, 0]),
        (9, [0, 0, 0, 0, 1, 0]),
        (10, [0, 0, 0, 0, 0, 1]),
    ],
)
def test_discrete_table(state, action, per_binding):
    d = DiscreteActions(PARAMS, STATIC)
    c = ContinuousActions(PARAMS, STATIC)
    got = d.process_action(jnp.asarray(action), state, STATIC)
    want = c.process_action(jnp.asarray(per_binding, jnp.float32), state, STATIC)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


@pytest.mark.parametrize(
    "action, per_binding",
    [
        ([1, 0, 0, 2, 1, 0], [1, 0, 0, -1, 1, 0]),
        ([2, 0, 0, 0, 0, 1], [-1, 0, 0, 0, 0, 1]),
        ([0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]),
    ],
)
def test_multi_discrete_codes(state, action, per_binding):
    md = MultiDiscreteActions(PARAMS, STATIC)
    c = ContinuousActions(PARAMS, STATIC)
    got = md.process_action(jnp.asarray(action, jnp.int32), state, STATIC)
    want = c.process_action(jnp.asarray(per_binding, jnp.float32), state, STATIC)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_spaces_noop_and_random():
    c, d, md = (
        cls(PARAMS, STATIC) for cls in (ContinuousActions, DiscreteActions, MultiDiscreteActions)
    )
    assert c.action_space().shape == (6,)
    assert d.action_space().n == 11 and d.noop_action() == 8
    sp = md.action_space()
    assert sp.n == 16 and sp.shape == (6,)
    np.testing.assert_array_equal(
        np.asarray(sp.number_of_dims_per_distribution), [3, 3, 3, 3, 2, 2]
    )
    assert c.noop_action().dtype == jnp.float32 and md.noop_action().dtype == jnp.int32
    keys = jax.random.split(jax.random.PRNGKey(0), 64)
    rc = jax.vmap(c.random_action)(keys)
    assert float(rc[:, 4:].min()) >= 0 and float(rc[:, :4].min()) < 0
    assert bool(jnp.all(jax.vmap(c.action_space().contains)(rc)))
    rd = jax.vmap(d.random_action)(keys)
    assert int(rd.min()) >= 0 and int(rd.max()) < 11
    rmd = jax.vmap(md.random_action)(keys)
    assert bool(jnp.all(jax.vmap(sp.contains)(rmd)))


def test_valid_action_masks(state):
    # ch0: joint0 active, not fixed -> valid; ch3: joint1 is fixed -> invalid; joint2 inactive.
    # thruster ch1: thruster0 active -> valid; ch0: thruster1 inactive -> invalid.
    want = [True, False, False, False, False, True]
    np.testing.assert_array_equal(np.asarray(valid_binding_mask(state, STATIC)), want)
    np.testing.assert_array_equal(
        np.asarray(MultiDiscreteActions(PARAMS, STATIC).valid_action_mask(state)), want
    )
    np.testing.assert_array_equal(
        np.asarray(DiscreteActions(PARAMS, STATIC).valid_action_mask(state)),
        [True, True, False, False, False, False, False, False, True, False, True],
    )
    batch = jax.tree.map(lambda x: jnp.stack([x, x]), state)
    batch = batch.replace(
        thruster=batch.thruster.replace(active=jnp.array([[True, False], [False, True]]))
    )
    m = get_valid_action_mask(batch, STATIC, jnp.zeros((2, 6), jnp.int32))
    np.testing.assert_array_equal(np.asarray(m), [want, [True, False, False, False, True, False]])
