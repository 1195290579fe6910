"""Alerts: the rules of :mod:`btcbot_pipeline.domain.alerts` over the book, recorded in its
``alerts`` table and posted once to ``ALERT_WEBHOOK_URL``.

The cycle step calls :func:`chunk_alerts` after each committed or gate-stopped chunk, on
the thread that writes the run's book, and logs what it did with :func:`log_chunk_alerts`:
it reads the window's facts from the book (:func:`read_facts`), records one ``alerts`` row
per deterministic id (a re-run replaces the window's undelivered alerts, keeps delivered
ones, never adds an id twice), one log line per new alert (:func:`log_line`), then POSTs
every ``pending`` / ``failed`` alert once, oldest first (:func:`deliver_pending`, body
:func:`webhook_body`). The run-failure sensor calls :func:`on_run_failure` for a failed
cycle run. Backtest books, or no webhook, only record (``status=recorded``). Neither entry
ever fails the cycle: an alerting problem is logged as a warning. Statuses, the body and
delivery limits: ``docs/risk-and-alerts.md``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import duckdb
import httpx

from btcbot_pipeline.adapters.webhook import Delivery, WebhookPoster
from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.alert_facts import EmptyUniverse, OrderEventFact, is_watched_event
from btcbot_pipeline.domain.alerts import (
    CYCLE_RULES,
    Alert,
    CycleFacts,
    GateFailure,
    Severity,
    evaluate,
    is_data_fault,
    run_failed_alert,
)
from btcbot_pipeline.domain.cycle import cycle_id_for
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import Book, BookIdentity, Window, naive_utc

SOURCE = "btcbot_pipeline"
PENDING, DELIVERED, FAILED, RECORDED = "pending", "delivered", "failed", "recorded"
# "gate <check> stopped cycle <cycle id> (...)": the failure of a gate stop (checks.ChunkChecks.stop_description)
_GATE_STOP = re.compile(r"gate (\S+) stopped cycle (\d{8}T\d{6}Z)")


class Log(Protocol):
    def info(self, msg: str) -> Any: ...

    def warning(self, msg: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one call did: the ids it added to the book (``alerts``: those alerts), and each
    POST's outcome."""

    added: tuple[str, ...]
    deliveries: tuple[tuple[str, Delivery], ...] = ()
    alerts: tuple[Alert, ...] = ()

    def describe(self) -> str:
        text = f"alerts: {len(self.added)} new" + (f" ({', '.join(self.added)})" if self.added else "")
        return text + (f", {self.delivered()}" if self.deliveries else "")

    def delivered(self) -> str:
        """How the POSTs went: ``2 posted`` and what failed."""
        posted = sum(1 for _, d in self.deliveries if d.ok)
        failed = [(i, d) for i, d in self.deliveries if not d.ok]
        text = f"{posted} posted"
        if failed:
            text += f", {len(failed)} not delivered ({failed[0][1].error}; tried again at the next cycle)"
        return text


def log_line(alert: Alert) -> str:
    """A new alert as the run's log shows it: ``alert WARN at cycle 2026-01-01T00:40 UTC,
    drawdown_threshold: drawdown 7.3 % crossed …``."""
    when = "no cycle" if alert.cycle_ts is None else f"cycle {utc.minute_text(alert.cycle_ts)} UTC"
    return f"alert {alert.severity} at {when}, {alert.rule}: {alert.message}"


# --- the cycle's hook -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChunkAlerts:
    """What raising a chunk's alerts did (``outcome``), or why it could not (``error``)."""

    outcome: Outcome | None = None
    error: str | None = None


def chunk_alerts(book: Book, window: Window, cfg: BotSettings, identity: BookIdentity) -> ChunkAlerts:
    """Raise and record the alerts of a committed or gate-stopped chunk's ``window`` (no
    POST: see :func:`deliver_chunk_alerts`). Never raises: a failure is what it returns."""
    try:
        return ChunkAlerts(record_alerts(book, window, cfg, kind=identity.kind))
    except Exception as exc:  # noqa: BLE001 - alerts must never fail the cycle
        return ChunkAlerts(error=f"{type(exc).__name__}: {exc}")


