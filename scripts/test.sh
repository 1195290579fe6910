#!/usr/bin/env bash
# Set up if needed, lint (pyflakes + import order), then run the whole test suite
# (no network needed beyond the install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet btcbot_pipeline btcbot_pipeline_tests scripts
exec .venv/bin/python -m pytest "$@"
