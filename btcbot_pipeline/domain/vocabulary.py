"""The words every stage shares: order sides, risk modes, pair names.

Contract: this module imports nothing from the project, so any domain module (and any
adapter) can use it without an import circle. It holds only the shared vocabulary:

- :class:`Side`: ``BUY`` / ``SELL``;
- :class:`Mode`: ``NORMAL < REDUCE_RISK_ONLY < OBSERVE_ONLY``, a higher mode is more
  restrictive; :func:`combine_modes` never loosens, so the final mode of a cycle is at
  least its base mode;
- pair names: :func:`canonical_symbol` spells a pair one way, :func:`is_pair_name` says
  whether it can be traded, :data:`INVALID_SYMBOL_NAME` is the skip reason when not.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class Mode(StrEnum):
    NORMAL = "NORMAL"
    REDUCE_RISK_ONLY = "REDUCE_RISK_ONLY"
    OBSERVE_ONLY = "OBSERVE_ONLY"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def allows_buy(self) -> bool:
        return self is Mode.NORMAL

    @property
    def allows_sell(self) -> bool:
        return self is not Mode.OBSERVE_ONLY


_RANK = {Mode.NORMAL: 0, Mode.REDUCE_RISK_ONLY: 1, Mode.OBSERVE_ONLY: 2}


def combine_modes(base: Mode, *overrides: Mode | None) -> Mode:
    """The most restrictive of ``base`` and every non-None override."""
    final = base
    for mode in overrides:
        if mode is not None and mode.rank > final.rank:
            final = mode
    return final


def canonical_symbol(text: str) -> str:
    """The one pair name used everywhere (settings, datasets, the exchange's payloads):
    ``btc_try`` / ``BTC-TRY`` / ``btc/try`` → ``BTCTRY``. Anything else that is not an ASCII
    letter or digit (a space, a colon, an accent) stays, so a caller can refuse it with
    :func:`is_pair_name`."""
    return "".join(ch for ch in text.upper().strip() if ch not in "_-/")


MAX_PAIR_NAME = 20


def is_pair_name(symbol: str) -> bool:
    """True when ``symbol`` (a :func:`canonical_symbol` result) can be traded: 1 to
    :data:`MAX_PAIR_NAME` ASCII letters and digits. Anything else (``ETH:TRY``, ``ETH TRY``,
    ``ETH'TRY``, ``ÉTHTRY``) is refused where it enters, with ``invalid_symbol_name``: it
    would otherwise reach an order id and stop the cycle at the intents gate."""
    return 0 < len(symbol) <= MAX_PAIR_NAME and symbol.isascii() and symbol.isalnum()


INVALID_SYMBOL_NAME = "invalid_symbol_name"
