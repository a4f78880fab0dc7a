"""Static plan of all contacts of a step, in the reference's solve order.

The reference solves four contact lists one after another (rr slot 0, rr slot 1, cr, cc), each
split into Jacobi batches of ``solver_batch_size`` from the stable "inactive first" order of its
``active`` flags (spec §2.8.1): the contact at sorted position ``pos`` is solved in batch
``pos % nb``, lane ``pos // nb``, and batches are padded with index -1.

Within a batch every lane reads the same body state and the impulses are then added in lane
order. Inactive lanes add exact zeros, and the stable sort keeps active contacts in index order,
so a batch equals "every contact of the family whose batch is this one, added in index order".
That lets the solver keep each family's contacts at fixed lanes (their index order) with fixed
body indices, and express a batch as a mask: no per-step layout, gathers or scatters. A family of
``nb`` batches then does ``nb`` times its size in lane work, so families much larger than one
batch are instead laid out in the reference's padded rows once per step (:class:`RowGroup`),
where each lane's bodies are only known at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class ContactFamily:
    """One of the reference's contact lists, as a slice of the step's concatenated contacts.

    Attributes:
        start, size: the family's slice ``[start, start + size)`` of all contacts.
        ga, gb: ``(size,)`` global body indices of each contact's first and second body.
        padded: per Jacobi batch, whether it holds padding lanes. The padding index -1 aliases
            the family's last contact, whose accumulated impulses the padded batch overwrites
            with zeros after its solve.
    """

    start: int
    size: int
    ga: np.ndarray
    gb: np.ndarray
    padded: tuple[bool, ...]

    @property
    def num_batches(self) -> int:
        return len(self.padded)

    def batch_ids(self, act):
        """``(size,)`` batch of each contact given the family's activity flags (None if 1 batch)."""
        nb = self.num_batches
        if nb == 1:
            return None
        a = act.astype(jnp.int32)
        before_act = jnp.cumsum(a) - a  # active contacts before k
        num_active = jnp.sum(a)
        local = np.arange(self.size)
        pos = jnp.where(act, self.size - num_active + before_act, local - before_act)
        return pos % nb


@dataclass(frozen=True)
class RowGroup:
    """Consecutive large families laid out as ``R`` padded rows of ``batch_size`` lanes per step.

    Indices are local to the group's slice ``[start, start + size)`` of all contacts.

    Attributes:
        ga, gb: ``(size,)`` global body indices of each contact's first and second body.
        fam_start, count, nb, row0: ``(size,)`` the contact's family start, size, batch count
            and first row.
        row_last: ``(R,)`` the local index of the row's family's last contact if that family has
            padding (every padding lane aliases it), else -1.
        pad_before: ``(R,)`` whether a padding row of the same family precedes this row.
        reset_at_end: local indices of the last contact of every family with padding.
        row_shift: ``(R,)`` the row's number of padding lanes. A row's contacts are laid out
            after its padding lanes rather than before them, so that the active contacts (last in
            the "inactive first" order) always end up in the top lanes. Padding lanes add exact
            zeros, so where they sit in the order of additions changes no sum.
    """

    start: int
    size: int
    batch_size: int
    ga: np.ndarray
    gb: np.ndarray
    fam_start: np.ndarray
    count: np.ndarray
    nb: np.ndarray
    row0: np.ndarray
    row_last: np.ndarray
    pad_before: np.ndarray
    reset_at_end: np.ndarray
    row_shift: np.ndarray

    @property
    def num_rows(self) -> int:
        return int(self.row_last.shape[0])

    def layout(self, act):
        """Row placement of every contact given the group's ``(size,)`` activity flags.

        Returns ``(slots, flat)``: ``slots`` is ``(R, BS)`` with the local contact solved in each
        lane (-1 for padding) and ``flat[k]`` is contact ``k``'s position ``row * BS + lane``.
        """
        bs = self.batch_size
        a = act.astype(jnp.int32)
        incl = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(a)])
        before_family = incl[self.fam_start]
        num_active = incl[self.fam_start + self.count] - before_family
        before_act = incl[:-1] - before_family  # active contacts before k in its family
        local = np.arange(self.size) - self.fam_start
        pos = jnp.where(act, self.count - num_active + before_act, local - before_act)
        row = self.row0 + pos % self.nb
        flat = row * bs + pos // self.nb + jnp.asarray(self.row_shift)[row]
        slots = jnp.full((self.num_rows * bs,), -1, jnp.int32).at[flat].set(np.arange(self.size))
        return slots.reshape(self.num_rows, bs), flat

    def reset_masks(self, slots):
        """Lanes whose accumulator the padding alias has zeroed before they are solved.

        The alias sets the last contact of a padded family to 0 after every padding row. So that
        contact starts from 0 whenever a padding row of its family came earlier in the same
        iteration, and always from the second iteration on (the family's last row is padded).
        Returns ``(first_iteration, later_iterations)`` masks of shape ``(R, BS)``.
        """
        last = (slots == self.row_last[:, None]) & (self.row_last[:, None] >= 0)
        return last & self.pad_before[:, None], last