def deliver_chunk_alerts(book: Book, raised: ChunkAlerts, cfg: BotSettings, identity: BookIdentity) -> ChunkAlerts:
    """``raised`` with every undelivered alert of a dry-run or live book POSTed once (a
    backtest's only record). Never raises."""
    if raised.outcome is None or identity.kind == "backtest":
        return raised
    try:
        deliveries = deliver_pending(book, cfg, identity.name)
    except Exception as exc:  # noqa: BLE001 - alerts must never fail the cycle
        return ChunkAlerts(error=f"{type(exc).__name__}: {exc}")
    return ChunkAlerts(replace(raised.outcome, deliveries=deliveries))


def log_chunk_alerts(raised: ChunkAlerts, log: Log) -> None:
    """One line per new alert and one for the POSTs, or a warning that none were raised."""
    result = raised.outcome
    if result is None:
        log.warning(f"alerts not raised for this chunk: {raised.error}")
        return
    for alert in result.alerts:
        (log.info if alert.severity is Severity.INFO else log.warning)(log_line(alert))
    if result.deliveries:
        (log.warning if any(not d.ok for _, d in result.deliveries) else log.info)(f"alerts: {result.delivered()}")


def after_chunk(book: Book, outcome: Any, cfg: BotSettings, identity: BookIdentity, log: Log) -> None:
    """The alerts of a committed (``ChunkDone``) or gate-stopped (``GateStopped``) chunk:
    raised, recorded, posted and logged in one go. Never raises."""
    parts = [getattr(p, "partition", p) for p in outcome.partitions]
    raised = chunk_alerts(book, Window(parts[0].window.start, parts[-1].window.end), cfg, identity)
    log_chunk_alerts(deliver_chunk_alerts(book, raised, cfg, identity), log)


