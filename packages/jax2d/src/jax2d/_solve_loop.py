"""The velocity solver's iterations: every joint in slot order, then every contact batch (§2.8).

During the solve the bodies are two small matrices, ``V (NB, 3) = (vx, vy, w)`` and
``P (NB, 2)``. Contacts have fixed body indices (the pair tables), so a batch reads its bodies by
constant indices and adds its impulses as an unrolled chain of adds per body, in exactly the
order the reference's scatter-add applies them (first bodies in lane order, then second bodies).
Under ``vmap`` that is elementwise work along the batch axis that XLA fuses; the gathers and
scatter-adds it replaces run one element at a time on XLA:CPU and were most of each iteration's
cost. Families far larger than one Jacobi batch are solved as the reference's padded rows instead
(a ``lax.scan`` over rows whose lanes gather and scatter at run-time body indices), see
:mod:`jax2d._contact_plan`. Joints have per-state body indices and keep a ``lax.scan`` with
gathers and scatter-adds (select chains over the bodies measured slower at size l).

Rows are mostly inactive lanes: the reference's "inactive first" order leaves a row's touching
contacts in its last lanes, and in sampled size-l levels every applying contact sits in the top
2-5 of 16. When no environment of the batch has an applying contact below the top 4 (or 8)
lanes, the rows are solved on those lanes only, by a ``lax.switch`` whose index is reduced over
the batch (:func:`jax2d._batch_reduce.batch_max`), so the cheap branch is really taken under
``vmap``. The skipped lanes would add exact zeros and store zero impulses, so every tier computes
the same numbers; only XLA's FMA contraction of the narrower program can differ in the last bit.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jax2d._batch_reduce import batch_max
from jax2d._bodies import Bodies, add_at_constant, take_at_constant
from jax2d._contact_plan import ContactFamily, ContactPlan, RowGroup
from jax2d._packed import packed_take
from jax2d._vector_ops import EXACT, VectorOps
from jax2d.sim_state import Joint
from jax2d.solver import ContactSet, contact_impulses, joint_constants, joint_impulses

# Lane counts a row can be solved on instead of all ``solver_batch_size`` lanes (see ``rows``).
_TOP_LANE_TIERS = (4, 8)


def lanes_needed(applies):
    """How many top lanes of the rows hold every applying contact: ``BS - lowest such lane``.

    The stable "inactive first" order puts a row's active contacts in its top lanes, so a few
    contacts touching need only the last few lanes. ``applies`` is ``(R, BS)``; 0 if none apply.
    """
    bs = applies.shape[-1]
    lowest = jnp.min(jnp.where(applies, jnp.arange(bs), bs))
    return bs - lowest


def _scatter_add(v, idx, d):
    """``v.at[idx].add(d)`` for ``v = (vx, vy, w)``, velocity and spin scattered separately.

    One scatter of 3-wide rows measured slower on XLA:CPU than a 2-wide and a 1-wide one.
    """
    return _with_w(v[:, :2].at[idx].add(d[:, :2]), v[:, 2].at[idx].add(d[:, 2]))


def _with_w(v, w):
    return jnp.concatenate([v, w[..., None]], -1)


def _prepare(g: ContactFamily | RowGroup, cs: ContactSet, act, acc_n, acc_t):
    """A segment's contacts and accumulators in its solve layout, plus its batch data."""
    sl = slice(g.start, g.start + g.size)
    c = jax.tree_util.tree_map(lambda x: x[sl], cs)
    an, at = acc_n[sl], acc_t[sl]
    if isinstance(g, ContactFamily):
        return g, c, g.batch_ids(act[sl]), an, at
    slots, where = g.layout(act[sl])
    c, an, at = packed_take((c, an, at), jnp.maximum(slots, 0))
    c = c._replace(applies=c.applies & (slots >= 0))
    first, later = g.reset_masks(slots)
    # One count for the whole batch, so that the row solve's branch is really taken under vmap.
    need = batch_max(lanes_needed(c.applies))
    return g, c, (first, later, where, need), an, at


