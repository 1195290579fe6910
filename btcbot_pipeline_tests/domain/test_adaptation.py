"""Adaptation on hand-made cycle statistics: bounds, rules, adapt / rollback / checkpoint,
the mode gate, determinism, ``apply`` and the payload round trip (exact values)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from btcbot_pipeline.domain import utc
from btcbot_pipeline.domain.adaptation import (
    NOTIONAL_CAP_TRY,
    ORDER_OFFSET_BPS,
    REBALANCE_BAND_BPS,
    UNIVERSE_SIZE,
    AdaptationParams,
    AdaptationState,
    ChangeKind,
    Checkpoint,
    CycleStats,
    ParamBound,
    ParamChange,
    WindowMetrics,
    adapt,
    apply,
    clamped,
    initial_state,
    inputs_hash,
    propose,
    values_of,
    window_metrics,
)
from btcbot_pipeline.domain.params import CycleParams, PolicyParams, UniverseParams
from btcbot_pipeline.domain.payloads import dumps, from_payload, to_payload
from btcbot_pipeline.domain.vocabulary import Mode

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
BASE = CycleParams()  # universe 20, offset 5 bps, cap 1000 TRY, band 0 bps
V1 = {ORDER_OFFSET_BPS: "5", NOTIONAL_CAP_TRY: "1000", REBALANCE_BAND_BPS: "0", UNIVERSE_SIZE: "20"}
V2 = {ORDER_OFFSET_BPS: "5", NOTIONAL_CAP_TRY: "833", REBALANCE_BAND_BPS: "25", UNIVERSE_SIZE: "19"}
# sha256 of the inputs of the adapt at cycle 2 and of the rollback at cycle 4 below: any
# change to what is hashed, or how (canonical JSON), changes them.
HASH_ADAPT = "8317c61da2231ce43fefafb9c99076053d878d90d7fbc2fe28fe65f0cce7f869"
HASH_ROLLBACK = "ad100406f6d17cd6caeb9a9fd6e0591e9d3c0f84887609fbc0183521cf719eef"
ON = AdaptationParams(enabled=True, interval_cycles=3, lookback_cycles=3, checkpoint_after_cycles=4)


def ts(i: int) -> datetime:
    return T0 + timedelta(minutes=5 * i)


def cid(i: int) -> str:
    return utc.cycle_id(ts(i))


def stats(
    i: int,
    equity: str = "1000",
    *,
    turnover: str = "0",
    fees: str = "0",
    submitted: int = 0,
    filled: int = 0,
    mode: Mode = Mode.NORMAL,
) -> CycleStats:
    return CycleStats(
        cycle_id=cid(i),
        cycle_ts=ts(i),
        mode=mode,
        equity_try=D(equity),
        turnover_try=D(turnover),
        fees_try=D(fees),
        fills=filled,
        orders_submitted=submitted,
        orders_filled=filled,
        max_drawdown=D(0),
    )


def busy(i: int, mode: Mode = Mode.NORMAL) -> CycleStats:
    """A cycle that trades 20 % of equity for 4 bps of fees, half its orders filling."""
    return stats(i, turnover="200", fees="0.4", submitted=2, filled=1, mode=mode)


def run(
    state: AdaptationState, cycles: list[CycleStats], params: AdaptationParams = ON
) -> tuple[AdaptationState, list[ParamChange | None]]:
    changes = []
    for s in cycles:
        state, change = adapt(state, s, s.cycle_id, s.cycle_ts, params)
        changes.append(change)
    return state, changes


def start() -> AdaptationState:
    return initial_state(BASE, D("1000"))


def text(values: dict[str, D]) -> dict[str, str]:
    return {k: format(v, "f") for k, v in values.items()}


# -- bounds ----------------------------------------------------------------------------

CAP = ParamBound(D(100), D(10_000), D(500))


@pytest.mark.parametrize(
    ("current", "proposed", "expected"),
    [
        ("1000", "1000", "1000"),
        ("1000", "50", "500"),  # below the low bound, and more than a step: one step
        ("300", "50", "100"),  # the low bound within a step
        ("1000", "99999", "1500"),  # above the high bound: one step up
        ("9800", "99999", "10000"),  # the high bound within a step
        ("12000", "99999", "11500"),  # configured above the bound: one step back towards it
        ("12000", "0", "11500"),
        ("1000", "1234.5", "1234"),  # the quantum, half even
        ("1000", "1235.5", "1236"),
    ],
)
def test_clamp_keeps_a_proposal_within_bounds_and_one_step(current: str, proposed: str, expected: str) -> None:
    assert CAP.clamp(D(current), D(proposed)) == D(expected)


def test_a_fractional_quantum() -> None:
    band = ParamBound(D(0), D(50), D("2.5"), quantum=D("0.5"))
    assert band.clamp(D(10), D("11.3")) == D("11.5")
    assert band.clamp(D(10), D("-4")) == D("7.5")


@pytest.mark.parametrize(
    "bound", [("10", "5", "1", "1"), ("0", "5", "0", "1"), ("0", "5", "1", "0"), ("0", "5", "-1", "1")]
)
def test_a_bound_out_of_order_is_refused(bound: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="a bound needs"):
        ParamBound(*(D(v) for v in bound))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_cycles": 0},
        {"lookback_cycles": 0},
        {"checkpoint_after_cycles": 0},
        {"min_orders": 0},
        {"turnover_low": D("0.5")},
        {"fee_burn_low_bps": D(10)},
        {"fill_ratio_low": D("0.95")},
        {"drawdown_soft_pct": D(0)},
        {"guard_max_drawdown_pct": D(0)},
        {"guard_max_fee_burn_bps": D(0)},
        {"universe_size": ParamBound(D(0), D(10), D(1))},
    ],
)
def test_settings_out_of_range_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="adaptation parameter"):
        AdaptationParams(**kwargs)  # type: ignore[arg-type]


# -- window metrics and rules ------------------------------------------------------------


def test_window_metrics_exact() -> None:
    window = [
        stats(0, "1000", turnover="300", fees="0.6", submitted=3, filled=1),
        stats(1, "1100", turnover="100", fees="0.2", submitted=1, filled=2),
        stats(2, "990", turnover="95", fees="0.19", submitted=0, filled=2),
    ]
    m = window_metrics(window, D(1200), min_orders=4)
    assert m == WindowMetrics(
        cycles=3,
        equity_try=D("990"),
        turnover_ratio=D("0.50000000"),  # 495 / 990
        fee_burn_bps=D("10.00000000"),  # 0.99 / 990 × 10 000
        fill_ratio=D("1.00000000"),  # 5 filled of 4 submitted (orders from before the window): at most 1
        drawdown=D("0.10000000"),  # (1100 - 990) / 1100
        drawdown_since_checkpoint=D("0.17500000"),  # (1200 - 990) / 1200
    )
    assert m.as_text() == {
        "cycles": "3",
        "equity_try": "990",
        "turnover_ratio": "0.5",
        "fee_burn_bps": "10",
        "fill_ratio": "1",
        "drawdown": "0.1",
        "drawdown_since_checkpoint": "0.175",
    }


def test_window_metrics_without_enough_orders_or_equity() -> None:
    m = window_metrics([stats(0, "0", turnover="5", submitted=3, filled=3)], D(100), min_orders=4)
    assert (m.turnover_ratio, m.fee_burn_bps, m.fill_ratio, m.drawdown_since_checkpoint) == (None, None, None, D(1))
    with pytest.raises(ValueError):
        window_metrics([], D(1), min_orders=1)


def metrics(**kw: object) -> WindowMetrics:
    """Neutral by default: no rule fires (turnover and fee burn between their thresholds)."""
    base = {
        "cycles": 3,
        "equity_try": D(1000),
        "turnover_ratio": D("0.1"),
        "fee_burn_bps": D(5),
        "fill_ratio": None,
        "drawdown": D(0),
        "drawdown_since_checkpoint": D(0),
    }
    base.update(kw)
    return WindowMetrics(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("current", "window", "changed", "reasons"),
    [
        ({}, {}, {}, {}),
        (
            {},
            {"turnover_ratio": D("0.5")},
            {REBALANCE_BAND_BPS: "25"},
            {REBALANCE_BAND_BPS: ("turnover_high:0.5>=0.5",)},
        ),
        (
            {REBALANCE_BAND_BPS: D(100)},
            {"turnover_ratio": D("0.05")},
            {REBALANCE_BAND_BPS: "75"},
            {REBALANCE_BAND_BPS: ("turnover_low:0.05<=0.05",)},
        ),
        (  # the proportional cap (1000 × 10 / 40 = 250) is more than a step away: one step
            {},
            {"fee_burn_bps": D(40)},
            {NOTIONAL_CAP_TRY: "500", UNIVERSE_SIZE: "19"},
            {NOTIONAL_CAP_TRY: ("fee_burn_high:40>=10",), UNIVERSE_SIZE: ("fee_burn_high:40>=10",)},
        ),
        (
            {},
            {"drawdown": D("0.03")},
            {NOTIONAL_CAP_TRY: "667"},  # 1000 × 0.02 / 0.03 = 666.67, on the 1 TRY grid
            {NOTIONAL_CAP_TRY: ("drawdown_soft:0.03>=0.02",)},
        ),
        (  # two rules aim at the cap: the lower target (600 × 0.02 / 0.03 = 400) wins
            {NOTIONAL_CAP_TRY: D(600)},
            {"fee_burn_bps": D(12), "drawdown": D("0.03")},
            {NOTIONAL_CAP_TRY: "400", UNIVERSE_SIZE: "19"},
            {
                NOTIONAL_CAP_TRY: ("fee_burn_high:12>=10", "drawdown_soft:0.03>=0.02"),
                UNIVERSE_SIZE: ("fee_burn_high:12>=10",),
            },
        ),
        (  # the low bound of the cap holds
            {NOTIONAL_CAP_TRY: D(150)},
            {"drawdown": D("0.5")},
            {NOTIONAL_CAP_TRY: "100"},
            {NOTIONAL_CAP_TRY: ("drawdown_soft:0.5>=0.02",)},
        ),
        ({}, {"fill_ratio": D("0.4")}, {ORDER_OFFSET_BPS: "3"}, {ORDER_OFFSET_BPS: ("fill_ratio_low:0.4<0.5",)}),
        ({}, {"fill_ratio": D("0.95")}, {ORDER_OFFSET_BPS: "7"}, {ORDER_OFFSET_BPS: ("fill_ratio_high:0.95>=0.95",)}),
        (
            {},
            {"fee_burn_bps": D(2)},
            {NOTIONAL_CAP_TRY: "1500", UNIVERSE_SIZE: "21"},
            {
                NOTIONAL_CAP_TRY: ("healthy:fee_burn_bps=2,drawdown=0",),
                UNIVERSE_SIZE: ("healthy:fee_burn_bps=2,drawdown=0",),
            },
        ),
        (  # not healthy while orders do not fill
            {},
            {"fee_burn_bps": D(2), "fill_ratio": D("0.4")},
            {ORDER_OFFSET_BPS: "3"},
            {ORDER_OFFSET_BPS: ("fill_ratio_low:0.4<0.5",)},
        ),
        (  # at its bounds already: the rules aim, nothing moves
            {UNIVERSE_SIZE: D(30), NOTIONAL_CAP_TRY: D(10_000)},
            {"fee_burn_bps": D(0)},
            {},
            {
                NOTIONAL_CAP_TRY: ("healthy:fee_burn_bps=0,drawdown=0",),
                UNIVERSE_SIZE: ("healthy:fee_burn_bps=0,drawdown=0",),
            },
        ),
    ],
)
def test_rules_propose_and_the_bounds_clamp(
    current: dict[str, D], window: dict[str, object], changed: dict[str, str], reasons: dict[str, tuple[str, ...]]
) -> None:
    values = {**values_of(BASE), **current}
    proposal = propose(values, metrics(**window), ON)
    after = clamped(values, proposal, ON)
    assert {k: format(v, "f") for k, v in after.items() if v != values[k]} == changed
    assert proposal.reasons == reasons


# -- adapt, rollback, checkpoint ---------------------------------------------------------


def test_disabled_is_a_no_op() -> None:
    state = start()
    for i in range(10):
        after, change = adapt(state, busy(i), cid(i), ts(i), AdaptationParams())
        assert after is state and change is None


def test_adapt_every_interval_gives_a_new_version() -> None:
    state, changes = run(start(), [busy(0), busy(1), busy(2)])
    assert changes[:2] == [None, None]
    assert changes[2] == ParamChange(
        change_id=f"{cid(2)}:adapt:1->2",
        cycle_id=cid(2),
        cycle_ts=ts(2),
        kind=ChangeKind.ADAPT,
        version_before=1,
        version_after=2,
        before=V1,
        after=V2,
        reason="fee_burn_high:12>=10; turnover_high:0.6>=0.5",  # cap 1000 × 10 / 12 = 833
        metrics={
            "cycles": "3",
            "equity_try": "1000",
            "turnover_ratio": "0.6",
            "fee_burn_bps": "12",
            "fill_ratio": "0.5",  # 3 of 6: neither rule on the offset fires
            "drawdown": "0",
            "drawdown_since_checkpoint": "0",
        },
        inputs_hash=HASH_ADAPT,
    )
    assert text(state.values) == V2
    assert (state.active_version, state.latest_version, state.window) == (2, 2, ())
    assert (state.cycles_since_change, state.cycles_since_evaluation) == (0, 0)
    assert state.checkpoint == start().checkpoint
    assert apply(BASE, state.values) == replace(
        BASE,
        universe=replace(BASE.universe, size=19),
        policy=replace(BASE.policy, notional_cap_try_per_cycle=D(833), rebalance_band_bps=D(25)),
    )


def test_the_rules_wait_for_a_normal_cycle() -> None:
    state, changes = run(start(), [busy(0), busy(1), busy(2, Mode.REDUCE_RISK_ONLY), busy(3)])
    assert changes[:3] == [None, None, None]
    assert changes[3] is not None and changes[3].change_id == f"{cid(3)}:adapt:1->2"
    assert changes[3].after == V2


def test_no_change_when_the_clamped_values_are_the_current_ones() -> None:
    # a healthy window (fee burn 0) aims the cap and the universe up; both are at their bounds
    at_bounds = CycleParams(universe=UniverseParams(size=30), policy=PolicyParams(notional_cap_try_per_cycle=D(10_000)))
    state, changes = run(initial_state(at_bounds, D(1000)), [stats(i, turnover="100") for i in range(3)])
    assert changes == [None, None, None]
    assert (state.active_version, state.cycles_since_change, state.cycles_since_evaluation) == (1, 3, 0)
    assert [s.cycle_id for s in state.window] == [cid(0), cid(1), cid(2)]


def test_a_guard_rail_breach_rolls_back_to_the_checkpoint() -> None:
    state, changes = run(start(), [busy(0), busy(1), busy(2), stats(3, "980"), stats(4, "940")])
    assert changes[3] is None  # drawdown 0.02 since the checkpoint: within the guard
    rollback = changes[4]
    assert rollback == ParamChange(
        change_id=f"{cid(4)}:rollback:2->1",
        cycle_id=cid(4),
        cycle_ts=ts(4),
        kind=ChangeKind.ROLLBACK,
        version_before=2,
        version_after=1,
        before=V2,
        after=V1,
        reason="guard:drawdown_since_checkpoint:0.06>=0.05",  # (1000 - 940) / 1000
        metrics={
            "cycles": "2",
            "equity_try": "940",
            "turnover_ratio": "0",
            "fee_burn_bps": "0",
            "fill_ratio": "",
            "drawdown": "0.04081633",  # (980 - 940) / 980
            "drawdown_since_checkpoint": "0.06",
        },
        inputs_hash=HASH_ROLLBACK,
    )
    assert text(state.values) == V1
    assert (state.active_version, state.latest_version, state.peak_equity_try) == (1, 2, D(940))
    assert (state.window, state.cycles_since_change, state.cycles_since_evaluation) == ((), 0, 0)


def test_fee_burn_guard_rolls_back() -> None:
    state, changes = run(start(), [busy(0), busy(1), busy(2), stats(3, turnover="10000", fees="5")])
    assert changes[3] is not None
    assert changes[3].kind is ChangeKind.ROLLBACK
    assert changes[3].reason == "guard:fee_burn_bps:50>=50"


def test_on_the_checkpoint_a_breach_has_nothing_to_roll_back() -> None:
    # the guard's peak follows the equity while the checkpoint's values run
    state, changes = run(start(), [stats(0, "1000"), stats(1, "800")], replace(ON, interval_cycles=10))
    assert changes == [None, None]
    assert (state.active_version, state.peak_equity_try) == (1, D(800))


def test_checkpoint_after_clean_cycles_then_rollback_returns_to_it() -> None:
    params = replace(ON, checkpoint_after_cycles=2)
    cycles = [busy(0), busy(1), busy(2), stats(3, "1010"), stats(4, "1020"), stats(5, "1000"), stats(6, "950")]
    state, changes = run(start(), cycles, params)
    assert [c.change_id if c else None for c in changes] == [
        None,
        None,
        f"{cid(2)}:adapt:1->2",
        None,
        f"{cid(4)}:checkpoint:1->2",  # version 2 ran two cycles without a breach
        f"{cid(5)}:adapt:2->3",  # an interval since the last adapt
        f"{cid(6)}:rollback:3->2",  # back to the new checkpoint, not to version 1
    ]
    checkpoint, adapted, rollback = changes[4], changes[5], changes[6]
    assert checkpoint is not None and adapted is not None and rollback is not None
    assert (checkpoint.kind, checkpoint.before, checkpoint.after) == (ChangeKind.CHECKPOINT, V1, V2)
    assert checkpoint.reason == "clean_cycles:2>=2"
    v3 = {ORDER_OFFSET_BPS: "5", NOTIONAL_CAP_TRY: "1333", REBALANCE_BAND_BPS: "0", UNIVERSE_SIZE: "20"}
    assert (adapted.before, adapted.after) == (V2, v3)
    # (1020 - 1000) / 1020 < 0.02 and no fees: healthy; no turnover: the band narrows
    assert adapted.reason == "healthy:fee_burn_bps=0,drawdown=0.01960784; turnover_low:0<=0.05"
    # the guard's peak restarted at 1000 when version 3 left the checkpoint: (1000 - 950) / 1000
    assert (rollback.before, rollback.after) == (v3, V2)
    assert rollback.reason == "guard:drawdown_since_checkpoint:0.05>=0.05"
    assert state.checkpoint == Checkpoint(
        version=2, values=state.values, equity_try=D(1020), cycle_id=cid(4), cycle_ts=ts(4)
    )
    assert text(state.values) == V2
    assert (state.active_version, state.latest_version) == (2, 3)


def test_the_same_inputs_give_the_same_outputs() -> None:
    cycles = [busy(0), busy(1), busy(2), stats(3, "980"), stats(4, "940")]
    first, second = run(start(), cycles), run(start(), cycles)
    assert first == second
    hashes = [c.inputs_hash for c in first[1] if c is not None]
    assert hashes == [
        HASH_ADAPT,
        HASH_ROLLBACK,
    ]
    # a different input, a different hash
    other = run(start(), [busy(0), busy(1), replace(busy(2), fees_try=D("0.41"))])[1][2]
    assert other is not None and other.inputs_hash != hashes[0]


def test_inputs_hash_is_sha256_of_the_canonical_inputs() -> None:
    state = start()
    digest = inputs_hash(state, ON, cid(0), ts(0), ChangeKind.ADAPT)
    assert len(digest) == 64 and int(digest, 16) >= 0
    # Decimal spelling does not matter (1E+3 is 1000), the values do
    respelled = replace(state, peak_equity_try=D("1E+3"))
    assert inputs_hash(respelled, ON, cid(0), ts(0), ChangeKind.ADAPT) == digest
    assert inputs_hash(state, ON, cid(0), ts(0), ChangeKind.ROLLBACK) != digest


# -- apply and payloads -------------------------------------------------------------------


def test_apply_sets_the_values_in_their_sections() -> None:
    values = {UNIVERSE_SIZE: D(7), ORDER_OFFSET_BPS: D("2.5"), NOTIONAL_CAP_TRY: D(400), REBALANCE_BAND_BPS: D(50)}
    applied = apply(BASE, values)
    assert applied == replace(
        BASE,
        universe=replace(BASE.universe, size=7),
        execution=replace(BASE.execution, order_offset_bps=D("2.5")),
        policy=replace(BASE.policy, notional_cap_try_per_cycle=D(400), rebalance_band_bps=D(50)),
    )
    assert type(applied.universe.size) is int
    assert apply(BASE, values_of(BASE)) == BASE
    assert apply(BASE, {}) == BASE
    assert values_of(applied) == values


@pytest.mark.parametrize(
    ("values", "message"),
    [({"oms.seed": D(1)}, "not an adaptable parameter"), ({UNIVERSE_SIZE: D("7.5")}, "whole number")],
)
def test_apply_refuses_what_it_cannot_set(values: dict[str, D], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply(BASE, values)


def test_state_and_changes_round_trip_through_the_payload_codec() -> None:
    cycles = [busy(0), busy(1), busy(2), stats(3, "980")]
    state, changes = run(start(), cycles)
    assert from_payload(AdaptationState, to_payload(state)) == state
    for change in (c for c in changes if c is not None):
        payload = to_payload(change)
        assert from_payload(ParamChange, payload) == change
        assert dumps(payload) == dumps(to_payload(from_payload(ParamChange, payload)))
    assert from_payload(AdaptationParams, to_payload(ON)) == ON
