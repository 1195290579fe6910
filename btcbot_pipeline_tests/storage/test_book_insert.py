"""Rows go into the book by column name, whatever order the book's table keeps its columns in."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Context, InvalidOperation
from decimal import Decimal as D

import duckdb
import pyarrow as pa
import pytest

from btcbot_pipeline.storage.book import COLUMN_NAMES, Book, arrow_tables

TS = datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)
POSITION = {
    "cycle_ts": [TS], "cycle_id": ["20260101T000500Z"], "symbol": ["BTCTRY"], "qty": [D("0.5")],
    "cost_try": [D("1000.123456789012345678901")], "avg_cost_try": [D("2000")], "mark_price_try": [D("2100")],
    "market_value_try": [D("1050")], "unrealized_pnl_try": [D("49.876543210987654321099")],
}  # fmt: skip
EXPECTED = [(
    datetime(2026, 1, 1, 0, 5), "20260101T000500Z", "BTCTRY", D("0.5"), D("1000.123456789012345679"), D("2000"),
    D("2100"), D("1050"), D("49.876543210987654321"),
)]  # fmt: skip


def test_rows_keep_their_columns_in_a_book_of_this_schema_and_hold_no_arrow_memory_after() -> None:
    con = duckdb.connect()
    book = Book(con)
    book.ensure_schema()
    book.begin()
    before = pa.total_allocated_bytes()
    book.insert_rows({"positions": POSITION})

    assert pa.total_allocated_bytes() == before  # the open transaction holds its own copy only
    book.commit()
    names = ", ".join(COLUMN_NAMES["positions"])
    assert con.execute(f"SELECT {names} FROM positions").fetchall() == EXPECTED


def test_a_table_with_its_columns_in_another_order_gets_them_by_name() -> None:
    con = duckdb.connect()
    columns = list(COLUMN_NAMES["positions"].items())[::-1]
    con.execute(f"CREATE TABLE positions ({', '.join(f'{n} {t}' for n, t in columns)})")

    Book(con).insert_rows({"positions": POSITION})

    names = ", ".join(COLUMN_NAMES["positions"])
    assert con.execute(f"SELECT {names} FROM positions").fetchall() == EXPECTED


def test_rows_made_arrow_ahead_of_the_insert_go_in_the_same_in_either_column_order() -> None:
    # the engine builds Arrow where the rows are made and the book's own thread inserts it
    tables = arrow_tables({"positions": POSITION, "fills": {name: [] for name in COLUMN_NAMES["fills"]}})
    assert tables["positions"].column_names == list(COLUMN_NAMES["positions"])
    assert tables["positions"]["cost_try"].type == pa.decimal128(38, 18)
    names = ", ".join(COLUMN_NAMES["positions"])
    ours = duckdb.connect()
    Book(ours).ensure_schema()
    reversed_columns = duckdb.connect()
    columns = list(COLUMN_NAMES["positions"].items())[::-1]
    reversed_columns.execute(f"CREATE TABLE positions ({', '.join(f'{n} {t}' for n, t in columns)})")

    for con in (ours, reversed_columns):
        assert Book(con).insert_rows({"positions": tables["positions"]}) == {"positions": 1}
        assert con.execute(f"SELECT {names} FROM positions").fetchall() == EXPECTED
    assert Book(ours).insert_rows({"fills": tables["fills"]}) == {"fills": 0}


def test_a_gate_stop_empties_the_windows_adaptation_rows_with_its_stage_rows() -> None:
    from btcbot_pipeline.storage.book import WINDOW_TABLES, Window

    con = duckdb.connect()
    book = Book(con)
    book.ensure_schema()
    book.begin()
    book.insert_rows({"positions": POSITION})
    con.execute(
        "INSERT INTO params_active (cycle_ts, cycle_id, active_version, values_json, state_json) "
        "VALUES (?, ?, 1, '{}', '{}')",
        [datetime(2026, 1, 1, 0, 5), "20260101T000500Z"],
    )
    book.commit()

    book.record_gate_failure(Window(TS, datetime(2026, 1, 1, 0, 10, tzinfo=timezone.utc)), [])

    assert {"positions", "params_active", "param_changes", "params_checkpoints"} <= set(WINDOW_TABLES)
    assert con.execute("SELECT count(*) FROM positions").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM params_active").fetchone() == (0,)


# Exponents, zeros of any sign and scale, None, the 18th place and past it, the largest
# value the column holds: Arrow's own conversion of the Decimals, rounded half-even past 18 places.
MONEY = ["1E+2", "0E-18", "-0.00", "-0", "1E-18", "-1.5E-7", "12345678901234567890.5", "0.1", "1e5"]
MONEY += ["99999999999999999999.999999999999999999", "1.0000000000000000005", "2.0000000000000000015"]


def test_money_goes_into_arrow_exactly_as_arrow_converts_the_decimals_rounded_half_even_past_18_places() -> None:
    from btcbot_pipeline.storage.book import _money_array

    values = [D(v) for v in MONEY] + [None]
    wide = Context(prec=38, rounding=ROUND_HALF_EVEN)
    reference = [wide.quantize(D(v), D("1E-18")) for v in MONEY] + [None]

    assert _money_array(values).equals(pa.array(reference, pa.decimal128(38, 18)))
    assert [str(v) for v in _money_array(values).to_pylist()[-4:-1]] == [
        "99999999999999999999.999999999999999999", "1.000000000000000000", "2.000000000000000002",
    ]  # fmt: skip


def test_money_too_large_for_the_column_or_not_a_number_is_refused() -> None:
    from btcbot_pipeline.storage.book import _money_array

    for value in ("100000000000000000000", "99999999999999999999.9999999999999999995", "Infinity"):
        with pytest.raises(InvalidOperation):
            _money_array([D("1"), D(value)])
    with pytest.raises(pa.ArrowInvalid):
        _money_array([D("NaN")])
    with pytest.raises(pa.ArrowTypeError):  # never a float: money is Decimal end to end
        _money_array([D("1"), 1.5])
