"""Record how far the reference disagrees with itself across JAX versions after 100 steps.

Float32 rounding differs between XLA releases; in chaotic scenes (piles, fast collisions) a
one-ulp difference grows to a visible divergence within 100 steps. This script compares the
reference's free-running 100-step states from two fixture directories made by
``make_jax2d_golden.py --stage fixtures`` under two JAX versions and writes, per scene, the max
|position/rotation| difference to ``packages/jax2d/tests/golden/xla_noise_floor.json``. The golden
test uses it as the floor that our engine's own divergence is compared against.

    python golden/make_jax2d_noise_floor.py --other /tmp/golden_ref_jax090
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packages/jax2d/tests"))

from _golden import fixture_names, load_fixture  # noqa: E402

LEAVES = ("polygon/position", "polygon/rotation", "circle/position", "circle/rotation")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--other", type=Path, required=True, help="fixtures from another JAX version")
    ap.add_argument("--ours", type=Path, default=ROOT / "packages/jax2d/tests/golden")
    args = ap.parse_args()
    errors = {}
    for name in fixture_names(args.ours):
        a = load_fixture(args.ours / f"{name}.npz")
        b = load_fixture(args.other / f"{name}.npz")
        err = 0.0
        for leaf in LEAVES:
            x, y = a[f"step100/{leaf}"], b[f"step100/{leaf}"]
            if x.size:
                err = max(err, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
        errors[name] = err
    meta = {
        "fixtures": str(args.ours.relative_to(ROOT)),
        "jax_versions": [
            str(load_fixture(d / f"{name}.npz").get("meta/jax_version", "?"))
            for d in (args.ours, args.other)
        ],  # fmt: skip
        "metric": "max |position/rotation| difference after 100 free-running steps",
    }
    out = args.ours / "xla_noise_floor.json"
    out.write_text(json.dumps({"meta": meta, "errors": errors}, indent=1, sort_keys=True) + "\n")
    v = np.array(list(errors.values()))
    print(f"wrote {out}: {(v <= 1e-3).mean():.1%} of {v.size} scenes within 1e-3")


if __name__ == "__main__":
    main()
