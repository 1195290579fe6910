"""Alert rules over a window of committed cycles (pure: plain values in, alerts out).

:func:`evaluate` takes the :class:`CycleFacts` of a committed (or gate-stopped) window
plus those of the cycle just before it and returns the :class:`Alert` s these cycles
raise, per :class:`Rule`: the state rules (``drawdown_threshold``, ``daily_loss``,
``mode_change``, ``data_degraded``, ``stale_data``, ``empty_universe``, ``cycles_missed``,
``gate_failure``) and the execution rules read from the cycle's order events
(``reject_spike``, ``throttled``, ``retries_exhausted``, ``reconcile_anomaly``,
``fee_not_try``); :func:`run_failed_alert` builds the ``run_failed`` alert of a failed
run. Guarantees: a state rule fires at the cycle where its condition starts, not at every
cycle it lasts; an execution rule fires once for each cycle whose events it counts (one
alert per rule and cycle, however many events); an alert's id is ``<rule>:<cycle id>``
(``run_failed:<cycle id>:<run>``), so evaluating a window again gives the same ids;
messages round figures, ``details`` keep exact values as text. No I/O: recording and
posting are :mod:`btcbot_pipeline.alerting`'s. The rules in full:
``docs/risk-and-alerts.md``.
"""

from __future__ import annotations

import difflib
from datetime import datetime
from decimal import Decimal
from typing import Any, Sequence

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.alert_execution import EXECUTION_RULES
from btcbot_pipeline.domain.alert_facts import (
    EXCHANGE_ERROR_PREFIX,
    STALE_REASON,
    Alert,
    AlertThresholds,
    CycleFacts,
    GateFailure,
    Rule,
    Severity,
    is_data_fault,
    shown,
)
from btcbot_pipeline.domain.alert_facts import NAMES_SHOWN as _NAMES_SHOWN
from btcbot_pipeline.domain.alert_facts import cycle_alert as _alert
from btcbot_pipeline.domain.vocabulary import Mode, canonical_symbol

# The vocabulary is alert_facts'; what callers have always imported from here stays importable.
__all__ = [
    "CYCLE_RULES",
    "EXCHANGE_ERROR_PREFIX",
    "STALE_REASON",
    "Alert",
    "AlertThresholds",
    "CycleFacts",
    "GateFailure",
    "Rule",
    "Severity",
    "evaluate",
    "gate_failure_alert",
    "is_data_fault",
    "run_failed_alert",
]

_DETAIL_CHARS = 300
# difflib ratio above which a candidate is offered for a whitelist name matching none (as doctor's).
_SUGGEST_CUTOFF = 0.6

# The rules :func:`evaluate` decides from a window's cycles (a re-run of the window
# re-decides them); ``run_failed`` is the sensor's.
CYCLE_RULES: tuple[Rule, ...] = (
    Rule.GATE_FAILURE,
    Rule.DATA_DEGRADED,
    Rule.STALE_DATA,
    Rule.EMPTY_UNIVERSE,
    Rule.CYCLES_MISSED,
    Rule.MODE_CHANGE,
    Rule.DAILY_LOSS,
    Rule.DRAWDOWN,
    Rule.REJECT_SPIKE,
    Rule.THROTTLED,
    Rule.RETRIES_EXHAUSTED,
    Rule.RECONCILE_ANOMALY,
    Rule.FEE_NOT_TRY,
)


def evaluate(
    cycles: Sequence[CycleFacts], thresholds: AlertThresholds, previous: CycleFacts | None = None
) -> list[Alert]:
    """The alerts ``cycles`` raise, in cycle order (rules in :data:`CYCLE_RULES` order).

    Args:
        cycles: the window's cycles, in time order.
        thresholds: the alert thresholds.
        previous: the book's last cycle before the window (``None``: the book starts with
            the window), the reference for the first cycle's crossings and mode.
    """
    alerts: list[Alert] = []
    last = previous if previous is not None and previous.ran else None
    stops = {stop[0].cycle_id: stop for stop in _stops(cycles)}
    for cycle in cycles:
        if cycle.cycle_id in stops:
            alerts.append(gate_failure_alert(stops[cycle.cycle_id]))
        if not cycle.ran:
            continue  # stopped by a gate: nothing else of it is in the book
        for rule in _RULES:
            alert = rule(cycle, last, thresholds)
            if alert is not None:
                alerts.append(alert)
        last = cycle
    return alerts


