"""Shared fixtures: the golden released-format datasets written by golden/make_data_golden.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

RELEASED = Path(__file__).parent / "data" / "released"
TRAJ_DIR = RELEASED / "traj_s"
FLAT_DIR = RELEASED / "flat_s"


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    """What kinetix-env 3.0.2's loaders returned on the golden datasets (see the generator)."""
    with np.load(RELEASED / "reference_loaders.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def reference_meta(reference) -> dict:
    return json.loads(str(reference["meta"]))


@pytest.fixture
def traj_copy(tmp_path: Path) -> Path:
    """A writable copy of the golden trajectory dataset (for corrupting)."""
    dst = tmp_path / "traj_s"
    shutil.copytree(TRAJ_DIR, dst)
    return dst


def reference_part(reference: dict, prefix: str) -> dict[str, np.ndarray]:
    """``{field name: array}`` of one recorded reference batch (``prefix`` like "traj_batch0")."""
    n = len(prefix) + 1
    return {k[n:]: v for k, v in reference.items() if k.startswith(prefix + "/")}


def rows_as_bytes(fields: dict[str, np.ndarray], names: list[str]) -> list[bytes]:
    """One hashable key per row (record axis 0) made of the listed fields' bytes."""
    n = len(fields[names[0]])
    return [b"".join(np.ascontiguousarray(fields[k][i]).tobytes() for k in names) for i in range(n)]
