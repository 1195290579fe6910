"""Where two JSON texts first differ, for parity's message.

A trace column holds kilobytes of JSON; saying ``active_params_json at
$.execution.slippage_bps: "25" / "20"`` is what a reader needs, not both whole texts.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from btcbot_pipeline.reporting.canonical import canonical_json, is_json, serialise_json

ABSENT = "(absent)"
MAX_SHOWN = 200  # characters of a value shown in a message


def first_difference(column: str, a: str | None, b: str | None) -> tuple[str | None, str | None, str | None]:
    """``(path, a, b)``: the first differing JSON path of a JSON ``column`` (keys sorted,
    list items in order) with the canonical values there, clipped to :data:`MAX_SHOWN`;
    for other columns, or NULL or non-JSON values, ``(None, a, b)`` as given.
    """
    if not is_json(column) or a is None or b is None:
        return None, a, b
    canonical_a, canonical_b = canonical_json(a), canonical_json(b)
    if canonical_a == canonical_b:
        return None, canonical_a, canonical_b
    try:
        value_a, value_b = json.loads(canonical_a, parse_float=Decimal), json.loads(canonical_b, parse_float=Decimal)
    except ValueError:
        return None, _clip(canonical_a), _clip(canonical_b)
    path, leaf_a, leaf_b = _walk(value_a, value_b, "$")
    return path, _clip(leaf_a), _clip(leaf_b)


def _walk(a: Any, b: Any, path: str) -> tuple[str, str, str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(a.keys() | b.keys()):
            here = f"{path}.{key}"
            if key not in a or key not in b:
                return here, _text(a, key), _text(b, key)
            if serialise_json(a[key]) != serialise_json(b[key]):
                return _walk(a[key], b[key], here)
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            here = f"{path}[{i}]"
            if i >= len(a) or i >= len(b):
                return here, _text(a, i), _text(b, i)
            if serialise_json(a[i]) != serialise_json(b[i]):
                return _walk(a[i], b[i], here)
    return path, serialise_json(a), serialise_json(b)


def _text(container: Any, key: Any) -> str:
    try:
        return serialise_json(container[key])
    except (KeyError, IndexError):
        return ABSENT


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
