"""Static plan of all contacts of a step, in the reference's solve order.

The reference solves four contact lists one after another (rr slot 0, rr slot 1, cr, cc), each
split into Jacobi batches of ``solver_batch_size`` from the stable "inactive first" order of its
``active`` flags (spec §2.8.1). We concatenate the four lists once, so that building the
batches, gathering contact data, warm starting and un-permuting the impulses are one operation
each instead of four: fewer, larger XLA kernels compile faster and launch faster.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class ContactPlan:
    """Per-contact and per-row constants (numpy, known at trace time).

    Attributes:
        sizes: contacts per family (rr slot 0, rr slot 1, cr, cc).
        batch_size: lanes per row (``solver_batch_size``).
        ga, gb: ``(N,)`` global body indices of each contact's first and second body.
        start, count, nb, row0: ``(N,)`` the contact's family start, size, batch count and row
            offset.
        row_last: ``(R,)`` the global index of the row's family's last contact if that family has
            padding (the reference pads batches with index -1, which aliases that contact, so
            every padding row resets it), else -1.
        pad_before: ``(R,)`` whether a padding row of the same family precedes this row.
        reset_at_end: global indices of the last contact of every family with padding.
    """

    sizes: tuple[int, ...]
    batch_size: int
    ga: np.ndarray
    gb: np.ndarray
    start: np.ndarray
    count: np.ndarray
    nb: np.ndarray
    row0: np.ndarray
    row_last: np.ndarray
    pad_before: np.ndarray
    reset_at_end: np.ndarray

    @property
    def num_contacts(self) -> int:
        return int(sum(self.sizes))

    @property
    def num_rows(self) -> int:
        return int(self.row_last.shape[0])

    def layout(self, act):
        """Batch placement of every contact given the ``(N,)`` activity flags.

        Returns ``(slots, flat)``: ``slots`` is ``(R, BS)`` with the contact index solved in each
        lane (-1 for padding) and ``flat[k]`` is contact ``k``'s position ``row * BS + lane``.
        """
        n_tot, bs = self.num_contacts, self.batch_size
        a = act.astype(jnp.int32)
        incl = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(a)])
        before_family = incl[self.start]
        num_active = incl[self.start + self.count] - before_family
        before_act = incl[:-1] - before_family  # active contacts before k in its family
        local = np.arange(n_tot) - self.start
        pos = jnp.where(act, self.count - num_active + before_act, local - before_act)
        flat = (self.row0 + pos % self.nb) * bs + pos // self.nb
        slots = jnp.full((self.num_rows * bs,), -1, jnp.int32).at[flat].set(np.arange(n_tot))
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


def make_contact_plan(rr_pairs, cr_pairs, cc_pairs, num_polygons: int, batch_size: int):
    """Build the plan for the pair tables of :func:`jax2d._pairs.get_pairwise_interaction_indices`."""
    p = num_polygons
    fams = [
        (rr_pairs[:, 0], rr_pairs[:, 1]),
        (rr_pairs[:, 0], rr_pairs[:, 1]),
        (cr_pairs[:, 0] + p, cr_pairs[:, 1]),
        (cc_pairs[:, 0] + p, cc_pairs[:, 1] + p),
    ]
    ga, gb, start, count, nb, row0 = [], [], [], [], [], []
    row_last, pad_before, reset_at_end = [], [], []
    offset, rows = 0, 0
    for fa, fb in fams:
        n = len(fa)
        if n == 0:
            continue
        nbat = -(-n // batch_size)
        ga.append(fa)
        gb.append(fb)
        for arr, val in ((start, offset), (count, n), (nb, nbat), (row0, rows)):
            arr.append(np.full(n, val))
        padded = n % batch_size != 0
        seen_pad = False
        for j in range(nbat):
            # Flat position (BS - 1) * nb + j is past the end iff batch j holds padding.
            has_pad = (batch_size - 1) * nbat + j >= n
            row_last.append(offset + n - 1 if padded else -1)
            pad_before.append(seen_pad)
            seen_pad = seen_pad or has_pad
        if padded:
            reset_at_end.append(offset + n - 1)
        offset += n
        rows += nbat

    def cat(xs):
        return np.concatenate(xs).astype(np.int32) if xs else np.zeros((0,), np.int32)

    return ContactPlan(
        sizes=tuple(len(f[0]) for f in fams),
        batch_size=batch_size,
        ga=cat(ga),
        gb=cat(gb),
        start=cat(start),
        count=cat(count),
        nb=cat(nb),
        row0=cat(row0),
        row_last=np.asarray(row_last, np.int32),
        pad_before=np.asarray(pad_before, bool),
        reset_at_end=np.asarray(reset_at_end, np.int32),
    )
