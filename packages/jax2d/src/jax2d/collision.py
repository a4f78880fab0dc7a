"""Contact detection for circle–circle, circle–polygon and polygon–polygon pairs.

Every pair is evaluated independently (vmapped over the fixed pair tables of ``_pairs``). The
formulas, comparison strictness and tie-breaking follow the reference exactly (spec §3), because
recorded trajectories depend on which contact becomes slot 0. The one deliberate difference is
speed: the reference picks the two deepest incident vertices with a stable argsort of 4 floats; we
use two ``argmin`` passes, which break ties identically (first index wins) and avoid XLA's sort.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jax2d._packed import packed_take
from jax2d._vector_ops import EXACT, VectorOps
from jax2d.maths import sv_cross as _sv_cross
from jax2d.maths import zero_to_one
from jax2d.sim_state import CollisionManifold

__all__ = ["ROT_L", "should_collide", "detect_cc", "detect_cr", "detect_rr"]

# R(float32(pi/2)): its cosine term is -4.371139e-08, not 0; kept so exact ties break the same way.
_HALF_PI = np.float32(np.pi / 2)
ROT_L = np.array(
    [[np.cos(_HALF_PI), -np.sin(_HALF_PI)], [np.sin(_HALF_PI), np.cos(_HALF_PI)]],
    dtype=np.float32,
)
_PI32 = np.float32(np.pi)


def _trig(angle):
    return jnp.cos(angle), jnp.sin(angle)


def should_collide(mode_a, mode_b):
    """Mode 2 collides with all, 1 with 1 and 2, 0 only with 2."""
    return (mode_a == 2) | (mode_b == 2) | (mode_a * mode_b > 0)


def _restitution_target(ops, n, cp, pos_a, pos_b, vel_a, vel_b, w_a, w_b, e_a, e_b):
    va = vel_a + _sv_cross(w_a, cp - pos_a)
    vb = vel_b + _sv_cross(w_b, cp - pos_b)
    return ops.dot(vb - va, n) * jnp.minimum(e_a, e_b)


def _finish(active, normal, pen, cp, target, old: CollisionManifold) -> CollisionManifold:
    """Mask every field by ``active`` and carry warm-start impulses over from the old slot."""
    keep = active & old.active
    return CollisionManifold(
        normal=jnp.where(active[..., None], normal, 0.0),
        penetration=jnp.where(active, pen, 0.0),
        collision_point=jnp.where(active[..., None], cp, 0.0),
        active=active,
        acc_impulse_normal=jnp.where(keep, old.acc_impulse_normal, 0.0),
        acc_impulse_tangent=jnp.where(keep, old.acc_impulse_tangent, 0.0),
        restitution_velocity_target=jnp.where(active, target, 0.0),
    )


def _take(body, idx):
    return packed_take(body, idx)


def detect_cc(
    circle, pairs: np.ndarray, old: CollisionManifold, ops: VectorOps = EXACT
) -> CollisionManifold:
    """Circle–circle contacts for the ``(NCC, 2)`` pair table."""
    a, b = _take(circle, pairs[:, 0]), _take(circle, pairs[:, 1])
    delta = b.position - a.position
    dist = ops.norm(delta)
    r = a.radius + b.radius
    active = (dist < r) & a.active & b.active & should_collide(a.collision_mode, b.collision_mode)
    n = delta / zero_to_one(dist)[:, None]
    pen = r - dist
    cp = a.position + n * a.radius[:, None]
    target = _restitution_target(
        ops, n, cp, a.position, b.position, a.velocity, b.velocity,
        a.angular_velocity, b.angular_velocity, a.restitution, b.restitution,
    )  # fmt: skip
    return _finish(active, n, pen, cp, target, old)


def _edge_ends(v, n_vertices):
    """End vertex of each edge: ``v`` rolled left by one with ``w[n-1] = v[0]``."""
    w = jnp.roll(v, -1, axis=-2)
    last = (jnp.arange(v.shape[-2]) == n_vertices[..., None] - 1)[..., None]
    return jnp.where(last, v[..., :1, :], w)


def detect_cr(
    circle, polygon, pairs: np.ndarray, old: CollisionManifold, ops: VectorOps = EXACT
) -> CollisionManifold:
    """Circle–polygon contacts; pair ``(c, p)``; the normal points circle → polygon."""
    c_b = _take(circle, pairs[:, 0])
    p_b, pc, ps = _take((polygon, *_trig(polygon.rotation)), pairs[:, 1])
    v = p_b.vertices[:, :4]  # the reference hard-wires vertex slots 0..3
    w = _edge_ends(v, p_b.n_vertices)
    c = ops.rotate_cs_t(pc, ps, c_b.position - p_b.position)[:, None, :]
    s = (v[..., 0] - c[..., 0]) * (w[..., 1] - c[..., 1]) - (v[..., 1] - c[..., 1]) * (
        w[..., 0] - c[..., 0]
    )
    inside_e = s < 0
    edge = w - v
    length = ops.norm(edge)
    u = edge / zero_to_one(length)[..., None]
    t = jnp.clip(ops.dot(u, c - v), 0.0, length)
    q = v + t[..., None] * u
    dist = ops.norm(q - c)
    tri = p_b.n_vertices == 3
    dist = dist.at[:, 3].set(jnp.where(tri, jnp.max(dist[:, :3], axis=1) + 1, dist[:, 3]))
    inside_e = inside_e.at[:, 3].set(inside_e[:, 3] | tri)
    k = jnp.argmin(dist, axis=1)
    q = jnp.take_along_axis(q, k[:, None, None], axis=1)[:, 0]
    inside = jnp.all(inside_e, axis=1)
    local = c[:, 0] - q
    d = ops.norm(local)
    r = c_b.radius
    active = (
        ((d <= r) | inside)
        & c_b.active
        & p_b.active
        & should_collide(p_b.collision_mode, c_b.collision_mode)
    )
    nw = ops.rotate_cs(pc, ps, local) * jnp.where(inside, -1.0, 1.0)[:, None]
    n = -nw / zero_to_one(ops.norm(nw))[:, None]
    pen = jnp.where(inside, r, r - d)
    cp = ops.rotate_cs(pc, ps, q) + p_b.position
    target = _restitution_target(
        ops, n, cp, c_b.position, p_b.position, c_b.velocity, p_b.velocity,
        c_b.angular_velocity, p_b.angular_velocity, c_b.restitution, p_b.restitution,
    )  # fmt: skip
    return _finish(active, n, pen, cp, target, old)


def _local_normals(v, n_vertices, ops):
    w = _edge_ends(v, n_vertices)
    edge = w - v
    d = edge / zero_to_one(ops.norm(edge))[..., None]
    return jnp.stack(
        [ROT_L[0, 0] * d[..., 0] + ROT_L[0, 1] * d[..., 1],
         ROT_L[1, 0] * d[..., 0] + ROT_L[1, 1] * d[..., 1]],
        -1,
    )  # fmt: skip


def _axis(ops, va, na, nrm_a, pos_a, cos_a, sin_a, bw, nb):
    """Separating-axis search on A's faces against B's world vertices ``bw``, all faces at once.

    Equivalent to the reference's loop ``if sep > best and e < n_A`` starting from
    ``best = -99999``: the first face reaching the maximum wins.
    Returns ``(best_separation, face_index, (deepest, second) incident vertex indices of B)``.
    """
    ba = ops.rotate_cs_t(
        cos_a[:, None], sin_a[:, None], bw - pos_a[:, None, :]
    )  # (n, 4, 2): B in A's frame
    nrm = nrm_a[:, :, None, :]  # (n, face, 1, 2)
    pa = ops.dot(nrm, va[:, None])  # (n, face, vertex)
    pb = ops.dot(nrm, ba[:, None])
    tri_a, tri_b = (na == 3)[:, None], (nb == 3)[:, None]
    pa = pa.at[..., 3].set(jnp.where(tri_a, jnp.min(pa[..., :3], axis=-1) - 1, pa[..., 3]))
    pb = pb.at[..., 3].set(jnp.where(tri_b, jnp.max(pb[..., :3], axis=-1) + 1, pb[..., 3]))
    sep = jnp.min(pb, axis=-1) - jnp.max(pa, axis=-1)  # (n, face)
    # First two entries of a stable ascending argsort of pb, without sorting.
    c0 = jnp.argmin(pb, axis=-1)
    lanes = jnp.arange(4)
    c1 = jnp.argmin(jnp.where(lanes == c0[..., None], jnp.inf, pb), axis=-1)
    faces = jnp.arange(4)[None, :]
    cand = jnp.where((faces < na[:, None]) & ~jnp.isnan(sep), sep, -jnp.inf)
    e = jnp.argmax(cand, axis=-1)
    top = jnp.take_along_axis(cand, e[:, None], axis=-1)[:, 0]
    found = top > -99999.0
    best = jnp.where(found, top, -99999.0)
    idx = jnp.where(found, e, -1).astype(jnp.int32)
    inc0 = jnp.where(found, jnp.take_along_axis(c0, e[:, None], axis=-1)[:, 0], 0)
    inc1 = jnp.where(found, jnp.take_along_axis(c1, e[:, None], axis=-1)[:, 0], 0)
    return best, idx, inc0, inc1


def _pick(arr, idx):
    return jnp.take_along_axis(arr, idx[:, None, None], axis=1)[:, 0]


def detect_rr(
    polygon, pairs: np.ndarray, old: CollisionManifold, ops: VectorOps = EXACT
) -> CollisionManifold:
    """Polygon–polygon contacts (two slots per pair); the normal points from a to b."""
    trig = _trig(polygon.rotation)
    a, ca, sa_ = _take((polygon, *trig), pairs[:, 0])
    b, cb, sb_ = _take((polygon, *trig), pairs[:, 1])
    va, vb = a.vertices[:, :4], b.vertices[:, :4]
    aw = ops.rotate_cs(ca[:, None], sa_[:, None], va) + a.position[:, None, :]
    bw = ops.rotate_cs(cb[:, None], sb_[:, None], vb) + b.position[:, None, :]
    na_l, nb_l = _local_normals(va, a.n_vertices, ops), _local_normals(vb, b.n_vertices, ops)
    # Both directions, (a on b) and (b on a), in one vectorised search.
    n = va.shape[0]

    def both(x, y):
        return jnp.concatenate([x, y])

    s2, i2, c0, c1 = _axis(
        ops, both(va, vb), both(a.n_vertices, b.n_vertices), both(na_l, nb_l),
        both(a.position, b.position), both(ca, cb), both(sa_, sb_), both(bw, aw),
        both(b.n_vertices, a.n_vertices),
    )  # fmt: skip
    sa, ia, ia0, ia1 = s2[:n], i2[:n], c0[:n], c1[:n]
    sb, ib, ib0, ib1 = s2[n:], i2[n:], c0[n:], c1[n:]
    b_ref = sa + 0.01 < sb
    sep = jnp.maximum(sa, sb)
    colliding = (sep < 0) & a.active & b.active & should_collide(a.collision_mode, b.collision_mode)

    def face(world, local_normals, c, s, i, nv):
        ref0 = _pick(world, i)
        ref1 = _pick(world, (i + 1) % nv)
        return ref0, ref1, ops.rotate_cs(c, s, _pick(local_normals, i))

    ra0, ra1, n_a = face(aw, na_l, ca, sa_, ia, a.n_vertices)
    rb0, rb1, n_b = face(bw, nb_l, cb, sb_, ib, b.n_vertices)
    sel = b_ref[:, None]
    ref0 = jnp.where(sel, rb0, ra0)
    ref1 = jnp.where(sel, rb1, ra1)
    n = jnp.where(sel, -n_b, n_a)
    inc_p0 = jnp.where(sel, _pick(aw, ib0), _pick(bw, ia0))
    inc_p1 = jnp.where(sel, _pick(aw, ib1), _pick(bw, ia1))

    delta = ref0 - ref1
    phi_c, phi_s = _trig(_PI32 + jnp.arctan2(delta[:, 0], delta[:, 1]))
    length = ops.norm(delta)

    def to_face(p):
        loc = ops.rotate_cs(phi_c, phi_s, p - ref0)
        x = jnp.clip(loc[:, 0], -99999.0, 999999.0)
        y = jnp.clip(loc[:, 1], 0.0, length)
        return x, y

    x0, y0 = to_face(inc_p0)
    x1, y1 = to_face(inc_p1)
    first = x0 >= x1  # argmax over (x0, x1): the first wins ties
    both = jnp.minimum(x0, x1) > 0
    pk = jnp.stack([jnp.where(first, x0, x1), jnp.where(first, y0, y1)], -1)
    po = jnp.stack([jnp.where(first, x1, x0), jnp.where(first, y1, y0)], -1)
    cp1 = ops.rotate_cs_t(phi_c, phi_s, pk) + ref0
    cp2 = ops.rotate_cs_t(phi_c, phi_s, po) + ref0
    active = jnp.stack([colliding, colliding & both], 1)
    cp = jnp.stack([cp1, cp2], 1)
    normal = jnp.broadcast_to(n[:, None, :], cp.shape)
    pen = jnp.broadcast_to(-sep[:, None], active.shape)

    def target(point):
        return _restitution_target(
            ops, n, point, a.position, b.position, a.velocity, b.velocity,
            a.angular_velocity, b.angular_velocity, a.restitution, b.restitution,
        )  # fmt: skip

    tgt = jnp.stack([target(cp1), target(cp2)], 1)
    return _finish(active, normal, pen, cp, tgt, old)
