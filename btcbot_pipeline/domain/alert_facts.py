"""The alert rules' vocabulary: what a rule reads of a cycle and what it raises.

:class:`CycleFacts` is one cycle as the rules read it from the book (the ledger, the
risk budget, the trace, the market rows, the gates' failures, an empty universe and the
order events the execution rules count); :class:`Alert` is what a rule raises, its id
``<rule>:<cycle id>`` (:func:`cycle_alert`); :class:`Rule` and :class:`Severity` name
them; :class:`AlertThresholds` holds the ``ALERT_*`` thresholds. Which ``order_events``
rows the execution rules read is decided here (:func:`is_watched_event`), so that the
book's reader and the rules agree. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping, Sequence

STALE_REASON = "stale_data"
EXCHANGE_ERROR_PREFIX = "exchange_error"
# Symbols named in a message before "and N more" (details list them all).
NAMES_SHOWN = 8


class Severity(StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Rule(StrEnum):
    DRAWDOWN = "drawdown_threshold"
    DAILY_LOSS = "daily_loss"
    MODE_CHANGE = "mode_change"
    DATA_DEGRADED = "data_degraded"
    STALE_DATA = "stale_data"
    CYCLES_MISSED = "cycles_missed"
    GATE_FAILURE = "gate_failure"
    RUN_FAILED = "run_failed"
    EMPTY_UNIVERSE = "empty_universe"
    REJECT_SPIKE = "reject_spike"
    THROTTLED = "throttled"
    RETRIES_EXHAUSTED = "retries_exhausted"
    RECONCILE_ANOMALY = "reconcile_anomaly"
    FEE_NOT_TRY = "fee_not_try"


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """``drawdown_pct``: a fraction (0.05 = 5 %, ``ALERT_DRAWDOWN_PCT``); ``daily_loss_try``:
    TRY lost since the start of the UTC day (``ALERT_DAILY_LOSS_TRY``). Both > 0.
    ``reject_spike``: exchange rejects in one cycle that raise ``reject_spike``
    (``ALERT_REJECT_SPIKE``, >= 1)."""

    drawdown_pct: Decimal
    daily_loss_try: Decimal
    reject_spike: int = 3


# The order events the execution rules read (``order_events``: event type, reason). A
# REJECTED event is an exchange's reject unless the bot refused the order itself: a cap
# (``cap:MAX_OPEN_ORDERS``), a closed gate (``blocked:KILL_SWITCH``), an unusable price or
# quantity, or retries that ran out (``retries_exhausted`` reports those).
REJECTED, THROTTLED, RETRY_GIVEUP, CANCELED, AUDIT = "REJECTED", "THROTTLED", "RETRY_GIVEUP", "CANCELED", "AUDIT"
OUR_REFUSAL_PREFIXES = ("cap:", "blocked:")
OUR_REFUSALS = frozenset({"invalid_price_or_qty", "retry_budget_exhausted"})
UNKNOWN_CLOSED, EXTERNAL, NO_CLIENT_ID = "unknown_closed", "external", "no_client_id"
FEE_NOT_TRY_PREFIX = "fee_not_try:"


@dataclass(frozen=True, slots=True)
class OrderEventFact:
    """One ``order_events`` row an execution rule reads (see :func:`is_watched_event`)."""

    event_type: str
    reason: str
    client_order_id: str


def is_exchange_reject(event: OrderEventFact) -> bool:
    """A REJECTED event whose reason is the exchange's (``BALANCE_NOT_ENOUGH``), not the bot's."""
    return (
        event.event_type == REJECTED
        and not event.reason.startswith(OUR_REFUSAL_PREFIXES)
        and event.reason not in OUR_REFUSALS
    )


def is_reconcile_anomaly(event: OrderEventFact) -> bool:
    """An order closed on the exchange unknown to the book, an external order, one without a client id."""
    return (event.event_type == CANCELED and event.reason == UNKNOWN_CLOSED) or (
        event.event_type == AUDIT and event.reason in (EXTERNAL, NO_CLIENT_ID)
    )


def is_fee_not_try(event: OrderEventFact) -> bool:
    return event.event_type == AUDIT and event.reason.startswith(FEE_NOT_TRY_PREFIX)


def is_watched_event(event_type: str, reason: str | None) -> bool:
    """Whether an ``order_events`` row is one an execution rule reads."""
    event = OrderEventFact(event_type, reason or "", "")
    return (
        event_type in (THROTTLED, RETRY_GIVEUP)
        or is_exchange_reject(event)
        or is_reconcile_anomaly(event)
        or is_fee_not_try(event)
    )


@dataclass(frozen=True, slots=True)
class EmptyUniverse:
    """A cycle whose universe selected nothing, screened with a whitelist: the whitelist as
    the cycle's trace recorded it, and every candidate with its reject reason (``None``:
    eligible but not ranked in)."""

    whitelist: tuple[str, ...]
    candidates: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateFailure:
    """One ``gate_failures`` row: the gate (check), its asset, the failed expectation, the
    detail (exact values, as the gate recorded it) and ``text``: the same failure in
    trading terms with figures rounded (empty: the message shows ``detail``)."""

    check: str
    asset: str
    expectation: str
    detail: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class CycleFacts:
    """What the rules read of one cycle (``None``: the book holds no such row, e.g. a
    cycle a gate stopped has only its ``gate_failures``).

    ``drawdown``: from the risk budget's peak, a fraction; ``daily_pnl_try``: equity minus
    the equity the UTC day started from; ``data_faults``: symbol → skip reason of the
    symbols skipped for stale or unreadable exchange data; ``empty_universe``: set when
    the universe selected nothing while a whitelist was set; ``order_events``: the
    cycle's order events the execution rules read, in book order.
    """

    cycle_ts: datetime
    cycle_id: str
    equity_try: Decimal | None = None
    drawdown: Decimal | None = None
    daily_pnl_try: Decimal | None = None
    final_mode: str | None = None
    mode_reasons: tuple[str, ...] = ()
    gap_cycles: int = 0
    carried_from: str | None = None
    source: str | None = None
    degraded_reason: str | None = None
    n_symbols: int | None = None
    data_faults: Mapping[str, str] = field(default_factory=dict)
    gate_failures: tuple[GateFailure, ...] = ()
    empty_universe: EmptyUniverse | None = None
    order_events: tuple[OrderEventFact, ...] = ()

    @property
    def ran(self) -> bool:
        """The cycle's ledger is in the book (it was not stopped by a gate)."""
        return self.equity_try is not None


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    rule: Rule
    severity: Severity
    cycle_ts: datetime | None
    cycle_id: str | None
    message: str
    details: Mapping[str, Any]


def is_data_fault(skip_reason: str | None) -> bool:
    """A skip reason the ``stale_data`` rule reports: stale rows or an exchange read error."""
    return skip_reason is not None and (skip_reason == STALE_REASON or skip_reason.startswith(EXCHANGE_ERROR_PREFIX))


def cycle_alert(rule: Rule, severity: Severity, cycle: CycleFacts, message: str, details: Mapping[str, Any]) -> Alert:
    """The alert of ``rule`` at ``cycle``: its id is ``<rule>:<cycle id>``."""
    return Alert(f"{rule}:{cycle.cycle_id}", rule, severity, cycle.cycle_ts, cycle.cycle_id, message, details)


def shown(names: Sequence[str]) -> str:
    """The first :data:`NAMES_SHOWN` names, then ``and N more`` (details list them all)."""
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def counted(reasons: Counter[str]) -> str:
    """``BALANCE_NOT_ENOUGH ×2, FAILED_MIN_TOTAL_AMOUNT ×1``: most frequent first, then by name."""
    return shown([f"{r} ×{n}" for r, n in sorted(reasons.items(), key=lambda rn: (-rn[1], rn[0]))])