def run_failed_alert(
    *, cycle_ts: datetime | None, cycle_id: str | None, run_id: str, job: str, partitions: str | None, error: str
) -> Alert:
    """A cycle run that failed outside the gates (crash, book locked, refused settings).

    ``partitions``: the run's partition key or ``first…last`` range; ``error``: the failure
    text (its first line goes in the message)."""
    first_line = (error.strip().splitlines() or ["no error text"])[0][:_DETAIL_CHARS]
    where = f"cycle {utc.minute_text(cycle_ts)} UTC" if cycle_ts is not None else "a cycle run"
    what = f" (partitions {partitions})" if partitions and cycle_ts is not None and "…" in partitions else ""
    return Alert(
        alert_id=f"{Rule.RUN_FAILED}:{cycle_id or 'no_cycle'}:{run_id[:8]}",
        rule=Rule.RUN_FAILED,
        severity=Severity.CRITICAL,
        cycle_ts=cycle_ts,
        cycle_id=cycle_id,
        message=f"{where}{what} did not complete: run {run_id[:8]} of {job} failed: {first_line}. "
        "The book keeps its last committed cycle; the next run carries on from there.",
        details={"run_id": run_id, "job": job, "partitions": partitions, "error": error.strip()[:2000]},
    )


# --- the rules ------------------------------------------------------------------------


def _stops(cycles: Sequence[CycleFacts]) -> list[list[CycleFacts]]:
    """The gate stops among ``cycles``: each run of consecutive cycles with gate failures.

    A stop rolls back its whole chunk, so its failing cycles are never separated by a
    cycle that was written: one run of them is one cause."""
    stops: list[list[CycleFacts]] = []
    current: list[CycleFacts] = []
    for cycle in cycles:
        if cycle.gate_failures:
            current.append(cycle)
        elif current:
            stops.append(current)
            current = []
    if current:
        stops.append(current)
    return stops


def gate_failure_alert(stop: Sequence[CycleFacts]) -> Alert:
    """The one ``gate_failure`` alert of a gate stop: ``stop`` are the cycles of the
    stopped chunk that failed (in time order, each with its ``gate_failures``).

    The alert is the first failing cycle's (its id ``gate_failure:<that cycle id>``, so
    the same stop gives the same id) and names its first failure by gate and expectation,
    as the run's failure does; the other failed expectations and cycles are counted in
    the message and listed, exact, in ``details``."""
    ordered = [(c, g) for c in stop for g in sorted(c.gate_failures, key=lambda g: (g.check, g.expectation))]
    first_cycle, first = ordered[0]
    # the other expectations by name (with their gate when it is another one)
    others = [
        e if c == first.check else f"{c} {e}"
        for c, e in sorted({(g.check, g.expectation) for _, g in ordered} - {(first.check, first.expectation)})
    ]
    more = []
    if others:
        shown = ", ".join(others[:_NAMES_SHOWN]) + (" …" if len(others) > _NAMES_SHOWN else "")
        more.append(f"{len(others)} more failed expectation{'s' if len(others) != 1 else ''}: {shown}")
    if len(stop) > 1:
        n = len(stop) - 1
        more.append(
            f"{n} more failing cycle{'s' if n != 1 else ''} of the chunk, the last at "
            f"{utc.minute_text(stop[-1].cycle_ts)} UTC"
        )
    return _alert(
        Rule.GATE_FAILURE,
        Severity.ERROR,
        first_cycle,
        f"gate {first.check} stopped the cycle: {_gate_text(first)}"
        + (f" (+{'; +'.join(more)})" if more else "")
        + "; nothing of its chunk was written",
        {
            "failing_cycles": [c.cycle_id for c in stop],
            "failures": [
                {
                    "cycle_id": c.cycle_id,
                    "check": g.check,
                    "asset": g.asset,
                    "expectation": g.expectation,
                    "detail": g.detail,
                }
                for c, g in ordered
            ],
        },
    )


def _gate_text(failure: GateFailure) -> str:
    """The failure as the message says it: in trading terms when known, else the detail
    (cut to a readable length: ``details`` keep it whole)."""
    if failure.text:
        return (
            failure.text
            if failure.text.startswith(f"{failure.expectation}:")
            else f"{failure.expectation}: {failure.text}"
        )
    detail = failure.detail if len(failure.detail) <= _DETAIL_CHARS else failure.detail[:_DETAIL_CHARS] + "…"
    return f"{failure.expectation}: {detail}"


