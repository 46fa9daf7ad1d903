#!/usr/bin/env bash
# Run the test suite (real LIBERO/robosuite scenes with short horizons, rendered headless on CPU).
# pytest's exit code 5 ("no tests collected") is turned into a failure: a run that tests nothing
# must not pass. Tests run in parallel, one pytest-xdist worker per core up to 4 (AGRA_TEST_WORKERS
# sets the count; 0 runs them all in this process, as `pytest` alone does). Tests that start Ray
# carry the xdist_group "ray" mark and share one worker: one Ray instance at a time. Tests marked
# `slow` (45 s or more) are handed out first, so that the workers finish together; `-m "not slow"`
# leaves them out for a quick pass.
set -uo pipefail
cd "$(dirname "$0")/.."
export MUJOCO_GL="${MUJOCO_GL:-egl}" PYOPENGL_PLATFORM="${PYOPENGL_PLATFORM:-egl}" HF_HUB_OFFLINE=1
.venv/bin/python -m ruff check . || exit 1
workers=${AGRA_TEST_WORKERS:-$(( $(nproc) < 4 ? $(nproc) : 4 ))}
parallel=()
[ "$workers" -gt 0 ] && parallel=(-n "$workers" --dist loadgroup)
.venv/bin/python -m pytest "${parallel[@]}" --durations=10 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