def _row_group(fams: list[ContactFamily], batch_size: int) -> RowGroup:
    start = fams[0].start
    cols = {k: [] for k in ("fam_start", "count", "nb", "row0")}
    row_last, pad_before, reset_at_end, row_shift = [], [], [], []
    rows = 0
    for f in fams:
        offset = f.start - start
        for key, val in (("fam_start", offset), ("count", f.size), ("nb", f.num_batches),
                         ("row0", rows)):  # fmt: skip
            cols[key].append(np.full(f.size, val, np.int32))
        seen_pad = False
        for j, has_pad in enumerate(f.padded):
            row_shift.append(batch_size - (f.size - j + f.num_batches - 1) // f.num_batches)
            row_last.append(offset + f.size - 1 if f.padded[-1] else -1)
            pad_before.append(seen_pad)
            seen_pad = seen_pad or has_pad
        if f.padded[-1]:
            reset_at_end.append(offset + f.size - 1)
        rows += f.num_batches
    return RowGroup(
        start=start,
        size=sum(f.size for f in fams),
        batch_size=batch_size,
        ga=np.concatenate([f.ga for f in fams]),
        gb=np.concatenate([f.gb for f in fams]),
        **{k: np.concatenate(v) for k, v in cols.items()},
        row_last=np.asarray(row_last, np.int32),
        pad_before=np.asarray(pad_before, bool),
        reset_at_end=np.asarray(reset_at_end, np.int32),
        row_shift=np.asarray(row_shift, np.int32),
    )


@dataclass(frozen=True)
class ContactPlan:
    """All contacts of a step in solve order (numpy, known at trace time).

    Attributes:
        segments: in solve order (rr slot 0, rr slot 1, cr, cc), each family either as a
            :class:`ContactFamily` with fixed lanes or, if large, inside a :class:`RowGroup`.
        ga, gb: ``(N,)`` global body indices of all contacts, concatenated in that order.
    """

    segments: tuple[ContactFamily | RowGroup, ...]
    ga: np.ndarray
    gb: np.ndarray

    @property
    def num_contacts(self) -> int:
        return int(self.ga.shape[0])


def _fixed_lanes(f: ContactFamily, batch_size: int) -> bool:
    # Fixed lanes cost ~nb * size lane solves; rows cost ~nb * batch_size lanes but each lane
    # gathers and scatters at run-time indices, measured ~1.8x dearer per lane on XLA:CPU.
    return f.num_batches == 1 or 2 * f.size <= 3 * batch_size


def make_contact_plan(
    rr_pairs, cr_pairs, cc_pairs, num_polygons: int, batch_size: int, layout: str = "auto"
) -> ContactPlan:
    """Build the plan for the pair tables of :func:`jax2d._pairs.get_pairwise_interaction_indices`.

    Args:
        layout: ``"auto"`` (fixed lanes for families up to 1.5 batches, rows for larger ones),
            or ``"lanes"`` / ``"rows"`` for every family. All give the same dynamics; the choice
            only trades run time against compile time.
    """
    if layout not in ("auto", "lanes", "rows"):
        raise ValueError(f"layout must be 'auto', 'lanes' or 'rows', got {layout!r}")
    p = num_polygons
    fams = [
        (rr_pairs[:, 0], rr_pairs[:, 1]),
        (rr_pairs[:, 0], rr_pairs[:, 1]),
        (cr_pairs[:, 0] + p, cr_pairs[:, 1]),
        (cc_pairs[:, 0] + p, cc_pairs[:, 1] + p),
    ]
    families, offset = [], 0
    for fa, fb in fams:
        n = len(fa)
        if n == 0:
            continue
        nb = -(-n // batch_size)
        # Flat position (BS - 1) * nb + j is past the end iff batch j holds padding.
        padded = tuple((batch_size - 1) * nb + j >= n for j in range(nb))
        families.append(
            ContactFamily(offset, n, np.asarray(fa, np.int32), np.asarray(fb, np.int32), padded)
        )
        offset += n
    segments, pending = [], []
    for f in families:
        lanes = _fixed_lanes(f, batch_size) if layout == "auto" else layout == "lanes"
        if lanes:
            if pending:
                segments.append(_row_group(pending, batch_size))
                pending = []
            segments.append(f)
        else:
            pending.append(f)
    if pending:
        segments.append(_row_group(pending, batch_size))

    def cat(xs):
        return np.concatenate(xs).astype(np.int32) if xs else np.zeros((0,), np.int32)

    return ContactPlan(
        segments=tuple(segments),
        ga=cat([f.ga for f in families]),
        gb=cat([f.gb for f in families]),
    )
