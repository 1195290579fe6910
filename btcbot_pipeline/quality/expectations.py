"""Great Expectations 1.x behind one module: the gate suites of :mod:`.rules` as GE suites.

The only module that imports ``great_expectations``, lazily (the import alone costs ~2–3 s,
paid once per process and only by a process that validates). GE runs as a library: an
ephemeral context built in code, one pandas data source, one whole-dataframe batch
definition, suites built from :data:`rules.SUITES` and cached. No GE project folder.

Money never reaches GE as a float: the money comparisons are exact ``Decimal`` flags
computed in :mod:`.rules`, and GE checks those flags (``in_set [True]``), uniqueness,
nulls, value sets and the ``client_order_id`` pattern. The offending rows reported with
a failure come from the exact evaluation of the same expectation.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from btcbot_pipeline.quality.rules import (
    Expect,
    Failure,
    Frame,
    GateResult,
    Suite,
    shown_columns,
    with_rows,
)

_GX: dict[str, Any] = {}

# Modules GE imports when it starts but that our suites never use: scipy.stats (its
# distribution tests) and altair (its charts). ~1.1 s of CPU and ~75 MiB of a worker.
DEFERRED_MODULES = ("scipy.stats", "altair")


class _Deferred(importlib.abc.MetaPathFinder):
    """Loads :data:`DEFERRED_MODULES` lazily: their code runs on the first use of one of
    their attributes (:class:`importlib.util.LazyLoader`), not at ``import``."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name not in DEFERRED_MODULES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


def defer_unused_modules() -> None:
    """Before GE's import, in a process that only validates (the gate worker): the modules
    GE imports without our suites needing them load on first use instead. Not done where
    other threads import (``LazyLoader`` loads a module on whichever thread touches it)."""
    if not any(isinstance(f, _Deferred) for f in sys.meta_path):
        sys.meta_path.insert(0, _Deferred())


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


class GateFrame:
    """One batch's frame for a suite, in two parts: ``checked``, the columns its
    expectations check as plain values (flags as booleans, times as epoch microseconds),
    which is all that travels to a worker process and becomes GE's pandas frame there; and
    ``shown``, the columns an offending row is shown with, kept here and rendered only if
    the suite fails. The process that runs the cycles never imports pandas."""

    __slots__ = ("checked", "shown")

    def __init__(self, checked: dict[str, list[Any]], shown: Frame) -> None:
        self.checked = checked
        self.shown = shown

    @property
    def ge(self) -> tuple[dict[str, list[Any]], int]:
        """What GE needs of this frame (picklable, no pandas): the checked columns and the row count."""
        return self.checked, self.shown.n


def narrow(suite: Suite, frame: Any) -> Frame:
    """The columns of ``frame`` that ``suite`` checks or shows (missing ones as ``None``)."""
    f = Frame.of(None, frame)
    return Frame({c: f.col(c) for c in shown_columns(suite)}, f.n)


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _epoch_us(values: list[Any]) -> list[Any]:
    """Times as integer microseconds since the epoch (UTC), each distinct time converted
    once: the same equalities, hashed faster, and no datetimes to pickle."""
    seen: dict[Any, int] = {}
    out = []
    for v in values:
        us = seen.get(v)
        if us is None:
            aware = v if v.tzinfo is not None else v.replace(tzinfo=timezone.utc)
            us = seen[v] = (aware - _EPOCH) // _MICROSECOND
        out.append(us)
    return out


_MICROSECOND = timedelta(microseconds=1)


def frame(suite: Suite, frame: Any) -> GateFrame:
    """The columns GE validates (those its expectations read: flags as booleans, anything
    else exactly as built, no float conversion; a column of times as epoch microseconds)
    and beside them the columns an offending row is shown with.

    Narrow frames keep a validation over weeks of cycles (tens of thousands of rows) fast,
    and small enough to hold until a chunk is validated."""
    kept = narrow(suite, frame)
    checked = {}
    for column in dict.fromkeys(c for e in suite.expectations for c in e.columns):
        values = kept.col(column)
        if values and all(isinstance(v, datetime) for v in values):
            values = _epoch_us(values)
        checked[column] = values
    return GateFrame(checked, kept)


def to_pandas(ge_frames: Sequence[tuple[dict[str, list[Any]], int]]) -> Any:
    """One pandas frame of several :attr:`GateFrame.ge` parts (in the validating process):
    a flag column as ``bool``, an integer column (times) as ``int64``, the rest as objects."""
    import numpy as np
    import pandas as pd

    n = sum(rows for _, rows in ge_frames)
    names = list(dict.fromkeys(c for checked, _ in ge_frames for c in checked))
    data = {}
    for column in names:
        values = [v for checked, rows in ge_frames for v in checked.get(column, [None] * rows)]
        if values and all(v is True or v is False for v in values):
            data[column] = pd.Series(np.fromiter(values, dtype=bool, count=len(values)))
        elif values and all(type(v) is int for v in values):
            data[column] = pd.Series(np.fromiter(values, dtype=np.int64, count=len(values)))
        else:
            data[column] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def validate(suite: Suite, recs: Any) -> GateResult:
    """Run ``suite`` through GE over a frame (or records); failures carry the GE
    expectation type, the column, GE's observed value (unexpected count or observed row
    count) and up to 5 offending rows."""
    gf = frame(suite, recs)
    return with_rows(validate_ge(suite, [gf.ge]), gf.shown)


def validate_frames(suite: Suite, frames: Sequence[GateFrame]) -> tuple[GateResult, Frame]:
    """Run ``suite`` once over several frames of :func:`frame` (a chunk's batches). Also
    returns the shown columns of them all (only when something failed: they name the
    offending rows)."""
    result = validate_ge(suite, [f.ge for f in frames])
    if result.passed:
        return result, Frame({}, 0)
    shown = Frame.concat([f.shown for f in frames])
    return with_rows(result, shown), shown


def validate_ge(suite: Suite, ge_frames: Sequence[tuple[dict[str, list[Any]], int]]) -> GateResult:
    """GE's verdict over the narrow frames, without offending rows (see :func:`with_rows`)."""
    return _validate(suite, to_pandas(ge_frames))


def _validate(suite: Suite, df: Any) -> GateResult:
    gx, bd = _gx()
    result = bd.get_batch(batch_parameters={"dataframe": df}).validate(ge_suite(suite), result_format="BASIC")
    by_name = {e.name: e for e in suite.expectations}
    failures: list[Failure] = []
    for r in result.results:
        if r.success:
            continue
        cfg = r.expectation_config
        e = by_name[(cfg.meta or {}).get("gate")]
        res = r.result or {}
        observed = res.get("unexpected_count", res.get("observed_value"))
        if r.exception_info and r.exception_info.get("raised_exception"):
            observed = f"exception: {r.exception_info.get('exception_message')}"
        failures.append(Failure(e.name, cfg.type, e.column, e.severity, observed, ()))
    order = {e.name: i for i, e in enumerate(suite.expectations)}
    failures.sort(key=lambda f: order[f.expectation])
    return GateResult(suite, tuple(failures), int(result.statistics["evaluated_expectations"]))


__all__ = ["GateFrame", "validate", "validate_frames", "validate_ge", "ge_suite", "frame", "narrow", "to_pandas"]
