#!/usr/bin/env bash
# Run the Dagster UI browser tests (btcbot_pipeline_tests/ui: dagster dev on 127.0.0.1,
# a 12-cycle backfill, a backtest group, plots and a failed gate, each launched from the
# UI's own dialogs in headless Chromium) and keep their screenshots in DIR (default
# data/ui_screenshots). The tracked README image docs/lineage.png is rewritten only with
# --update-docs, and only when the tests passed.
#
#   bash scripts/ui_screenshots.sh [--update-docs] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

update_docs=0
dir=data/ui_screenshots
for arg in "$@"; do
  case "$arg" in
    --update-docs) update_docs=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option: $arg (usage: scripts/ui_screenshots.sh [--update-docs] [DIR])" >&2; exit 2 ;;
    *) dir=$arg ;;
  esac
done

bash scripts/setup.sh
mkdir -p "$dir"
rm -f "$dir"/FAILED-*.png  # a failing page of an earlier run
status=0
BTCBOT_REQUIRE_BROWSER=1 BTCBOT_UI_SCREENSHOTS="$(cd "$dir" && pwd)" \
  .venv/bin/python -m pytest -q -p no:cacheprovider btcbot_pipeline_tests/ui || status=$?
ls -l "$dir"
if [ "$status" -ne 0 ]; then
  echo "the UI browser tests failed (exit $status): their screenshots (FAILED-*.png: the page a test gave up on) are in $dir" >&2
  [ "$update_docs" -eq 0 ] || echo "docs/lineage.png left unchanged" >&2
  exit "$status"
fi
if [ "$update_docs" -eq 1 ]; then
  .venv/bin/python scripts/readme_lineage.py "$dir/lineage.png" docs/lineage.png
fi
