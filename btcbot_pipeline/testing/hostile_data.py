"""Hostile replay datasets for the property test and ``scripts/fuzz_replay.py``.

A dataset holds three good pairs (``AAATRY``, ``BBBTRY``, ``CCCTRY``: twelve one-minute rows
each, valid exchange rules) and one hostile pair whose file names, CSV files and exchange
rules are drawn by Hypothesis: odd names, files missing, folders in their place, arbitrary
text or bytes, rows with cells replaced by hostile tokens (``1e25``, ``1e-30``, ``NaN``,
``1_000``, a decimal comma, non-ASCII digits, 5000-digit numbers …), rows added, dropped,
duplicated or reordered, files cut short.

:func:`check_dataset` is the property: the validator, the reader, the snapshot stage and the
whole cycle computation (``engine.compute``, the same code the assets run) never raise;
every row the cycle would write fits the book's columns; the good pairs are tradable and
bought in the first cycle; the hostile pair is either excluded with a reason (always, when
``replay-validate`` reports an error against it) or every value it carries is in bounds.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import strategies as st

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.exchangeinfo import exchangeinfo_document, exchangeinfo_symbol
from btcbot_pipeline.adapters.replay.validate import ISSUE_CODES, validate_replay_dataset
from btcbot_pipeline.domain.account import DryRunOpening
from btcbot_pipeline.domain.market import snapshot_out_of_range
from btcbot_pipeline.domain.vocabulary import canonical_symbol, is_pair_name
from btcbot_pipeline.engine import Carry, compute
from btcbot_pipeline.settings import BotSettings, load_settings
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.testing.cycle_harness import DEMO

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
ROWS = 12
CYCLES = [START + timedelta(minutes=5), START + timedelta(minutes=10)]
GOOD = ("AAATRY", "BBBTRY", "CCCTRY")
HEADERS = {
    "candles": "ts,open,high,low,close,volume",
    "orderbook": "ts,best_bid,best_ask",
    "ticker": "ts,last,high,low,volume,quote_volume",
}

TOKENS = [
    "1e25",
    "1E+40",
    "1e30",
    "1e-25",
    "1e-30",
    "1e12",
    "1e-12",
    "1.000000000001e12",
    "0",
    "-1",
    "-0",
    "NaN",
    "nan",
    "sNaN",
    "inf",
    "-Infinity",
    "1_000",
    "1,5",
    "١٢",
    "１２",
    "0x10",
    "1e5e5",
    "",
    " ",
    "'",
    '"',
    '"1,5"',
    "\x00",
    "9" * 5000,
    "1e999999999",
    "1e-999999999",
    "2026-01-01T00:00:00Z",
    "ETH:TRY",
    "1.5.1",
    "+5",
    " 100 ",
    "1e+0018",
]


def _number_text() -> st.SearchStrategy[str]:
    decimals = st.decimals(allow_nan=True, allow_infinity=True).map(str)
    scaled = st.tuples(st.integers(-(10**6), 10**6), st.integers(-60, 60)).map(lambda t: f"{t[0]}e{t[1]}")
    return st.one_of(st.sampled_from(TOKENS), decimals, scaled, st.text(max_size=12))


def _good_rows(kind: str, price: int) -> list[list[str]]:
    rows = []
    for minute in range(ROWS):
        ts = (START + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
        p = price + minute
        if kind == "candles":
            rows.append([ts, str(p), str(p + 1), str(p - 1), str(p), "2.5"])
        elif kind == "orderbook":
            rows.append([ts, f"{p}.0", f"{p}.2"])
        else:
            rows.append([ts, str(p), str(p + 1), str(p - 1), "25", str(25 * p)])
    return rows


def _join(rows: list[list[str]]) -> str:
    return "".join(",".join(row) + "\n" for row in rows)


def _mangle_rows(draw: st.DrawFn, rows: list[list[str]]) -> None:
    """Drop, repeat, swap, widen or shorten rows, or insert junk ones, in place."""
    ops = draw(st.lists(st.sampled_from(["drop", "dup", "swap", "junk", "wide", "short"]), min_size=1, max_size=4))
    for op in ops:
        i = draw(st.integers(0, len(rows) - 1)) if rows else 0
        if op == "drop" and rows:
            rows.pop(i)
        elif op == "dup" and rows:
            rows.insert(i, list(rows[i]))
        elif op == "swap" and len(rows) > 1:
            rows[i], rows[-1] = rows[-1], rows[i]
        elif op == "junk":
            rows.insert(i, draw(st.lists(_number_text(), min_size=0, max_size=8)))
        elif op == "wide" and rows:
            rows[i] = rows[i] + draw(st.lists(_number_text(), min_size=1, max_size=3))
        elif op == "short" and rows and rows[i]:
            rows[i] = rows[i][: draw(st.integers(0, len(rows[i]) - 1))]


@st.composite
def hostile_file(draw: st.DrawFn, kind: str) -> Any:
    """The content of one file of the hostile pair: text, bytes, ``None`` (absent) or ``"<folder>"``."""
    mode = draw(st.sampled_from(["good"] * 2 + ["cells"] * 4 + ["rows"] * 2 + ["text", "bytes", "missing", "folder"]))
    rows = _good_rows(kind, 500)
    if mode == "missing":
        return None
    if mode == "folder":
        return "<folder>"
    if mode == "bytes":
        return draw(st.binary(max_size=200))
    if mode == "text":
        return draw(st.text(max_size=200))
    if mode == "cells":
        for _ in range(draw(st.integers(1, 4))):
            row = draw(st.integers(0, ROWS - 1))
            col = draw(st.integers(0, len(rows[row]) - 1))
            rows[row][col] = draw(_number_text())
    elif mode == "rows":
        _mangle_rows(draw, rows)
    header = HEADERS[kind]
    if draw(st.integers(0, 9)) == 0:
        header = draw(st.sampled_from(["", "ts", header.upper(), header + ",extra", header.replace("ts,", "ts,ts,")]))
    text = header + "\n" + _join(rows)
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]  # cut anywhere, mid-number included
    return text


@st.composite
def hostile_rules(draw: st.DrawFn) -> dict[str, Any] | None:
    """Changes to the hostile pair's exchangeinfo entry (``None``: not listed)."""
    if draw(st.integers(0, 5)) == 0:
        return None
    values = st.one_of(
        st.sampled_from([0, -1, 60, 10**30, "1e30", "1e-30", "0", "-5", "NaN", "x", None, [], {}, True, 1.5]),
        st.integers(-(10**20), 10**20),
        st.text(max_size=6),
    )
    keys = ["numeratorScale", "denominatorScale", "tickSize", "minExchangeValue", "status", "stepSize"]
    return draw(st.dictionaries(st.sampled_from(keys), values, max_size=3))


