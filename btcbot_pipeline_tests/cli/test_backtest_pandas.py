"""``btcbot backtest`` never imports pandas in its own process (~50 MiB at its peak): pyarrow
is told once, before it would import pandas to look at a run's lists, that there is none.
The gates' worker process builds its pandas frames itself. Each check runs in a fresh
interpreter: this test process has imported pandas long ago."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from btcbot_pipeline.testing.cycle_harness import DEMO

SETS = [arg for k, v in DEMO.items() for arg in ("--set", f"{k}={v}")]

# Prints whether pandas was imported when the process ends, after the command's own exit code.
_AT_EXIT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('pandas imported:', 'pandas' in sys.modules))\n"
    "from btcbot_pipeline.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _python(code: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_a_backtest_runs_its_cycles_without_importing_pandas(replay_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BACKTEST_DIR": str(tmp_path / "bt"), "GATE_VALIDATOR": "auto"}
    env.pop("DAGSTER_HOME", None)
    (tmp_path / "empty.env").write_text("")
    window = ["--start", "2026-01-01T00:30", "--end", "2026-01-01T01:30"]  # 12 cycles: the GE worker validates
    done = _python(
        _AT_EXIT,
        "backtest",
        "--dataset",
        str(replay_dir),
        *window,
        "--name",
        "nopandas",
        "--env-file",
        str(tmp_path / "empty.env"),
        *SETS,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "done: 12 cycles" in done.stdout
    assert done.stdout.rstrip().endswith("pandas imported: False")


def _printed(cwd: Path, *lines: str) -> list[str]:
    """What a fresh interpreter running ``lines`` printed, line by line (it must exit 0)."""
    done = _python("\n".join(lines), cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_pyarrow_still_converts_to_and_from_pandas_once_someone_imports_it(tmp_path: Path) -> None:
    assert _printed(
        tmp_path,
        "import sys",
        "from btcbot_pipeline.cli.backtest import _arrow_without_pandas",
        "_arrow_without_pandas()",
        "import pyarrow as pa",
        "from decimal import Decimal",
        "pa.array([Decimal('1.5')], pa.decimal128(38, 18))",
        "print('after pa.array:', 'pandas' in sys.modules)",
        "import pandas as pd",
        "print('to_pandas:', pa.table({'a': [1, 2]}).to_pandas()['a'].tolist())",
        "print('from a Series:', pa.array(pd.Series([3, 4])).to_pylist())",
    ) == ["after pa.array: False", "to_pandas: [1, 2]", "from a Series: [3, 4]"]


def test_a_process_that_imported_pandas_already_is_left_as_it_is(tmp_path: Path) -> None:
    assert _printed(
        tmp_path,
        "import pandas as pd, pyarrow as pa",
        "from btcbot_pipeline.cli.backtest import _arrow_without_pandas",
        "_arrow_without_pandas()",
        "print(pa.array(pd.Series([5])).to_pylist(), pa.Table.from_pandas(pd.DataFrame({'b': [6]})).to_pydict())",
    ) == ["[5] {'b': [6]}"]