def solve_velocities(
    b: Bodies,
    joint: Joint,
    arms,
    plan: ContactPlan,
    cs: ContactSet,
    act,
    acc_n,
    acc_t,
    iterations: int,
    params,
    ops: VectorOps = EXACT,
):
    """``iterations`` rounds of: every joint in slot order, then every contact batch in order.

    Args:
        b: the bodies after warm starting; joint, arms: the joints and their world anchors.
        plan, cs: the contact families and all contacts' constants (concatenated, ``(N, ...)``).
        act: ``(N,)`` activity flags that define the Jacobi batches.
        acc_n, acc_t: ``(N,)`` accumulated impulses from the warm start.
        ops: the engine's vector products (:mod:`jax2d._vector_ops`).

    Returns:
        ``(bodies, joint_global_position, joint_acc_impulse, joint_acc_r_impulse, acc_n, acc_t)``.
    """
    nj = joint.active.shape[0]
    jk = joint_constants(b, joint)
    segs = [_prepare(g, cs, act, acc_n, acc_t) for g in plan.segments]

    def joint_step(vp, x):
        v, p = vp
        jt, kj, r_a, r_b, acc, acc_r = x
        ga, gb = jt.a_index, jt.b_index
        va, vb = v[ga], v[gb]
        pa, pb = p[ga], p[gb]
        (dva, dwa, dpa), (dvb, dwb, dpb), gp, acc, acc_r = joint_impulses(
            pa, pb, va[:2], vb[:2], va[2], vb[2], kj, jt, r_a, r_b, acc, acc_r, params, ops
        )
        v = _scatter_add(v, jnp.stack([ga, gb]), jnp.stack([_with_w(dva, dwa), _with_w(dvb, dwb)]))
        p = p.at[jnp.stack([ga, gb])].add(jnp.stack([dpa, dpb]))
        return (v, p), (gp, acc, acc_r)

    def joints(v, p, gp, acc, acc_r):
        (v, p), (gp, acc, acc_r) = jax.lax.scan(joint_step, (v, p), (joint, jk, *arms, acc, acc_r))
        return v, p, gp, acc, acc_r

    def impulses(v, p, c, an, at, ga, gb, take):
        va, vb = take(v, ga), take(v, gb)
        pa, pb = take(p, ga), take(p, gb)
        dva, dwa, dvb, dwb, new_n, new_t = contact_impulses(
            pa, pb, va[..., :2], vb[..., :2], va[..., 2], vb[..., 2], c, an, at, params, ops
        )
        return jnp.concatenate([_with_w(dva, dwa), _with_w(dvb, dwb)]), new_n, new_t

    def family(v, p, f: ContactFamily, c, bid, an, at):
        for r in range(f.num_batches):
            mask = None if bid is None else bid == r
            cr = c if mask is None else c._replace(applies=c.applies & mask)
            d, new_n, new_t = impulses(v, p, cr, an, at, f.ga, f.gb, take_at_constant)
            if mask is not None:
                # Contacts of other batches are not solved here: they keep their accumulators.
                new_n, new_t = jnp.where(mask, new_n, an), jnp.where(mask, new_t, at)
            v = add_at_constant(v, np.concatenate([f.ga, f.gb]), d)
            an, at = new_n, new_t
            if f.padded[r]:
                # The padding lanes alias the family's last contact and store zeros. (A select
                # with a constant mask fuses with the update; ``.at[-1].set`` is its own kernel.)
                last = np.arange(f.size) == f.size - 1
                an, at = jnp.where(last, 0.0, an), jnp.where(last, 0.0, at)
        return v, an, at

    def row_scan(v, p, c, an, at, reset):
        def row(v, x):
            c, an, at, reset = x
            an, at = jnp.where(reset, 0.0, an), jnp.where(reset, 0.0, at)
            ga, gb = c.ga.astype(jnp.int32), c.gb.astype(jnp.int32)
            d, an, at = impulses(v, p, c, an, at, ga, gb, lambda x, i: x[i])
            return _scatter_add(v, jnp.concatenate([ga, gb]), d), (an, at)

        v, (an, at) = jax.lax.scan(row, v, (c, an, at, reset))
        return v, an, at

    def rows(v, p, c, an, at, reset, need):
        bs = c.ga.shape[-1]
        tiers = [k for k in _TOP_LANE_TIERS if k < bs]
        if not tiers:
            return row_scan(v, p, c, an, at, reset)

        def top(k):
            def solve(v, p, c, an, at, reset):
                # No lane below the top k holds an applying contact in any environment of the
                # batch: those lanes add exact zeros and the solve stores 0 as their impulses.
                win = jax.tree_util.tree_map(lambda x: x[:, bs - k :], (c, an, at, reset))
                v, wn, wt = row_scan(v, p, *win)
                zeros = jnp.zeros(an.shape[:-1] + (bs - k,), an.dtype)
                return v, jnp.concatenate([zeros, wn], -1), jnp.concatenate([zeros, wt], -1)

            return solve

        branch = sum((need > k).astype(jnp.int32) for k in tiers)
        return jax.lax.switch(branch, [top(k) for k in tiers] + [row_scan], v, p, c, an, at, reset)

    def iteration(i, carry):
        v, p, gp, acc, acc_r, an, at = carry
        an, at = list(an), list(at)
        if nj:
            v, p, gp, acc, acc_r = joints(v, p, gp, acc, acc_r)
        for k, (g, c, extra, _, _) in enumerate(segs):
            if isinstance(g, ContactFamily):
                v, an[k], at[k] = family(v, p, g, c, extra, an[k], at[k])
            else:
                first, later, _, need = extra
                reset = jnp.where(i == 0, first, later)
                v, an[k], at[k] = rows(v, p, c, an[k], at[k], reset, need)
        return v, p, gp, acc, acc_r, tuple(an), tuple(at)

    carry = (
        _with_w(b.velocity, b.angular_velocity), b.position, joint.global_position,
        joint.acc_impulse, joint.acc_r_impulse,
        tuple(s[3] for s in segs), tuple(s[4] for s in segs),
    )  # fmt: skip
    v, p, gp, acc, acc_r, an, at = jax.lax.fori_loop(0, iterations, iteration, carry)
    b = b._replace(velocity=v[:, :2], angular_velocity=v[:, 2], position=p)
    if segs:
        flat_n, flat_t = [], []
        for (g, _c, extra, _, _), sn, st in zip(segs, an, at):
            if isinstance(g, RowGroup):
                where = extra[2]
                sn, st = sn.reshape(-1)[where], st.reshape(-1)[where]
                if g.reset_at_end.size and iterations:
                    # Each padded family's last row aliases its last contact: stored as 0.
                    sn, st = sn.at[g.reset_at_end].set(0.0), st.at[g.reset_at_end].set(0.0)
            flat_n.append(sn)
            flat_t.append(st)
        acc_n, acc_t = jnp.concatenate(flat_n), jnp.concatenate(flat_t)
    return b, gp, acc, acc_r, acc_n, acc_t


__all__ = ["solve_velocities"]
