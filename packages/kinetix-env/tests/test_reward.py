import jax.numpy as jnp
import numpy as np

from jax2d.engine import get_pairwise_interaction_indices
from jax2d.sim_state import CollisionManifold
from kinetix.environment import create_empty_env, static_env_params_from_size
from kinetix.environment.reward import compute_reward_info

STATIC = static_env_params_from_size("m")  # P=6, C=3
_, _, _, CC, CR, RR = get_pairwise_interaction_indices(STATIC)


def manifolds(rr=(), cr=(), cc=()):
    def make(n, on):
        z = jnp.zeros(n, jnp.float32)
        act = jnp.zeros(n, bool).at[jnp.asarray(on, jnp.int32)].set(True)
        return CollisionManifold(jnp.zeros((n, 2)), z, jnp.zeros((n, 2)), act, z, z, z)

    return make(len(RR), rr), make(len(CR), cr), make(len(CC), cc)


def pair_index(pairs, a, b):
    return int(np.flatnonzero((pairs[:, 0] == a) & (pairs[:, 1] == b))[0])


def scene(poly_roles=None, circ_roles=None):
    s = create_empty_env(STATIC)
    s = s.replace(
        polygon=s.polygon.replace(
            active=jnp.ones(6, bool),
            position=s.polygon.position.at[4]
            .set(jnp.array([1.0, 1.0]))
            .at[5]
            .set(jnp.array([4.0, 5.0])),
        ),
        circle=s.circle.replace(
            active=jnp.ones(3, bool), position=jnp.array([[1.0, 4.0], [3.0, 3.0], [0.0, 0.0]])
        ),
    )
    if poly_roles is not None:
        s = s.replace(polygon_shape_roles=jnp.asarray(poly_roles, jnp.int32))
    if circ_roles is not None:
        s = s.replace(circle_shape_roles=jnp.asarray(circ_roles, jnp.int32))
    return s


def reward(state, m):
    r, info = compute_reward_info(state, m, RR, CR, CC)
    return float(r), bool(info["GoalR"]), float(info["distance"])


def test_goal_lava_and_ties():
    s = scene([0, 0, 0, 0, 1, 3], [2, 0, 0])  # poly4 green, poly5 red, circle0 blue
    goal = manifolds(cr=[pair_index(CR, 0, 4)])
    lava = manifolds(rr=[pair_index(RR, 4, 5)])
    both = manifolds(rr=[pair_index(RR, 4, 5)], cr=[pair_index(CR, 0, 4)])
    assert reward(s, goal)[:2] == (1.0, True)
    assert reward(s, lava)[:2] == (-1.0, False)
    assert reward(s, both)[:2] == (-1.0, False)
    assert reward(s, manifolds())[:2] == (0.0, False)
    # blue-red or grey contacts do not count
    assert reward(s, manifolds(cr=[pair_index(CR, 0, 5), pair_index(CR, 1, 4)]))[0] == 0.0


def test_distance_sums_green_blue_pairs():
    s = scene([0, 0, 0, 0, 1, 2], [2, 0, 0])  # green poly4 at (1,1); blue poly5 (4,5), circle0
    _, _, d = reward(s, manifolds())
    np.testing.assert_allclose(d, 5.0 + 3.0, rtol=1e-6)
    s = scene([0, 0, 0, 0, 0, 0], [1, 2, 0])  # circle0 green (1,4), circle1 blue (3,3)
    np.testing.assert_allclose(reward(s, manifolds())[2], np.sqrt(5.0), rtol=1e-6)
    s = scene([0, 0, 0, 0, 0, 0], [0, 0, 0])
    assert reward(s, manifolds())[2] == 0.0


def test_inactive_shapes_are_neutral_and_floor_can_have_a_role():
    s = scene([2, 0, 0, 0, 1, 0], [0, 0, 0])  # blue floor, green poly4
    on_floor = manifolds(rr=[pair_index(RR, 0, 4)])
    assert reward(s, on_floor)[:2] == (1.0, True)
    np.testing.assert_allclose(reward(s, on_floor)[2], np.hypot(1.5, 1.0 + 4.8), rtol=1e-6)
    s = s.replace(polygon=s.polygon.replace(active=s.polygon.active.at[4].set(False)))
    assert reward(s, on_floor) == (0.0, False, 0.0)