@st.composite
def hostile_dataset(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": draw(
            st.sampled_from(
                ["BADTRY"] * 6
                + [
                    "bad_try",
                    "Bad-Try",
                    "BAD:TRY",
                    "BAD TRY",
                    "BAD'TRY",
                    "ÉADTRY",
                    ".BADTRY",
                    "BADTRY.csv",
                    "AAATRY",
                    "B" * 30 + "TRY",
                ]
            )
        ),
        "files": {kind: draw(hostile_file(kind)) for kind in HEADERS},
        "rules": draw(hostile_rules()),
    }


def write_dataset(root: Path, spec: dict[str, Any]) -> None:
    """The three good pairs plus the hostile pair ``spec`` at ``root`` (emptied first)."""
    if root.exists():
        shutil.rmtree(root)
    for kind in HEADERS:
        (root / kind).mkdir(parents=True)
        for i, symbol in enumerate(GOOD):
            (root / kind / f"{symbol}.csv").write_text(HEADERS[kind] + "\n" + _join(_good_rows(kind, 100 * (i + 1))))
    name = spec["name"]
    for kind, content in spec["files"].items():
        if content is None:
            continue
        path = root / kind / f"{name}.csv"
        if path.exists():  # the hostile pair named like a good one: a duplicate file of another spelling
            path = root / kind / f"{name.lower()}.csv"
        if content == "<folder>":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
    entries = [
        exchangeinfo_symbol(
            i,
            symbol,
            symbol[:-3],
            "TRY",
            quantity_scale=8,
            price_scale=2,
            max_price="10000000",
            tick_size="0.01",
            min_notional="10",
        )
        for i, symbol in enumerate(GOOD)
    ]
    if spec["rules"] is not None:
        bad = exchangeinfo_symbol(
            9,
            canonical_symbol(name),
            "BAD",
            "TRY",
            quantity_scale=8,
            price_scale=2,
            max_price="10000000",
            tick_size="0.01",
            min_notional="10",
        )
        for key, value in spec["rules"].items():
            if key in ("tickSize", "minExchangeValue"):
                bad["filters"][0][key] = value
            elif key == "stepSize":
                bad["filters"].append({"filterType": "LOT_SIZE", "stepSize": value})
            else:
                bad[key] = value
        entries.append(bad)
    (root / "exchangeinfo.json").write_text(json.dumps(exchangeinfo_document(entries, ["TRY"], 0), default=str))


