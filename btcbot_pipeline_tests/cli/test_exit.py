"""``btcbot`` (``cli.run``) ends its process without Python's object-by-object teardown:
the exit code is the command's, and nothing it printed is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def btcbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "btcbot_pipeline", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_the_exit_code_is_the_commands_and_all_output_arrives(tmp_path: Path) -> None:
    made = btcbot("replay-init", "--dataset", str(tmp_path / "d"), "--seed", "3", cwd=tmp_path)
    listed = btcbot("replay-validate", "--dataset", str(tmp_path / "d"), cwd=tmp_path)
    usage = btcbot("no-such-command", cwd=tmp_path)
    helped = btcbot("--help", cwd=tmp_path)
    refused = btcbot("summary", "--db", str(tmp_path / "missing" / "book.duckdb"), cwd=tmp_path)

    assert (made.returncode, made.stderr) == (0, "") and made.stdout.startswith("wrote 12 symbols")
    assert listed.returncode == 0 and listed.stdout.startswith("OK ") and "12 symbols, 0 errors" in listed.stdout
    assert usage.returncode == 2 and "invalid choice: 'no-such-command'" in usage.stderr
    assert helped.returncode == 0 and helped.stdout.startswith("usage: btcbot")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
