"""Impulses: motors, thrusters, warm starting, and the contact and joint impulse formulas.

Formulas, evaluation order and masking follow the reference exactly (spec §2). Masked results are
selects (``jnp.where``), never multiplications, so NaN in an unused slot never leaks into a used
one. The solver's iterations, which apply these formulas batch by batch, are in
:mod:`jax2d._solve_loop`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from jax2d._bodies import Bodies
from jax2d._packed import packed_take
from jax2d._vector_ops import EXACT, VectorOps
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


def apply_thrusters(
    b: Bodies, thruster: Thruster, u, params: SimParams, ops: VectorOps = EXACT
) -> Bodies:
    """Thruster impulses, summed (spec §2.4). The body's ``active`` flag is not consulted."""
    g = thruster.object_index
    rot = b.rotation[g]
    arm = ops.rotate_cs(jnp.cos(rot), jnp.sin(rot), thruster.relative_position)
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
    # A run-time scatter: unrolling these 2N constant-index adds compiles far slower at size l.
    idx = jnp.concatenate([c.ga, c.gb])
    return b.add(idx, dv=jnp.concatenate([dva, dvb]), dw=jnp.concatenate([dwa, dwb]))


def contact_impulses(
    pa, pb, va, vb, wa, wb, c: ContactSet, acc_n, acc_t, params: SimParams, ops: VectorOps = EXACT
):
    """Normal then friction impulse of contacts that all read the same body state (§2.8.3).

    Args:
        pa, pb, va, vb, wa, wb: positions, velocities and angular velocities of each contact's
            first and second body.
        c: the contacts' constants; acc_n, acc_t: their accumulated impulses.

    Returns:
        ``(dva, dwa, dvb, dwb, acc_n, acc_t)``: increments for each side (zero where the contact
        does not apply) and the new accumulated impulses (zero where it does not apply).
    """
    n = c.normal
    r1, r2 = c.point - pa, c.point - pb
    vn = ops.dot((vb + _sv(wb, r2)) - (va + _sv(wa, r1)), n)
    r1n, r2n = ops.dot(r1, n), ops.dot(r2, n)
    kn = c.ma + c.mb + c.ia * (ops.dot(r1, r1) - r1n * r1n) + c.ib * (ops.dot(r2, r2) - r2n * r2n)
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
    vt = ops.dot(rel, t)
    r1t, r2t = ops.dot(r1, t), ops.dot(r2, t)
    kt = c.ma + c.mb + c.ia * (ops.dot(r1, r1) - r1t * r1t) + c.ib * (ops.dot(r2, r2) - r2t * r2t)
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
    return (
        _mask(ap, dva), _mask(ap, dwa), _mask(ap, dvb), _mask(ap, dwb),
        _mask(ap, big_n), _mask(ap, big_t),
    )  # fmt: skip


# --------------------------------------------------------------------------- joints


