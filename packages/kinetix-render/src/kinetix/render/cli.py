"""``kinetix-render``: turn a level file or a stored trajectory into a GIF or MP4.

Roll a level out with a simple policy and write the video::

    kinetix-render LEVEL.json --steps 200 --out level.gif
    kinetix-render LEVEL.json --steps 100 --policy random --action-type continuous --out car.mp4

Render one stored trajectory of a dataset (needs ``pip install kinetix-data``)::

    kinetix-render --dataset PATH --index 3 --out episode3.gif
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main", "build_parser", "rollout_level"]

ACTION_TYPES = ("continuous", "discrete", "multi_discrete")
POLICIES = ("noop", "random")
SIZES = ("s", "m", "l")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``kinetix-render``."""
    p = argparse.ArgumentParser(
        prog="kinetix-render",
        description=(
            "Render a Kinetix level rollout (LEVEL.json) or a stored dataset trajectory "
            "(--dataset PATH --index I) to a GIF or MP4 video."
        ),
        epilog="Examples: kinetix-render level.json --steps 200 --out level.gif | "
        "kinetix-render --dataset ./data --index 0 --out ep0.mp4",
    )
    p.add_argument("level", nargs="?", help="level JSON file (the reference editor's format)")
    p.add_argument("--out", required=True, help="output video file, .gif or .mp4")
    p.add_argument("--steps", type=int, default=200, help="env steps to roll out (default: 200)")
    p.add_argument(
        "--size",
        choices=SIZES,
        default=None,
        help="pad the level to this size preset (default: the level file's own sizes)",
    )
    p.add_argument(
        "--action-type",
        choices=ACTION_TYPES,
        default="continuous",
        help="action space of the rollout policy (default: continuous)",
    )
    p.add_argument(
        "--policy",
        choices=POLICIES,
        default="noop",
        help="noop: no motor/thruster input; random: uniform random actions (default: noop)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--fps", type=float, default=15.0, help="video frames per second (default: 15)")
    p.add_argument(
        "--downscale",
        type=int,
        default=None,
        help="render at 500/DOWNSCALE px: 1, 2 or 4 (default: the level's, 4 = 125 px)",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="keep rolling out after the episode ends (auto-reset); by default the video stops there",
    )
    p.add_argument(
        "--dataset", default=None, help="render a stored trajectory of this dataset instead"
    )
    p.add_argument(
        "--index", type=int, default=0, help="trajectory index in --dataset (default: 0)"
    )
    return p


def rollout_level(
    level_path: str,
    steps: int,
    *,
    size: str | None = None,
    action_type: str = "continuous",
    policy: str = "noop",
    seed: int = 0,
    stop_at_done: bool = True,
):
    """Roll a level file out and return ``(states, env_params, static_env_params)``.

    ``states`` holds the initial state and one state per step, leading dim ``T <= steps + 1``
    (cut after the first finished episode when ``stop_at_done``).

    Example:
        >>> states, params, static = rollout_level("level.json", 10)  # doctest: +SKIP
    """
    import jax
    import jax.numpy as jnp

    from kinetix.environment import (
        load_from_json_file,
        make_kinetix_env,
        static_env_params_from_size,
    )

    if not os.path.isfile(level_path):
        raise FileNotFoundError(f"level file not found: {level_path!r}")
    if steps < 0:
        raise ValueError(f"--steps must be >= 0, got {steps}")
    target = static_env_params_from_size(size) if size else None
    level, static, params = load_from_json_file(level_path, target)
    env = make_kinetix_env(
        action_type, "blind", lambda _rng: level, params, static, auto_reset=True
    )
    action_space = env.action_space(params)

    def step(carry, key):
        state, done_before = carry
        k_act, k_step = jax.random.split(key)
        if policy == "random":
            action = action_space.sample(k_act)
        else:
            action = jnp.zeros(action_space.shape, action_space.dtype)
        _, state, _, done, _ = env.step(k_step, state, action, params)
        return (state, done_before | done), (state, done_before | done)

    keys = jax.random.split(jax.random.PRNGKey(seed), steps)
    _, (states, done) = jax.jit(lambda ks: jax.lax.scan(step, (level, jnp.bool_(False)), ks))(keys)
    states = jax.tree.map(lambda first, rest: jnp.concatenate([first[None], rest]), level, states)
    length = steps + 1
    if stop_at_done and steps:
        done = jax.device_get(done)
        if done.any():
            # Keep the last state before the reset (the step that ended the episode resets).
            length = int(done.argmax()) + 1
    return jax.tree.map(lambda x: x[:length], states), params, static


def static_params_for(state) -> object:
    """Static sizes matching a state's entity counts: a size preset when one fits exactly."""
    from kinetix.environment import StaticEnvParams, static_env_params_from_size

    counts = (
        state.polygon.position.shape[-2],
        state.circle.position.shape[-2],
        state.joint.a_index.shape[-1],
        state.thruster.object_index.shape[-1],
    )
    for size in SIZES:
        static = static_env_params_from_size(size)
        if (
            static.num_polygons,
            static.num_circles,
            static.num_joints,
            static.num_thrusters,
        ) == counts:
            return static
    p, c, j, t = counts
    return StaticEnvParams(num_polygons=p, num_circles=c, num_joints=j, num_thrusters=t)


TRAJECTORY_SOURCE_GROUP = "kinetix.trajectory_sources"


def _dataset_trajectory(path: str, index: int, entry_points=None):
    """One stored trajectory, read by whichever installed package registered a ``"dataset"``
    reader in the ``kinetix.trajectory_sources`` entry-point group (kinetix-data does). The
    renderer never imports a data package: the dependency points up the stack only through the
    registry, as observations do for the env.

    The reader is called as ``reader(path, index) -> (env_state with leading T, length)``.
    """
    from importlib import metadata

    from kinetix.environment import EnvParams

    if entry_points is None:
        entry_points = metadata.entry_points(group=TRAJECTORY_SOURCE_GROUP)
    readers = {ep.name: ep for ep in entry_points}
    if "dataset" not in readers:
        raise SystemExit(
            "kinetix-render --dataset needs a trajectory reader registered in entry-point group "
            f"{TRAJECTORY_SOURCE_GROUP!r}; install the kinetix-data package: pip install kinetix-data"
        )
    state, length = readers["dataset"].load()(path, index)
    return state, EnvParams(), static_params_for(state), int(length)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kinetix-render`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if (args.level is None) == (args.dataset is None):
        parser.error("give exactly one of LEVEL.json or --dataset PATH")
    ext = os.path.splitext(args.out)[1].lower()
    if ext not in (".gif", ".mp4"):
        parser.error(f"--out must end in .gif or .mp4, got {args.out!r}")

    from kinetix.render.video import make_frames, save_video

    length = None
    try:
        if args.dataset is not None:
            states, params, static, length = _dataset_trajectory(args.dataset, args.index)
        else:
            states, params, static = rollout_level(
                args.level,
                args.steps,
                size=args.size,
                action_type=args.action_type,
                policy=args.policy,
                seed=args.seed,
                stop_at_done=not args.keep_going,
            )
        frames = make_frames(states, params, static, downscale=args.downscale, length=length)
        save_video(frames, args.out, fps=args.fps)
    except (FileNotFoundError, ValueError) as err:
        print(f"kinetix-render: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {frames.shape[0]} frames of {frames.shape[2]}x{frames.shape[1]} px")
    return 0


if __name__ == "__main__":
    sys.exit(main())
