"""Risk modes and their combination.

``NORMAL < REDUCE_RISK_ONLY < OBSERVE_ONLY``: a higher mode is more restrictive.
:func:`combine_modes` never loosens: the final mode of a cycle is at least its base mode.
"""

from __future__ import annotations

from enum import StrEnum


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
