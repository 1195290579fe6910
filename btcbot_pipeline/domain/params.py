"""The cycle's parameters as plain, typed values.

``btcbot_pipeline.settings.BotSettings.cycle_params()`` builds a :class:`CycleParams` from
the environment; the domain never reads settings itself. Every field keeps the name of
the seeds' setting it comes from (``STAGE7_FEES_BPS`` → ``fees_bps``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from btcbot_pipeline.domain.modes import Mode
from btcbot_pipeline.domain.risk import RiskLimits

if TYPE_CHECKING:  # oms_market imports plan, which imports this module
    from btcbot_pipeline.domain.oms_market import OmsParams


def _oms_params() -> OmsParams:
    from btcbot_pipeline.domain.oms_market import OmsParams

    return OmsParams()


class InvalidMetadataPolicy(StrEnum):
    SKIP_SYMBOL = "skip_symbol"
    OBSERVE_ONLY_CYCLE = "observe_only_cycle"


@dataclass(frozen=True, slots=True)
class ScoreWeights:
    """Universe score weights; :meth:`normalised` makes them sum to 1."""

    liquidity: Decimal = Decimal("0.50")
    spread: Decimal = Decimal("0.30")
    volatility: Decimal = Decimal("0.20")

    def normalised(self) -> ScoreWeights:
        total = self.liquidity + self.spread + self.volatility
        if total <= 0:
            raise ValueError(f"score weights must sum to more than 0, was {total}")
        return ScoreWeights(self.liquidity / total, self.spread / total, self.volatility / total)


@dataclass(frozen=True, slots=True)
class UniverseParams:
    size: int = 20  # STAGE7_UNIVERSE_SIZE
    quote_ccy: str = "TRY"  # STAGE7_UNIVERSE_QUOTE_CCY
    whitelist: tuple[str, ...] = ()  # STAGE7_UNIVERSE_WHITELIST
    blacklist: tuple[str, ...] = ()  # STAGE7_UNIVERSE_BLACKLIST
    min_quote_volume_try: Decimal = Decimal("0")  # STAGE7_MIN_QUOTE_VOLUME_TRY
    max_spread_bps: Decimal = Decimal("1000000")  # STAGE7_MAX_SPREAD_BPS
    vol_lookback: int = 20  # STAGE7_VOL_LOOKBACK
    weights: ScoreWeights = field(default_factory=ScoreWeights)  # STAGE7_SCORE_WEIGHTS


@dataclass(frozen=True, slots=True)
class PolicyParams:
    try_cash_target: Decimal = Decimal("300")  # TRY_CASH_TARGET
    try_cash_max: Decimal = Decimal("600")  # TRY_CASH_MAX
    max_position_notional_try: Decimal = Decimal("5000")  # MAX_POSITION_NOTIONAL_TRY
    notional_cap_try_per_cycle: Decimal = Decimal("1000")  # NOTIONAL_CAP_TRY_PER_CYCLE
    max_orders_per_cycle: int = 2  # MAX_ORDERS_PER_CYCLE
    min_order_notional_try: Decimal = Decimal("10")  # MIN_ORDER_NOTIONAL_TRY


@dataclass(frozen=True, slots=True)
class RulesParams:
    fallback_tick_size: Decimal = Decimal("0.01")  # STAGE7_RULES_FALLBACK_TICK_SIZE
    fallback_lot_size: Decimal = Decimal("0.00000001")  # STAGE7_RULES_FALLBACK_LOT_SIZE
    fallback_min_notional_try: Decimal = Decimal("10")  # STAGE7_RULES_FALLBACK_MIN_NOTIONAL_TRY
    safe_min_notional_try: Decimal = Decimal("100")  # STAGE7_RULES_SAFE_MIN_NOTIONAL_TRY
    require_metadata: bool = True  # STAGE7_RULES_REQUIRE_METADATA
    invalid_metadata_policy: InvalidMetadataPolicy = InvalidMetadataPolicy.SKIP_SYMBOL


@dataclass(frozen=True, slots=True)
class ExecutionParams:
    order_offset_bps: Decimal = Decimal("5")  # STAGE7_ORDER_OFFSET_BPS
    slippage_bps: Decimal = Decimal("25")  # STAGE7_SLIPPAGE_BPS
    fees_bps: Decimal = Decimal("20")  # STAGE7_FEES_BPS


@dataclass(frozen=True, slots=True)
class CycleParams:
    """Everything one cycle needs besides data and the carried ledger."""

    universe: UniverseParams = field(default_factory=UniverseParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    rules: RulesParams = field(default_factory=RulesParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)
    oms: OmsParams = field(default_factory=lambda: _oms_params())  # the simulated OMS (STAGE7_FILL_MODEL, ...)
    start_capital_try: Decimal = Decimal("1000")  # DRY_RUN_TRY_BALANCE
    max_data_age_s: int = 60  # STAGE7_MAX_DATA_AGE_SEC
    kill_switch: bool = True  # KILL_SWITCH: plan and record, simulate nothing
    base_mode: Mode = Mode.NORMAL
    risk: RiskLimits = field(default_factory=RiskLimits)  # STAGE7_MAX_DRAWDOWN_PCT, ...

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (Decimals as strings) for the trace's ``active_params``."""
        return _jsonable(asdict(self))  # type: ignore[return-value]


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, StrEnum):
        return value.value
    return value
