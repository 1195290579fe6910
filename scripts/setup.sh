#!/usr/bin/env bash
# Create .venv and install the project with its test extras. Re-running is cheap: the
# install is skipped while pyproject.toml is unchanged since the last successful one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "btcbot_pipeline needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

stamp=.venv/.btcbot-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing btcbot_pipeline into .venv (first run: about a minute) ..."
  log=.venv/install.log
  if ! { .venv/bin/python -m pip install --disable-pip-version-check --upgrade pip \
         && .venv/bin/python -m pip install --disable-pip-version-check -e ".[dev]"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "install failed; full log: $log" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
# The project's own bytecode, written now: pip compiled the dependencies at install, but an
# editable install leaves this package to be compiled on import, and a shell that sets
# PYTHONDONTWRITEBYTECODE would compile it again at every command (~0.3 s each).
# Up-to-date files are skipped, so a re-run costs a fraction of a second.
.venv/bin/python -m compileall -q -j 0 btcbot_pipeline >/dev/null
