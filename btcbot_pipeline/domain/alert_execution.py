"""The execution alert rules: what the cycle's order events say about the venue.

Each reads the ``order_events`` of one cycle (:attr:`CycleFacts.order_events`, the rows
:func:`~btcbot_pipeline.domain.alert_facts.is_watched_event` keeps) and raises at most one
alert for it, however many events it counts: ``reject_spike`` (exchange rejects at or above
``ALERT_REJECT_SPIKE``), ``throttled``, ``retries_exhausted``, ``reconcile_anomaly`` (an
order closed on the exchange unknown to the book, an external order, one without a client
id) and ``fee_not_try`` (a fee charged in another asset, left out of the ledger). They
fire at each cycle holding such events: each is an occurrence, not a state that lasts.
Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter

from btcbot_pipeline.domain.alert_facts import (
    EXTERNAL,
    FEE_NOT_TRY_PREFIX,
    NO_CLIENT_ID,
    RETRY_GIVEUP,
    THROTTLED,
    UNKNOWN_CLOSED,
    Alert,
    AlertThresholds,
    CycleFacts,
    Rule,
    Severity,
    counted,
    cycle_alert,
    is_exchange_reject,
    is_fee_not_try,
    is_reconcile_anomaly,
    shown,
)


def reject_spike(cycle: CycleFacts, _last: CycleFacts | None, t: AlertThresholds) -> Alert | None:
    """ERROR: the exchange rejected ``t.reject_spike`` orders or more this cycle (by reason)."""
    rejects = [e for e in cycle.order_events if is_exchange_reject(e)]
    if not rejects or len(rejects) < t.reject_spike:
        return None
    n = len(rejects)
    reasons = Counter(e.reason for e in rejects)
    return cycle_alert(
        Rule.REJECT_SPIKE,
        Severity.ERROR,
        cycle,
        f"{n} order{'s' if n != 1 else ''} rejected by the exchange this cycle (alert at {t.reject_spike}): "
        f"{counted(reasons)}",
        {
            "count": n,
            "threshold": t.reject_spike,
            "reasons": dict(sorted(reasons.items())),
            "client_order_ids": [e.client_order_id for e in rejects],
        },
    )


def throttled(cycle: CycleFacts, _last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    """WARN: submissions the rate limit deferred this cycle (the simulated token bucket, or
    the exchange's 429); one alert per cycle, the count in ``details``."""
    events = [e for e in cycle.order_events if e.event_type == THROTTLED]
    if not events:
        return None
    n = len(events)
    reasons = Counter(e.reason for e in events)
    return cycle_alert(
        Rule.THROTTLED,
        Severity.WARN,
        cycle,
        f"{n} order submission{'s' if n != 1 else ''} throttled by the rate limit this cycle ({counted(reasons)}); "
        f"{'they wait' if n != 1 else 'it waits'} for a later attempt",
        {
            "count": n,
            "reasons": dict(sorted(reasons.items())),
            "client_order_ids": [e.client_order_id for e in events],
        },
    )


def retries_exhausted(cycle: CycleFacts, _last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    """ERROR: orders given up when their retries ran out (``RETRY_GIVEUP``): never placed."""
    events = [e for e in cycle.order_events if e.event_type == RETRY_GIVEUP]
    if not events:
        return None
    n = len(events)
    return cycle_alert(
        Rule.RETRIES_EXHAUSTED,
        Severity.ERROR,
        cycle,
        f"{n} order{'s' if n != 1 else ''} given up after {'their' if n != 1 else 'its'} retries ran out, "
        f"not placed: {shown([f'{e.client_order_id} ({e.reason})' for e in events])}",
        {"count": n, "orders": {e.client_order_id: e.reason for e in events}},
    )


def reconcile_anomaly(cycle: CycleFacts, _last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    """WARN: what reconciling with the exchange found that the bot did not do: an order
    closed there unknown to the book, another party's order, an order without a client id."""
    events = [e for e in cycle.order_events if is_reconcile_anomaly(e)]
    if not events:
        return None
    found = {
        kind: [e.client_order_id for e in events if e.reason == kind]
        for kind in (UNKNOWN_CLOSED, EXTERNAL, NO_CLIENT_ID)
    }
    texts = {
        UNKNOWN_CLOSED: "closed on the exchange unknown to the book",
        EXTERNAL: "placed by someone else (imported as external; the bot never cancels them)",
        NO_CLIENT_ID: "without a client order id (imported as external; the bot never cancels them)",
    }
    parts = [
        f"{len(ids)} order{'s' if len(ids) != 1 else ''} {texts[kind]}: {shown(ids)}"
        for kind, ids in found.items()
        if ids
    ]
    return cycle_alert(
        Rule.RECONCILE_ANOMALY,
        Severity.WARN,
        cycle,
        "reconciling with the exchange found " + "; ".join(parts),
        {kind: ids for kind, ids in found.items() if ids},
    )


def fee_not_try(cycle: CycleFacts, _last: CycleFacts | None, _: AlertThresholds) -> Alert | None:
    """WARN: fees charged in another asset than TRY (``AUDIT fee_not_try:<asset>:<amount>``),
    left out of the ledger."""
    events = [e for e in cycle.order_events if is_fee_not_try(e)]
    if not events:
        return None
    fees = []
    for e in events:
        asset, _, amount = e.reason.removeprefix(FEE_NOT_TRY_PREFIX).partition(":")
        fees.append({"client_order_id": e.client_order_id, "asset": asset, "amount": amount})
    n = len(fees)
    named = [f"{f['amount']} {f['asset']} on {f['client_order_id']}" for f in fees]
    return cycle_alert(
        Rule.FEE_NOT_TRY,
        Severity.WARN,
        cycle,
        f"{n} fee{'s' if n != 1 else ''} charged in another asset than TRY: {shown(named)}; "
        f"{'they were' if n != 1 else 'it was'} not converted and {'are' if n != 1 else 'is'} not in the ledger",
        {"fees": fees},
    )


# In the order their alerts are listed for one cycle.
EXECUTION_RULES = (reject_spike, throttled, retries_exhausted, reconcile_anomaly, fee_not_try)
