"""Parameter adaptation through the cycle assets into a book: each cycle runs with the
version in force, changes are recorded (params_active, param_changes, params_checkpoints,
the trace), a run split in two carries the state across the split, and the same run twice
gives the same fingerprint."""

from __future__ import annotations

import json
from pathlib import Path

from btcbot_pipeline.reporting.fingerprint import fingerprint_book
from btcbot_pipeline.testing.cycle_harness import DEMO, Cycle, failure_text

ADAPT = {
    **DEMO,
    "ADAPTATION_ENABLED": "true",
    "ADAPTATION_INTERVAL_CYCLES": "2",
    "ADAPTATION_LOOKBACK_CYCLES": "2",
    "ADAPTATION_CHECKPOINT_AFTER_CYCLES": "2",
}
FIRST, LAST, MIDDLE = "2026-01-01T00:30", "2026-01-01T01:25", "2026-01-01T00:55"


def run(tmp_path: Path, replay_dir: Path, name: str, *windows: tuple[str, str]) -> Cycle:
    cycle = Cycle(db=tmp_path / f"{name}.duckdb", dataset=replay_dir, overrides=ADAPT)
    for first, last in windows:
        result = cycle.run(first=first, last=last)
        assert result.success, failure_text(result)
    return cycle


def test_an_adapting_book_records_each_cycles_version_and_every_change(tmp_path: Path, replay_dir: Path) -> None:
    cycle = run(tmp_path, replay_dir, "one", (FIRST, LAST))
    versions = cycle.rows("SELECT active_version FROM params_active ORDER BY cycle_ts")
    assert len(versions) == 12
    changes = cycle.rows("SELECT cycle_id, kind, version_before, version_after FROM param_changes ORDER BY cycle_ts")
    assert changes, "two-cycle intervals over 12 cycles change something"
    assert cycle.rows("SELECT version FROM params_checkpoints ORDER BY cycle_ts")[0] == (1,)
    # the trace says which version each cycle ran with and what it decided
    traced = [
        json.loads(p)["adaptation"]
        for (p,) in cycle.rows("SELECT active_params_json FROM cycle_trace ORDER BY cycle_ts")
    ]
    assert [t["active_param_version"] for t in traced] == [v for (v,) in versions]
    decided = [(t["param_change"]["kind"], t["param_change"]["version_after"]) for t in traced if t["param_change"]]
    assert decided == [(kind, after) for _, kind, _, after in changes]
    # an adapt or a rollback decided at the end of a cycle is in force from the next one
    order = [cid for (cid,) in cycle.rows("SELECT cycle_id FROM params_active ORDER BY cycle_ts")]
    for cid, kind, _before, after in changes:
        i = order.index(cid)
        if kind != "checkpoint" and i + 1 < len(order):
            assert versions[i + 1] == (after,)


def test_the_state_carries_across_runs_and_two_runs_give_one_fingerprint(tmp_path: Path, replay_dir: Path) -> None:
    whole = run(tmp_path, replay_dir, "whole", (FIRST, LAST))
    split = run(tmp_path, replay_dir, "split", (FIRST, MIDDLE), ("2026-01-01T01:00", LAST))
    again = run(tmp_path, replay_dir, "again", (FIRST, LAST))
    digests = [fingerprint_book(c.db).digest for c in (whole, split, again)]
    assert digests[0] == digests[1] == digests[2]
    assert whole.rows("SELECT * FROM param_changes ORDER BY cycle_ts") == split.rows(
        "SELECT * FROM param_changes ORDER BY cycle_ts"
    )
