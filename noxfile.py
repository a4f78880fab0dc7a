"""Nox sessions for the Kinetix monorepo.

    nox -s lint tests integration     # what CI runs (.ci/run)
    nox -s "tests(jax2d)"             # one package, with only its declared dependencies
    nox -s bench -- --quick           # our engine vs the reference jax2d 1.0.1, side by side
    nox -s bench_env / bench_render / bench_data / bench_agents   # the other layers, same way
    nox -s golden                     # regenerate golden fixtures with the reference installed

Every session gets a fresh virtualenv (uv backend; pass ``-r`` to reuse one while iterating).
Local packages are installed non-editable, so a session tests what a user would ``pip install``.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "no"
nox.options.error_on_external_run = True
nox.options.sessions = ["lint", "tests", "integration"]

ROOT = Path(__file__).resolve().parent
PACKAGES_DIR = ROOT / "packages"

# Dependency order, and the local sibling packages each package needs at runtime.
PACKAGE_ORDER = ["jax2d", "kinetix-env", "kinetix-render", "kinetix-data", "kinetix-agents"]
LOCAL_DEPS: dict[str, list[str]] = {
    "jax2d": [],
    "kinetix-env": ["jax2d"],
    "kinetix-render": ["jax2d", "kinetix-env"],
    "kinetix-data": ["jax2d", "kinetix-env"],
    "kinetix-agents": ["jax2d", "kinetix-env", "kinetix-render", "kinetix-data"],
}
# Python import name used for the "imports with only its declared dependencies" check.
IMPORT_NAME = {
    "jax2d": "jax2d",
    "kinetix-env": "kinetix.environment",
    "kinetix-render": "kinetix.render",
    "kinetix-data": "kinetix.data",
    "kinetix-agents": "kinetix.agents",
}

# The reference we compare against (PyPI).
REF_JAX = ["jax==0.9.0", "jaxlib==0.9.0"]
REF_JAX2D = "jax2d==1.0.1"
REF_CHEX = "chex==0.1.92"  # jax2d 1.0.1 imports chex without declaring it
REF_KINETIX_ENV = "kinetix-env==3.0.2"
# What the reference's dataset tools need next to kinetix-env (the released shards are zarr v2).
REF_DATA = ["zarr==2.18.3", "numcodecs==0.13.1", "grain==0.2.18"]
OUR_JAX = "jax==0.10.2"  # the jax the golden fixtures are stepped on (recorded in each fixture)

RUFF = "ruff==0.17.6"  # pinned: formatter output changes between ruff releases

# pytest-xdist workers for the test sessions; off by default because it did not help on the
# 2-core machine: compile-bound JAX tests (3 files, 6 distinct jitted steps, shared machine under
# load) took 111 s serial, 133 s with `-n 2 --dist loadfile`, 198 s with `-n 2`.
# KINETIX_TEST_WORKERS=N turns it on (with --dist loadfile, so module fixtures compile once).
TEST_WORKERS = os.environ.get("KINETIX_TEST_WORKERS", "0")


def _existing_packages() -> list[str]:
    return [p for p in PACKAGE_ORDER if (PACKAGES_DIR / p / "pyproject.toml").is_file()]


def _pkg_path(pkg: str, extra: str | None = None) -> str:
    path = str(PACKAGES_DIR / pkg)
    return f"{path}[{extra}]" if extra else path


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def _jax_env() -> dict[str, str]:
    """Environment for every test run: CPU only, persistent compilation cache on disk."""
    cache_dir = _cache_home() / "kinetix-tests" / "jax"
    cache_dir.mkdir(parents=True, exist_ok=True)
    return {
        "JAX_PLATFORMS": "cpu",
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        # No JAX_COMPILATION_CACHE_MAX_SIZE: the LRU cap needs `filelock`, which the packages do
        # not declare; without it every cache read fails with a warning and nothing is reused.
        "PYTHONHASHSEED": "0",
    }


def _install_local(
    session: nox.Session, pkgs: list[str], test_extra_for: list[str], extra: Sequence[str] = ()
) -> None:
    """Install local packages non-editable in one resolver call (siblings resolve locally).

    ``--reinstall-package`` rebuilds them from the working tree even in a reused venv (``-r``),
    where uv would otherwise keep the installed copy because the version did not change.
    """
    specs = [_pkg_path(p, "test" if p in test_extra_for else None) for p in pkgs]
    reinstall = [arg for p in pkgs for arg in ("--reinstall-package", p)]
    session.install(*reinstall, *specs, *extra)


def _ref_venv(session: nox.Session, name: str, *requirements: str) -> str:
    """A fresh side venv ``.nox/<name>`` holding ``requirements`` (the reference packages, which
    must never share a venv with ours); returns its python."""
    ref_dir = ROOT / ".nox" / name
    session.run(
        "uv", "venv", "--clear", "--quiet", str(ref_dir), "--python", sys.executable, external=True
    )  # fmt: skip
    ref_python = str(ref_dir / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python"))
    if requirements:
        session.run("uv", "pip", "install", "--python", ref_python, *requirements, external=True)
    return ref_python


def _pytest_args(session: nox.Session, *paths: str) -> list[str]:
    args = ["pytest", *paths]
    if TEST_WORKERS not in ("", "0", "1"):
        args += ["-n", TEST_WORKERS, "--dist", "loadfile"]
    return [*args, *session.posargs]


@nox.session
@nox.parametrize("pkg", _existing_packages(), ids=_existing_packages())
def tests(session: nox.Session, pkg: str) -> None:
    """One package's tests, with only that package's declared dependencies installed."""
    tests_dir = PACKAGES_DIR / pkg / "tests"
    _install_local(session, [*LOCAL_DEPS[pkg], pkg], test_extra_for=[pkg])
    env = _jax_env()
    # src layouts: nothing in the checkout shadows the installed packages.
    session.run("python", "-c", f"import {IMPORT_NAME[pkg]}", env=env)
    session.run(*_pytest_args(session, str(tests_dir.relative_to(ROOT))), env=env)


@nox.session
def integration(session: nox.Session) -> None:
    """Cross-package flows with every existing package installed."""
    pkgs = _existing_packages()
    _install_local(session, pkgs, test_extra_for=pkgs)
    session.run(*_pytest_args(session, "tests-integration"), env=_jax_env())


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over the whole repository."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Engine speed, ours vs the reference, in the same run. Extra args go to benchmarks/engine.py.

    Example: ``nox -s bench -- --quick`` or ``nox -s bench -- --sizes s,l --batches 1,1024
    --rounds 3`` (on a shared machine, quote the per-round ratio's median that ``--rounds`` adds).
    """
    # Same jax/jaxlib on both sides by default, so the ratio measures the engines, not JAX.
    # KINETIX_BENCH_JAX=latest benchmarks ours with whatever jax our packages resolve to.
    same_jax = [] if os.environ.get("KINETIX_BENCH_JAX") == "latest" else REF_JAX
    _install_local(session, _existing_packages(), test_extra_for=[], extra=same_jax)
    ref_python = _ref_venv(session, "_ref", *REF_JAX, REF_JAX2D, REF_CHEX)
    env = {"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}
    session.run(
        "python",
        str(ROOT / "benchmarks" / "engine.py"),
        "--ref-python",
        str(ref_python),
        "--label",
        shlex.join(["nox", "-s", "bench", *(["--", *session.posargs] if session.posargs else [])]),
        *session.posargs,
        env=env,
    )


@nox.session
def bench_numerics(session: nox.Session) -> None:
    """Our engine's opt-in ``numerics="fast"`` and ``cpu_compiler_options()`` vs the defaults,
    in one process.

    Example: ``nox -s bench_numerics -- --sizes s,m --batch 1024 --rounds 9``. Uses the newest
    jax our packages resolve to (``KINETIX_BENCH_JAX=reference`` pins the reference's instead).
    """
    extra = REF_JAX if os.environ.get("KINETIX_BENCH_JAX") == "reference" else []
    _install_local(session, ["jax2d"], test_extra_for=[], extra=extra)
    session.run(
        "python", str(ROOT / "benchmarks" / "engine_numerics.py"), *session.posargs,
        env={"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )  # fmt: skip


@nox.session
def bench_env(session: nox.Session) -> None:
    """Env steps/s and compile time, ours vs kinetix-env 3.0.2, same jax. Args go to benchmarks/env.py.

    Example: ``nox -s bench_env -- --quick`` or ``nox -s bench_env -- --sizes s,m --batches 1,256``.
    """
    _install_local(session, _existing_packages(), test_extra_for=[], extra=REF_JAX)
    ref_python = _ref_venv(session, "_ref_env", *REF_JAX, REF_JAX2D, REF_CHEX, REF_KINETIX_ENV)
    session.run(
        "python", str(ROOT / "benchmarks" / "env.py"), "--ref-python", ref_python,
        *session.posargs, env={"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )  # fmt: skip


@nox.session
def bench_agents(session: nox.Session) -> None:
    """PPO env-steps/s and BC samples/s, ours vs the reference env + flax model (kinetix-env 3.0.2)
    in an equivalent PureJaxRL loop, same jax. Args go to benchmarks/agents.py.

    Example: ``nox -s bench_agents -- --quick`` or ``nox -s bench_agents -- --sizes s --tasks ppo``.
    """
    _install_local(session, _existing_packages(), test_extra_for=[], extra=REF_JAX)
    # kinetix-env 3.0.2 pulls in flax, optax and distrax (its kinetix.models needs them).
    ref_python = _ref_venv(session, "_ref_agents", *REF_JAX, REF_JAX2D, REF_CHEX, REF_KINETIX_ENV)
    label = shlex.join(
        ["nox", "-s", "bench_agents", *(["--", *session.posargs] if session.posargs else [])]
    )
    session.run(
        "python", str(ROOT / "benchmarks" / "agents.py"), "--ref-python", ref_python,
        "--label", label, *session.posargs,
        env={"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )  # fmt: skip


@nox.session
def bench_render(session: nox.Session) -> None:
    """Renderer frames/s and compile time at batch 256, ours vs kinetix-env 3.0.2's renderers.

    Example: ``nox -s bench_render -- --renderers pixels --reps 3``.
    """
    _install_local(session, _existing_packages(), test_extra_for=[], extra=REF_JAX)
    ref_python = _ref_venv(session, "_ref_env", *REF_JAX, REF_JAX2D, REF_CHEX, REF_KINETIX_ENV)
    session.run(
        "python", str(ROOT / "benchmarks" / "render.py"), "--ref-python", ref_python,
        *session.posargs, env={"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )  # fmt: skip


@nox.session
def bench_data(session: nox.Session) -> None:
    """Trajectory loader throughput and peak memory, ours vs kinetix-env 3.0.2 (zarr + grain).

    Example: ``nox -s bench_data -- --repeats 3 --batches 150``.
    """
    _install_local(session, _existing_packages(), test_extra_for=[])
    ref_python = _ref_venv(
        session, "_ref_data", *REF_JAX, REF_JAX2D, REF_CHEX, REF_KINETIX_ENV, *REF_DATA
    )
    session.run(
        "python", str(ROOT / "benchmarks" / "data.py"), "--ref-python", ref_python,
        *session.posargs, env={"JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")},
    )  # fmt: skip


@nox.session
def golden(session: nox.Session) -> None:
    """Regenerate the golden fixtures from the reference packages (see golden/README.md).

    Two reference venvs: the level sampler of ``kinetix-env==3.0.2`` needs jax <= 0.9, while the
    reference engine must be stepped on the same jax as ours (XLA rounding differs between jax
    releases and flips float32 ties). Stages: (1) sample levels and record the env fixtures in the
    jax 0.9 venv (this session's venv); (2) build and step every jax2d scene with ``jax2d==1.0.1``
    on our jax; (3) step them again on jax 0.9 to record the reference's own cross-version
    divergence (``xla_noise_floor.json``).
    """
    session.install(*REF_JAX, REF_JAX2D, REF_CHEX, REF_KINETIX_ENV, *REF_DATA)
    env = _jax_env()
    jax2d_gen = str(ROOT / "golden" / "make_jax2d_golden.py")
    session.run("python", jax2d_gen, "--stage", "levels", env=env)
    # Our jax: whatever our jax2d resolves to, pinned to the version the fixtures record.
    ref_python = _ref_venv(session, "_ref_ourjax", OUR_JAX, REF_JAX2D, REF_CHEX, "flax")
    session.run(ref_python, jax2d_gen, "--stage", "fixtures", env=env, external=True)
    other = ROOT / ".nox" / "_golden_jax09"
    session.run(
        "python", jax2d_gen, "--stage", "fixtures", "--allow-jax-mismatch", "--out", str(other),
        env=env,
    )  # fmt: skip
    session.run(
        ref_python, str(ROOT / "golden" / "make_jax2d_noise_floor.py"), "--other", str(other),
        env={**env, "PYTHONPATH": str(ROOT / "packages" / "jax2d" / "src")}, external=True,
    )  # fmt: skip
    for script in sorted((ROOT / "golden").glob("make_*.py")):
        if script.name not in ("make_jax2d_golden.py", "make_jax2d_noise_floor.py"):
            session.run("python", str(script), env=env)
