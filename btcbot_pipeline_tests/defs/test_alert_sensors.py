"""The run-failure sensor (defs/cycle/alert_sensors.py), evaluated with Dagster's
run-status sensor context over a failed stand-in run of the dry-run graph's keys."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb
import pytest

from btcbot_pipeline.alerting import raise_alerts
from btcbot_pipeline.defs.cycle.alert_sensors import build_alert_sensor, cycle_graph
from btcbot_pipeline.defs.cycle.partitions import cycle_partitions
from btcbot_pipeline.settings import load_settings
from btcbot_pipeline.storage.book import Book
from btcbot_pipeline.testing.webhook_server import WebhookServer
from btcbot_pipeline_tests.test_alerts import at, window

PARTITIONS = cycle_partitions("*/5 * * * *", "2026-01-01T00:00")
GATE_STOP = (
    "gate market_snapshot_gate stopped cycle 20260101T004500Z (00:45 UTC): 7 of 12 symbols (58 %) excluded. "
    "Nothing of 2026-01-01T00:45 was written"
)


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.close()


def failed_run(description: str, last: str | None = None) -> tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]:
    """A run of the key ``cycle_trace`` for partition 00:45 (through ``last``) that fails with ``description``."""

    @dg.asset(name="cycle_trace", partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
    def stand_in() -> None:
        raise dg.Failure(description=description, allow_retries=False)

    instance = dg.DagsterInstance.ephemeral()
    if last is None:
        result = dg.materialize([stand_in], partition_key="2026-01-01T00:45", instance=instance, raise_on_error=False)
    else:
        tags = {"dagster/asset_partition_range_start": "2026-01-01T00:45", "dagster/asset_partition_range_end": last}
        result = dg.materialize([stand_in], tags=tags, instance=instance, raise_on_error=False)
    assert not result.success
    return instance, result


def evaluate(db: Path, url: str, instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> None:
    sensor = build_alert_sensor(lambda: load_settings(None, STATE_DB_PATH=str(db), ALERT_WEBHOOK_URL=url))
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=result.get_run_failure_event(),
        dagster_instance=instance,
        dagster_run=result.dagster_run,
    ).for_run_failure()
    sensor(context)


def alerts(db: Path) -> list[tuple[str, str, str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("SELECT alert_id, severity, status, message FROM alerts ORDER BY alert_id").fetchall()


def test_a_failed_cycle_run_is_one_critical_alert_posted_once(tmp_path: Path, webhook: WebhookServer) -> None:
    db = tmp_path / "book.duckdb"
    duckdb.connect(str(db)).close()  # the book exists (a cycle ran before)
    instance, result = failed_run("BookError: book data/btcbot_book.duckdb is locked by process 4242")
    run = result.dagster_run.run_id[:8]

    evaluate(db, webhook.url, instance, result)
    evaluate(db, webhook.url, instance, result)  # the same failure seen again: no second row, no second POST

    alert_id = f"run_failed:20260101T004500Z:{run}"
    assert webhook.ids() == [alert_id]
    assert webhook.received[0].body["severity"] == "CRITICAL"
    assert alerts(db) == [
        (
            alert_id,
            "CRITICAL",
            "delivered",
            f"cycle 2026-01-01T00:45 UTC did not complete: run {run} of __ephemeral_asset_job__ failed: BookError: "
            "book data/btcbot_book.duckdb is locked by process 4242. The book keeps its last committed cycle; the next "
            "run carries on from there.",
        )
    ]


def test_a_gate_stop_the_cycle_already_posted_is_not_posted_again(tmp_path: Path, webhook: WebhookServer) -> None:
    db = tmp_path / "book.duckdb"
    con = duckdb.connect(str(db))
    book = Book(con)
    book.ensure_schema()
    book.con.execute(
        "INSERT INTO gate_failures VALUES (?, '20260101T004500Z', 'market_snapshot', 'market_snapshot_gate', "
        "'excluded_share', '7 of 12 symbols (58 %) excluded, limit 50 %')",
        [at("00:45").replace(tzinfo=None)],
    )
    cfg = load_settings(None, ALERT_WEBHOOK_URL=webhook.url)
    raise_alerts(book, window("00:45", "00:50"), cfg, kind="dry_run", book_name="book")  # what the stopped cycle does
    con.close()
    assert webhook.ids() == ["gate_failure:20260101T004500Z"]
    instance, result = failed_run(GATE_STOP)

    evaluate(db, webhook.url, instance, result)

    assert webhook.ids() == ["gate_failure:20260101T004500Z"]
    assert [a[:3] for a in alerts(db)] == [("gate_failure:20260101T004500Z", "ERROR", "delivered")]


# As the gate records an over-excluded cycle (quality.rules.gate_failure_rows): exact values.
EXCLUDED = (
    "expect_column_values_to_be_in_set on excluded_share_ok: observed {chunk} ({n} at this cycle); rows: "
    "symbol=ADATRY, excluded_share={share}, skip_reason=stale_data; symbol=AVAXTRY, excluded_share={share}, "
    "skip_reason=stale_data"
)


def test_a_gate_stop_the_cycle_could_not_record_is_recorded_from_the_book(
    tmp_path: Path, webhook: WebhookServer
) -> None:
    db = tmp_path / "book.duckdb"
    with duckdb.connect(str(db)) as con:
        Book(con).ensure_schema()
        con.execute(
            "INSERT INTO gate_failures VALUES (?, '20260101T004500Z', 'market_snapshot', 'market_snapshot_gate', "
            "'excluded_share_ok', ?)",
            [at("00:45").replace(tzinfo=None), EXCLUDED.format(chunk=7, n=7, share="0.5833333333333333333333333333")],
        )
    instance, result = failed_run(GATE_STOP)

    evaluate(db, webhook.url, instance, result)

    assert webhook.ids() == ["gate_failure:20260101T004500Z"]
    assert alerts(db) == [
        (
            "gate_failure:20260101T004500Z",
            "ERROR",
            "delivered",
            "gate market_snapshot_gate stopped the cycle: excluded_share_ok: 7 of 12 symbols (58 %) excluded, limit 50 "
            "%: stale_data ×2 (+5 not listed); nothing of its chunk was written",
        )
    ]


def test_a_stop_of_several_cycles_is_one_alert_from_the_book(tmp_path: Path, webhook: WebhookServer) -> None:
    # the run 00:45…00:55 stopped at 00:45; 00:50 failed too; 01:00 is an older stop of another run
    db = tmp_path / "book.duckdb"
    with duckdb.connect(str(db)) as con:
        Book(con).ensure_schema()
        for hhmm, n in (("00:45", 7), ("00:50", 8), ("01:00", 9)):
            con.execute(
                "INSERT INTO gate_failures VALUES (?, ?, 'market_snapshot', 'market_snapshot_gate', "
                "'excluded_share_ok', ?)",
                [
                    at(hhmm).replace(tzinfo=None),
                    f"20260101T{hhmm[:2]}{hhmm[3:]}00Z",
                    EXCLUDED.format(chunk=15, n=n, share=format(Decimal(n) / 12, "f")),
                ],
            )
    instance, result = failed_run(GATE_STOP, last="2026-01-01T00:55")

    evaluate(db, webhook.url, instance, result)

    assert webhook.ids() == ["gate_failure:20260101T004500Z"]
    ((alert_id, severity, _status, message),) = alerts(db)
    assert (alert_id, severity) == ("gate_failure:20260101T004500Z", "ERROR")
    assert message == (
        "gate market_snapshot_gate stopped the cycle: excluded_share_ok: 7 of 12 symbols (58 %) excluded, limit 50 %: "
        "stale_data ×2 (+5 not listed) (+1 more failing cycle of the chunk, the last at 2026-01-01T00:50 UTC); "
        "nothing of its chunk was written"
    )
    assert webhook.received[0].body["details"]["failing_cycles"] == ["20260101T004500Z", "20260101T005000Z"]


def test_the_sensor_knows_the_dry_run_and_backtest_graphs_and_has_a_description() -> None:
    def run(*keys: list[str]) -> frozenset[dg.AssetKey]:
        return frozenset(dg.AssetKey(k) for k in keys)

    assert cycle_graph(run(["ledger_snapshot"], ["cycle_trace"])) == ("dry_run", None)
    assert cycle_graph(run(["backtest", "real10", "cycle_trace"])) == ("backtest", "real10")
    assert cycle_graph(run(["some_other_asset"])) is None
    sensor = build_alert_sensor()
    assert sensor.description and sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.tags == {"btcbot/mode": "dry_run", "btcbot/kind": "alerts"}