def raise_alerts(
    book: Book,
    window: Window,
    cfg: BotSettings,
    *,
    kind: str,
    book_name: str,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Evaluate the rules over ``window`` (and the cycle before it), record the alerts,
    then, for a dry-run book with a webhook, post every undelivered alert once."""
    recorded = record_alerts(book, window, cfg, kind=kind)
    deliveries = deliver_pending(book, cfg, book_name, transport=transport, sleep=sleep) if kind != "backtest" else ()
    return replace(recorded, deliveries=deliveries)


def record_alerts(book: Book, window: Window, cfg: BotSettings, *, kind: str) -> Outcome:
    """Evaluate the rules over ``window`` (and the cycle before it) and record the alerts:
    ``pending`` for a dry-run or live book (``kind``) with a webhook, else ``recorded``."""
    previous, cycles = read_facts(book, window)
    cycles = explained(cycles, cfg)
    alerts = evaluate(cycles, cfg.alert_thresholds(), previous)
    status = PENDING if kind != "backtest" and cfg.alert_webhook_url is not None else RECORDED
    added = book.record_alerts(
        [alert_row(a, status) for a in alerts], window=window, rules=[str(r) for r in CYCLE_RULES]
    )
    return Outcome(tuple(added), (), tuple(a for a in alerts if a.alert_id in added))


def explained(cycles: Sequence[CycleFacts], cfg: BotSettings) -> list[CycleFacts]:
    """``cycles`` with each gate failure also said in trading terms, figures rounded, as
    the run's failure and the checks say it (the exact detail stays)."""
    if not any(c.gate_failures for c in cycles):
        return list(cycles)
    # the checks' wording (imported here: it loads Dagster, which `btcbot alerts` never needs)
    from btcbot_pipeline.defs.cycle.checks import gate_failure_text, limits_for

    limits = limits_for(cfg)
    return [
        replace(
            c,
            gate_failures=tuple(
                replace(g, text=gate_failure_text(g.expectation, g.detail, limits)) for g in c.gate_failures
            ),
        )
        if c.gate_failures
        else c
        for c in cycles
    ]


def deliver_pending(
    book: Book,
    cfg: BotSettings,
    book_name: str,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[tuple[str, Delivery], ...]:
    """POST every ``pending`` or ``failed`` alert of the book once, oldest first, and
    record each outcome. Stops at the first alert the webhook could not be reached for
    (the rest wait for the next call); nothing happens without ``ALERT_WEBHOOK_URL``."""
    if cfg.alert_webhook_url is None:
        return ()
    waiting = book.alerts(statuses=(PENDING, FAILED))
    if not waiting:
        return ()
    out: list[tuple[str, Delivery]] = []
    with _poster(cfg, transport, sleep) as poster:
        for row in waiting:
            delivery = poster.post(webhook_body(row, book_name), idempotency_key=row["alert_id"])
            book.mark_alert(row["alert_id"], DELIVERED if delivery.ok else FAILED, delivery.attempts, delivery.error)
            out.append((row["alert_id"], delivery))
            if not delivery.ok and delivery.transient:
                break
    return tuple(out)


# --- rows and bodies ----------------------------------------------------------------------


def alert_row(alert: Alert, status: str) -> tuple[Any, ...]:
    """The ``alerts`` tuple of ``alert`` (never attempted yet)."""
    return (
        alert.alert_id,
        alert.cycle_ts,
        alert.cycle_id,
        str(alert.rule),
        str(alert.severity),
        alert.message,
        json.dumps(alert.details, sort_keys=True, ensure_ascii=False),
        status,
        0,
        None,
    )


def webhook_body(row: dict[str, Any], book_name: str) -> dict[str, Any]:
    """The JSON body POSTed for one ``alerts`` row (see the module docstring)."""
    return {
        "alert_id": row["alert_id"],
        "severity": row["severity"],
        "rule": row["rule"],
        "cycle_id": row["cycle_id"],
        "cycle_ts": _iso(row["cycle_ts"]),
        "message": row["message"],
        "details": json.loads(row["details_json"]),
        "book": book_name,
        "source": SOURCE,
    }


def listing(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as ``btcbot alerts --json`` prints them: the webhook fields plus the delivery."""
    return [
        {k: v for k, v in webhook_body(r, "").items() if k not in ("book", "source")}
        | {"status": r["status"], "attempts": r["attempts"], "last_error": r["last_error"]}
        for r in rows
    ]


def line(row: dict[str, Any]) -> str:
    """One alert on one line: cycle time, severity, rule, message, delivery status."""
    when = "-" * 16 if row["cycle_ts"] is None else utc.minute_text(row["cycle_ts"])
    return f"{when}  {row['severity']:<8}  {row['rule']:<18}  {row['message']}  [{row['status']}]"


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else utc.text(ts)


# --- reading the book ---------------------------------------------------------------------


def read_facts(book: Book, window: Window) -> tuple[CycleFacts | None, list[CycleFacts]]:
    """The facts of the book's last cycle before ``window`` and of the window's cycles
    (those whose ledger is in the book and those a gate stopped), in time order."""
    start, end = naive_utc(window.start), naive_utc(window.end)
    if not book.has_table("ledger_metrics"):
        return None, []
    prev_ts = book.query("SELECT max(cycle_ts) FROM ledger_metrics WHERE cycle_ts < ?", [start])[0][0]
    lo = prev_ts if prev_ts is not None else start
    rows = book.query(
        "SELECT l.cycle_ts, l.cycle_id, l.equity_try, l.gap_cycles, l.carried_from, r.drawdown, r.daily_pnl_try,"
        " t.final_mode, t.mode_json, m.source, m.degraded_reason, m.n_symbols"
        " FROM ledger_metrics l LEFT JOIN risk_decisions r ON r.cycle_ts = l.cycle_ts"
        " LEFT JOIN cycle_trace t ON t.cycle_ts = l.cycle_ts LEFT JOIN market_cycles m ON m.cycle_ts = l.cycle_ts"
        " WHERE l.cycle_ts >= ? AND l.cycle_ts < ? ORDER BY l.cycle_ts",
        [lo, end],
    )
    faults: dict[datetime, dict[str, str]] = {}
    for ts, symbol, reason in book.query(
        "SELECT cycle_ts, symbol, skip_reason FROM market_snapshot WHERE cycle_ts >= ? AND cycle_ts < ?"
        " AND (skip_reason = 'stale_data' OR skip_reason LIKE 'exchange_error%') ORDER BY cycle_ts, symbol",
        [lo, end],
    ):
        if is_data_fault(reason):
            faults.setdefault(ts, {})[symbol] = reason
    gates = _gate_failures(book, start, end)
    events = _order_events(book, lo, end)
    empty = _empty_universes(book, lo, end)
    facts = {
        ts: CycleFacts(
            cycle_ts=_utc(ts),
            cycle_id=cid,
            equity_try=equity,
            drawdown=drawdown,
            daily_pnl_try=daily,
            final_mode=mode,
            mode_reasons=_reasons(mode_json),
            gap_cycles=gap or 0,
            carried_from=carried,
            source=source,
            degraded_reason=degraded,
            n_symbols=n_symbols,
            data_faults=faults.get(ts, {}),
            empty_universe=empty.get(ts),
            order_events=tuple(events.get(ts, ())),
        )
        for ts, cid, equity, gap, carried, drawdown, daily, mode, mode_json, source, degraded, n_symbols in rows
    }
    for (ts, cid), failures in gates.items():
        ran = facts.get(ts)
        facts[ts] = (
            CycleFacts(_utc(ts), cid, gate_failures=tuple(failures)) if ran is None else _with_gates(ran, failures)
        )
    previous = facts.pop(prev_ts) if prev_ts is not None and prev_ts in facts else None
    return previous, [facts[ts] for ts in sorted(facts)]


def _gate_failures(book: Book, start: datetime, end: datetime) -> dict[tuple[datetime, str], list[GateFailure]]:
    """The book's ``gate_failures`` of cycles in ``[start, end)`` (naive UTC), by cycle."""
    gates: dict[tuple[datetime, str], list[GateFailure]] = {}
    if not book.has_table("gate_failures"):
        return gates
    for ts, cid, asset, check, expectation, detail in book.query(
        "SELECT cycle_ts, cycle_id, asset, check_name, expectation, detail FROM gate_failures"
        " WHERE cycle_ts >= ? AND cycle_ts < ? ORDER BY cycle_ts, check_name, expectation",
        [start, end],
    ):
        gates.setdefault((ts, cid), []).append(GateFailure(check, asset, expectation, detail or ""))
    return gates


def _order_events(book: Book, start: datetime, end: datetime) -> dict[datetime, list[OrderEventFact]]:
    """The ``order_events`` of cycles in ``[start, end)`` (naive UTC) the execution rules
    read (:func:`~btcbot_pipeline.domain.alert_facts.is_watched_event`), by cycle, in book
    order. The SQL keeps the candidates; the domain's predicate decides."""
    out: dict[datetime, list[OrderEventFact]] = {}
    if not book.has_table("order_events"):
        return out
    for ts, event_type, reason, cid in book.query(
        "SELECT cycle_ts, event_type, reason, client_order_id FROM order_events"
        " WHERE cycle_ts >= ? AND cycle_ts < ?"
        " AND event_type IN ('REJECTED', 'THROTTLED', 'RETRY_GIVEUP', 'CANCELED', 'AUDIT')"
        " AND (event_type <> 'CANCELED' OR reason = 'unknown_closed')"
        " ORDER BY cycle_ts, client_order_id, seq",
        [start, end],
    ):
        if is_watched_event(event_type, reason):
            out.setdefault(ts, []).append(OrderEventFact(event_type, reason or "", cid or ""))
    return out


def _empty_universes(book: Book, start: datetime, end: datetime) -> dict[datetime, EmptyUniverse]:
    """Cycles in ``[start, end)`` (naive UTC) whose universe selected nothing while their
    trace's active parameters name a whitelist: that whitelist and every candidate's reject
    reason."""
    if not (book.has_table("universe_selection") and book.has_table("cycle_trace")):
        return {}
    rows = book.query(
        "SELECT s.cycle_ts, json_extract_string(t.active_params_json, '$.universe.whitelist') AS whitelist,"
        " list(u.symbol ORDER BY u.symbol) FILTER (WHERE u.symbol IS NOT NULL),"
        " list(u.reject_reason ORDER BY u.symbol) FILTER (WHERE u.symbol IS NOT NULL)"
        " FROM universe_selection s JOIN cycle_trace t ON t.cycle_ts = s.cycle_ts"
        " LEFT JOIN universe u ON u.cycle_ts = s.cycle_ts"
        " WHERE s.cycle_ts >= ? AND s.cycle_ts < ? AND json_array_length(s.selected_universe_json) = 0"
        " AND coalesce(json_array_length(t.active_params_json, '$.universe.whitelist'), 0) > 0"
        " GROUP BY s.cycle_ts, whitelist ORDER BY s.cycle_ts",
        [start, end],
    )
    return {
        ts: EmptyUniverse(tuple(json.loads(whitelist)), dict(zip(symbols or (), reasons or ())))
        for ts, whitelist, symbols, reasons in rows
    }


def _with_gates(facts: CycleFacts, failures: list[GateFailure]) -> CycleFacts:
    return replace(facts, gate_failures=tuple(failures))


def _reasons(mode_json: str | None) -> tuple[str, ...]:
    if not mode_json:
        return ()
    return tuple(str(r) for r in json.loads(mode_json).get("reasons") or ())


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts


# --- the run-failure sensor ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunFailure:
    """A failed cycle run as the sensor sees it: ``first``/``last`` partition keys
    (``None`` without partitions), the failure texts of its steps (or of the run)."""

    run_id: str
    job: str
    first: str | None
    last: str | None
    errors: tuple[str, ...]

    @property
    def partitions(self) -> str | None:
        if self.first is None:
            return None
        return self.first if self.last in (None, self.first) else f"{self.first}…{self.last}"

    def gate_cycles(self) -> list[str]:
        """Cycle ids a gate stopped in this run, named by the failure texts."""
        return sorted({m.group(2) for text in self.errors for m in _GATE_STOP.finditer(text)})


def partition_time(key: str) -> datetime | None:
    """The UTC start of a cycle (``2026-01-01T00:30``) or backtest (``2018-01-10``) partition key."""
    return utc.parse_first(key, utc.PARTITION_KEY)


def on_run_failure(
    db: Path,
    cfg: BotSettings,
    failure: RunFailure,
    *,
    kind: str,
    book_name: str,
    lock_wait_s: float = 5.0,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """Record (and, for a dry-run book, post) the alert of a failed cycle run; returns
    what was done, one line.

    A run a gate stopped already recorded its ``gate_failure`` alerts (same ids): they
    are not added nor posted again; only one the cycle could not record is added from the
    book's ``gate_failures``. Any other failure is one ``run_failed`` alert (CRITICAL). A
    book that does not exist, or stays locked for ``lock_wait_s``, gets nothing recorded:
    the alert is posted directly (dry-run, with a webhook) and the line says so.
    """
    post = kind != "backtest"
    status = PENDING if post and cfg.alert_webhook_url is not None else RECORDED
    con = _connect(db, lock_wait_s, sleep) if db.exists() else None
    if con is None:
        alert = _run_failed(failure)
        if not post or cfg.alert_webhook_url is None:
            return f"{alert.alert_id}: book {db} not writable; not recorded, no webhook to post to"
        row = dict(
            zip(
                ("alert_id", "cycle_ts", "cycle_id", "rule", "severity", "message", "details_json", "status"),
                alert_row(alert, status),
            )
        )
        with _poster(cfg, transport, sleep) as poster:
            delivery = poster.post(webhook_body(row, book_name), idempotency_key=alert.alert_id)
        return f"{alert.alert_id}: book {db} not writable, posted without recording: " + (
            "delivered" if delivery.ok else f"not delivered ({delivery.error})"
        )
    with con:
        book = Book(con)
        alerts = _gate_alerts(book, failure, cfg) if failure.gate_cycles() else []
        if not alerts:
            alerts = [_run_failed(failure)]
        added = book.record_alerts([alert_row(a, status) for a in alerts])
        deliveries = deliver_pending(book, cfg, book_name, transport=transport, sleep=sleep) if post else ()
    known = [a.alert_id for a in alerts if a.alert_id not in added]
    return Outcome(tuple(added), deliveries).describe() + (f"; already recorded: {', '.join(known)}" if known else "")


def _run_failed(failure: RunFailure) -> Alert:
    ts = partition_time(failure.first) if failure.first else None
    return run_failed_alert(
        cycle_ts=ts,
        cycle_id=None if ts is None else cycle_id_for(ts),
        run_id=failure.run_id,
        job=failure.job,
        partitions=failure.partitions,
        error="\n".join(failure.errors) or "no failure text",
    )


def _gate_alerts(book: Book, failure: RunFailure, cfg: BotSettings) -> list[Alert]:
    """The gate_failure alert of each stop the failure names, from the book's rows: the
    named cycle (the stop's first failing one) and the chunk's failing cycles after it,
    up to the next cycle the book holds (a stop empties its chunk) and the run's last
    partition."""
    out: list[Alert] = []
    for cycle_id in failure.gate_cycles():
        found = (
            book.query("SELECT min(cycle_ts) FROM gate_failures WHERE cycle_id = ?", [cycle_id])[0][0]
            if book.has_table("gate_failures")
            else None
        )
        if found is None or any(cycle_id in a.details.get("failing_cycles", ()) for a in out):
            continue
        ends = [_run_end(failure)]
        if book.has_table("ledger_metrics"):
            ends.append(book.query("SELECT min(cycle_ts) FROM ledger_metrics WHERE cycle_ts > ?", [found])[0][0])
        end = min((e for e in ends if e is not None), default=datetime.max)
        gates = _gate_failures(book, found, end)
        stop = [
            CycleFacts(_utc(ts), cid, gate_failures=tuple(failures)) for (ts, cid), failures in sorted(gates.items())
        ]
        out += evaluate(explained(stop, cfg), cfg.alert_thresholds())
    return out


def _run_end(failure: RunFailure) -> datetime | None:
    """A bound (naive UTC, exclusive) on the cycle times of the failed run: a minute key's
    partition is its one cycle; a day key's partition is at most a week of cycles."""
    key = failure.last or failure.first
    start = partition_time(key) if key else None
    if key is None or start is None:
        return None
    return naive_utc(start) + (timedelta(seconds=1) if "T" in key else timedelta(days=7))


def _poster(cfg: BotSettings, transport: httpx.BaseTransport | None, sleep: Callable[[float], None]) -> WebhookPoster:
    """The webhook poster of ``ALERT_WEBHOOK_URL`` with the settings' timeout, attempts,
    deadline and body cap (the caller has checked the URL is set)."""
    assert cfg.alert_webhook_url is not None
    return WebhookPoster(
        cfg.alert_webhook_url.get_secret_value(),
        timeout_s=cfg.alert_webhook_timeout_sec,
        attempts=cfg.alert_webhook_attempts,
        transport=transport,
        sleep=sleep,
        deadline_s=cfg.alert_webhook_deadline_sec,
        max_body_bytes=cfg.alert_webhook_max_body_bytes,
    )


def _connect(db: Path, wait_s: float, sleep: Callable[[float], None]) -> duckdb.DuckDBPyConnection | None:
    """A read-write connection, retried for ``wait_s`` while a run holds the book."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return duckdb.connect(str(db))
        except duckdb.Error:
            if time.monotonic() >= deadline:
                return None
            sleep(0.5)
