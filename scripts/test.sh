#!/usr/bin/env bash
# Set up if needed, lint (pyflakes, import order, line length, complexity) and check the
# formatting (ruff format), then run the whole test suite (no network needed beyond the install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet btcbot_pipeline btcbot_pipeline_tests scripts benchmarks
.venv/bin/ruff format --check --quiet btcbot_pipeline btcbot_pipeline_tests scripts benchmarks
exec .venv/bin/python -m pytest "$@"
