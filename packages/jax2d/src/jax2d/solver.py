"""Impulses: motors, thrusters, warm starting, and the sequential-impulse velocity solver.

Formulas, evaluation order and masking follow the reference exactly (spec §2). Masked results are
selects (``jnp.where``), never multiplications, so NaN in an unused slot never leaks into a used
one.

Contact batches: the reference re-derives the Jacobi batch partition from the manifolds'
``active`` flags with a stable argsort inside every solver call (30 sorts per step). Activity is
fixed during a step, so we build the partition once per step (without sorting) and keep each
family's per-contact data and accumulators in batch layout for the whole solve.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jax2d._bodies import Bodies
from jax2d._packed import packed_take
from jax2d.maths import dot2 as _dot
from jax2d.maths import rotate_cs as _rot
from jax2d.maths import sv_cross as _sv
from jax2d.maths import vv_cross as _cross
from jax2d.maths import zero_to_one
from jax2d.sim_state import CollisionManifold, Joint, SimParams, Thruster


def _not_both_fixed(ma, mb):
    return ~((ma == 0) & (mb == 0))


def _mask(m, x):
    return jnp.where(m.reshape(m.shape + (1,) * (x.ndim - m.ndim)), x, jnp.zeros_like(x))


# --------------------------------------------------------------------------- motors, thrusters


def apply_motors(b: Bodies, joint: Joint, u, params: SimParams) -> Bodies:
    """Motor impulses of all joints from the same state, summed (spec §2.3)."""
    ga, gb = joint.a_index, joint.b_index
    ma, mb = b.inverse_mass[ga], b.inverse_mass[gb]
    ia, ib = b.inverse_inertia[ga], b.inverse_inertia[gb]
    applies = (
        _not_both_fixed(ma, mb)
        & joint.active
        & b.active[ga]
        & b.active[gb]
        & joint.motor_on
        & (u != 0)
        & ~joint.is_fixed_joint
    )
    axial = 1.0 / zero_to_one(ia + ib)
    power = params.base_motor_power * joint.motor_power * params.dt * axial
    wa, wb = b.angular_velocity[ga], b.angular_velocity[gb]
    target = wb - wa - joint.motor_speed * u * params.base_motor_speed
    direction = jnp.tanh(target * params.motor_decay_coefficient)
    rel = b.rotation[gb] - b.rotation[ga] - joint.rotation
    clamped = jnp.clip(
        rel,
        joint.min_rotation + params.motor_joint_limit,
        joint.max_rotation - params.motor_joint_limit,
    )
    e = rel - clamped
    fade = jnp.where(
        (e == 0) | ~joint.motor_has_joint_limits,
        1.0,
        jnp.maximum(0.0, 1.0 - jnp.abs(e) / params.motor_joint_limit),
    )
    power = power * jnp.maximum(fade, jnp.where(jnp.sign(e) != jnp.sign(u), 1.0, 0.0))
    dwa = _mask(applies, power * direction * ia)
    dwb = _mask(applies, -power * direction * ib)
    return b.add(jnp.concatenate([ga, gb]), dw=jnp.concatenate([dwa, dwb]))


def apply_thrusters(b: Bodies, thruster: Thruster, u, params: SimParams) -> Bodies:
    """Thruster impulses, summed (spec §2.4). The body's ``active`` flag is not consulted."""
    g = thruster.object_index
    rot = b.rotation[g]
    arm = _rot(jnp.cos(rot), jnp.sin(rot), thruster.relative_position)
    theta = thruster.rotation + rot
    d = jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)
    f = thruster.power * thruster.active * params.base_thruster_power * u * params.dt
    dw = b.inverse_inertia[g] * _cross(arm, d) * f
    dv = b.inverse_mass[g][:, None] * d * f[:, None]
    return b.add(g, dv=dv, dw=dw)


# --------------------------------------------------------------------------- contacts


class ContactSet(NamedTuple):
    """Per-contact constants of one family for one step (flattened to ``(n,)`` lanes)."""

    ga: jnp.ndarray
    gb: jnp.ndarray
    normal: jnp.ndarray
    point: jnp.ndarray
    bias: jnp.ndarray
    target: jnp.ndarray
    mu: jnp.ndarray
    applies: jnp.ndarray
    ma: jnp.ndarray
    mb: jnp.ndarray
    ia: jnp.ndarray
    ib: jnp.ndarray


