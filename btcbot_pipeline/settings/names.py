"""Which setting names this bot reads, and what to say about the ones it does not.

``BotSettings`` ignores names it does not know (``extra="ignore"``: one ``.env`` may serve
several tools), so a mistyped or an original-system name would silently do nothing.
:func:`unknown_setting_names` finds them for ``btcbot doctor``:

- every name of the ``.env`` file that is not a setting (the file is ours: all its names
  should be), except Dagster's own ``DAGSTER_*`` (Dagster's CLI reads the file too);
- names of the process environment that *look like ours* (:data:`OUR_PREFIXES`, the
  original system's names in :data:`ORIGINAL_SETTINGS`, or a near miss of a setting such
  as ``KILL_SWICH``), never ``PATH``, ``HOME`` and the like.

:data:`ORIGINAL_SETTINGS` maps each setting of the original system (``shared/seeds``) that
we do not read to our replacement, or to ``None`` with the reason it has none.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from btcbot_pipeline.settings.bot import BotSettings

# Original name → (our replacement or None, why / what to do). Names the original shares
# with us (DRY_RUN, TRY_CASH_TARGET, STAGE7_*, MAX_OPEN_ORDERS, LOG_LEVEL, ...) are read as
# they are and are not here: a name listed here is never one BotSettings reads.
ORIGINAL_SETTINGS: dict[str, tuple[str | None, str]] = {
    "SYMBOLS": ("STAGE7_UNIVERSE_WHITELIST", "the universe whitelist, a JSON list or comma separated"),
    "UNIVERSE_SYMBOLS": ("STAGE7_UNIVERSE_WHITELIST", "the universe whitelist, a JSON list or comma separated"),
    "UNIVERSE_AUTO_CORRECT": (None, "symbols are never auto-corrected; btcbot doctor suggests the fix for a typo"),
    "TTL_SECONDS": (
        "ORDER_TTL_SECONDS",
        "open orders expire after it; the limit fill model and live orders rest across cycles",
    ),
    "TARGET_TRY": (
        None,
        "Stage 3 order sizing; Portfolio Policy v1 sizes with MAX_POSITION_NOTIONAL_TRY and TRY_CASH_TARGET",
    ),
    "OFFSET_BPS": ("STAGE7_ORDER_OFFSET_BPS", "the limit price offset from the mark"),
    "MAX_POSITION_TRY_PER_SYMBOL": ("MAX_POSITION_NOTIONAL_TRY", "the largest target notional per symbol"),
    "MAX_DAILY_LOSS_TRY": ("STAGE7_MAX_DAILY_LOSS_TRY", "the risk budget's daily loss limit"),
    "MAX_DRAWDOWN_PCT": ("STAGE7_MAX_DRAWDOWN_PCT", "the risk budget's drawdown limit, a fraction"),
    "FEE_BPS_MAKER": ("STAGE7_FEES_BPS", "one fee rate for every simulated fill (live fills carry the exchange's fee)"),
    "FEE_BPS_TAKER": ("STAGE7_FEES_BPS", "one fee rate for every simulated fill (live fills carry the exchange's fee)"),
    "SLIPPAGE_BPS_BUFFER": ("STAGE7_SLIPPAGE_BPS", "the simulated slippage of fills"),
    "ALLOCATION_FEE_BUFFER_BPS": (
        None,
        "the intents gate checks that cash after the BUYs' exact simulated cost stays >= TRY_CASH_TARGET",
    ),
    "RULES_CACHE_TTL_SEC": (None, "exchange rules are read once per run"),
}

# Process-environment names starting with these are taken to be meant for this bot.
OUR_PREFIXES = (
    "STAGE7_",
    "BTCTURK_",
    "DRY_RUN",
    "KILL_SWITCH",
    "LIVE_",
    "TRY_CASH_",
    "CYCLE_",
    "REPLAY_",
    "BACKTEST_",
    "CATCHUP_",
    "MARKET_DATA_",
    "GATE_CHUNK_",
    "STATE_DB_",
    "ALERT_",
)
# Dagster's CLI loads the same .env (DAGSTER_HOME, DAGSTER_CLI_API_GRPC_*, ...): its names are not ours to flag.
DAGSTER_PREFIX = "DAGSTER_"
# A process-environment name this close to a setting is a typo of it (difflib ratio).
_NEAR_MISS = 0.85
_SUGGEST = 0.75


@dataclass(frozen=True, slots=True)
class UnknownSetting:
    """One name that no setting reads.

    Attributes:
        name: as written (``.env`` keys keep their case; matching ignores it).
        where: ``"environment"`` or the ``.env`` path.
        replacement: the setting to use instead, ``None`` when there is none.
        note: why (original-system names) or ``""``.
        original: whether the name is a setting of the original system.
    """

    name: str
    where: str
    replacement: str | None
    note: str
    original: bool

    def message(self) -> str:
        """``SYMBOLS (environment): the original system's setting, not read here``-style text."""
        if self.original:
            head = f"{self.name} ({self.where}) is the original system's setting, not read here"
            return head + ("" if self.replacement else f": not supported ({self.note})")
        return f"{self.name} ({self.where}) is not a setting of this bot; it is ignored"

    def fix(self) -> str:
        if self.replacement and self.original:
            return f"use {self.replacement} instead: {self.note}"
        if self.replacement:
            return f"did you mean {self.replacement}? (otherwise remove it)"
        return f"remove {self.name}" + ("" if self.original else " (see .env.example for the settings)")


def known_setting_names() -> frozenset[str]:
    """Every environment name :class:`~btcbot_pipeline.settings.BotSettings` reads (upper case)."""
    return frozenset((info.alias or name).upper() for name, info in BotSettings.model_fields.items())


def looks_like_ours(name: str, known: Iterable[str]) -> bool:
    """Whether a process-environment name is meant for this bot (see module docstring)."""
    upper = name.upper()
    if upper in ORIGINAL_SETTINGS or upper.startswith(OUR_PREFIXES):
        return True
    return bool(difflib.get_close_matches(upper, list(known), n=1, cutoff=_NEAR_MISS))


def _describe(name: str, where: str, known: frozenset[str]) -> UnknownSetting:
    upper = name.upper()
    if upper in ORIGINAL_SETTINGS:
        replacement, note = ORIGINAL_SETTINGS[upper]
        return UnknownSetting(name, where, replacement, note, original=True)
    close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=_SUGGEST)
    return UnknownSetting(name, where, close[0] if close else None, "", original=False)


def env_file_names(env_file: str | os.PathLike[str] | None) -> list[str]:
    """The names a dotenv file sets, in file order (``[]`` when there is no file)."""
    if env_file is None or not Path(env_file).is_file():
        return []
    from dotenv import dotenv_values

    return [name for name in dotenv_values(env_file) if name]


def unknown_setting_names(environ: Mapping[str, str], env_file: str | os.PathLike[str] | None) -> list[UnknownSetting]:
    """Unknown or unsupported names: the ``.env`` file's first (file order), then the
    environment's (sorted); a name in both is reported once, for the environment (it wins)."""
    known = known_setting_names()
    found: dict[str, UnknownSetting] = {}
    for name in env_file_names(env_file):
        if name.upper() not in known and not name.upper().startswith(DAGSTER_PREFIX):
            found[name.upper()] = _describe(name, os.fspath(env_file), known)  # type: ignore[arg-type]
    for name in sorted(environ):
        if name.upper() not in known and looks_like_ours(name, known):
            found[name.upper()] = _describe(name, "environment", known)
    return list(found.values())
