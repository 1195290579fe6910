"""Row builders' shortcuts give the rows the plain way gives."""

from __future__ import annotations

from btcbot_pipeline.domain.payloads import parse_ts
from btcbot_pipeline.storage.rows import cycle_rows, from_rows, trace_rows
from btcbot_pipeline_tests.domain.test_cycle import DEMO, demo, inputs, trace_of
from btcbot_pipeline_tests.domain.test_payloads_golden import limit_run


def test_enum_columns_hold_the_enums_values() -> None:
    results = [*demo(), *limit_run()[1]]
    rows = cycle_rows(results, None)
    actions = [a for r in results for a in r.plan.actions]
    orders = [o for r in results for o in r.orders]
    assert orders and actions
    assert rows["portfolio_plan"]["final_mode"] == [r.mode.final.value for r in results]
    assert rows["portfolio_plan"]["base_mode"] == [r.mode.base.value for r in results]
    assert rows["plan_actions"]["side"] == [a.side.value for a in actions]
    assert rows["plan_actions"]["status"] == [a.status.value for a in actions]
    assert rows["orders"]["status"] == [o.status.value for o in orders]
    assert all(type(v) is str for v in rows["plan_actions"]["status"])  # the text, not the enum


def test_trace_rows_take_the_cycle_times_they_are_given() -> None:
    results, (snapshots, selections) = demo(), inputs()
    traces = [trace_of(r, s, sel, DEMO) for r, s, sel in zip(results, snapshots, selections)]
    metrics = from_rows("run_metrics", [])
    given = trace_rows(traces, metrics, [r.cycle_ts for r in results])
    assert given == trace_rows(traces, metrics)
    assert given["cycle_trace"]["ts"] == [parse_ts(t.cycle_ts) for t in traces]
