#!/usr/bin/env bash
# Set up if needed, lint (pyflakes, import order, line length, complexity) and check the
# formatting (ruff format), then run the whole test suite (no network needed beyond the install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet btcbot_pipeline btcbot_pipeline_tests scripts benchmarks
.venv/bin/ruff format --check --quiet btcbot_pipeline btcbot_pipeline_tests scripts benchmarks
# Two workers, each taking whole files (a file's module-scoped servers start once): about
# 0.63x the serial wall time on two cores. BTCBOT_TEST_WORKERS=0 runs in this process;
# arguments given after (say -n 0, or test paths) override.
exec .venv/bin/python -m pytest -n "${BTCBOT_TEST_WORKERS:-2}" --dist loadfile "$@"
