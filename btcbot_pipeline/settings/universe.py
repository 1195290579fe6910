"""Which symbols a cycle may trade (seed Stage 7 PR-2): ``STAGE7_UNIVERSE_*``,
``STAGE7_MIN_QUOTE_VOLUME_TRY``, ``STAGE7_MAX_SPREAD_BPS``, ``STAGE7_VOL_LOOKBACK`` and
``STAGE7_SCORE_WEIGHTS``, built into :class:`~btcbot_pipeline.domain.params.UniverseParams`
by :meth:`UniverseSection.universe_params`.

Symbol lists are read as a JSON list or comma separated, canonicalised and de-duplicated;
score weights are parsed as ``Decimal`` (never through a float).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode

from btcbot_pipeline.domain.params import ScoreWeights, UniverseParams
from btcbot_pipeline.domain.vocabulary import canonical_symbol, is_pair_name
from btcbot_pipeline.settings.fields import refuse_float, storable_money

_SCORE_WEIGHT_KEYS = ("liquidity", "spread", "volatility")


class UniverseSection(BaseModel):
    """The universe screen: size, quote currency, white- and blacklist, liquidity, spread,
    volatility lookback and score weights."""

    stage7_universe_size: int = Field(default=20, ge=1, alias="STAGE7_UNIVERSE_SIZE")
    stage7_universe_quote_ccy: str = Field(default="TRY", alias="STAGE7_UNIVERSE_QUOTE_CCY")
    # NoDecode: the list is parsed by our validator, which accepts CSV as well as JSON.
    stage7_universe_whitelist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="STAGE7_UNIVERSE_WHITELIST"
    )
    stage7_universe_blacklist: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="STAGE7_UNIVERSE_BLACKLIST"
    )
    stage7_min_quote_volume_try: Decimal = Field(default=Decimal("0"), ge=0, alias="STAGE7_MIN_QUOTE_VOLUME_TRY")
    stage7_max_spread_bps: Decimal = Field(default=Decimal("1000000"), ge=0, alias="STAGE7_MAX_SPREAD_BPS")
    # Volatility needs at least two closes to have one return.
    stage7_vol_lookback: int = Field(default=20, ge=2, alias="STAGE7_VOL_LOOKBACK")
    # NoDecode: pydantic-settings would json.loads numbers into floats; we parse as Decimal.
    stage7_score_weights: Annotated[dict[str, Decimal] | None, NoDecode] = Field(
        default=None, alias="STAGE7_SCORE_WEIGHTS"
    )

    @field_validator("stage7_min_quote_volume_try", "stage7_max_spread_bps", mode="before")
    @classmethod
    def _universe_refuse_float(cls, value: object) -> object:
        return refuse_float(value)

    @field_validator("stage7_min_quote_volume_try", mode="after")
    @classmethod
    def _universe_storable_money(cls, value: Decimal) -> Decimal:
        return storable_money(value)

    @field_validator("stage7_universe_quote_ccy", mode="after")
    @classmethod
    def _quote_ccy(cls, value: str) -> str:
        normalised = value.strip().upper()
        if not normalised.isalnum():
            raise ValueError("must be a non-empty currency code such as TRY")
        return normalised

    @field_validator("stage7_universe_whitelist", "stage7_universe_blacklist", mode="before")
    @classmethod
    def _symbol_list(cls, value: object) -> tuple[str, ...]:
        items: list[object]
        if value is None:
            return ()
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return ()
            if text.startswith("{"):
                raise ValueError("must be a JSON list or comma separated symbols, not an object")
            if text.startswith("["):
                try:
                    parsed = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"not a valid JSON list ({exc.msg})") from exc
                if not isinstance(parsed, list):
                    raise ValueError("JSON value must be a list of symbols")
                items = parsed
            else:
                items = list(text.split(","))
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise ValueError("must be a JSON list or comma separated symbols")
        symbols: list[str] = []
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"symbols must be strings, got {item!r}")
            symbol = canonical_symbol(item)
            if not symbol:
                continue  # tolerate "BTCTRY,,ETHTRY" and a trailing comma
            if not is_pair_name(symbol):
                # One rule (domain/universe.is_pair_name): ASCII letters and digits only.
                raise ValueError(f"{item!r} is not a pair symbol such as BTCTRY")
            if symbol not in symbols:
                symbols.append(symbol)
        return tuple(symbols)

    @field_validator("stage7_score_weights", mode="before")
    @classmethod
    def _score_weights(cls, value: object) -> dict[str, Decimal] | None:
        if value is None:
            return None
        parsed: object = value
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                # parse_float=Decimal: "0.3" stays exactly 0.3, never 0.299999...
                parsed = json.loads(value, parse_float=Decimal, parse_int=Decimal)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON ({exc.msg})") from exc
        if not isinstance(parsed, dict):
            raise ValueError('must be a JSON object like {"liquidity": 0.5, "spread": 0.3}')
        unknown = sorted(str(key) for key in parsed if key not in _SCORE_WEIGHT_KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_SCORE_WEIGHT_KEYS)}")
        # Keys left out keep their default weight, as in the original system.
        defaults = ScoreWeights()
        weights: dict[str, Decimal] = {}
        for key in _SCORE_WEIGHT_KEYS:
            raw = parsed.get(key, getattr(defaults, key))
            if isinstance(raw, bool | float) or raw is None:
                raise ValueError(f"{key} must be a number, got {raw!r}")
            try:
                weight = Decimal(str(raw).strip()) if not isinstance(raw, Decimal) else raw
            except InvalidOperation as exc:
                raise ValueError(f"{key} must be a number, got {raw!r}") from exc
            if not weight.is_finite() or weight < 0:
                raise ValueError(f"{key} must be a finite number >= 0, got {raw}")
            weights[key] = weight
        if sum(weights.values(), Decimal(0)) <= 0:
            raise ValueError("weights must sum to more than 0")
        return weights

    def universe_params(self) -> UniverseParams:
        """The universe screen's domain parameters (default weights when none are set)."""
        weights = ScoreWeights(**self.stage7_score_weights) if self.stage7_score_weights is not None else ScoreWeights()
        return UniverseParams(
            size=self.stage7_universe_size,
            quote_ccy=self.stage7_universe_quote_ccy,
            whitelist=tuple(self.stage7_universe_whitelist),
            blacklist=tuple(self.stage7_universe_blacklist),
            min_quote_volume_try=self.stage7_min_quote_volume_try,
            max_spread_bps=self.stage7_max_spread_bps,
            vol_lookback=self.stage7_vol_lookback,
            weights=weights,
        )
