#!/usr/bin/env bash
# Run the test suite (real LIBERO/robosuite scenes with short horizons, rendered headless on CPU).
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests nothing
# must not pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}" HF_HUB_OFFLINE=1
.venv/bin/python -m ruff check . || exit 1
.venv/bin/python -m pytest --durations=10 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
