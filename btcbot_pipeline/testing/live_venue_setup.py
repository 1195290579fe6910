"""The BTCTurk venue set up against the fake exchange, for tests: a trading account on one
pair, a venue whose gates a test can flip between two actions, and intents to execute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from btcbot_pipeline.adapters.btcturk.client import BtcturkReadClient, BtcturkTradingClient, LiveArming
from btcbot_pipeline.adapters.btcturk.venue import BtcturkVenue, LiveLimits
from btcbot_pipeline.domain.intents import IntentStatus, OrderIntent, client_order_id
from btcbot_pipeline.domain.oms import Bar, OmsState, OmsStep
from btcbot_pipeline.domain.oms.venue import ExecutionRequest
from btcbot_pipeline.domain.params import OmsParams
from btcbot_pipeline.domain.utc import cycle_id
from btcbot_pipeline.domain.vocabulary import Side
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket
from btcbot_pipeline.testing.fake_btcturk_setup import FAKE_CREDENTIALS, fast_config

T0 = datetime(2026, 1, 1, 1, 0, tzinfo=timezone.utc)
ARMED = LiveArming(dry_run=False, kill_switch=False, live_trading=True, ack="I_UNDERSTAND")


def trading_market(*, fee_in: str = "quote", try_balance: str = "100000", btc: str = "0") -> FakeMarket:
    """BTCTRY with bid 3,842,900 / ask 3,844,700 (1 BTC each), tick 10, clock at :data:`T0`."""
    market = FakeMarket.trading(
        balances={"TRY": Decimal(try_balance), "BTC": Decimal(btc)}, fee_bps=Decimal("10"), fee_in=fee_in
    )
    market.clock_ms = int(T0.timestamp() * 1000)
    market.set_symbol(
        "BTCTRY",
        ts_ms=int(T0.timestamp() * 1000),
        bid=Decimal("3842900"),
        ask=Decimal("3844700"),
        last=Decimal("3844000"),
        high=Decimal("3900000"),
        low=Decimal("3700000"),
        volume=Decimal("25"),
        tick_size="10",
    )
    market.only(["BTCTRY"])
    return market


@dataclass
class Gates:
    """The four gates as a test sets them; ``flips`` are applied after that many reads."""

    arming: LiveArming = ARMED
    reads: int = 0
    flips: dict[int, LiveArming] = field(default_factory=dict)

    def __call__(self) -> LiveArming:
        self.reads += 1
        if self.reads in self.flips:
            self.arming = self.flips[self.reads]
        return self.arming


@contextmanager
def live_venue(
    fake: FakeBtcturk, gates: Gates | None = None, limits: LiveLimits = LiveLimits()
) -> Iterator[BtcturkVenue]:
    config = fast_config(fake.url, attempts=1)
    with BtcturkReadClient(FAKE_CREDENTIALS, config) as reader:
        yield BtcturkVenue(
            reader,
            writer=lambda arming: BtcturkTradingClient(FAKE_CREDENTIALS, arming, config),
            gates=gates or Gates(),
            limits=limits,
        )


def intent(side: Side, qty: str, price: str, *, ts: datetime = T0, symbol: str = "BTCTRY") -> OrderIntent:
    cid = cycle_id(ts)
    p, q = Decimal(price), Decimal(qty)
    return OrderIntent(
        cycle_id=cid,
        cycle_ts=ts,
        client_order_id=client_order_id(cid, symbol, side, p, q, "rebalance"),
        symbol=symbol,
        side=side,
        order_type="LIMIT",
        price_try=p,
        qty=q,
        notional_try=p * q,
        mark_price_try=Decimal("3843800"),
        status=IntentStatus.PLANNED,
        reason="rebalance",
        skip_reason=None,
        rules_status="ok",
    )


def execute(
    venue: BtcturkVenue,
    state: OmsState,
    intents: list[OrderIntent],
    *,
    ts: datetime = T0,
    wanted: set[tuple[str, Side]] | None = None,
    params: OmsParams = OmsParams(fill_model="limit"),
    frozen: bool = False,
    cancel_ids: frozenset[str] = frozenset(),
) -> OmsStep:
    """One cycle at ``ts``; by default the plan still wants every open order."""
    wanted = wanted if wanted is not None else {(o.symbol, o.side) for o in state.open_orders}
    return venue.execute(
        state,
        ExecutionRequest(
            cycle_id=cycle_id(ts),
            cycle_ts=ts,
            intents=intents,
            bars={"BTCTRY": Bar("BTCTRY", Decimal("3843800"), Decimal("3842900"), Decimal("3844700"))},
            wanted=wanted,
            params=params,
            cancel_ids=cancel_ids,
            frozen=frozen,
        ),
    )


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def events(step: OmsStep) -> list[tuple[str, str, str | None]]:
    """``(client order id, event type, reason)`` of a step's events, in order."""
    return [(e.client_order_id, e.event_type.value, e.reason) for e in step.events]