def contact_set(
    b: Bodies, friction, m: CollisionManifold, ga, gb, cm, params: SimParams
) -> ContactSet:
    """Gather everything a contact solve needs that stays constant during the step."""
    body = (b.inverse_mass, b.inverse_inertia, b.active, friction)
    ma, ia, act_a, fa = packed_take(body, ga)
    mb, ib, act_b, fb = packed_take(body, gb)
    applies = m.active & _not_both_fixed(ma, mb) & cm[ga, gb] & act_a & act_b
    bias = (-params.baumgarte_coefficient_collision / params.dt) * jnp.minimum(
        0.0, -m.penetration + params.slop
    )
    fa, fb = fa * params.base_friction, fb * params.base_friction
    mu = jnp.sqrt(fa * fa + fb * fb)
    return ContactSet(
        ga, gb, m.normal, m.collision_point, bias, m.restitution_velocity_target, mu, applies,
        ma, mb, ia, ib,
    )  # fmt: skip


def warm_start_contacts(b: Bodies, c: ContactSet, acc_n, acc_t) -> Bodies:
    """Re-apply last step's accumulated contact impulses (spec §2.5)."""
    n = c.normal
    t = jnp.stack([n[..., 1], -n[..., 0]], -1)
    j = acc_n[..., None] * n + acc_t[..., None] * t
    r1, r2 = c.point - b.position[c.ga], c.point - b.position[c.gb]
    ap = c.applies
    dva = _mask(ap, -j * c.ma[..., None])
    dvb = _mask(ap, j * c.mb[..., None])
    dwa = _mask(ap, -c.ia * _cross(r1, j))
    dwb = _mask(ap, c.ib * _cross(r2, j))
    idx = jnp.concatenate([c.ga, c.gb])
    return b.add(idx, dv=jnp.concatenate([dva, dvb]), dw=jnp.concatenate([dwa, dwb]))


def solve_contacts(b: Bodies, c: ContactSet, acc_n, acc_t, params: SimParams):
    """One Jacobi batch of contacts, all read from the same state (spec §2.8.3).

    Returns the updated bodies and the new accumulated normal / tangent impulses.
    """
    pa, pb = b.position[c.ga], b.position[c.gb]
    va, vb = b.velocity[c.ga], b.velocity[c.gb]
    wa, wb = b.angular_velocity[c.ga], b.angular_velocity[c.gb]
    n = c.normal
    r1, r2 = c.point - pa, c.point - pb
    vn = _dot((vb + _sv(wb, r2)) - (va + _sv(wa, r1)), n)
    r1n, r2n = _dot(r1, n), _dot(r2, n)
    kn = c.ma + c.mb + c.ia * (_dot(r1, r1) - r1n * r1n) + c.ib * (_dot(r2, r2) - r2n * r2n)
    lam = (-vn + c.bias - c.target) / zero_to_one(kn)
    big_n = jnp.maximum(acc_n + lam, 0.0)
    lam = big_n - acc_n
    jn = lam[..., None] * n
    dva = -c.ma[..., None] * jn
    dvb = c.mb[..., None] * jn
    dwa = -c.ia * _cross(r1, jn)
    dwb = c.ib * _cross(r2, jn)
    t = jnp.stack([n[..., 1], -n[..., 0]], -1)
    rel = ((vb + dvb) + _sv(wb + dwb, r2) - (va + dva)) - _sv(wa + dwa, r1)
    vt = _dot(rel, t)
    r1t, r2t = _dot(r1, t), _dot(r2, t)
    kt = c.ma + c.mb + c.ia * (_dot(r1, r1) - r1t * r1t) + c.ib * (_dot(r2, r2) - r2t * r2t)
    lt = -vt / zero_to_one(kt)
    lim = c.mu * big_n
    big_t = jnp.clip(acc_t + lt, -lim, lim)
    lt = big_t - acc_t
    jt = lt[..., None] * t
    dva = dva - c.ma[..., None] * jt
    dwa = dwa - c.ia * _cross(r1, jt)
    dvb = dvb + c.mb[..., None] * jt
    dwb = dwb + c.ib * _cross(r2, jt)
    ap = c.applies
    ap2 = jnp.concatenate([ap, ap])
    idx = jnp.concatenate([c.ga, c.gb])
    b = b.add(
        idx,
        dv=_mask(ap2, jnp.concatenate([dva, dvb])),
        dw=_mask(ap2, jnp.concatenate([dwa, dwb])),
    )
    return b, _mask(ap, big_n), _mask(ap, big_t)