def fuzz_settings() -> BotSettings:
    # Positions of at most 1000 TRY out of 10000: every good pair can always be bought.
    return load_settings(None, **{**DEMO, "MAX_POSITION_NOTIONAL_TRY": "1000"})


@dataclass
class Findings:
    """What a run of the property saw (for the benchmark's report)."""

    examples: int = 0
    hostile_reasons: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


def check_dataset(
    root: Path, spec: dict[str, Any], cfg: BotSettings, con: duckdb.DuckDBPyConnection, findings: Findings | None = None
) -> None:
    """The property (see the module docstring); raises AssertionError (or whatever escaped).

    A hostile pair named like a good one (``aaatry.csv`` beside ``AAATRY.csv``) makes that
    good pair a duplicate: it is then excluded too (``duplicate_symbol_file``, ``not_a_file``)."""
    clash = canonical_symbol(spec["name"]) if any(c is not None for c in spec["files"].values()) else None
    good = tuple(g for g in GOOD if g != clash)
    report = validate_replay_dataset(root)
    assert all(i.code in ISSUE_CODES for i in report.issues), [i.code for i in report.issues]
    errored = {i.symbol for i in report.errors if i.symbol is not None}
    dataset = ReplayDataset.load(root)  # the good pairs always leave rows: never a fatal error
    snapshots = dataset.snapshots(
        CYCLES, vol_lookback=cfg.stage7_vol_lookback, max_data_age_s=cfg.stage7_max_data_age_sec
    )
    outputs = compute(
        snapshots,
        Carry(state=None, carried_ts=None, risk=None),
        cfg,
        cfg.cycle_params().as_dict(),
        opening_balances=DryRunOpening(cfg.dry_run_try_balance),
    )
    con.execute("BEGIN")
    try:
        Book(con).insert_rows(outputs.rows)  # every value fits its column
    finally:
        con.execute("ROLLBACK")

    for snapshot in outputs.snapshots:
        for s in snapshot.symbols:
            if s.symbol in good:
                assert s.skip_reason is None, (s.symbol, s.skip_reason)
                continue
            if s.symbol in GOOD:
                assert (s.skip_reason or "").startswith("invalid_data:"), s.skip_reason
                continue
            if s.skip_reason is None:
                assert is_pair_name(s.symbol), s.symbol
                assert snapshot_out_of_range(s) is None, s
                assert s.symbol not in errored, (s.symbol, report.format_text())
            elif s.symbol in errored:
                assert s.skip_reason.startswith("invalid_data:"), s.skip_reason
            if findings is not None:
                findings.hostile_reasons[s.skip_reason or "tradable"] += 1
    first = outputs.results[0]
    bought = {f.symbol for f in first.fills}
    assert set(good) <= bought, (bought, [(i.symbol, i.skip_reason) for i in first.intents])
    assert len(outputs.results) == len(CYCLES)
    if findings is not None:
        findings.examples += 1
        findings.codes.update(i.code for i in report.issues)
