"""The cycle's parameters as plain, typed values.

``btcbot_pipeline.settings.BotSettings.cycle_params()`` builds a :class:`CycleParams` from
the environment; the domain never reads settings itself. Every field keeps the name of
the seeds' setting it comes from (``STAGE7_FEES_BPS`` → ``fees_bps``).

Contract: frozen values, checked where they are built (:class:`OmsParams` refuses a value
out of range), with defaults equal to the seeds'. This module imports only ``money``,
``risk`` and ``vocabulary``, so every stage (and the OMS, whose :class:`OmsParams` is here)
can import it without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from decimal import Decimal
from enum import StrEnum

from btcbot_pipeline.domain.money import ONE, ZERO
from btcbot_pipeline.domain.risk import RiskLimits
from btcbot_pipeline.domain.vocabulary import Mode

FILL_MODELS = ("seed", "limit")  # see btcbot_pipeline.domain.oms.exchange
# A parameter added after books were recorded: the trace's ``active_params`` lists it only
# while it differs from its default (None: unset), so the books of runs that never set it
# stay byte-identical.
WHEN_SET = {"recorded": "when_set"}


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
    # STAGE7_REBALANCE_BAND_BPS: a position whose weight is within this many bps of its
    # target weight is left alone (0: the seeds' behaviour, every drift is traded).
    rebalance_band_bps: Decimal = field(default=Decimal("0"), metadata=WHEN_SET)


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
class OmsParams:
    """The OMS settings, named after the seeds' ``STAGE7_*`` variables."""

    fill_model: str = "seed"  # STAGE7_FILL_MODEL: "seed" | "limit"
    volume_share: Decimal = Decimal("0.1")  # STAGE7_SIM_VOLUME_SHARE: share of a bar's volume one order may take
    reject_rate: Decimal = Decimal("0")  # STAGE7_SIM_REJECT_RATE
    transient_failure_rate: Decimal = Decimal("0")  # STAGE7_SIM_TRANSIENT_FAILURE_RATE
    seed: int = 0  # STAGE7_SIM_SEED
    rate_limit_rps: Decimal = Decimal("5")  # STAGE7_RATE_LIMIT_RPS
    rate_limit_burst: int = 10  # STAGE7_RATE_LIMIT_BURST
    retry_max_attempts: int = 3  # STAGE7_RETRY_MAX_ATTEMPTS: attempts in all, the first included
    retry_base_delay_ms: int = 500  # STAGE7_RETRY_BASE_DELAY_MS
    order_ttl_s: int = 900  # ORDER_TTL_SECONDS
    # STAGE7_REPRICE_BPS: the cycle replaces an open order whose limit is this far from
    # where it would place it now (cancel + new order, new id); None: never (read by the fold).
    reprice_bps: Decimal | None = None
    slippage_bps: Decimal = Decimal("25")  # STAGE7_SLIPPAGE_BPS
    fees_bps: Decimal = Decimal("20")  # STAGE7_FEES_BPS
    # MAX_OPEN_ORDERS / MAX_OPEN_ORDERS_PER_SYMBOL: orders open at once (resting on the
    # exchange or waiting to be sent), all symbols / one symbol; None: no cap. Recorded in
    # the trace's parameters only when set (see CycleParams.as_dict).
    max_open_orders: int | None = field(default=None, metadata=WHEN_SET)
    max_open_orders_per_symbol: int | None = field(default=None, metadata=WHEN_SET)

    def __post_init__(self) -> None:
        checks = (
            ("fill_model", self.fill_model in FILL_MODELS, f"one of {', '.join(FILL_MODELS)}"),
            ("volume_share", ZERO < self.volume_share <= ONE, "in (0, 1]"),
            ("reject_rate", ZERO <= self.reject_rate <= ONE, "in [0, 1]"),
            ("transient_failure_rate", ZERO <= self.transient_failure_rate <= ONE, "in [0, 1]"),
            ("rate_limit_rps", self.rate_limit_rps > ZERO, "above 0"),
            ("rate_limit_burst", self.rate_limit_burst >= 1, "at least 1"),
            ("retry_max_attempts", self.retry_max_attempts >= 1, "at least 1"),
            ("retry_base_delay_ms", self.retry_base_delay_ms >= 0, "at least 0"),
            ("order_ttl_s", self.order_ttl_s >= 0, "at least 0"),
            ("slippage_bps", ZERO <= self.slippage_bps < Decimal(10_000), "in [0, 10000)"),
            ("fees_bps", ZERO <= self.fees_bps < Decimal(10_000), "in [0, 10000)"),
            ("max_open_orders", self.max_open_orders is None or self.max_open_orders >= 0, "at least 0"),
            (
                "max_open_orders_per_symbol",
                self.max_open_orders_per_symbol is None or self.max_open_orders_per_symbol >= 0,
                "at least 0",
            ),
        )
        for name, ok, rule in checks:
            if not ok:
                raise ValueError(f"OMS parameter {name} must be {rule}, was {getattr(self, name)!r}")


@dataclass(frozen=True, slots=True)
class CycleParams:
    """Everything one cycle needs besides data and the carried ledger."""

    universe: UniverseParams = field(default_factory=UniverseParams)
    policy: PolicyParams = field(default_factory=PolicyParams)
    rules: RulesParams = field(default_factory=RulesParams)
    execution: ExecutionParams = field(default_factory=ExecutionParams)
    oms: OmsParams = field(default_factory=OmsParams)  # the simulated OMS (STAGE7_FILL_MODEL, ...)
    start_capital_try: Decimal = Decimal("1000")  # DRY_RUN_TRY_BALANCE
    max_data_age_s: int = 60  # STAGE7_MAX_DATA_AGE_SEC
    kill_switch: bool = True  # KILL_SWITCH: plan, record and account; place and cancel nothing
    base_mode: Mode = Mode.NORMAL
    risk: RiskLimits = field(default_factory=RiskLimits)  # STAGE7_MAX_DRAWDOWN_PCT, ...

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view (Decimals as strings) for the trace's ``active_params``."""
        return _jsonable(_recorded(self))  # type: ignore[return-value]


def _recorded(value: object) -> object:
    """``asdict`` without the :data:`WHEN_SET` fields still at their default."""
    if not is_dataclass(value) or isinstance(value, type):
        return value
    return {
        f.name: _recorded(getattr(value, f.name))
        for f in fields(value)
        if not (f.metadata.get("recorded") == "when_set" and getattr(value, f.name) == f.default)
    }


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
