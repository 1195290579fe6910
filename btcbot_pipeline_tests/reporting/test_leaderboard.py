"""A sweep's leaderboard from real (small) books: exact money, fixed order, same bytes twice."""

from __future__ import annotations

import hashlib
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from btcbot_pipeline.reporting import leaderboard as lb

PARAMS = ["STAGE7_SLIPPAGE_BPS"]
CSV = (
    "member,STAGE7_SLIPPAGE_BPS,return_pct,max_drawdown_pct,final_equity_try,fees_try,turnover_try,fills,normal_pct,"
    "reduce_risk_only_pct,observe_only_pct,fingerprint\n"
    "s__001,25,-1.557767,1.557767,9844.223342451546225000,63.492495522816275000,31746.247761408137500000,17,"
    "100.000000,0.000000,0.000000,1dcf20fb7a95\n"
    "s__002,40,-1.809243,1.809243,9819.075725955595960000,55.732568785384040000,27866.284392692020000000,15,"
    "100.000000,0.000000,0.000000,b0e5aa6aa421\n"
)


def rows(books: Path) -> list[lb.LeaderboardRow]:
    # listed worst first: ranking puts the best return first
    return lb.ranked(
        [
            lb.member_row(books / "slip40.duckdb", "s__002", {"STAGE7_SLIPPAGE_BPS": "40"}),
            lb.member_row(books / "base.duckdb", "s__001", {"STAGE7_SLIPPAGE_BPS": "25"}),
        ]
    )


def test_a_member_row_has_the_books_exact_figures(books: Path) -> None:
    best = rows(books)[0]

    assert best.member == "s__001" and best.cycles == 12 and best.fills == 17
    assert best.return_pct == Decimal("-1.557767") and best.max_drawdown_pct == Decimal("1.557767")
    assert best.final_equity_try == Decimal("9844.223342451546225000")
    assert best.fees_try == Decimal("63.492495522816275000")
    assert best.turnover_try == Decimal("31746.247761408137500000")
    assert best.mode_pct == {"NORMAL": Decimal("100"), "REDUCE_RISK_ONLY": Decimal("0"), "OBSERVE_ONLY": Decimal("0")}
    assert best.digest == "1dcf20fb7a9501ab916348a04b5bf0c92fab90eeaa821bdfcab1250c11c81614"
    assert best.fingerprint == "1dcf20fb7a95"


def test_csv_and_parquet_are_exact_and_the_same_bytes_twice(books: Path, tmp_path: Path) -> None:
    ranked = rows(books)
    lb.write_csv(ranked, PARAMS, tmp_path / "a.csv")
    lb.write_parquet(ranked, PARAMS, tmp_path / "a.parquet")
    lb.write_parquet(rows(books), PARAMS, tmp_path / "b.parquet")

    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == CSV
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    table = pq.read_table(tmp_path / "a.parquet")
    assert table.schema.field("final_equity_try").type == pa.decimal128(38, 18)
    assert table.schema.field("return_pct").type == pa.decimal128(38, 6)
    assert table.schema.field("fills").type == pa.int64()
    assert table.column("final_equity_try").to_pylist() == [
        Decimal("9844.223342451546225000"),
        Decimal("9819.075725955595960000"),
    ]
    assert table.column("member").to_pylist() == ["s__001", "s__002"]


def test_equal_returns_are_ordered_by_member(books: Path) -> None:
    a = lb.member_row(books / "base.duckdb", "s__002", {})
    b = lb.member_row(books / "same.duckdb", "s__001", {})
    assert [r.member for r in lb.ranked([a, b])] == ["s__001", "s__002"]


def test_the_terminal_and_markdown_tables_round_for_reading(books: Path) -> None:
    ranked = rows(books)

    assert lb.text_table(ranked, PARAMS).splitlines()[1].split() == [
        "s__001", "25", "-1.56", "1.56", "9,844.22", "63.49", "31,746.25", "17", "100.00", "0.00", "0.00",
        "1dcf20fb7a95",
    ]  # fmt: skip
    assert lb.markdown_table(ranked, PARAMS).splitlines()[3] == (
        "| s__002 | 40 | -1.81 | 1.81 | 9,819.08 | 55.73 | 27,866.28 | 15 | 100.00 | 0.00 | 0.00 | b0e5aa6aa421 |"
    )


def test_the_chart_is_a_png_and_the_same_bytes_twice(books: Path, tmp_path: Path) -> None:
    lb.render_scatter(rows(books), tmp_path / "a.png", title="s")
    lb.render_scatter(rows(books), tmp_path / "b.png", title="s")
    data = (tmp_path / "a.png").read_bytes()
    assert data[:4] == b"\x89PNG"
    assert hashlib.sha256(data).digest() == hashlib.sha256((tmp_path / "b.png").read_bytes()).digest()


def test_a_row_left_beside_its_book_reads_back_exactly(books: Path, tmp_path: Path) -> None:
    book = tmp_path / "s__001.duckdb"
    shutil.copy(books / "base.duckdb", book)
    row = lb.member_row(book, "s__001", {"STAGE7_SLIPPAGE_BPS": "25"})

    assert lb.write_row(row) == tmp_path / "s__001.row.json"
    assert lb.read_row(book) == row  # every Decimal exact, the book's path beside it
    assert lb.csv_text([lb.read_row(book)], PARAMS) == CSV.split("\n")[0] + "\n" + CSV.split("\n")[1] + "\n"


def _at(member: str) -> lb.LeaderboardRow:
    return lb.LeaderboardRow(
        member, {}, Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0), 0, {}, 0, "", Path(".")
    )


def test_the_charts_points_that_would_print_on_each_other_share_one_label_of_member_numbers_in_rank_order() -> None:
    # the real 8-member sweep's points (drawdown %, return %), best return first
    points = {
        "g__006": (27.316, -25.205), "g__002": (27.527, -25.254), "g__008": (27.916, -25.429),
        "g__004": (27.952, -25.422), "g__005": (29.529, -27.629), "g__001": (29.693, -27.798),
        "g__003": (29.683, -27.818), "g__007": (29.698, -27.834),
    }  # fmt: skip
    xs, ys = [x for x, _ in points.values()], [y for _, y in points.values()]

    groups = lb._label_groups([_at(m) for m in points], xs, ys)

    assert [names for _, names in groups] == [["006"], ["002"], ["008", "004"], ["005"], ["001", "003", "007"]]
    assert [anchor for anchor, _ in groups][2] == (27.916, -25.429)  # beside the group's best member
    assert lb._label_groups([_at("g__001")], [1.0], [2.0]) == [((1.0, 2.0), ["001"])]  # one point: no range
