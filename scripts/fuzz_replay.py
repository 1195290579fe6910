"""Benchmark mode of the hostile-data property test (issue 8): many generated datasets.

    .venv/bin/python scripts/fuzz_replay.py --examples 10000 [--seed 8]

Each example writes three good pairs and one hostile pair (names, files, rows and exchange
rules drawn by Hypothesis, see ``btcbot_pipeline/testing/hostile_data.py``), then runs the
validator, the reader, the snapshot stage and the whole cycle computation, and inserts every
row into an in-memory book. Prints how many examples ran, how long it took, the hostile
pair's skip reasons and the validator's codes; exits 1 with Hypothesis's minimal failing
example if the property breaks.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402

from btcbot_pipeline.storage.book import Book  # noqa: E402
from btcbot_pipeline.testing.hostile_data import (  # noqa: E402
    Findings,
    check_dataset,
    fuzz_settings,
    hostile_dataset,
    write_dataset,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    cfg = fuzz_settings()
    findings = Findings()
    with tempfile.TemporaryDirectory() as tmp, duckdb.connect(":memory:") as con:
        Book(con).ensure_schema()
        root = Path(tmp) / "dataset"

        @seed(args.seed)
        @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(spec=hostile_dataset())
        def property_(spec: dict) -> None:
            write_dataset(root, spec)
            check_dataset(root, spec, cfg, con, findings)

        started = time.perf_counter()
        failed = False
        try:
            property_()
        except Exception as exc:  # Hypothesis attaches the minimal failing example as a note
            failed = True
            print("FAILED:")
            traceback.print_exception(exc, file=sys.stdout)
        elapsed = time.perf_counter() - started
    print(
        f"examples run: {findings.examples} (asked {args.examples}, seed {args.seed}) in {elapsed:.1f} s "
        f"({1000 * elapsed / max(findings.examples, 1):.1f} ms each)"
    )
    print("hostile pair, skip reason per cycle snapshot:")
    for reason, n in findings.hostile_reasons.most_common():
        print(f"  {n:7d}  {reason}")
    print("replay-validate issues by code (all examples):")
    for code, n in findings.codes.most_common():
        print(f"  {n:7d}  {code}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
