"""The alert rules of issue 17 on literal cycle tables: an empty universe under a whitelist,
the execution events (reject spike, throttling, retries exhausted, reconcile anomalies, a
fee not in TRY), and the kill switch in mode-change texts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from btcbot_pipeline.domain.alert_facts import EmptyUniverse, OrderEventFact, is_watched_event
from btcbot_pipeline.domain.alerts import CYCLE_RULES, Alert, AlertThresholds, Rule, Severity, evaluate
from btcbot_pipeline_tests.domain.test_alerts import cid, cycle, ts

T = AlertThresholds(drawdown_pct=Decimal("0.05"), daily_loss_try=Decimal("250"), reject_spike=3)
CANDIDATES = {s: "not_whitelisted" for s in ("ADATRY", "BTCTRY", "ETHTRY", "USDTTRY", "XRPTRY")}


def ev(event_type: str, reason: str, order: str = "s7:1") -> OrderEventFact:
    return OrderEventFact(event_type, reason, order)


def test_every_new_rule_is_re_decided_on_a_re_run() -> None:
    new = {
        Rule.EMPTY_UNIVERSE,
        Rule.REJECT_SPIKE,
        Rule.THROTTLED,
        Rule.RETRIES_EXHAUSTED,
        Rule.RECONCILE_ANOMALY,
        Rule.FEE_NOT_TRY,
    }
    assert new <= set(CYCLE_RULES)
    assert AlertThresholds(Decimal("0.05"), Decimal("250")).reject_spike == 3  # the default


# --- empty_universe ------------------------------------------------------------------------


def test_a_misspelled_whitelist_raises_empty_universe_with_a_suggestion() -> None:
    empty = EmptyUniverse(("BTCTRYY",), CANDIDATES)

    alerts = evaluate([cycle("00:30", empty_universe=empty)], T)

    assert alerts == [
        Alert(
            "empty_universe:20260101T003000Z",
            Rule.EMPTY_UNIVERSE,
            Severity.ERROR,
            ts("00:30"),
            cid("00:30"),
            "the universe selected nothing with STAGE7_UNIVERSE_WHITELIST=BTCTRYY: BTCTRYY (did you mean BTCTRY?) "
            "matched no candidate (5 candidates this cycle); the plan buys nothing and exits every holding (a symbol "
            "outside the universe targets zero) while it stays empty; btcbot doctor checks the whitelist",
            {
                "whitelist": ["BTCTRYY"],
                "unmatched": ["BTCTRYY"],
                "suggestions": {"BTCTRYY": "BTCTRY"},
                "rejected": {},
                "n_candidates": 5,
            },
        )
    ]


def test_whitelisted_candidates_that_were_rejected_say_why() -> None:
    # the live source lists the whitelist itself: a wrong name is a candidate the exchange does not list
    empty = EmptyUniverse(
        ("btc_try", "DOGEUSD", "BTCTRYY"),
        {"BTCTRY": "stale_data", "BTCTRYY": "symbol_not_listed"},
    )

    (alert,) = evaluate([cycle("00:30", empty_universe=empty)], T)

    assert alert.message.startswith(
        "the universe selected nothing with STAGE7_UNIVERSE_WHITELIST=btc_try,DOGEUSD,BTCTRYY: DOGEUSD matched no "
        "candidate; BTCTRY rejected (stale_data), BTCTRYY rejected (symbol_not_listed) (2 candidates this cycle); "
    )
    assert alert.details["rejected"] == {"BTCTRY": "stale_data", "BTCTRYY": "symbol_not_listed"}
    assert alert.details["suggestions"] == {}


def test_empty_universe_fires_where_it_starts_and_again_for_another_whitelist() -> None:
    wrong, other = EmptyUniverse(("BTCTRYY",), CANDIDATES), EmptyUniverse(("ETHTRYY",), CANDIDATES)
    cycles = [
        cycle("00:30", empty_universe=wrong),
        cycle("00:35", empty_universe=wrong),  # still empty, same whitelist: said at 00:30
        cycle("00:40"),  # fixed
        cycle("00:45", empty_universe=wrong),
        cycle("00:50", empty_universe=other),
    ]

    alerts = evaluate(cycles, T, previous=cycle("00:25", empty_universe=wrong))

    assert [(a.rule, a.cycle_id) for a in alerts] == [
        (Rule.EMPTY_UNIVERSE, cid("00:45")),
        (Rule.EMPTY_UNIVERSE, cid("00:50")),
    ]


def test_a_degraded_source_does_not_also_raise_empty_universe() -> None:
    empty = EmptyUniverse(("BTCTRY",), {"BTCTRY": "exchange_error:ticker"})
    degraded = cycle("00:30", empty_universe=empty, degraded_reason="exchange_unreachable")

    assert [a.rule for a in evaluate([degraded], T)] == [Rule.DATA_DEGRADED]


# --- the execution events -----------------------------------------------------------------


def test_exchange_rejects_at_the_threshold_raise_a_spike() -> None:
    events = (
        ev("REJECTED", "BALANCE_NOT_ENOUGH", "s7:a"),
        ev("REJECTED", "cap:MAX_OPEN_ORDERS", "s7:b"),  # the bot's own refusals do not count
        ev("REJECTED", "blocked:KILL_SWITCH", "s7:c"),
        ev("REJECTED", "retry_budget_exhausted", "s7:d"),
        ev("REJECTED", "FAILED_MIN_TOTAL_AMOUNT", "s7:e"),
        ev("REJECTED", "BALANCE_NOT_ENOUGH", "s7:f"),
    )
    two = events[:5]

    assert evaluate([cycle("00:30", order_events=two)], T) == []  # 2 < 3
    (alert,) = evaluate([cycle("00:35", order_events=events)], T)
    assert alert == Alert(
        "reject_spike:20260101T003500Z",
        Rule.REJECT_SPIKE,
        Severity.ERROR,
        ts("00:35"),
        cid("00:35"),
        "3 orders rejected by the exchange this cycle (alert at 3): BALANCE_NOT_ENOUGH ×2, FAILED_MIN_TOTAL_AMOUNT ×1",
        {
            "count": 3,
            "threshold": 3,
            "reasons": {"BALANCE_NOT_ENOUGH": 2, "FAILED_MIN_TOTAL_AMOUNT": 1},
            "client_order_ids": ["s7:a", "s7:e", "s7:f"],
        },
    )


def test_throttling_is_one_alert_per_cycle_with_the_count() -> None:
    events = (ev("THROTTLED", "rate_limited (retry after 2 s)", "s7:a"), ev("THROTTLED", "rate_limited", "s7:b"))
    cycles = [cycle("00:30", order_events=events), cycle("00:35", order_events=events[1:])]

    alerts = evaluate(cycles, T)

    assert [(a.alert_id, a.severity, a.message) for a in alerts] == [
        (
            "throttled:20260101T003000Z",
            Severity.WARN,
            "2 order submissions throttled by the rate limit this cycle (rate_limited ×1, rate_limited (retry after 2 "
            "s) ×1); they wait for a later attempt",
        ),
        (
            "throttled:20260101T003500Z",
            Severity.WARN,
            "1 order submission throttled by the rate limit this cycle (rate_limited ×1); it waits for a later attempt",
        ),
    ]
    assert alerts[0].details == {
        "count": 2,
        "reasons": {"rate_limited": 1, "rate_limited (retry after 2 s)": 1},
        "client_order_ids": ["s7:a", "s7:b"],
    }


def test_retries_exhausted_names_each_order_given_up() -> None:
    events = (
        ev("RETRY_GIVEUP", "TIMEOUT on attempt 3 of 3", "s7:a"),
        ev("REJECTED", "retry_budget_exhausted", "s7:a"),
    )

    (alert,) = evaluate([cycle("00:30", order_events=events)], T)

    assert (alert.alert_id, alert.severity, alert.message, alert.details) == (
        "retries_exhausted:20260101T003000Z",
        Severity.ERROR,
        "1 order given up after its retries ran out, not placed: s7:a (TIMEOUT on attempt 3 of 3)",
        {"count": 1, "orders": {"s7:a": "TIMEOUT on attempt 3 of 3"}},
    )


def test_reconcile_anomalies_are_one_alert_by_kind() -> None:
    events = (
        ev("CANCELED", "unknown_closed", "s7:gone"),
        ev("CANCELED", "plan_dropped", "s7:ours"),  # the bot's own cancel: not an anomaly
        ev("AUDIT", "external", "ext:901"),
        ev("AUDIT", "external", "ext:902"),
        ev("AUDIT", "no_client_id", "ext:903"),
        ev("AUDIT", "exchange_id:77", "s7:ours"),  # enrichment: not an anomaly
        ev("AUDIT", "adopted:s7:lost", "s7:lost"),
    )

    (alert,) = evaluate([cycle("00:30", order_events=events)], T)

    assert (alert.alert_id, alert.severity) == ("reconcile_anomaly:20260101T003000Z", Severity.WARN)
    assert alert.message == (
        "reconciling with the exchange found 1 order closed on the exchange unknown to the book: s7:gone; 2 orders "
        "placed by someone else (imported as external; the bot never cancels them): ext:901, ext:902; 1 order "
        "without a client order id (imported as external; the bot never cancels them): ext:903"
    )
    assert alert.details == {
        "unknown_closed": ["s7:gone"],
        "external": ["ext:901", "ext:902"],
        "no_client_id": ["ext:903"],
    }


def test_a_fee_not_in_try_says_it_is_not_in_the_ledger() -> None:
    one = (ev("AUDIT", "fee_not_try:BTC:0.00000125", "s7:a"),)
    two = one + (ev("AUDIT", "fee_not_try:USDT:0.5", "s7:b"),)

    (single,) = evaluate([cycle("00:30", order_events=one)], T)
    (double,) = evaluate([cycle("00:35", order_events=two)], T)

    assert (single.alert_id, single.severity, single.message) == (
        "fee_not_try:20260101T003000Z",
        Severity.WARN,
        "1 fee charged in another asset than TRY: 0.00000125 BTC on s7:a; it was not converted and is not in the "
        "ledger",
    )
    assert double.message == (
        "2 fees charged in another asset than TRY: 0.00000125 BTC on s7:a, 0.5 USDT on s7:b; they were not "
        "converted and are not in the ledger"
    )
    assert double.details == {
        "fees": [
            {"client_order_id": "s7:a", "asset": "BTC", "amount": "0.00000125"},
            {"client_order_id": "s7:b", "asset": "USDT", "amount": "0.5"},
        ]
    }


def test_one_cycle_lists_its_alerts_in_rule_order_and_a_stopped_cycle_none() -> None:
    events = (
        ev("AUDIT", "fee_not_try:BTC:1", "s7:a"),
        ev("THROTTLED", "rate_limited", "s7:b"),
        ev("AUDIT", "external", "ext:1"),
        ev("RETRY_GIVEUP", "TIMEOUT on attempt 3 of 3", "s7:c"),
    )
    empty = EmptyUniverse(("BTCTRYY",), CANDIDATES)

    alerts = evaluate([cycle("00:30", order_events=events, empty_universe=empty)], T)

    assert [a.rule for a in alerts] == [
        Rule.EMPTY_UNIVERSE,
        Rule.THROTTLED,
        Rule.RETRIES_EXHAUSTED,
        Rule.RECONCILE_ANOMALY,
        Rule.FEE_NOT_TRY,
    ]


@pytest.mark.parametrize(
    ("event_type", "reason", "watched"),
    [
        ("REJECTED", "BALANCE_NOT_ENOUGH", True),
        ("REJECTED", "cap:MAX_OPEN_ORDERS_PER_SYMBOL", False),
        ("REJECTED", "blocked:DRY_RUN", False),
        ("REJECTED", "invalid_price_or_qty", False),
        ("THROTTLED", "rate_limited", True),
        ("RETRY_GIVEUP", "TIMEOUT on attempt 3 of 3", True),
        ("CANCELED", "unknown_closed", True),
        ("CANCELED", "ttl_expired", False),
        ("AUDIT", "external", True),
        ("AUDIT", "no_client_id", True),
        ("AUDIT", "fee_not_try:BTC:1", True),
        ("AUDIT", "exchange_id:1", False),
        ("BLOCKED", "blocked:KILL_SWITCH", False),
        ("FILLED", None, False),
    ],
)
def test_which_order_events_the_rules_read(event_type: str, reason: str | None, watched: bool) -> None:
    assert is_watched_event(event_type, reason) is watched


# --- the kill switch in mode changes ------------------------------------------------------


def test_the_kill_switch_mode_change_says_orders_are_frozen_then_free() -> None:
    cycles = [
        cycle("00:30", final_mode="OBSERVE_ONLY", mode_reasons=("kill_switch",)),
        cycle("00:35", final_mode="NORMAL"),
    ]

    alerts = evaluate(cycles, T, previous=cycle("00:25"))

    assert [a.message for a in alerts] == [
        "mode NORMAL → OBSERVE_ONLY (tighter): kill switch on (orders frozen: none placed or cancelled, resting ones "
        "stay)",
        "mode OBSERVE_ONLY → NORMAL (looser): kill switch off (orders are placed and cancelled again)",
    ]
