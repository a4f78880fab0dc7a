"""Pixel renderer: parity with the reference's frames (golden fixtures), layout, batching, errors.

Fixtures: ``tests/golden/pixels_<size>.npz`` written by ``golden/make_render_pixels_golden.py``
(reference levels at several rollout steps and sampled levels, rendered by the reference at
downscale 4, 2 and 1).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import GOLDEN_DIR, leaf_name

from kinetix.environment import EnvParams, create_empty_env, static_env_params_from_size
from kinetix.environment.env_state import StaticEnvParams
from kinetix.render import make_render_pixels, make_render_pixels_rl
from kinetix.render.pixel_textures import (
    FIXED_JOINT_TEXTURE,
    REVOLUTE_JOINT_TEXTURE,
    THRUSTER_TEXTURE,
)
from kinetix.render.renderer_pixels import PixelsObservation

# The parity bar: >= 99.9 % identical pixels, and within one intensity level elsewhere.
MIN_IDENTICAL = 0.999
MAX_DIFF = 1.0


@functools.cache
def pixel_golden(size: str) -> dict[str, np.ndarray]:
    path = GOLDEN_DIR / f"pixels_{size}.npz"
    if not path.exists():
        pytest.skip(f"{path.name} not generated (run golden/make_render_pixels_golden.py)")
    with np.load(path) as f:
        return dict(f)


def decode(images: np.ndarray) -> np.ndarray:
    """uint16 fixtures hold 2 * value (exact); float32 ones the value itself."""
    return images.astype(np.float32) / 2 if images.dtype == np.uint16 else images


def golden_pixel_states(size: str, static: StaticEnvParams | None = None):
    """States of ``pixels_<size>.npz`` (static sizes: the ``size`` preset unless given)."""
    data = pixel_golden(size)
    flat, treedef = jax.tree_util.tree_flatten_with_path(
        create_empty_env(static or static_env_params_from_size(size))
    )
    leaves = []
    for path, leaf in flat:
        value = data["state/" + leaf_name(path)]
        assert value.dtype == leaf.dtype and value.shape[1:] == leaf.shape, leaf_name(path)
        leaves.append(jnp.asarray(value))
    return jax.tree_util.tree_unflatten(treedef, leaves)


@functools.cache
def renderer(size: str, downscale: int = 4):
    static = static_env_params_from_size(size).replace(downscale=downscale)
    return make_render_pixels(EnvParams(), static)


def assert_parity(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, what
    identical = np.all(ours == ref, axis=-1)
    frac = identical.mean()
    worst = np.abs(ours - ref).max()
    assert frac >= MIN_IDENTICAL, f"{what}: only {frac:.5f} of pixels identical"
    assert worst <= MAX_DIFF, (
        f"{what}: max abs difference {worst} at {np.argwhere(~identical)[:5].tolist()}"
    )


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_matches_reference_frames(size):
    data = pixel_golden(size)
    states = golden_pixel_states(size)
    ours = np.asarray(renderer(size)(states))
    ref = decode(data["image"])
    assert ours.dtype == np.float32
    assert_parity(ours, ref, f"{size} downscale 4")
    # The fixtures must exercise what they claim to: shapes, joints, thrusters all visible.
    colours = {tuple(c) for c in ref.reshape(-1, 3).tolist()}
    assert (255.0, 255.0, 255.0) in colours and (0.0, 204.0, 0.0) in colours


@pytest.mark.parametrize("downscale", [2, 1])
def test_matches_reference_frames_at_higher_resolution(downscale):
    """Outlines, circle rims and textured joint icons only exist below downscale 4."""
    data = pixel_golden("s")
    index = data[f"ds{downscale}_index"]
    states = jax.tree.map(lambda x: x[index], golden_pixel_states("s"))
    ours = np.asarray(renderer("s", downscale)(states))
    side = 500 // downscale
    assert ours.shape == (len(index), side, side, 3)
    assert_parity(ours, decode(data[f"image_ds{downscale}"]), f"s downscale {downscale}")


def _triangle_frames(downscale: int, duplicated: bool):
    """(ours, reference) frames of the triangle fixture's states of one kind."""
    data = pixel_golden("triangles")
    static = StaticEnvParams()  # the generator's sizes: 12 polygons, circles, joints, thrusters
    states = golden_pixel_states("triangles", static)
    index = np.arange(len(data["names"]))
    ref = decode(data["image"])
    if downscale != 4:
        index = data[f"ds{downscale}_index"]
        ref = decode(data[f"image_ds{downscale}"])
    keep = np.asarray([str(data["names"][i]).startswith("duplicated_vertex") for i in index])
    keep = keep if duplicated else ~keep
    states = jax.tree.map(lambda x: x[index[keep]], states)
    render = make_render_pixels(EnvParams(), static.replace(downscale=downscale))
    return np.asarray(render(states)), ref[keep]


