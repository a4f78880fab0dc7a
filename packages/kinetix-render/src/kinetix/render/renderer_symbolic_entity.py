"""Symbolic-entity observations: per-entity feature rows, masks and attention masks.

This is the input of permutation-invariant (transformer) policies: unlike the flat observation
its rows can be consumed whatever the static sizes. Layout of the reference
(``kinetix-env==3.0.2``); see :class:`EntityObservation`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2d import pytree_dataclass
from jax2d.engine import calculate_collision_matrix, get_pairwise_interaction_indices
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.environment.utils import create_empty_env
from kinetix.render.batching import vmap_leading_dims
from kinetix.render.inverse_renderer_common import (
    features_to_joint,
    features_to_rigidbody,
    features_to_thruster,
)
from kinetix.render.renderer_symbolic_common import (
    make_circle_features,
    make_joint_features,
    make_polygon_features,
    make_thruster_features,
)

__all__ = [
    "EntityObservation",
    "make_render_entities",
    "make_inverse_render_entity",
    "ENTITY_FIELDS",
]

#: Attention-mask channels, in order.
ATTENTION_CHANNELS = ("all_active_pairs", "same_joint_group", "joint_neighbours", "contacts")


@pytree_dataclass
class EntityObservation:
    """One symbolic-entity observation (``N = P + C`` shapes; leading batch dims allowed).

    Attributes:
        circles: ``(C, 19)`` circle rows (18 features + gravity_y / 10).
        polygons: ``(P, 27)`` polygon rows of every slot, arena included (26 + gravity_y / 10).
        joints: ``(2J, 22)`` joint rows: b->a direction for every joint, then a->b.
        thrusters: ``(T, 8)`` thruster rows.
        circle_mask, polygon_mask: ``(C,)`` / ``(P,)`` bool, the shapes' ``active`` flags.
        joint_mask: ``(2J,)`` bool, each joint's ``active`` for both directions.
        thruster_mask: ``(T,)`` bool.
        attention_mask: ``(4, N, N)`` bool over unified shape indices (polygons, then circles),
            each channel restricted to active rows and columns: 0 every pair; 1 pairs in the same
            joint-connected group (``~collision_matrix``); 2 joint neighbours ``[from, to]``
            (``[0, 0]`` False); 3 contacts of the accumulated manifolds in the state
            (``[i, j]`` for polygon pairs ``i < j``, ``[P + c, p]``, ``[P + c1, P + c2]``).
            ``None`` when the renderer was built with ``ignore_attention_mask=True``.
        joint_indexes: ``(2J, 2)`` int32 (from, to) shape index of each joint row, ``(0, 0)``
            for inactive joints.
        thruster_indexes: ``(T,)`` int32 parent shape of each thruster.

    Fields can also be read as ``obs["polygons"]`` so ``spaces.Dict.contains`` accepts it.
    """

    circles: jnp.ndarray
    polygons: jnp.ndarray
    joints: jnp.ndarray
    thrusters: jnp.ndarray

    circle_mask: jnp.ndarray
    polygon_mask: jnp.ndarray
    joint_mask: jnp.ndarray
    thruster_mask: jnp.ndarray
    attention_mask: jnp.ndarray | None

    joint_indexes: jnp.ndarray
    thruster_indexes: jnp.ndarray

    def __getitem__(self, name: str) -> Any:
        if name not in ENTITY_FIELDS:
            raise KeyError(f"EntityObservation has no field {name!r}; fields: {ENTITY_FIELDS}")
        return getattr(self, name)


ENTITY_FIELDS = (
    "circles",
    "polygons",
    "joints",
    "thrusters",
    "circle_mask",
    "polygon_mask",
    "joint_mask",
    "thruster_mask",
    "attention_mask",
    "joint_indexes",
    "thruster_indexes",
)


def _contact_cells(pairs: tuple[Any, Any, Any], n: int) -> np.ndarray:
    """``(N, N)`` int32: for each cell, the index of the manifold (rr, then cr, then cc) that
    writes it, or the index one past the last (a constant ``False``) for cells none writes."""
    cells = np.full((n, n), sum(len(idx) for idx in pairs), dtype=np.int32)
    offset = 0
    for idx in pairs:
        idx = np.asarray(idx).reshape(-1, 2)
        cells[idx[:, 0], idx[:, 1]] = offset + np.arange(len(idx))
        offset += len(idx)
    return cells


def _attention_mask(
    state: EnvState, active: jnp.ndarray, joint_indexes: jnp.ndarray, contact_cells: np.ndarray
) -> jnp.ndarray:
    """``(4, N, N)`` bool attention channels (see :class:`EntityObservation`).

    Built with broadcasts and one constant-index gather rather than scatters: XLA:CPU runs each
    (vmapped) scatter as its own slow kernel.
    """
    n = active.shape[0]
    cells = jnp.arange(n)
    # Scatter semantics: negative indices wrap once, out-of-range ones write nothing.
    idx = jnp.where(joint_indexes < 0, joint_indexes + n, joint_indexes)
    hits = (idx[:, 0, None, None] == cells[:, None]) & (idx[:, 1, None, None] == cells[None, :])
    not_origin = np.ones((n, n), dtype=bool)
    not_origin[0, 0] = False  # inactive joints point at (0, 0)
    neighbours = jnp.any(hits, axis=0) & not_origin

    rr_active = state.acc_rr_manifolds.active[..., 0] | state.acc_rr_manifolds.active[..., 1]
    manifold_active = jnp.concatenate(
        [
            rr_active.reshape(-1),
            state.acc_cr_manifolds.active.reshape(-1),
            state.acc_cc_manifolds.active.reshape(-1),
            jnp.zeros((1,), dtype=bool),
        ]
    )
    contacts = manifold_active[contact_cells]

    channels = jnp.stack(
        [
            jnp.ones((n, n), dtype=bool),
            jnp.logical_not(state.collision_matrix),
            neighbours,
            contacts,
        ],
        axis=0,
    )
    return channels & (active[:, None] & active[None, :])[None]


def make_render_entities(
    env_params: EnvParams,
    static_params: StaticEnvParams,
    ignore_attention_mask: bool = False,
) -> Callable[[EnvState], EntityObservation]:
    """Build the symbolic-entity renderer (the reference's ``make_render_entities``).

    Every float leaf of the state goes through ``nan_to_num`` first; nothing is clipped.

    Args:
        env_params: environment parameters (``num_shape_roles`` sets the role one-hot width).
        static_params: static sizes the states have.
        ignore_attention_mask: leave ``attention_mask`` as ``None`` (cheaper).

    Returns:
        ``render(state) -> EntityObservation``; ``state`` may carry any leading batch
        dimensions (``(B, T, ...)``), kept in front of every field. jit- and vmap-able.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> obs = make_render_entities(EnvParams(), static)(create_empty_env(static))
        >>> obs.polygons.shape, obs.attention_mask.shape, obs.polygon_mask.tolist()
        ((5, 27), (4, 7, 7), [True, True, True, True, False])
    """
    p = static_params.num_polygons
    *_, cc, cr, rr = get_pairwise_interaction_indices(static_params)
    # Unified shape indices: circles come after the P polygons.
    cr = np.array(cr, copy=True)
    cr[:, 0] += p
    contact_cells = _contact_cells(
        (np.asarray(rr), cr, np.asarray(cc) + p), p + static_params.num_circles
    )

    def render_entities(state: EnvState) -> EntityObservation:
        state = jax.tree.map(jnp.nan_to_num, state)
        joints, joint_indexes, joint_mask = make_joint_features(state, env_params, static_params)
        thrusters, thruster_indexes, thruster_mask = make_thruster_features(
            state, env_params, static_params
        )
        polygons, polygon_mask = make_polygon_features(state, env_params, static_params)
        circles, circle_mask = make_circle_features(state, env_params, static_params)

        def with_gravity(rows: jnp.ndarray) -> jnp.ndarray:
            g = jnp.zeros((rows.shape[0], 1)) + state.gravity[1] / 10
            return jnp.concatenate([rows, g], axis=-1)

        attention = None
        if not ignore_attention_mask:
            active = jnp.concatenate([polygon_mask, circle_mask], axis=0)
            attention = _attention_mask(state, active, joint_indexes, contact_cells)
        return EntityObservation(
            circles=with_gravity(circles),
            polygons=with_gravity(polygons),
            joints=joints,
            thrusters=thrusters,
            circle_mask=circle_mask,
            polygon_mask=polygon_mask,
            joint_mask=joint_mask,
            thruster_mask=thruster_mask,
            attention_mask=attention,
            joint_indexes=joint_indexes,
            thruster_indexes=thruster_indexes,
        )

    return vmap_leading_dims(render_entities, static_params)


def make_inverse_render_entity(
    env_state: EnvState | None, env_params: EnvParams, static_env_params: StaticEnvParams
) -> Callable[[EntityObservation], EnvState]:
    """Build ``EntityObservation -> EnvState``, the inverse of :func:`make_render_entities`.

    Exact for geometry, actives (taken from the masks) and joint/thruster topology (from
    ``joint_indexes``/``thruster_indexes``); angular velocities go through ``atanh(tanh(.))``;
    joint limits of joints without ``motor_has_joint_limits`` come back as 0. Gravity,
    manifolds, timestep and the bookkeeping fields take the empty arena's values; arena slots
    get collision mode 2; the collision matrix is recomputed from the joints.

    Args:
        env_state: unused (the reference takes a dummy state for the shapes); may be None.
        env_params: environment parameters the observation was rendered with.
        static_env_params: static sizes the observation was rendered with.

    Returns:
        ``inverse(obs)`` for one observation or a batch (leading dims on every field).

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> obs = make_render_entities(EnvParams(), static)(create_empty_env(static))
        >>> make_inverse_render_entity(None, EnvParams(), static)(obs).polygon.active.tolist()
        [True, True, True, True, False]
    """
    s = static_env_params
    n = s.num_polygons + s.num_circles

    def inverse_one(obs: EntityObservation) -> EnvState:
        empty = create_empty_env(s)
        polygon, polygon_roles, polygon_densities = features_to_rigidbody(
            env_params, s, obs.polygons, s.num_polygons, is_circle=False
        )
        polygon = polygon.replace(
            active=obs.polygon_mask,
            collision_mode=polygon.collision_mode.at[: s.num_static_fixated_polys].set(2),
        )
        circle, circle_roles, circle_densities = features_to_rigidbody(
            env_params, s, obs.circles, s.num_circles, is_circle=True
        )
        state = empty.replace(
            polygon=polygon,
            circle=circle.replace(active=obs.circle_mask),
            polygon_shape_roles=polygon_roles,
            circle_shape_roles=circle_roles,
            polygon_densities=polygon_densities,
            circle_densities=circle_densities,
        )
        j = s.num_joints  # the b -> a rows
        joint, motor_bindings = features_to_joint(
            s, state, obs.joints[:j], n, joint_idxs_override=obs.joint_indexes[:j]
        )
        joint = joint.replace(active=obs.joint_mask[:j])
        thruster, thruster_bindings = features_to_thruster(
            s, state, obs.thrusters, n, thruster_idxs_override=obs.thruster_indexes
        )
        thruster = thruster.replace(active=obs.thruster_mask, object_index=obs.thruster_indexes)
        return state.replace(
            joint=joint,
            thruster=thruster,
            motor_bindings=motor_bindings,
            thruster_bindings=thruster_bindings,
            collision_matrix=calculate_collision_matrix(s, joint),
        )

    def inverse(obs: EntityObservation) -> EnvState:
        lead = obs.polygons.shape[:-2]
        if obs.polygons.shape[-2] != s.num_polygons or obs.circles.shape[-2] != s.num_circles:
            raise ValueError(
                f"entity observation has polygons {tuple(obs.polygons.shape)} and circles "
                f"{tuple(obs.circles.shape)}; expected (..., {s.num_polygons}, K) and "
                f"(..., {s.num_circles}, K) for these static sizes"
            )
        fn = inverse_one
        for _ in lead:
            fn = jax.vmap(fn)
        return fn(obs.replace(attention_mask=None))

    return inverse
