"""The book's opening state from exchange balances (pure; no I/O).

The first cycle of a book opens either from ``DRY_RUN_TRY_BALANCE`` (cash only) or, when
the live source has read the account's balances, from them: TRY cash plus each held asset
whose ``<ASSET><QUOTE>`` pair has a mark in the first snapshot. Holdings are booked at that
mark (cost = qty × mark), so the opening equity equals cash + positions and PnL starts at
zero. Assets without a mark cannot be valued and are left out, by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from btcbot_pipeline.domain.ledger import Holding, LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot
from btcbot_pipeline.domain.money import MONEY_CONTEXT, ZERO

MISSING_PRIVATE_DATA = "missing_private_data"


@dataclass(frozen=True, slots=True)
class Opening:
    """The opening state and where it came from.

    Attributes:
        source: ``exchange_balances`` or ``dry_run_try_balance``.
        reason: why the balances were not used (``missing_private_data``, …), else ``None``.
        unpriced: held assets left out because no mark values them.
    """

    state: LedgerState
    source: str
    reason: str | None = None
    unpriced: tuple[str, ...] = ()


# What a new book opens with, given the window's first snapshot (its marks value held
# assets). The engine receives one; each venue's market-data resource says which.
OpeningBalances = Callable[[MarketSnapshot], Opening]


def opening_from_dry_run(start_capital_try: Decimal, reason: str | None) -> Opening:
    return Opening(LedgerState.opening(start_capital_try), "dry_run_try_balance", reason)


@dataclass(frozen=True, slots=True)
class DryRunOpening:
    """:data:`OpeningBalances` of a venue without an account (a replay): cash only,
    ``start_capital_try`` (``DRY_RUN_TRY_BALANCE``), whatever the snapshot."""

    start_capital_try: Decimal

    def __call__(self, snapshot: MarketSnapshot) -> Opening:
        return opening_from_dry_run(self.start_capital_try, None)


def opening_from_balances(
    balances: Mapping[str, Decimal], marks: Mapping[str, Decimal], *, quote_ccy: str = "TRY"
) -> Opening:
    """Opening state from total balances by asset (``balance`` = free + locked)."""
    cash = balances.get(quote_ccy, ZERO)
    holdings: dict[str, Holding] = {}
    unpriced: list[str] = []
    for asset, qty in sorted(balances.items()):
        if asset == quote_ccy or qty <= ZERO:
            continue
        symbol = f"{asset}{quote_ccy}"
        mark = marks.get(symbol)
        if mark is None:
            unpriced.append(asset)
            continue
        holdings[symbol] = Holding(qty=qty, cost_try=MONEY_CONTEXT.multiply(qty, mark))
    capital = cash
    for h in holdings.values():
        capital = MONEY_CONTEXT.add(capital, h.cost_try)
    state = LedgerState(
        start_capital_try=capital,
        cash_try=cash,
        holdings=holdings,
        marks={s: marks[s] for s in holdings},
        peak_equity_try=capital,
    )
    return Opening(state, "exchange_balances", None, tuple(unpriced))


def opening_metadata(opening: Opening | None) -> dict[str, str]:
    """Dagster metadata of the ledger asset: where the opening balance came from (no secrets)."""
    if opening is None:
        return {}
    out = {"opening_source": opening.source, "opening_capital_try": format(opening.state.start_capital_try, "f")}
    if opening.reason:
        out["opening_reason"] = opening.reason
    if opening.unpriced:
        out["opening_unpriced_assets"] = ", ".join(opening.unpriced)
    return out
