"""Data-parallel BC over two real CPU processes (jax.distributed + gloo) equals the
single-process run on the same global batch; helpers' errors."""

from __future__ import annotations

import socket

import jax
import numpy as np
import pytest
from _ag2_subprocess import REFERENCE_RUN, load_arrays, reference_arrays, start_bc

from kinetix.agents.distributed import initialize, local_batch_size, make_mesh, shard_batch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_process(tmp_path, tmp_path_factory):
    a, _ = reference_arrays(tmp_path_factory)
    port = _free_port()
    multi = tmp_path / "multi.npz"
    procs = [
        start_bc(
            multi,
            [*REFERENCE_RUN, f"misc.save_path={tmp_path}", "misc.run_name=multi"],
            env={
                "KINETIX_COORDINATOR_ADDRESS": f"localhost:{port}",
                "KINETIX_NUM_PROCESSES": "2",
                "KINETIX_PROCESS_ID": str(i),
            },
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=400)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out
        assert "PROCESSES 2 DEVICES 2" in out
    b = load_arrays(multi)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        # same global batch and gradient; only the cross-process reduction order differs
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6)
    # both processes saved each (replicated) checkpoint once, into one directory
    assert sorted(p.name for p in (tmp_path / "multi" / "checkpoints").iterdir()) == [
        "12",
        "4",
        "8",
    ]


def test_two_local_devices_match_one_device(tmp_path, tmp_path_factory):
    a, _ = reference_arrays(tmp_path_factory)
    out = tmp_path / "two_devices.npz"
    proc = start_bc(
        out,
        [*REFERENCE_RUN, f"misc.save_path={tmp_path}", "misc.run_name=two"],
        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
    )
    stdout = proc.communicate(timeout=400)[0]
    assert proc.returncode == 0, stdout
    assert "PROCESSES 1 DEVICES 2" in stdout
    for x, y in zip(a, load_arrays(out), strict=True):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-6)


def test_initialize_is_a_no_op_without_settings_and_rejects_partial_ones(monkeypatch):
    for k in ("KINETIX_COORDINATOR_ADDRESS", "KINETIX_NUM_PROCESSES", "KINETIX_PROCESS_ID"):
        monkeypatch.delenv(k, raising=False)
    assert initialize() is False
    with pytest.raises(ValueError, match="needs coordinator_address, num_processes and process_id"):
        initialize(coordinator_address="localhost:1234")
    jax.devices()  # the backend is running in this process
    with pytest.raises(RuntimeError, match="after JAX had already started its backend"):
        initialize(coordinator_address="localhost:1234", num_processes=2, process_id=0)


def test_shard_batch_and_batch_size_checks():
    mesh = make_mesh()
    n = mesh.devices.size
    batch = {"x": np.arange(4 * n).reshape(2 * n, 2)}
    out = shard_batch(batch, mesh)
    np.testing.assert_array_equal(np.asarray(out["x"]), batch["x"])
    assert out["x"].sharding.spec == jax.sharding.PartitionSpec("devices")
    assert local_batch_size(4 * n, mesh) == 4 * n
    if n > 1:
        with pytest.raises(ValueError, match="not divisible"):
            local_batch_size(n + 1, mesh)
    with pytest.raises(ValueError, match="cannot be split"):
        shard_batch({"x": np.zeros(())}, mesh)