def _data_degraded(cycle: CycleFacts, last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    if cycle.degraded_reason is None or (last is not None and last.degraded_reason == cycle.degraded_reason):
        return None
    return _alert(
        Rule.DATA_DEGRADED,
        Severity.ERROR,
        cycle,
        f"market data from {cycle.source or 'the source'} degraded ({cycle.degraded_reason}): "
        f"the cycle ran {cycle.final_mode or 'without trading'}",
        {
            "source": cycle.source,
            "degraded_reason": cycle.degraded_reason,
            "final_mode": cycle.final_mode,
            "previous_degraded_reason": None if last is None else last.degraded_reason,
        },
    )


def _stale_data(cycle: CycleFacts, last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    if cycle.degraded_reason is not None:
        return None  # the whole source is degraded: data_degraded says so once
    before = {} if last is None else last.data_faults
    new = {s: r for s, r in sorted(cycle.data_faults.items()) if before.get(s) != r}
    if not new:
        return None
    named = [s if r == STALE_REASON else f"{s} ({r})" for s, r in new.items()]
    shown = ", ".join(named[:_NAMES_SHOWN]) + (
        f" and {len(named) - _NAMES_SHOWN} more" if len(named) > _NAMES_SHOWN else ""
    )
    of = f" of {cycle.n_symbols}" if cycle.n_symbols is not None else ""
    return _alert(
        Rule.STALE_DATA,
        Severity.WARN,
        cycle,
        f"{len(new)} symbol{'s' if len(new) != 1 else ''} newly skipped for stale or missing exchange data: {shown} "
        f"({len(cycle.data_faults)}{of} skipped for it this cycle)",
        {"new": dict(new), "all": dict(sorted(cycle.data_faults.items())), "n_symbols": cycle.n_symbols},
    )


def _cycles_missed(cycle: CycleFacts, _last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    if cycle.gap_cycles <= 0:
        return None
    n = cycle.gap_cycles
    return _alert(
        Rule.CYCLES_MISSED,
        Severity.WARN,
        cycle,
        f"{n} cycle{'s' if n != 1 else ''} missed before this one: the ledger carried from cycle "
        f"{cycle.carried_from} across {'them' if n != 1 else 'it'}",
        {"gap_cycles": n, "carried_from": cycle.carried_from},
    )


def _mode_change(cycle: CycleFacts, last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    if last is None or cycle.final_mode is None or last.final_mode is None or cycle.final_mode == last.final_mode:
        return None
    tighter = _rank(cycle.final_mode) > _rank(last.final_mode)
    details: dict[str, Any] = {
        "previous_mode": last.final_mode,
        "mode": cycle.final_mode,
        "reasons": list(cycle.mode_reasons),
        "previous_cycle_id": last.cycle_id,
    }
    if tighter:
        why = "; ".join(_reason_text(r) for r in cycle.mode_reasons) or "no reason recorded"
    else:
        cleared = _cleared(last.mode_reasons, cycle.mode_reasons)
        why = _loosened_text(cycle, cleared)
        details |= {"previous_reasons": list(last.mode_reasons), "cleared_reasons": cleared}
    return _alert(
        Rule.MODE_CHANGE,
        Severity.WARN if tighter else Severity.INFO,
        cycle,
        f"mode {last.final_mode} → {cycle.final_mode} ({'tighter' if tighter else 'looser'}): {why}",
        details,
    )


# Mode reasons as the cycle records them (domain.cycle.decide_mode, domain.risk): the risk
# budget's "risk:<limit>:breached" / "risk:<limit>:cooldown_until:<UTC>", an operator's
# "risk_cleared:<clear id>:<why>", and the cycle's own "market_data_degraded:<why>",
# "kill_switch", "rules_unavailable:<symbols>".
_RISK_PREFIX, _CLEARED_PREFIX = "risk:", "risk_cleared:"
_LIMIT_WORDS = {
    "daily_loss_limit": "daily loss limit",
    "drawdown_limit": "drawdown limit",
    "stale_data_limit": "stale data limit",
    "fee_burn_limit": "fee burn limit",
    "equity_vol_limit": "equity volatility limit",
    "losing_cycles_limit": "losing cycles limit",
    "auto_kill_switch": "automatic kill switch",
}


def _cause(reason: str) -> str:
    """What a reason is about, without its state: ``risk:drawdown_limit:breached`` and
    ``risk:drawdown_limit:cooldown_until:…`` are both the drawdown limit."""
    if reason.startswith(_RISK_PREFIX):
        return ":".join(reason.split(":")[:2])
    return reason.split(":", 1)[0]


def _cleared(before: Sequence[str], now: Sequence[str]) -> list[str]:
    """The previous cycle's restrictions whose cause no longer holds (an operator's clear
    restricts nothing: it is not one)."""
    still = {_cause(r) for r in now}
    return [r for r in before if _cause(r) not in still and not r.startswith(_CLEARED_PREFIX)]


def _loosened_text(cycle: CycleFacts, cleared: Sequence[str]) -> str:
    """Why the mode loosened: an operator's clear first, then each cause that ended, then
    what still holds."""
    clears = [_reason_text(r) for r in cycle.mode_reasons if r.startswith(_CLEARED_PREFIX)]
    parts = clears + [_ended_text(r, by_clear=bool(clears)) for r in cleared]
    if not parts:
        parts = ["the previous cycle recorded no reason for its mode"]
    still = [_reason_text(r) for r in cycle.mode_reasons if not r.startswith(_CLEARED_PREFIX)]
    return "; ".join(parts) + (f" (still: {'; '.join(still)})" if still else "")


def _reason_text(reason: str) -> str:
    """A mode reason in trading terms: ``risk:daily_loss_limit:breached`` → ``daily loss limit breached``."""
    if reason.startswith(_CLEARED_PREFIX):
        _, clear_id, why = (reason.split(":", 2) + ["", ""])[:3]
        return f"operator risk clear {clear_id} applied" + (f" ({why})" if why else "")
    if reason.startswith(_RISK_PREFIX):
        _, limit, *state = reason.split(":", 2)
        words = _LIMIT_WORDS.get(limit, limit)
        if state and state[0].startswith("cooldown_until:"):
            return f"{words} cooling down until {_utc_text(state[0].removeprefix('cooldown_until:'))}"
        return f"{words} {state[0] if state else 'tripped'}"
    if reason.startswith("market_data_degraded:"):
        return f"market data degraded ({reason.split(':', 1)[1]})"
    if reason == "kill_switch":
        return "kill switch on (orders frozen: none placed or cancelled, resting ones stay)"
    if reason.startswith("rules_unavailable:"):
        return f"exchange rules unusable for {reason.split(':', 1)[1]}"
    return reason


def _ended_text(reason: str, *, by_clear: bool) -> str:
    """A previous reason that no longer holds, said as what ended (``by_clear``: an
    operator's risk clear dropped the risk limits' latches)."""
    if reason.startswith(_RISK_PREFIX):
        _, limit, *state = reason.split(":", 2)
        words = _LIMIT_WORDS.get(limit, limit)
        if by_clear:
            return f"{words} lifted by the clear"
        if state and state[0].startswith("cooldown_until:"):
            return f"{words} cleared (its cooldown until {_utc_text(state[0].removeprefix('cooldown_until:'))} ended)"
        return f"{words} cleared (no longer breached, its cooldown over)"
    if reason.startswith("market_data_degraded:"):
        return f"market data usable again (was degraded: {reason.split(':', 1)[1]})"
    if reason == "kill_switch":
        return "kill switch off (orders are placed and cancelled again)"
    if reason.startswith("rules_unavailable:"):
        return f"exchange rules usable again for {reason.split(':', 1)[1]}"
    return f"{reason} no longer applies"


def _utc_text(stamp: str) -> str:
    """``2026-01-01T01:00:00Z`` → ``2026-01-01T01:00 UTC`` (other text as is)."""
    try:
        return f"{utc.minute_text(utc.parse(stamp))} UTC"
    except ValueError:
        return stamp


def _daily_loss(cycle: CycleFacts, last: CycleFacts | None, t: AlertThresholds) -> Alert | None:
    if cycle.daily_pnl_try is None or -cycle.daily_pnl_try < t.daily_loss_try:
        return None
    same_day = last is not None and last.daily_pnl_try is not None and last.cycle_ts.date() == cycle.cycle_ts.date()
    if same_day and last is not None and last.daily_pnl_try is not None and -last.daily_pnl_try >= t.daily_loss_try:
        return None  # crossed at an earlier cycle of this UTC day
    loss = -cycle.daily_pnl_try
    return _alert(
        Rule.DAILY_LOSS,
        Severity.WARN,
        cycle,
        f"daily loss {_try(loss)} TRY crossed the {_plain(t.daily_loss_try)} TRY alert threshold "
        f"at equity {_try(cycle.equity_try)} TRY (loss since the start of the UTC day)",
        {
            "daily_pnl_try": _text(cycle.daily_pnl_try),
            "threshold_try": _text(t.daily_loss_try),
            "equity_try": _text(cycle.equity_try),
        },
    )


def _drawdown(cycle: CycleFacts, last: CycleFacts | None, t: AlertThresholds) -> Alert | None:
    if cycle.drawdown is None or cycle.drawdown < t.drawdown_pct:
        return None
    if last is not None and last.drawdown is not None and last.drawdown >= t.drawdown_pct:
        return None  # crossed earlier and not recovered below the threshold since
    return _alert(
        Rule.DRAWDOWN,
        Severity.WARN,
        cycle,
        f"drawdown {_pct(cycle.drawdown)} % crossed the {_plain(t.drawdown_pct * 100)} % alert threshold "
        f"at equity {_try(cycle.equity_try)} TRY",
        {
            "drawdown": _text(cycle.drawdown),
            "threshold": _text(t.drawdown_pct),
            "equity_try": _text(cycle.equity_try),
            "previous_drawdown": None if last is None or last.drawdown is None else _text(last.drawdown),
        },
    )


def _empty_universe(cycle: CycleFacts, last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    empty = cycle.empty_universe
    if empty is None or not empty.whitelist or cycle.degraded_reason is not None:
        return None  # a degraded source empties the universe too: data_degraded says so
    if last is not None and last.empty_universe is not None and last.empty_universe.whitelist == empty.whitelist:
        return None  # the same whitelist selected nothing at the previous cycle: said then
    known = sorted(empty.candidates)
    unmatched: dict[str, str | None] = {}
    rejected: dict[str, str] = {}
    for name in empty.whitelist:
        symbol = canonical_symbol(name)
        if symbol in empty.candidates:
            rejected[symbol] = empty.candidates[symbol] or "not ranked in"
        else:
            close = difflib.get_close_matches(symbol, known, n=1, cutoff=_SUGGEST_CUTOFF)
            unmatched[symbol] = close[0] if close else None
    parts = []
    if unmatched:
        named = [s + (f" (did you mean {hint}?)" if hint else "") for s, hint in unmatched.items()]
        parts.append(f"{shown(named)} matched no candidate")
    if rejected:
        parts.append(shown([f"{s} rejected ({r})" for s, r in rejected.items()]))
    n = len(empty.candidates)
    return _alert(
        Rule.EMPTY_UNIVERSE,
        Severity.ERROR,
        cycle,
        f"the universe selected nothing with STAGE7_UNIVERSE_WHITELIST={','.join(empty.whitelist)}: "
        f"{'; '.join(parts)} ({n} candidate{'s' if n != 1 else ''} this cycle); the plan buys nothing and exits "
        "every holding (a symbol outside the universe targets zero) while it stays empty; btcbot doctor checks the "
        "whitelist",
        {
            "whitelist": list(empty.whitelist),
            "unmatched": list(unmatched),
            "suggestions": {s: hint for s, hint in unmatched.items() if hint},
            "rejected": rejected,
            "n_candidates": n,
        },
    )


# In the order their alerts are listed for one cycle (gate_failure, the sensor's run_failed aside).
_RULES = (
    _data_degraded,
    _stale_data,
    _empty_universe,
    _cycles_missed,
    _mode_change,
    _daily_loss,
    _drawdown,
    *EXECUTION_RULES,
)

# --- formatting ---------------------------------------------------------------------------


def _rank(mode: str) -> int:
    try:
        return Mode(mode).rank
    except ValueError:
        return -1


def _try(value: Decimal | None) -> str:
    """TRY rounded half-even to 2 places, thousands separated: ``9,270.12``."""
    return "?" if value is None else f"{value:,.2f}"


def _pct(fraction: Decimal) -> str:
    """A fraction as a percentage to 0.1: ``0.0731`` → ``7.3``."""
    return f"{fraction * 100:.1f}"


def _plain(value: Decimal) -> str:
    """A setting as typed, without trailing zeros: ``5``, ``7.5``, ``1,000``."""
    return f"{value.normalize():,f}"


def _text(value: Decimal | None) -> str | None:
    """Exact decimal text without trailing zeros (details keep every digit)."""
    return None if value is None else format(value.normalize(), "f")
