""":func:`btcbot_pipeline.testing.postgres.local_postgres` says in one line why no server
started (the deployment tests' skip reason), and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from btcbot_pipeline.testing import postgres
from btcbot_pipeline.testing.postgres import PostgresUnavailable, local_postgres, parse_exports


def test_a_missing_script_is_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "SCRIPT", tmp_path / "local-postgres.sh")
    with pytest.raises(PostgresUnavailable, match=r"^.*local-postgres\.sh is missing \(a source checkout has it\)$"):
        with local_postgres(tmp_path / "pg"):
            pass


def test_the_scripts_last_error_line_is_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "local-postgres.sh"
    script.write_text(
        '[ "$1" = start ] || exit 0\n'
        'echo "initdb: warning" >&2\n'
        'echo "local-postgres: no initdb/pg_ctl on PATH nor in /usr/lib/postgresql/*/bin" >&2\nexit 1\n'
    )
    monkeypatch.setattr(postgres, "SCRIPT", script)
    with pytest.raises(PostgresUnavailable) as raised:
        with local_postgres(tmp_path / "pg"):
            pass
    assert str(raised.value) == "local-postgres: no initdb/pg_ctl on PATH nor in /usr/lib/postgresql/*/bin"


def test_the_exports_are_the_instances_environment() -> None:
    line = (
        "export DAGSTER_PG_USER=dagster DAGSTER_PG_PASSWORD=dagster DAGSTER_PG_HOST=127.0.0.1 "
        "DAGSTER_PG_PORT=55432 DAGSTER_PG_DB=dagster\n"
    )
    assert parse_exports(line) == {
        "DAGSTER_PG_USER": "dagster",
        "DAGSTER_PG_PASSWORD": "dagster",
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "55432",
        "DAGSTER_PG_DB": "dagster",
    }
    with pytest.raises(PostgresUnavailable, match="printed no DAGSTER_PG_PORT, DAGSTER_PG_DB"):
        parse_exports("export DAGSTER_PG_USER=a DAGSTER_PG_PASSWORD=b DAGSTER_PG_HOST=c\n")
