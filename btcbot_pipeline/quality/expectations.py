"""Great Expectations 1.x behind one module: the gate suites of :mod:`.rules` as GE suites.

The only module that imports ``great_expectations``, lazily (the import alone costs ~3 s,
paid once per process and only by a process that validates). GE runs as a library: an
ephemeral context built in code, one pandas data source, one whole-dataframe batch
definition, suites built from :data:`rules.SUITES` and cached. No GE project folder.

Money never reaches GE as a float: the money comparisons are exact ``Decimal`` flags
computed in :mod:`.rules`, and GE checks those flags (``in_set [True]``), uniqueness,
nulls, value sets and the ``client_order_id`` pattern. The offending rows reported with
a failure come from the exact evaluation of the same expectation.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Sequence

from btcbot_pipeline.quality.rules import (
    Expect,
    Failure,
    GateResult,
    Record,
    Suite,
    failure_rows,
    shown,
)

_GX: dict[str, Any] = {}


def imported() -> bool:
    """Whether this process has GE set up already."""
    return "bd" in _GX


def _gx() -> tuple[Any, Any]:
    if "bd" not in _GX:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = ctx.data_sources.add_pandas(name="gate_frames").add_dataframe_asset(name="frames")
        _GX.update(gx=gx, ctx=ctx, bd=asset.add_batch_definition_whole_dataframe("whole"), suites={})
    return _GX["gx"], _GX["bd"]


def _expectation(gx: Any, e: Expect) -> Any:
    E = gx.expectations
    col = e.columns[0] if e.columns else None
    if e.kind == "flag":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=[True])
    if e.kind == "not_null":
        return E.ExpectColumnValuesToNotBeNull(column=col)
    if e.kind == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(e.value_set))
    if e.kind == "regex":
        return E.ExpectColumnValuesToMatchRegex(column=col, regex=e.regex)
    if e.kind == "unique":
        if len(e.columns) == 1:
            return E.ExpectColumnValuesToBeUnique(column=col)
        return E.ExpectCompoundColumnsToBeUnique(column_list=list(e.columns))
    if e.kind == "min_rows":
        return E.ExpectTableRowCountToBeBetween(min_value=1)
    raise ValueError(f"unknown expectation kind {e.kind!r}")


def ge_suite(suite: Suite) -> Any:
    """The GE ``ExpectationSuite`` of ``suite`` (built once, cached); expectation ``meta``
    carries our expectation name."""
    gx, _ = _gx()
    cache = _GX["suites"]
    if suite.name not in cache:
        expectations = []
        for e in suite.expectations:
            exp = _expectation(gx, e)
            exp.meta = {"gate": e.name, "severity": e.severity}
            expectations.append(exp)
        cache[suite.name] = gx.ExpectationSuite(name=suite.name, expectations=expectations)
    return cache[suite.name]


def frame(suite: Suite, recs: Sequence[Record]) -> Any:
    """The pandas frame GE validates: the columns its expectations read, plus the key and
    observed columns an offending row is shown with; flags as a boolean column, anything
    else as objects exactly as built (no float conversion).

    Narrow, typed frames keep a validation over weeks of cycles (tens of thousands of
    rows) fast, and small enough to hold until a chunk is validated."""
    import pandas as pd

    checked = {c for e in suite.expectations for c in e.columns} | set(suite.key)
    columns = [c for e in suite.expectations for c in (*e.columns, *e.observed)]
    data = {}
    for column in dict.fromkeys([*suite.key, *columns]):
        values = [r.get(column) for r in recs]
        if column not in checked:  # only shown with an offending row: keep it as its text
            data[column] = pd.Series([shown(v) for v in values], dtype=object)
            continue
        if column == "cycle_ts" and values and all(isinstance(v, datetime) for v in values):
            # a datetime column hashes in C (uniqueness per cycle over weeks of rows)
            data[column] = pd.Series(pd.to_datetime(values, utc=True))
            continue
        flags = all(v is True or v is False for v in values)
        data[column] = pd.Series(values, dtype=bool if flags and values else object)
    return pd.DataFrame(data, index=pd.RangeIndex(len(recs)))


def validate(suite: Suite, recs: Sequence[Record]) -> GateResult:
    """Run ``suite`` through GE over ``recs``; failures carry the GE expectation type, the
    column, GE's observed value (unexpected count or observed row count) and up to 5
    offending rows."""
    return _validate(suite, frame(suite, recs), list(recs))


def validate_frames(suite: Suite, frames: Sequence[Any]) -> tuple[GateResult, list[Record]]:
    """Run ``suite`` once over several frames of :func:`frame` (a chunk's batches). Also
    returns the records (only when something failed: they name the offending rows)."""
    import pandas as pd

    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    result = _validate(suite, df, None)
    return result, ([] if result.passed else _records(df))


def _records(df: Any) -> list[Record]:
    return [{k: (v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v) for k, v in r.items()}
            for r in df.to_dict("records")]


def _validate(suite: Suite, df: Any, recs: list[Record] | None) -> GateResult:
    gx, bd = _gx()
    result = bd.get_batch(batch_parameters={"dataframe": df}).validate(ge_suite(suite), result_format="BASIC")
    by_name = {e.name: e for e in suite.expectations}
    failures: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        if recs is None:
            recs = _records(df)
        cfg = r.expectation_config
        e = by_name[(cfg.meta or {}).get("gate")]
        res = r.result or {}
        observed = res.get("unexpected_count", res.get("observed_value"))
        if r.exception_info and r.exception_info.get("raised_exception"):
            observed = f"exception: {r.exception_info.get('exception_message')}"
        failures.append(Failure(e.name, cfg.type, e.column, e.severity, observed, failure_rows(suite, e, recs)))
    order = {e.name: i for i, e in enumerate(suite.expectations)}
    failures.sort(key=lambda f: order[f.expectation])
    return GateResult(suite, tuple(failures), int(result.statistics["evaluated_expectations"]))


__all__ = ["validate", "validate_frames", "ge_suite", "frame"]
