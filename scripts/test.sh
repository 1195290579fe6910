#!/usr/bin/env bash
# Set up if needed, then run the whole test suite (no network needed beyond the install).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
