"""The short soak: 20 live-source cycles against the fake BTCTurk with faults at random
(``scripts/soak.py``; the benchmark runs 500). Nothing lost, nothing duplicated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "soak.py"


def test_twenty_faulted_cycles_are_all_recorded_once(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)

    report = soak.soak(20, seed=3, fault_rate=0.6, workdir=tmp_path / "project", quiet=True, ephemeral=True)

    assert report["cycles_requested"] == report["cycles_recorded"] == 20
    assert (report["cycles_lost"], report["cycles_duplicated"], report["runs_failed"]) == ([], [], {})
    assert sum(report["faults_injected"].values()) >= 8, report["faults_injected"]
    assert report["webhook_duplicates"] == 0
    assert report["rss_mb"]["growth_after_warmup"] < 100, report["rss_mb"]
