#!/usr/bin/env bash
# Run the Dagster UI browser test (dagster dev on 127.0.0.1, one cycle launched through
# GraphQL, pages rendered by headless Chromium), keep its screenshots in DIR (default
# data/ui_screenshots) and refresh the README's lineage image docs/lineage.png from them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
dir="${1:-data/ui_screenshots}"
mkdir -p "$dir"
BTCBOT_REQUIRE_BROWSER=1 BTCBOT_UI_SCREENSHOTS="$(cd "$dir" && pwd)" \
  .venv/bin/python -m pytest -q btcbot_pipeline_tests/test_ui_browser.py
.venv/bin/python scripts/readme_lineage.py "$dir/lineage.png" docs/lineage.png
ls -l "$dir"
