"""A parameter sweep's members: the parameter sets a grid file describes, and their names.

Pure: the caller parses the YAML or TOML file (:mod:`btcbot_pipeline.defs.sweep.grid_file`)
and passes the mapping it holds, which takes one of two forms:

- ``{"grid": {KEY: [v1, v2, ...], KEY2: [...]}}``: the cartesian product, in a fixed
  order: keys sorted by name, the first key varying slowest, each key's values in the
  order the file lists them;
- ``{"sets": [{KEY: v, ...}, ...]}``: the sets as listed (keys may differ between sets).

Values become setting text: a string stays as written, ``true``/``false`` for booleans, an
integer its digits, and a list or mapping its JSON (as ``--params`` JSON files do). The
file reader keeps decimal numbers as their written text, so ``0.10`` reaches the setting
as ``0.10``, never through a float.

Members are named ``<sweep>__<NNN>`` (1-based, zero-padded to at least 3 digits, more for a
sweep of 1,000 members or more): a member name ends in ``__`` and digits only, so the
sweep it belongs to is the name without that suffix, and two sweeps (names of letters,
digits and ``_``) can never give the same member name.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

SEPARATOR = "__"
MIN_DIGITS = 3


class GridError(ValueError):
    """A grid file that does not describe parameter sets (its message says what to fix)."""


def expand(data: Any, *, known: Collection[str] = (), source: str = "grid file") -> list[dict[str, str]]:
    """The parameter sets of ``data`` (a parsed grid file), in member order.

    ``known``: the setting names a key must be one of (empty: not checked).

    Raises:
        GridError: neither form, an empty grid or set list, a key with no values, an
            unknown setting name, or the same parameter set twice.
    """
    if not isinstance(data, Mapping) or set(data) not in ({"grid"}, {"sets"}):
        raise GridError(
            f"{source}: expected either a 'grid' mapping of SETTING: [values] or a 'sets' list of "
            "{SETTING: value} mappings (and nothing else at the top level)"
        )
    sets = _grid(data["grid"], source) if "grid" in data else _sets(data["sets"], source)
    for params in sets:
        for key in params:
            if known and key not in known:
                raise GridError(f"{source}: unknown setting {key!r} (settings are named like STAGE7_SLIPPAGE_BPS)")
    seen: dict[tuple[tuple[str, str], ...], int] = {}
    for n, params in enumerate(sets, start=1):
        identity = tuple(sorted(params.items()))
        if identity in seen:
            raise GridError(f"{source}: parameter sets {seen[identity]} and {n} are the same ({_show(params)})")
        seen[identity] = n
    return sets


def _grid(grid: Any, source: str) -> list[dict[str, str]]:
    if not isinstance(grid, Mapping) or not grid:
        raise GridError(f"{source}: 'grid' must map each setting to a non-empty list of values")
    keys = sorted(str(k) for k in grid)
    values = []
    for key in keys:
        listed = grid[key]
        if not isinstance(listed, list) or not listed:
            raise GridError(f"{source}: grid key {key!r} must have a non-empty list of values, was {listed!r}")
        values.append([setting_text(v) for v in listed])
    return [dict(zip(keys, combo)) for combo in itertools.product(*values)]


def _sets(sets: Any, source: str) -> list[dict[str, str]]:
    if not isinstance(sets, list) or not sets:
        raise GridError(f"{source}: 'sets' must be a non-empty list of {{SETTING: value}} mappings")
    out = []
    for n, params in enumerate(sets, start=1):
        if not isinstance(params, Mapping) or not params:
            raise GridError(f"{source}: set {n} must be a non-empty mapping of SETTING: value, was {params!r}")
        out.append({str(k): setting_text(v) for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))})
    return out


def setting_text(value: Any) -> str:
    """A grid value as setting text (see the module docstring)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    raise GridError(f"value {value!r}: a string, integer, boolean, list or mapping is expected (quote numbers)")


def varying_keys(sets: Sequence[Mapping[str, str]]) -> list[str]:
    """Every key some set gives, sorted: the leaderboard's parameter columns."""
    return sorted({k for params in sets for k in params})


def member_names(sweep: str, count: int) -> list[str]:
    """``<sweep>__001`` … for ``count`` members (see the module docstring)."""
    digits = max(MIN_DIGITS, len(str(count)))
    return [f"{sweep}{SEPARATOR}{n:0{digits}d}" for n in range(1, count + 1)]


def sweep_of(member: str) -> str:
    """The sweep a member name belongs to (``a_b__007`` → ``a_b``).

    Raises:
        GridError: not a member name.
    """
    sweep, sep, digits = member.rpartition(SEPARATOR)
    if not sep or not sweep or not digits.isdigit() or len(digits) < MIN_DIGITS:
        raise GridError(f"{member!r} is not a sweep member name (<sweep>__<number>)")
    return sweep


def _show(params: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())
