#!/usr/bin/env bash
# The README's first command: on a fresh clone with only python3 (>= 3.10) available, install
# uv if needed, build .venv-demo with every package (non-editable, `video` and `plots` extras) and
# run the demo pipeline (collect -> BC -> fine-tune, PPO from scratch -> evaluate -> report).
#
#   scripts/demo.sh                 # writes runs/demo/report.md (~15 min on a 2-core CPU)
#   scripts/demo.sh --quick         # a 2-3 minute smoke run (results meaningless)
#   scripts/demo.sh --out runs/x --seed 1 ppo_timesteps=1000000
#
# Re-runnable: the venv is reused (local packages are rebuilt from the working tree), the JAX
# compilation cache persists in ~/.cache/kinetix-demo, and collected data in <out>/data is reused.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
VENV="${KINETIX_DEMO_VENV:-.venv-demo}"
say() { echo "[demo.sh $(date +%H:%M:%S)] $*"; }

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "demo.sh: $PY is missing or older than Python 3.10; set PYTHON=/path/to/python3.10+" >&2
    exit 1
fi

if command -v uv >/dev/null 2>&1; then
    UV=(uv)
elif "$PY" -m uv --version >/dev/null 2>&1; then
    UV=("$PY" -m uv)
else
    say "installing uv (python3 -m pip install --user uv)"
    "$PY" -m pip install --user --quiet uv 2>/dev/null \
        || "$PY" -m pip install --user --quiet --break-system-packages uv \
        || { echo "demo.sh: could not install uv with pip; install it (https://docs.astral.sh/uv/) and rerun" >&2; exit 1; }
    UV=("$PY" -m uv)
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    "${UV[@]}" venv --quiet "$VENV" --python "$PY"
fi

say "installing packages into $VENV"
LOCAL=(jax2d kinetix-env kinetix-render kinetix-data kinetix-agents)
REINSTALL=()
for p in "${LOCAL[@]}"; do REINSTALL+=(--reinstall-package "$p"); done
"${UV[@]}" pip install --quiet --python "$VENV/bin/python" "${REINSTALL[@]}" \
    ./packages/jax2d ./packages/kinetix-env "./packages/kinetix-render[video]" \
    ./packages/kinetix-data "./packages/kinetix-agents[video,plots]"

export JAX_PLATFORMS="${JAX_PLATFORMS:-cpu}"
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-$HOME/.cache/kinetix-demo/jax}"
export JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="${JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS:-0}"
say "running python -m kinetix.agents.demo $*"
exec "$VENV/bin/python" -m kinetix.agents.demo "$@"
