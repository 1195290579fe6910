"""The gates of the cycle assets as blocking asset checks.

Each stage validates its window's rows **inside the asset, before writing**: the rows
(built by :mod:`btcbot_pipeline.storage.rows`) become a frame, the stage's GE suites run
over it (:mod:`btcbot_pipeline.quality`), and each suite is yielded as an
``AssetCheckResult`` of a ``blocking=True`` check spec. When an ERROR expectation failed,
the asset records the failure in ``gate_failures`` (which also empties the window from
this stage downward, in one transaction), then raises ``dg.Failure`` without writing its
rows: downstream steps of the partition do not run and no rejected row is ever in the
book. WARN failures are yielded (the check shows a warning) and the stage goes on.
"""

# No `from __future__ import annotations`: Dagster reads annotations at runtime elsewhere in this package.

from typing import Any, Iterator, Sequence

import dagster as dg

from btcbot_pipeline.domain.cycle import cycle_id_for
from btcbot_pipeline.quality.rules import GateParams, GateResult, Record, Suite, gate_failure_rows
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import Book, Window


def gate_params(cfg: BotSettings) -> GateParams:
    return GateParams(cycle=cfg.cycle_params(), max_excluded_share=cfg.stage7_max_excluded_share)


def check_spec(suite: Suite) -> dg.AssetCheckSpec:
    lines = [f"{e.name} [{e.severity}]" + (f": {e.description}" if e.description else "") for e in suite.expectations]
    return dg.AssetCheckSpec(
        suite.name,
        asset=suite.asset,
        blocking=True,
        description="Gate (GE suite, validated before the rows are written): " + "; ".join(lines),
    )


def check_result(result: GateResult) -> dg.AssetCheckResult:
    failed = [
        {
            "expectation": f.expectation,
            "expectation_type": f.ge_type,
            "column": f.column,
            "severity": f.severity,
            "observed_value": str(f.observed),
            "offending_rows": list(f.rows),
        }
        for f in result.failures
    ]
    return dg.AssetCheckResult(
        passed=result.passed,
        asset_key=result.suite.asset,
        check_name=result.suite.name,
        severity=dg.AssetCheckSeverity.ERROR if result.blocking else dg.AssetCheckSeverity.WARN,
        description=result.describe()[:2000],
        metadata={
            "evaluated": result.evaluated,
            "unsuccessful": len(result.failures),
            "failed_expectations": dg.MetadataValue.json(failed),
        },
    )


def run_gates(suites: Sequence[tuple[Suite, list[Record]]]) -> list[tuple[GateResult, list[Record]]]:
    from btcbot_pipeline.quality.expectations import validate

    return [(validate(suite, recs), recs) for suite, recs in suites]


def gate(
    book: Book, window: Window, stage: str, suites: Sequence[tuple[Suite, list[Record]]]
) -> Iterator[dg.AssetCheckResult]:
    """Validate, yield one check result per suite, and stop the stage on an ERROR failure
    (recording it in ``gate_failures`` first)."""
    results = run_gates(suites)
    for result, _ in results:
        yield check_result(result)
    blocking = [(r, recs) for r, recs in results if r.blocking]
    if blocking:
        rows: list[tuple[Any, ...]] = []
        for r, recs in blocking:
            rows += gate_failure_rows(r, recs, cycle_id_for)
        book.record_gate_failure(window, stage, rows)
        text = "\n".join(r.describe() for r, _ in blocking)
        raise dg.Failure(
            description=f"gate failed, nothing of this window written by {stage} or downstream:\n{text}",
            metadata={"failed_checks": [r.suite.name for r, _ in blocking]},
        )
