"""The frames' helpers: row groups and the trace's JSON, as the plain ways give them."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from btcbot_pipeline.domain.oms import OrderStatus
from btcbot_pipeline.domain.vocabulary import Mode
from btcbot_pipeline.quality.rules import Frame, _json, _member


def _plain_groups(values: list[Any]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = defaultdict(list)
    for i, v in enumerate(values):
        out[v].append(i)
    return dict(out)


@given(st.lists(st.sampled_from(["a", "b", "c", None]), max_size=30))
def test_groups_are_the_rows_by_value_in_first_seen_order(values: list[Any]) -> None:
    groups = Frame({"cycle_ts": values}, len(values)).groups()
    assert groups == _plain_groups(values)
    assert list(groups) == list(_plain_groups(values))


def test_groups_of_runs_and_returns() -> None:
    f = Frame({"k": ["x", "x", "y", "x", "y", "y"]}, 6)
    assert f.groups("k") == {"x": [0, 1, 3], "y": [2, 4, 5]}
    assert Frame({"cycle_ts": []}, 0).groups() == {}


def test_trace_json_reads_what_the_standard_parser_reads() -> None:
    text = '[{"reason":"min_notional","status":"SKIPPED","notional_try":"5.65"},{"reason":null,"status":"PLANNED"}]'
    assert _json(text) == json.loads(text)
    (nan,) = _json("[NaN]")  # orjson refuses it: the standard parser reads it
    assert math.isnan(nan)


def test_members_are_looked_up_as_the_enum_finds_them() -> None:
    assert [_member(Mode, m.value) for m in Mode] == list(Mode)
    assert _member(OrderStatus, OrderStatus.FILLED) is OrderStatus.FILLED
    with pytest.raises(ValueError, match="'SIDEWAYS' is not a valid Mode"):
        _member(Mode, "SIDEWAYS")
