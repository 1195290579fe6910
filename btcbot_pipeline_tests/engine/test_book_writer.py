"""The book is written on a thread of its own while the next batch is computed.

A chunk's rows are inserted, sealed and committed while the first batch of the next
chunk is already being computed. What a run reports and writes must not depend on that:
a failure while computing ahead comes after the committed chunk's materializations, and a
chunk stopped by its gates is the run's outcome even if computing ahead failed too.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import replace
from decimal import Decimal
from typing import Callable

import dagster as dg
import duckdb
import pyarrow as pa
import pytest

from btcbot_pipeline import alerting, engine
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.domain import cycle as cycle_module
from btcbot_pipeline.domain.ledger import LedgerIntegrityError
from btcbot_pipeline.engine import HANDOVER_S, _quick_handover, _system_allocator
from btcbot_pipeline.storage.book import Book, BookError
from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text

TAGS = {
    "dagster/asset_partition_range_start": "2026-01-01T00:20",
    "dagster/asset_partition_range_end": "2026-01-01T00:40",
}
LEDGER_TIMES = "SELECT strftime(cycle_ts, '%H:%M') FROM ledger_metrics ORDER BY cycle_ts"


def _broken_intents(monkeypatch: pytest.MonkeyPatch, *, off_grid: tuple[str, ...], raising: str) -> None:
    """Intents priced off the tick grid at ``off_grid`` cycles (the intents gate fails), and
    an error while building the intents of the ``raising`` cycle (one the run does not retry)."""
    real = cycle_module.build_intents

    def build_intents(**kwargs):  # type: ignore[no-untyped-def]
        if kwargs["cycle_id"] == raising:
            raise LedgerIntegrityError(f"intents of {raising} could not be built")
        intents = real(**kwargs)
        if kwargs["cycle_id"] not in off_grid:
            return intents
        return tuple(replace(i, price_try=i.price_try + Decimal("1E-12")) if i.planned else i for i in intents)

    monkeypatch.setattr(cycle_module, "build_intents", build_intents)


def _run(cycle: Cycle) -> dg.ExecuteInProcessResult:
    cycle.overrides["GATE_CHUNK_CYCLES"] = "2"  # 00:20–00:25 | 00:30–00:35 | 00:40
    return dg.materialize(
        cycle.assets(),
        tags=TAGS,
        resources=cycle.resources(),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_an_error_computing_ahead_comes_after_the_committed_chunk_is_reported(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 00:30 is the first cycle of the second chunk: computed while the first one commits
    _broken_intents(monkeypatch, off_grid=(), raising="20260101T003000Z")

    result = _run(cycle)

    assert not result.success
    assert failure_text(result).splitlines()[-1] == (
        "EngineError: ledger integrity error: intents of 20260101T003000Z could not be built"
    )
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",)]
    # the committed chunk is materialized, stage by stage, and its checks reported
    materialized = {(m.asset_key.path[-1], m.partition) for m in result.get_asset_materialization_events()}
    assert {p for _, p in materialized} == {"2026-01-01T00:20", "2026-01-01T00:25"}
    assert len(materialized) == 2 * 7
    evals = result.get_asset_check_evaluations()
    assert evals and all(e.passed for e in evals)
    assert {e.partition for e in evals} == {"2026-01-01T00:20", "2026-01-01T00:25"}


def test_a_gate_stop_is_the_outcome_even_when_computing_ahead_failed(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the second chunk fails its intents gate; 00:40 (the third chunk) is computed ahead
    # while the second is gated, and fails: a run without the overlap would never reach it
    _broken_intents(monkeypatch, off_grid=("20260101T003000Z", "20260101T003500Z"), raising="20260101T004000Z")

    result = _run(cycle)

    assert not result.success
    text = failure_text(result)
    assert "could not be built" not in text
    assert (
        "Nothing of 2026-01-01T00:30…2026-01-01T00:35 was written; this run committed 2 earlier partitions before it "
        "(2026-01-01T00:20…2026-01-01T00:25, 2 cycles); not retried"
    ) in text
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",)]
    assert cycle.rows("SELECT DISTINCT check_name FROM gate_failures") == [("order_intents_gate",)]


def test_the_gil_is_handed_over_sooner_during_a_run_and_the_setting_comes_back() -> None:
    before = sys.getswitchinterval()
    with _quick_handover():
        assert sys.getswitchinterval() == pytest.approx(min(before, HANDOVER_S))
    assert sys.getswitchinterval() == before


def test_arrow_allocates_from_the_system_allocator_inside_and_the_pool_comes_back() -> None:
    before, system = pa.default_memory_pool(), pa.system_memory_pool()
    with _system_allocator():
        held = system.bytes_allocated()
        built = pa.array(range(1000), pa.int64())
        assert system.bytes_allocated() - held == built.nbytes == 8000
    assert pa.default_memory_pool().backend_name == before.backend_name


def _memory_limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]


def test_a_run_writes_the_book_under_a_memory_cap_on_one_duckdb_thread_with_the_system_allocator(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, str]] = []
    real = engine._write_batch

    def write_batch(book, batch, tables, *args):  # type: ignore[no-untyped-def]
        threads = book.con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        seen.append((_memory_limit(book.con), threads, pa.default_memory_pool().backend_name))
        return real(book, batch, tables, *args)

    real_ensure = Book.ensure_schema

    def ensure_schema(book: Book) -> None:  # the book opens with 3 threads whatever the machine's cores
        opening = not book._schema_ensured  # asked again at each chunk: only the first call opens it
        real_ensure(book)
        if opening:
            book.con.execute("SET threads = 3")

    before = pa.default_memory_pool().backend_name
    monkeypatch.setattr(Book, "ensure_schema", ensure_schema)
    monkeypatch.setattr(engine, "_write_batch", write_batch)
    assert _run(cycle).success
    assert seen == [("91.5 MiB", 1, "system")] * 3  # 96 MB in DuckDB's units, for each chunk's one batch
    assert pa.default_memory_pool().backend_name == before


def test_the_last_chunk_is_checkpointed_and_each_chunks_alerts_raised_by_the_books_thread(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer checkpoints the book once the last chunk has committed, while the step
    # reports it: the step itself must not use the book then, so what it needs from it
    # (the alerts) is read before. Earlier chunks are not checkpointed one by one (that
    # recompresses the tables' last row groups each time: a larger file).
    seen: list[tuple[str, str, str]] = []
    real_checkpoint, real_alerts = Book.checkpoint, alerting.chunk_alerts

    def last_ledger(book: Book) -> str:
        return book.con.execute("SELECT strftime(max(cycle_ts), '%H:%M') FROM ledger_metrics").fetchone()[0]

    def checkpoint(book: Book) -> None:
        seen.append(("checkpoint", last_ledger(book), threading.current_thread().name.split("_")[0]))
        real_checkpoint(book)

    def chunk_alerts(book: Book, window, *args):  # type: ignore[no-untyped-def]
        seen.append(("alerts", last_ledger(book), threading.current_thread().name.split("_")[0]))
        return real_alerts(book, window, *args)

    monkeypatch.setattr(Book, "checkpoint", checkpoint)
    monkeypatch.setattr(alerting, "chunk_alerts", chunk_alerts)
    assert _run(cycle).success

    writer = "btcbot-book-writer"
    assert seen == [
        ("alerts", "00:25", writer),
        ("alerts", "00:35", writer),
        ("alerts", "00:40", writer),
        ("checkpoint", "00:40", writer),
    ]


Tables = dict[str, pa.Table]


def _when_writing(monkeypatch: pytest.MonkeyPatch, key: str, change: Callable[[Book, Tables], Tables]) -> None:
    """The batch starting with partition ``key`` is written as ``change(book, tables)`` makes it."""
    real = engine._write_batch

    def write_batch(book, batch, tables, *args):  # type: ignore[no-untyped-def]
        return real(book, batch, change(book, tables) if batch[0].key == key else tables, *args)

    monkeypatch.setattr(engine, "_write_batch", write_batch)


def test_a_write_that_runs_out_of_memory_fails_the_run_once_naming_the_cap(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second chunk's one batch is written under a cap DuckDB cannot insert within. The
    # close that follows on the writer's thread meets the aborted transaction: what the run
    # reports is the write's own error, and a retry (it would meet the same) is not made.
    def starve(book: Book, tables: Tables) -> Tables:
        book.con.execute("SET memory_limit = '1KB'")
        return tables

    _when_writing(monkeypatch, "2026-01-01T00:30", starve)
    result = _run(cycle)

    assert not result.success
    last = failure_text(result).splitlines()[-1]
    assert last.startswith(
        "BookError: DuckDB ran out of memory writing the book, under the run's cap of 96MB: Out of Memory Error: "
    ), last
    kinds = [e.event_type_value for e in result.all_events if e.event_type_value.startswith("STEP_")]
    assert kinds.count("STEP_FAILURE") == 1 and "STEP_UP_FOR_RETRY" not in kinds
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",)]


def test_a_chunk_whose_last_write_failed_is_never_committed_without_its_rows(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write can fail and leave the transaction open (DuckDB refusing a statement before it
    # runs, an error in our own code): the close queued behind it would then seal, gate and
    # commit the chunk without the batch's rows, and the run would succeed.
    def refuse(book: Book, tables: Tables) -> Tables:
        raise BookError("the batch of 00:30 was refused")

    _when_writing(monkeypatch, "2026-01-01T00:30", refuse)
    result = _run(cycle)

    assert not result.success
    assert failure_text(result).splitlines()[-1] == "BookError: the batch of 00:30 was refused"
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",)]
    assert cycle.rows("SELECT strftime(max(cycle_ts), '%H:%M') FROM cycle_seals") == [("00:25",)]


def test_a_run_is_computed_in_batches_sized_by_its_datasets_width(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # two cycles' worth of symbol-cycles for the harness's dataset: batches of two cycles
    symbols = ReplayDataset.load(cycle.dataset).symbols
    monkeypatch.setattr(engine, "BATCH_SYMBOL_CYCLES", 2 * len(symbols))
    cycle.overrides["GATE_CHUNK_CYCLES"] = "5"  # one chunk: only the batches split the window
    computed: list[int] = []
    real = engine.compute

    def compute(snapshots, *args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(len(snapshots))
        return real(snapshots, *args, **kwargs)

    monkeypatch.setattr(engine, "compute", compute)
    result = dg.materialize(
        cycle.assets(), tags=TAGS, resources=cycle.resources(), instance=dg.DagsterInstance.ephemeral()
    )

    assert result.success
    assert computed == [2, 2, 1]
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",), ("00:30",), ("00:35",), ("00:40",)]


def test_a_chunk_whose_rows_did_not_all_reach_the_book_is_not_committed(
    cycle: Cycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run's last chunk (00:40, no chunk after it whose chain gate would notice) is
    # written without its ledger row and no error: the close counts before it seals.
    def without_ledger(book: Book, tables: Tables) -> Tables:
        return {name: table for name, table in tables.items() if name != "ledger_metrics"}

    _when_writing(monkeypatch, "2026-01-01T00:40", without_ledger)
    result = _run(cycle)

    assert not result.success
    assert failure_text(result).splitlines()[-1] == (
        "EngineError: the book holds 0 of the 1 cycles of 2026-01-01T00:40…2026-01-01T00:40 once written: not committed"
    )
    assert cycle.rows(LEDGER_TIMES) == [("00:20",), ("00:25",), ("00:30",), ("00:35",)]
    assert cycle.rows("SELECT count(*) FROM universe WHERE cycle_ts >= '2026-01-01 00:40'") == [(0,)]