class ContactRows(NamedTuple):
    """All contacts in solve order: ``R`` rows (Jacobi batches) of ``BS`` lanes.

    One ``lax.scan`` over rows reproduces the reference's sequence of family solves with a single
    compiled body. ``contacts`` is None when the scene has no contact pairs at all.
    """

    contacts: ContactSet | None  # leaves (R, BS, ...)
    acc_n: jnp.ndarray  # (R, BS) accumulated impulses
    acc_t: jnp.ndarray
    reset_first: jnp.ndarray  # (R, BS) lanes zeroed by the padding alias before their solve
    reset_later: jnp.ndarray  # the same from the second iteration on
    where: jnp.ndarray | None  # (N,) flat position ``row * BS + lane`` of each contact


def contact_rows(plan, cs: ContactSet, acc_n, acc_t, act) -> ContactRows:
    """Lay out all contacts in the reference's batch partition (once per step)."""
    if plan.num_contacts == 0:
        z = jnp.zeros((0, 1), jnp.float32)
        return ContactRows(None, z, z, z > 0, z > 0, None)
    slots, flat = plan.layout(act)
    cs_l, an_l, at_l = to_layout((cs, acc_n, acc_t), slots)
    cs_l = cs_l._replace(applies=cs_l.applies & (slots >= 0))
    first, later = plan.reset_masks(slots)
    return ContactRows(cs_l, an_l, at_l, first, later, flat)


def solve_velocities(b: Bodies, joint: Joint, arms, rows: ContactRows, iterations: int, params):
    """``iterations`` rounds of: every joint in slot order, then every contact row in order."""
    nj = joint.active.shape[0]

    def joint_step(b, x):
        jt, r_a, r_b, acc, acc_r = x
        b, gp, acc, acc_r = solve_joint(b, jt, r_a, r_b, acc, acc_r, params)
        return b, (gp, acc, acc_r)

    def row_step(b, x):
        cs, an, at, reset = x
        # The reference pads batches with index -1, which aliases the family's last contact.
        an, at = jnp.where(reset, 0.0, an), jnp.where(reset, 0.0, at)
        b, an, at = solve_contacts(b, cs, an, at, params)
        return b, (an, at)

    def iteration(i, carry):
        b, gp, acc, acc_r, acc_n, acc_t = carry
        if nj:
            b, (gp, acc, acc_r) = jax.lax.scan(joint_step, b, (joint, *arms, acc, acc_r))
        if rows.contacts is not None:
            reset = jnp.where(i == 0, rows.reset_first, rows.reset_later)
            b, (acc_n, acc_t) = jax.lax.scan(row_step, b, (rows.contacts, acc_n, acc_t, reset))
        return b, gp, acc, acc_r, acc_n, acc_t

    carry = (b, joint.global_position, joint.acc_impulse, joint.acc_r_impulse, rows.acc_n,
             rows.acc_t)  # fmt: skip
    return jax.lax.fori_loop(0, iterations, iteration, carry)


def to_layout(tree, slots):
    """Gather per-contact values (leading dim ``n``) into ``(nb, BS, ...)`` batch layout."""
    return packed_take(tree, jnp.maximum(slots, 0))


# --------------------------------------------------------------------------- joints


def joint_arms(b: Bodies, joint: Joint):
    """World-frame anchor offsets ``R(rot_a) a_relative_pos`` and ``R(rot_b) b_relative_pos``.

    Rotations do not change during the velocity solve, so these are computed once per step and
    reused by the warm start and every iteration (the values are bitwise those the reference
    recomputes each time).
    """
    ra, rb = b.rotation[joint.a_index], b.rotation[joint.b_index]
    return (
        _rot(jnp.cos(ra), jnp.sin(ra), joint.a_relative_pos),
        _rot(jnp.cos(rb), jnp.sin(rb), joint.b_relative_pos),
    )