@pytest.mark.parametrize("downscale", [4, 2, 1])
def test_matches_reference_frames_with_triangles(downscale):
    """Triangles (``n_vertices == 3``) are drawn as quads over all 4 vertex slots, as the
    reference does: sampled ones (``generate_triangles``, 4th slot = the rectangle's corner) and
    jax2d-built ones (4th slot = -centre-of-mass shift), also after a rollout.
    Fixture: ``golden/make_render_triangles_golden.py``."""
    data = pixel_golden("triangles")
    assert int(data["num_triangles"].sum()) >= 20  # the fixture does contain triangles
    ours, ref = _triangle_frames(downscale, duplicated=False)
    assert len(ours) > 0
    np.testing.assert_array_equal(ours, ref)


@pytest.mark.xfail(
    strict=True,
    reason="known gap: a 4th slot duplicating a vertex makes a zero-length edge whose inside "
    "test is the sign of an FMA rounding residue in the reference's compiled arithmetic",
)
def test_matches_reference_frames_with_duplicated_vertex():
    ours, ref = _triangle_frames(4, duplicated=True)
    assert_parity(ours, ref, "duplicated-vertex triangles downscale 4")


def test_rl_observation_matches_reference():
    data = pixel_golden("s")
    states = golden_pixel_states("s")
    obs = make_render_pixels_rl(EnvParams(), static_env_params_from_size("s"))(states)
    assert isinstance(obs, PixelsObservation)
    np.testing.assert_array_equal(np.asarray(obs.global_info), data["global_info"])
    np.testing.assert_array_equal(np.asarray(obs.image[0]), data["image_rl0"])
    assert obs.image.shape == (len(data["names"]), 125, 125, 3)
    assert float(obs.image.max()) <= 1.0


def test_embedded_textures_match_reference():
    path = GOLDEN_DIR / "pixels_textures.npz"
    with np.load(path) as ref:
        np.testing.assert_array_equal(FIXED_JOINT_TEXTURE, ref["fixed_joint"])
        np.testing.assert_array_equal(REVOLUTE_JOINT_TEXTURE, ref["revolute_joint"])
        np.testing.assert_array_equal(THRUSTER_TEXTURE, ref["thruster"])


def test_batched_leading_dims_jit_and_vmap():
    states = golden_pixel_states("s")
    render = renderer("s")
    flat = np.asarray(render(states))  # (N, 125, 125, 3)
    n = 6
    bt = jax.tree.map(lambda x: x[:n].reshape((2, 3) + x.shape[1:]), states)
    batched = np.asarray(render(bt))
    assert batched.shape == (2, 3, 125, 125, 3)
    np.testing.assert_array_equal(batched.reshape(flat[:n].shape), flat[:n])
    single = np.asarray(render(jax.tree.map(lambda x: x[4], states)))
    assert single.shape == (125, 125, 3)
    np.testing.assert_array_equal(single, flat[4])
    vmapped = np.asarray(jax.jit(jax.vmap(render))(jax.tree.map(lambda x: x[:2], states)))
    np.testing.assert_array_equal(vmapped, flat[:2])


def test_array_layout_is_x_then_y_up():
    """Output index (i, j) is world point (i, j) / ppud: the floor fills the low j columns."""
    static = static_env_params_from_size("s")
    state = create_empty_env(static)
    # A dynamic green circle of radius 0.4 centred at world (2.0, 3.0) -> pixel (50, 75).
    circle = state.circle.replace(
        position=state.circle.position.at[0].set(jnp.array([2.0, 3.0])),
        radius=state.circle.radius.at[0].set(0.4),
        active=state.circle.active.at[0].set(True),
        inverse_mass=state.circle.inverse_mass.at[0].set(1.0),
    )
    state = state.replace(circle=circle, circle_shape_roles=state.circle_shape_roles.at[0].set(1))
    px = np.asarray(renderer("s")(state))
    floor_top = int(
        round(float(state.polygon.position[0, 1] + state.polygon.vertices[0, :, 1].max()) * 25)
    )
    assert tuple(px[60, 0]) == (80.0, 80.0, 80.0)  # grey fixed floor at the bottom (j = 0)
    assert tuple(px[60, floor_top + 2]) == (255.0, 255.0, 255.0)
    assert tuple(px[50 + 5, 75]) == (0.0, 204.0, 0.0)  # right of the centre: green
    assert tuple(px[50 + 12, 75]) == (255.0, 255.0, 255.0)  # beyond the 10 px radius
    assert tuple(px[50, 75 + 5]) == (0.0, 0.0, 0.0)  # rotation mark points up (+y) at rotation 0
    assert tuple(px[50, 75 - 5]) == (0.0, 204.0, 0.0)


def test_state_of_other_size_is_rejected():
    state_m = create_empty_env(static_env_params_from_size("m"))
    with pytest.raises(ValueError, match="num_polygons"):
        renderer("s")(state_m)