def joint_arms(b: Bodies, joint: Joint, ops: VectorOps = EXACT):
    """World-frame anchor offsets ``R(rot_a) a_relative_pos`` and ``R(rot_b) b_relative_pos``.

    Rotations do not change during the velocity solve, so these are computed once per step and
    reused by the warm start and every iteration (the values are bitwise those the reference
    recomputes each time).
    """
    ra, rb = b.rotation[joint.a_index], b.rotation[joint.b_index]
    return (
        ops.rotate_cs(jnp.cos(ra), jnp.sin(ra), joint.a_relative_pos),
        ops.rotate_cs(jnp.cos(rb), jnp.sin(rb), joint.b_relative_pos),
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


class JointConstants(NamedTuple):
    """What a joint solve reads that stays constant during the step (leading axis: joint slot)."""

    ma: jnp.ndarray
    mb: jnp.ndarray
    ia: jnp.ndarray
    ib: jnp.ndarray
    rot_a: jnp.ndarray
    rot_b: jnp.ndarray
    applies: jnp.ndarray


def joint_constants(b: Bodies, joint: Joint) -> JointConstants:
    """Gather the joints' body masses, rotations and applicability once per step."""
    ga, gb = joint.a_index, joint.b_index
    ma, mb = b.inverse_mass[ga], b.inverse_mass[gb]
    applies = _not_both_fixed(ma, mb) & joint.active & b.active[ga] & b.active[gb]
    return JointConstants(
        ma, mb, b.inverse_inertia[ga], b.inverse_inertia[gb], b.rotation[ga], b.rotation[gb],
        applies,
    )  # fmt: skip


def joint_impulses(pos_a, pos_b, va, vb, wa, wb, k: JointConstants, jt: Joint, r_a, r_b, acc,
                   acc_r, params: SimParams, ops: VectorOps = EXACT):  # fmt: skip
    """Impulse and position correction of one joint (§2.7); ``k`` and ``jt`` hold that slot.

    Args:
        pos_a, pos_b, va, vb, wa, wb: the current state of the joint's two bodies.
        r_a, r_b: the world-frame anchor offsets; acc, acc_r: the accumulated impulses.

    Returns:
        ``((dva, dwa, dpa), (dvb, dwb, dpb), global_position, acc_impulse, acc_r_impulse)``, all
        zero where the joint does not apply.
    """
    ma, mb, ia, ib, applies = k.ma, k.mb, k.ia, k.ib, k.applies
    big_m = zero_to_one(ma + mb)
    big_i = zero_to_one(ia + ib)
    p_a, p_b = pos_a + r_a, pos_b + r_b
    ma1, mb1 = zero_to_one(ma), zero_to_one(mb)
    jp = (p_a / ma1 + p_b / mb1) / (1.0 / ma1 + 1.0 / mb1)
    jp = jnp.where(ma == 0, p_a, jnp.where(mb == 0, p_b, jp))
    vrel = (vb + _sv(wb, jp - pos_b)) - (va + _sv(wa, jp - pos_a))
    d = vrel / zero_to_one(ops.norm(vrel))
    imp = vrel + params.baumgarte_coefficient_joints_v * (p_b - p_a)
    ca, cb = _cross(r_a, d), _cross(r_b, d)
    imp = imp / zero_to_one(big_m + (ca * ca * ia + cb * cb * ib))
    imp = imp * params.joint_stiffness
    dva, dvb = ma * imp, -mb * imp
    dwa, dwb = _cross(r_a, imp) * ia, -_cross(r_b, imp) * ib
    corr = (p_b - p_a) / big_m
    dpa = corr * ma * params.baumgarte_coefficient_joints_p
    dpb = -corr * mb * params.baumgarte_coefficient_joints_p

    rel = k.rot_b - k.rot_a - jt.rotation
    tgt = jnp.clip(rel, jt.min_rotation, jt.max_rotation)
    e_lim = (rel - tgt) * params.baumgarte_coefficient_rjoint_limit_av
    e_fix = (k.rot_b - k.rot_a - jt.rotation) * params.baumgarte_coefficient_fjoint_av
    raw = ((wb + dwb) - wa) - dwa
    fixed = jt.is_fixed_joint
    dav = jnp.where(
        fixed, raw + e_fix, jnp.where(jnp.sign(raw) == jnp.sign(e_lim), raw + e_lim, 0.0)
    )
    kk = dav / big_i
    kk = jnp.where(fixed | (jt.motor_has_joint_limits & (tgt != rel)), kk, 0.0)
    dwa = dwa + kk * ia
    dwb = dwb - kk * ib

    def m(x):
        return _mask(applies, x)

    new_acc = m(imp + acc)
    new_acc_r = jnp.where(applies & fixed, kk + acc_r, 0.0)
    return (m(dva), m(dwa), m(dpa)), (m(dvb), m(dwb), m(dpb)), m(jp), new_acc, new_acc_r


__all__ = [
    "apply_motors",
    "apply_thrusters",
    "ContactSet",
    "contact_set",
    "warm_start_contacts",
    "contact_impulses",
    "joint_arms",
    "warm_start_joints",
    "JointConstants",
    "joint_constants",
    "joint_impulses",
]
