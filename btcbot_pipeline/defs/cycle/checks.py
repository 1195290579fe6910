"""The gates of the cycle assets as blocking asset checks.

The engine validates each chunk's rows **before writing them** (one Great Expectations
validation per suite per chunk, :mod:`btcbot_pipeline.quality`). A run reports one
result per suite: passed when every chunk passed, with how many chunks, rows and
expectations were evaluated, and on failure the first failing cycle with the failing
expectations and up to five offending rows. An ERROR failure stops the run after the
results are yielded (``dg.Failure``); nothing of the failing chunk is in the book. WARN
failures are reported (the check shows a warning) and the cycle goes on.
"""

# No `from __future__ import annotations`: Dagster reads annotations at runtime elsewhere in this package.

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import dagster as dg

from btcbot_pipeline.quality.rules import SUITES, GateResult, Suite


def check_spec(suite: Suite, asset: dg.AssetKey) -> dg.AssetCheckSpec:
    lines = [f"{e.name} [{e.severity}]" + (f": {e.description}" if e.description else "") for e in suite.expectations]
    return dg.AssetCheckSpec(
        suite.name,
        asset=asset,
        blocking=True,
        description="Gate (GE suite, validated before the rows are written): " + "; ".join(lines),
    )


@dataclass(frozen=True, slots=True)
class SuiteOutcome:
    """One suite over every chunk of a run."""

    suite: Suite
    chunks: int
    evaluated: int
    failures: tuple[GateResult, ...]  # the chunks' results that had failures, in order

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def blocking(self) -> bool:
        return any(r.blocking for r in self.failures)


def aggregate(chunks: Sequence[Sequence[GateResult]]) -> list[SuiteOutcome]:
    """Per suite (in stage order), the results of every chunk of the run."""
    out = []
    for name, suite in SUITES.items():
        mine = [r for gates in chunks for r in gates if r.suite.name == name]
        out.append(SuiteOutcome(suite, len(mine), sum(r.evaluated for r in mine), tuple(r for r in mine if not r.passed)))
    return out


def check_results(key: Callable[[str], dg.AssetKey], outcomes: Sequence[SuiteOutcome]) -> Iterator[dg.AssetCheckResult]:
    for o in outcomes:
        failed = [
            {
                "expectation": f.expectation,
                "expectation_type": f.ge_type,
                "column": f.column,
                "severity": f.severity,
                "observed_value": str(f.observed),
                "offending_rows": list(f.rows),
            }
            for r in o.failures[:1]
            for f in r.failures
        ]
        yield dg.AssetCheckResult(
            passed=o.passed,
            asset_key=key(o.suite.asset),
            check_name=o.suite.name,
            severity=dg.AssetCheckSeverity.ERROR if o.passed or o.blocking else dg.AssetCheckSeverity.WARN,
            description=(o.failures[0].describe() if o.failures else f"{o.suite.name}: every expectation passed")[:2000],
            metadata={
                "chunks_validated": o.chunks,
                "expectations_evaluated": o.evaluated,
                "chunks_failed": len(o.failures),
                "unsuccessful": sum(len(r.failures) for r in o.failures),
                "failed_expectations": dg.MetadataValue.json(failed),
            },
        )
