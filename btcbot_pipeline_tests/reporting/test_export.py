"""Exports keep money exact: decimal128 in Parquet, full fixed-point text in CSV."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.reporting.export import export_book


def test_parquet_keeps_decimal128_and_exact_values(tiny: Path, tmp_path: Path) -> None:
    export_book(tiny, tmp_path / "out", "parquet")

    fills = pq.read_table(tmp_path / "out" / "fills.parquet")
    assert fills.schema.field("notional_try").type == pa.decimal128(38, 18)
    assert fills.column("notional_try").to_pylist() == [Decimal("400"), Decimal("250.5"), Decimal("349.5")]
    assert str(fills.column("notional_try")[1]) == "250.500000000000000000"


def test_csv_writes_money_as_full_decimal_text(tiny: Path, tmp_path: Path) -> None:
    export_book(tiny, tmp_path / "out", "csv")

    lines = (tmp_path / "out" / "ledger_metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    last = dict(zip(header, lines[-1].split(",")))
    assert (last["cycle_ts"], last["equity_try"], last["fees_try"]) == (
        "2026-01-01 00:15:00",
        "1050.000000000000000000",
        "12.500000000000000000",
    )


def test_every_table_is_exported_including_book_info_and_gate_failures(tiny: Path, tmp_path: Path) -> None:
    exported = {e.table: e.rows for e in export_book(tiny, tmp_path / "out", "csv")}

    assert (exported["book_info"], exported["gate_failures"], exported["fills"], exported["ledger_metrics"]) == (
        1,
        2,
        3,
        4,
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{t}.csv" for t in exported)


def test_export_command_lists_the_tables(tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(tiny), "--format", "parquet", "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0] == f"wrote {len(lines) - 1} tables as parquet to {tmp_path / 'out'}"
    assert "  fills                       3 rows  fills.parquet" in lines
    assert "  book_info                   1 rows  book_info.parquet" in lines


def test_an_out_that_is_a_file_or_holds_files_is_refused_unless_forced(tiny: Path, tmp_path: Path) -> None:
    from btcbot_pipeline.reporting.errors import ReportingError

    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportingError) as exc:
        export_book(tiny, tmp_path / "file", "csv")
    assert str(exc.value) == f"--out {tmp_path}/file is a file: name a folder (it is created if missing)"
    with pytest.raises(ReportingError) as exc:
        export_book(tiny, tmp_path / "file" / "deeper", "csv")
    assert str(exc.value).startswith(f"--out {tmp_path}/file/deeper cannot be written: ")

    first = export_book(tiny, tmp_path / "out", "csv")
    with pytest.raises(ReportingError) as exc:
        export_book(tiny, tmp_path / "out", "csv")
    names = sorted(e.path.name for e in first)
    assert str(exc.value) == (
        f"--out {tmp_path}/out already holds {len(names)} file(s) ({', '.join(names[:3])} and {len(names) - 3} more): "
        "pass --force to overwrite them, or name a new folder"
    )
    assert [e.rows for e in export_book(tiny, tmp_path / "out", "csv", force=True)] == [e.rows for e in first]


def test_the_cli_refuses_an_existing_out_in_one_line_exit_2(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["export", str(tiny), "--format", "csv", "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"ReportingError: --out {tmp_path}/file is a file: name a folder (it is created if missing)"
    ]
