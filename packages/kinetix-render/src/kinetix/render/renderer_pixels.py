"""Pixel renderer: an ``EnvState`` to an RGB image, in pure JAX.

Output convention (the reference's, kept so that pixel policies and datasets transfer): a float32
array ``(W, H, 3)`` with values in ``[0, 255]`` indexed ``[x, y, rgb]``, ``y`` pointing *up* (column
0 of axis 1 is the bottom of the screen). Output pixel ``(i, j)`` shows world point
``(i / ppud, j / ppud)`` with ``ppud = pixels_per_unit // downscale``. To display a frame as a
normal image use ``img.transpose(1, 0, 2)[::-1]`` (or :func:`kinetix.render.video.make_frames`).

Draw order (later overwrites earlier): the floor, then polygons (the four arena slots skipped),
circles, joints and thrusters, each in slot order. Every polygon and circle is only shaded inside
a ``max_shape_size``-unit square patch anchored at its position, like the reference.

How it is fast: the reference rasterises one patch per shape with a sequential scan and a
dynamic-update-slice per patch (a scatter once batched), on a canvas with a 2-unit margin. Here
every layer is a per-pixel test evaluated over the visible screen only, in one fused,
vectorised elementwise pass whose running value is an int32 palette index ("the last layer that
covers this pixel wins"): polygons and circles directly; joint and thruster sprites through their
small ``n x n`` windows (the window row of each screen row is picked first, then ``n`` compares
per pixel, no per-pixel gather). The indices become RGB with one lookup in a constant palette that
holds every colour the reference can produce, bit for bit (tinted sprite texels included). The
arithmetic of each test is the reference's, in the same order, so frames match exactly (the
golden tests find 100 % identical pixels).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jax2d._pytree import pytree_dataclass
from jax2d.maths import rmat
from kinetix.environment.env_state import EnvParams, EnvState, StaticEnvParams
from kinetix.render.batching import vmap_leading_dims
from kinetix.render.pixel_textures import (
    FIXED_JOINT_TEXTURE,
    REVOLUTE_JOINT_TEXTURE,
    THRUSTER_TEXTURE,
)

__all__ = [
    "PixelsObservation",
    "make_render_pixels",
    "make_render_pixels_rl",
    "ROLE_COLOURS",
    "BINDING_COLOURS",
]

#: RGB of dynamic shapes by role: 0 neutral grey, 1 green, 2 blue (goal), 3 red (lava).
ROLE_COLOURS = np.array(
    [[160.0, 160.0, 160.0], [0.0, 204.0, 0.0], [0.0, 102.0, 204.0], [255.0, 102.0, 102.0]],
    dtype=np.float32,
)
#: Fixed (infinite-mass) neutral shapes; fixed coloured shapes use half their role colour.
FIXED_NEUTRAL_COLOUR = np.array([80.0, 80.0, 80.0], dtype=np.float32)
BACKGROUND_COLOUR = np.array([255.0, 255.0, 255.0], dtype=np.float32)
#: Joint / thruster tints by index: 0 white (no binding), then bindings 0..3.
BINDING_COLOURS = np.array(
    [[255, 255, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255], [255, 153, 51]], dtype=np.int32
)

_JOINT_TEXTURE_SIZE = 6
_THRUSTER_TEXTURE_SIZE = 16
# Number of thruster-texel rows (nozzle end) tinted by the binding colour.
_THRUSTER_TINTED_ROWS = 9
# The reference nudges thruster texel coordinates by this before rounding.
_THRUSTER_TEXEL_EPS = 0.001


@pytree_dataclass
class PixelsObservation:
    """RL pixel observation.

    Attributes:
        image: ``(..., W, H, 3)`` float32 in ``[0, 1]``, ``[x, y, rgb]`` layout (y up).
        global_info: ``(..., 1)`` float32, ``gravity_y / 10``.
    """

    image: jnp.ndarray
    global_info: jnp.ndarray


# --------------------------------------------------------------------------------------------
# Colour indices: the fused pass carries one int32 per pixel, an index into a constant palette of
# every colour the renderer can produce (float32 RGB, bit-identical to the reference's arithmetic,
# including tinted sprite texels), so "overwrite" is a single select per shape.


def _tint(texels_rgb: np.ndarray, tint: np.ndarray, reciprocal: bool = False) -> np.ndarray:
    """``rgb * (tint / 255)`` in float32, as the reference tints its sprites.

    The reference tints thruster textures eagerly (a true division) but joint textures inside
    ``jit``, where XLA turns ``/ 255`` into ``* (1 / 255)``; ``reciprocal`` reproduces the latter.
    """
    tint = tint.astype(np.float32)
    scale = tint * (np.float32(1.0) / np.float32(255.0)) if reciprocal else tint / np.float32(255.0)
    return texels_rgb.astype(np.float32) * scale


class _Palette:
    """The constant palette and index tables of every drawable colour."""

    def __init__(self):
        colours: list[np.ndarray] = []
        lookup: dict[bytes, int] = {}

        def index_of(rgb: np.ndarray) -> np.ndarray:
            rgb = np.asarray(rgb, np.float32)
            flat = rgb.reshape(-1, 3)
            out = np.empty(len(flat), np.int32)
            for n, c in enumerate(flat):
                key = c.tobytes()
                if key not in lookup:
                    lookup[key] = len(colours)
                    colours.append(c)
                out[n] = lookup[key]
            return out.reshape(rgb.shape[:-1])

        self.background = int(index_of(BACKGROUND_COLOUR))
        self.black = int(index_of(np.zeros(3)))
        fixed = ROLE_COLOURS * np.float32(0.5)
        fixed[0] = FIXED_NEUTRAL_COLOUR
        # shape_index[fixed, role]
        self.shape = index_of(np.stack([ROLE_COLOURS, fixed]))
        # joint_disc[tint] (downscale 4 joints: plain tint colour)
        self.joint_disc = index_of(BINDING_COLOURS.astype(np.float32))
        tints = BINDING_COLOURS[:, None, None, :]
        # joint_sprite[is_fixed, tint, u, v], -1 where transparent
        sprites = []
        for tex in (REVOLUTE_JOINT_TEXTURE, FIXED_JOINT_TEXTURE):
            idx = index_of(_tint(tex[None, ..., :3], tints, reciprocal=True))
            sprites.append(np.where(tex[None, ..., 3] > 0, idx, -1))
        self.joint_sprite = np.stack(sprites).astype(np.int32)
        # thruster[tint, u, v], -1 where transparent; only the first texel rows are tinted
        tex = THRUSTER_TEXTURE
        rows = np.arange(_THRUSTER_TEXTURE_SIZE)[None, :, None, None] < _THRUSTER_TINTED_ROWS
        tinted = np.where(
            rows, _tint(tex[None, ..., :3], tints), tex[None, ..., :3].astype(np.float32)
        )
        self.thruster = np.where(tex[None, ..., 3] > 0, index_of(tinted), -1).astype(np.int32)
        self.colours = np.stack(colours).astype(np.float32)


_PALETTE = _Palette()


def _materialise(x: jnp.ndarray, runtime_flag: jnp.ndarray) -> jnp.ndarray:
    """Return ``x`` unchanged, but computed into its own buffer (an XLA fusion barrier).

    A while loop's operands are never fused into its consumers. The loop runs its (identity)
    body at most once, depending on a runtime value XLA cannot fold, so the result is ``x``.
    """
    return jax.lax.while_loop(
        lambda c: c[1], lambda c: (c[0], jnp.bool_(False)), (x, runtime_flag)
    )[0]


def _to_rgb(index: jnp.ndarray, runtime_flag: jnp.ndarray) -> jnp.ndarray:
    # Without the barrier XLA fuses the whole per-shape pass into the RGB lookup, whose loop runs
    # over (..., x, y, channel) and cannot be vectorised: measured ~20x slower. The flag should
    # be a scalar: batched, the loop would select over the whole batch.
    index = _materialise(index, runtime_flag)
    return jnp.take(jnp.asarray(_PALETTE.colours), index, axis=0, mode="clip")


# --------------------------------------------------------------------------------------------
# Geometry, written as the reference's shaders compute it (same operations, same order) so that
# boundary pixels agree exactly. `x` is a column of pixel x-indices (W, 1), `y` a row (1, H).


def _edge_function(x, y, b, c):
    """Signed area of (pixel, b, c); <= 0 on the inner side of edge b->c."""
    return (b[0] - x) * (c[1] - y) - (b[1] - y) * (c[0] - x)


def _quad_coverage(x, y, vertices, edge_thickness: int):
    """``inside`` and ``on_edge`` masks of a quad (4 vertices, pixel space) over the grid."""
    inside = True
    on_edge = False
    for k in range(4):
        b, c = vertices[k], vertices[(k + 1) % 4]
        area = _edge_function(x, y, b, c)
        norm = jnp.linalg.norm(b - c)
        if edge_thickness == 0:
            # area / norm <= 0 without the division: for norm > 0 the sign is area's; a
            # degenerate edge (norm 0) gives -inf (inside) only for area < 0 and NaN for 0.
            inside &= jnp.where(norm > 0, area <= 0, area < 0)
        else:
            side = area / norm
            inside &= side <= 0
            on_edge |= (side > -edge_thickness) & (side <= 0)
    return inside, on_edge & inside


def _circle_coverage(x, y, centre, radius, rotation, edge_thickness: int):
    """``inside`` and ``black`` (rim or rotation mark) masks of a circle over the grid."""
    dx, dy = x - centre[0], y - centre[1]
    dist = jnp.sqrt(jnp.square(dx) + jnp.square(dy))
    inside = dist <= radius
    black = dist > radius - edge_thickness if edge_thickness else False
    normal = (jnp.sin(rotation), -jnp.cos(rotation))
    tip = (centre[0] + normal[0], centre[1] + normal[1])
    line_dist = jnp.abs((centre[0] - x) * (tip[1] - y) - (centre[1] - y) * (tip[0] - x))
    behind = normal[0] * dx + normal[1] * dy <= 0
    black = black | ((line_dist < 1) & behind)
    return inside, black


class _Layout:
    """Static sizes of the renderer, derived once from the params."""

    def __init__(self, env_params: EnvParams, static: StaticEnvParams):
        ds = int(static.downscale)
        ppu = int(env_params.pixels_per_unit)
        self.ppud = ppu // ds
        self.max_shape_size = static.max_shape_size
        self.width = static.screen_dim[0] // ds
        self.height = static.screen_dim[1] // ds
        # Canvas margin: shapes are positioned on a canvas padded by this on every side.
        self.margin = int(static.max_shape_size * self.ppud)
        self.patch = int(static.max_shape_size * self.ppud)
        self.edge_thickness = {2: 1, 4: 0}.get(ds, 2)
        self.textured_joints = ds != 4
        self.joint_size = math.ceil((_JOINT_TEXTURE_SIZE // ds) * ppu / 100)
        self.thruster_size = math.ceil((_THRUSTER_TEXTURE_SIZE // ds) * ppu / 100)
        self.thruster_window = int(self.thruster_size * np.sqrt(2)) + 1
        self.num_polygons = static.num_polygons
        self.num_fixed = static.num_static_fixated_polys

    def to_pixels(self, world):
        return (world + self.max_shape_size) * self.ppud

    def patch_start(self, position):
        return self.to_pixels(position - (self.max_shape_size / 2.0)).astype(jnp.int32)


def _sprite_windows(layout: _Layout, state: EnvState):
    """Joint and thruster sprites, in draw order: ``(start (2,), palette indices (n, n))`` each.

    A window's corner is at canvas pixel ``start``; index -1 marks transparent texels.
    """
    windows = []
    joint = state.joint
    n = layout.joint_size
    starts = jnp.round(layout.to_pixels(joint.global_position) - n // 2).astype(jnp.int32)
    tint = (state.motor_bindings + 1) * (joint.motor_on & ~joint.is_fixed_joint)
    tint = jnp.clip(tint, 0, len(BINDING_COLOURS) - 1)
    if layout.textured_joints:
        # Nearest texel of each window pixel, as the reference's unit-position sampling.
        unit = (np.arange(n, dtype=np.float32) / np.float32(max(n - 1, 1))).astype(np.float32)
        texel = np.clip(np.round(np.float32(_JOINT_TEXTURE_SIZE) * unit - np.float32(0.5)), 0, 5)
        texel = texel.astype(np.int32)
        table = jnp.asarray(_PALETTE.joint_sprite[:, :, texel][:, :, :, texel])
        for j in range(joint.active.shape[0]):
            values = table[joint.is_fixed_joint[j].astype(jnp.int32), tint[j]]
            windows.append((starts[j], jnp.where(joint.active[j], values, -1)))
    else:
        # A tinted disc of diameter n px centred on the window (one pixel at downscale 4).
        offset = np.arange(n) - n // 2
        disc = jnp.asarray(np.square(offset)[:, None] + np.square(offset)[None, :] < (n / 2) ** 2)
        colours = jnp.asarray(_PALETTE.joint_disc)[tint]
        for j in range(joint.active.shape[0]):
            windows.append((starts[j], jnp.where(disc & joint.active[j], colours[j], -1)))

    thruster = state.thruster
    n = layout.thruster_window
    centres = jnp.round(layout.to_pixels(thruster.global_position)).astype(jnp.int32)
    # Window pixel offsets from the thruster centre (integers, as in the reference).
    offsets = np.arange(n, dtype=np.int32) - n // 2
    delta = jnp.asarray(np.stack(np.meshgrid(offsets, offsets, indexing="ij"), axis=-1))
    idx = thruster.object_index
    p = layout.num_polygons
    parent_rotation = jnp.where(
        idx < p,
        state.polygon.rotation[jnp.clip(idx, 0, p - 1)],
        state.circle.rotation[jnp.clip(idx - p, 0, state.circle.rotation.shape[0] - 1)],
    )
    rotations = thruster.rotation + parent_rotation
    tint = jnp.clip(state.thruster_bindings + 1, 0, len(BINDING_COLOURS) - 1)
    table = jnp.asarray(_PALETTE.thruster)
    for k in range(thruster.active.shape[0]):
        rot = rmat(-rotations[k])
        tex_pos = (
            jax.vmap(jax.vmap(lambda d, r=rot: jnp.matmul(r, d)))(delta) / layout.thruster_size
            + 0.5
        )
        within = jnp.all((tex_pos >= 0) & (tex_pos <= 1), axis=-1)
        texel = jnp.round(_THRUSTER_TEXTURE_SIZE * tex_pos - 0.5 + _THRUSTER_TEXEL_EPS).astype(
            jnp.int32
        )
        texel = jnp.clip(texel, 0, _THRUSTER_TEXTURE_SIZE - 1)
        values = table[tint[k], texel[..., 0], texel[..., 1]]
        windows.append((centres[k] - n // 2, jnp.where(within & thruster.active[k], values, -1)))
    return windows


def _draw(layout: _Layout, state: EnvState) -> jnp.ndarray:
    """Palette index of every visible pixel: floor, polygons, circles, joints, thrusters."""
    t = layout.edge_thickness
    xi = layout.margin + jnp.arange(layout.width, dtype=jnp.int32)[:, None]
    yi = layout.margin + jnp.arange(layout.height, dtype=jnp.int32)[None, :]
    x, y = xi.astype(jnp.float32), yi.astype(jnp.float32)

    def in_patch(start):
        return (
            (xi >= start[0])
            & (xi < start[0] + layout.patch)
            & (yi >= start[1])
            & (yi < start[1] + layout.patch)
        )

    def paint(index, hit, black, colour):
        value = jnp.where(black, _PALETTE.black, colour) if black is not False else colour
        return jnp.where(hit, value, index)

    shape_palette = jnp.asarray(_PALETTE.shape)
    index = jnp.full((layout.width, layout.height), _PALETTE.background, jnp.int32)

    # Floor: polygon 0, unrotated, always drawn, coloured as fixed; its patch is the whole screen.
    poly = state.polygon
    floor_vertices = layout.to_pixels(poly.position[0, None, :] + poly.vertices[0])
    inside, edge = _quad_coverage(x, y, floor_vertices, t)
    index = paint(index, inside, edge, shape_palette[1, state.polygon_shape_roles[0]])

    # One 2x2 matmul per vertex, as the reference batches it (keeps its rounding).
    rmats = jnp.repeat(jax.vmap(rmat)(poly.rotation)[:, None], poly.vertices.shape[1], axis=1)
    rotated = jax.vmap(jax.vmap(jnp.matmul))(rmats, poly.vertices)
    vertices = layout.to_pixels(poly.position[:, None, :] + rotated)
    starts = layout.patch_start(poly.position)
    colours = shape_palette[(poly.inverse_mass == 0).astype(jnp.int32), state.polygon_shape_roles]
    for p in range(layout.num_fixed, layout.num_polygons):
        inside, edge = _quad_coverage(x, y, vertices[p], t)
        index = paint(index, inside & in_patch(starts[p]) & poly.active[p], edge, colours[p])

    circle = state.circle
    centres = layout.to_pixels(circle.position)
    radii = circle.radius * layout.ppud
    starts = layout.patch_start(circle.position)
    colours = shape_palette[(circle.inverse_mass == 0).astype(jnp.int32), state.circle_shape_roles]
    for c in range(circle.radius.shape[0]):
        inside, black = _circle_coverage(x, y, centres[c], radii[c], circle.rotation[c], t)
        index = paint(index, inside & in_patch(starts[c]) & circle.active[c], black, colours[c])

    # Sprites: select the window row of each screen row first (tiny), then pick the column per
    # pixel with n compares, instead of a per-pixel gather.
    for start, values in _sprite_windows(layout, state):
        n = values.shape[0]
        row_hit = (xi - start[0]) == jnp.arange(n)[None, :]  # (W, n)
        rows = (
            jnp.max(jnp.where(row_hit[:, :, None], values[None, :, :] + 1, 0), axis=1) - 1
        )  # (W, n)
        column = yi - start[1]
        sprite = jnp.full((layout.width, layout.height), -1, jnp.int32)
        for b in range(n):
            sprite = jnp.where(column == b, rows[:, b : b + 1], sprite)
        index = jnp.where(sprite >= 0, sprite, index)
    return index


def make_render_pixels(env_params: EnvParams, static_env_params: StaticEnvParams) -> Any:
    """Build the pixel renderer for these params (the reference's signature and output).

    Args:
        env_params: only ``pixels_per_unit`` is read (must be a concrete int).
        static_env_params: screen size, ``downscale``, ``max_shape_size`` and slot counts.

    Returns:
        A jitted ``render(state) -> image``: ``state`` is one ``EnvState`` or a batch with any
        leading dims ``(B, T, ...)``; ``image`` is float32 ``(..., W, H, 3)`` in ``[0, 255]``,
        ``[x, y, rgb]`` layout with y up (``W, H = screen_dim // downscale``). A state whose
        entity counts differ from ``static_env_params`` raises ``ValueError``.

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> render = make_render_pixels(EnvParams(), static)
        >>> render(create_empty_env(static)).shape
        (125, 125, 3)
    """
    layout = _Layout(env_params, static_env_params)

    draw = vmap_leading_dims(functools.partial(_draw, layout), static_env_params)

    @jax.jit
    def render_pixels(state: EnvState) -> jnp.ndarray:
        return _to_rgb(draw(state), jnp.any(state.timestep < 0))

    return render_pixels


def make_render_pixels_rl(env_params: EnvParams, static_env_params: StaticEnvParams) -> Any:
    """Pixel observation function: ``image = render(state) / 255`` plus ``[gravity_y / 10]``.

    Args:
        env_params: see :func:`make_render_pixels`.
        static_env_params: see :func:`make_render_pixels`.

    Returns:
        ``obs(state) -> PixelsObservation`` (any leading batch dims, like the renderer).

    Example:
        >>> from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
        >>> static = static_env_params_from_size("s")
        >>> obs = make_render_pixels_rl(EnvParams(), static)(create_empty_env(static))
        >>> obs.image.shape, obs.global_info.shape
        ((125, 125, 3), (1,))
    """
    render = make_render_pixels(env_params, static_env_params)

    def render_observation(state: EnvState) -> PixelsObservation:
        image = render(state) / 255.0
        return PixelsObservation(image=image, global_info=state.gravity[..., 1:2] / 10.0)

    return render_observation