def warm_start_joints(b: Bodies, joint: Joint, arms) -> Bodies:
    """Re-apply the joints' accumulated impulses (spec §2.5)."""
    ga, gb = joint.a_index, joint.b_index
    ma, mb = b.inverse_mass[ga], b.inverse_mass[gb]
    ia, ib = b.inverse_inertia[ga], b.inverse_inertia[gb]
    applies = joint.active & _not_both_fixed(ma, mb) & b.active[ga] & b.active[gb]
    r1, r2 = arms
    j, k = joint.acc_impulse, joint.acc_r_impulse
    dva = _mask(applies, j * ma[:, None])
    dvb = _mask(applies, -j * mb[:, None])
    dwa = _mask(applies, ia * _cross(r1, j) + k * ia)
    dwb = _mask(applies, -ib * _cross(r2, j) - k * ib)
    idx = jnp.concatenate([ga, gb])
    return b.add(idx, dv=jnp.concatenate([dva, dvb]), dw=jnp.concatenate([dwa, dwb]))


def solve_joint(b: Bodies, jt: Joint, r_a, r_b, acc, acc_r, params: SimParams):
    """Solve one joint (``jt`` holds that slot's fields as scalars) against the bodies (§2.7).

    Returns ``(bodies, global_position, acc_impulse, acc_r_impulse)`` for that slot.
    """
    ga, gb = jt.a_index, jt.b_index
    ma, mb = b.inverse_mass[ga], b.inverse_mass[gb]
    ia, ib = b.inverse_inertia[ga], b.inverse_inertia[gb]
    applies = _not_both_fixed(ma, mb) & jt.active & b.active[ga] & b.active[gb]
    big_m = zero_to_one(ma + mb)
    big_i = zero_to_one(ia + ib)
    rot_a, rot_b = b.rotation[ga], b.rotation[gb]
    pos_a, pos_b = b.position[ga], b.position[gb]
    p_a, p_b = pos_a + r_a, pos_b + r_b
    ma1, mb1 = zero_to_one(ma), zero_to_one(mb)
    jp = (p_a / ma1 + p_b / mb1) / (1.0 / ma1 + 1.0 / mb1)
    jp = jnp.where(ma == 0, p_a, jnp.where(mb == 0, p_b, jp))
    wa, wb = b.angular_velocity[ga], b.angular_velocity[gb]
    vrel = (b.velocity[gb] + _sv(wb, jp - pos_b)) - (b.velocity[ga] + _sv(wa, jp - pos_a))
    d = vrel / zero_to_one(jnp.sqrt(_dot(vrel, vrel)))
    imp = vrel + params.baumgarte_coefficient_joints_v * (p_b - p_a)
    ca, cb = _cross(r_a, d), _cross(r_b, d)
    imp = imp / zero_to_one(big_m + (ca * ca * ia + cb * cb * ib))
    imp = imp * params.joint_stiffness
    dva, dvb = ma * imp, -mb * imp
    dwa, dwb = _cross(r_a, imp) * ia, -_cross(r_b, imp) * ib
    corr = (p_b - p_a) / big_m
    dpa = corr * ma * params.baumgarte_coefficient_joints_p
    dpb = -corr * mb * params.baumgarte_coefficient_joints_p

    rel = rot_b - rot_a - jt.rotation
    tgt = jnp.clip(rel, jt.min_rotation, jt.max_rotation)
    e_lim = (rel - tgt) * params.baumgarte_coefficient_rjoint_limit_av
    e_fix = (rot_b - rot_a - jt.rotation) * params.baumgarte_coefficient_fjoint_av
    raw = ((wb + dwb) - wa) - dwa
    fixed = jt.is_fixed_joint
    dav = jnp.where(
        fixed, raw + e_fix, jnp.where(jnp.sign(raw) == jnp.sign(e_lim), raw + e_lim, 0.0)
    )
    k = dav / big_i
    k = jnp.where(fixed | (jt.motor_has_joint_limits & (tgt != rel)), k, 0.0)
    dwa = dwa + k * ia
    dwb = dwb - k * ib

    idx = jnp.stack([ga, gb])
    b = b.add(
        idx,
        dv=_mask(applies, jnp.stack([dva, dvb])),
        dw=_mask(applies, jnp.stack([dwa, dwb])),
        dp=_mask(applies, jnp.stack([dpa, dpb])),
    )
    new_acc = _mask(applies, imp + acc)
    new_acc_r = jnp.where(applies & fixed, k + acc_r, 0.0)
    return b, _mask(applies, jp), new_acc, new_acc_r


__all__ = [
    "apply_motors",
    "apply_thrusters",
    "ContactSet",
    "contact_set",
    "warm_start_contacts",
    "solve_contacts",
    "ContactRows",
    "contact_rows",
    "solve_velocities",
    "to_layout",
    "joint_arms",
    "warm_start_joints",
    "solve_joint",
]
