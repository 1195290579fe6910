"""Benchmark: one scheduled cycle, from its tick to its trace in the book (not a test).

Two paths, both in a temporary project folder (demo settings, the synthetic replay day,
this repository's ``dagster_home/dagster.yaml``), so nothing of yours is touched:

- ``cli``: ``dagster asset materialize`` of one partition in a fresh process, ``--runs``
  times (each the next cycle of the same book), the path users' CI takes. Each run's wall
  time is split with its event log: process start → run start (interpreter, Dagster,
  definitions), run start → step start, the cycle step itself, step end → run end.
- ``daemon``: what a schedule does. ``dagster-daemon`` runs the catch-up sensor with
  ``CYCLE_CRON=* * * * *`` over cycles already closed, so its first tick asks for
  ``--runs`` cycles at once; they run one at a time (``max_concurrent_runs: 1``). Per run:
  queued → launched (the queue), launched → started (the run worker process loading the
  code), started → ended (the cycle). "Tick → trace" is run creation → run end of the
  first run; "keeps up" compares the runs' median duration with CYCLE_CRON's minute.

Usage::

    python scripts/bench_scheduled_cycle.py                 # both paths, 5 runs each
    python scripts/bench_scheduled_cycle.py --mode cli --runs 10
    python scripts/bench_scheduled_cycle.py --validator great_expectations   # GE in every run

Timings are wall-clock on a shared machine: compare medians, and run it on an idle machine
for the issue's figure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START = "2026-01-01T00:00"


def _project(root: Path, validator: str, cron: str, end: str, runs: int) -> dict[str, str]:
    """A project folder with the demo profile, the synthetic day and a Dagster home."""
    env_lines = [line for line in (REPO / ".env.example").read_text().splitlines() if not line.startswith("CYCLE_")]
    env_lines += [
        f"CYCLE_CRON={cron}",
        f"CYCLE_PARTITIONS_START={START}",
        f"CYCLE_PARTITIONS_END={end}",
        f"GATE_VALIDATOR={validator}",
        f"CATCHUP_MAX_RUNS_PER_TICK={runs}",
        f"STATE_DB_PATH={root / 'book.duckdb'}",
        f"REPLAY_DATASET_PATH={REPO_DATASET}",
    ]
    (root / ".env").write_text("\n".join(env_lines) + "\n")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    (root / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: btcbot_pipeline.definitions\n"
        f"      working_directory: {root}\n      location_name: btcbot_pipeline\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STAGE7_", "CYCLE_", "GATE_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), PYTHONUNBUFFERED="1")
    return env


def _events(home: str, run_id: str) -> dict[str, float]:
    """First timestamp of each event type of a run, from the instance's event log."""
    os.environ["DAGSTER_HOME"] = home
    import dagster as dg

    instance = dg.DagsterInstance.get()
    out: dict[str, float] = {}
    for record in instance.all_logs(run_id):
        kind = record.dagster_event.event_type_value if record.dagster_event else None
        if kind and kind not in out:
            out[kind] = record.timestamp
    return out


def _run_ids(home: str) -> list[Any]:
    os.environ["DAGSTER_HOME"] = home
    import dagster as dg

    return sorted(dg.DagsterInstance.get().get_run_records(), key=lambda r: r.create_timestamp.timestamp())


def cli(runs: int, validator: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = _project(root, validator, "*/5 * * * *", "2026-01-02T00:00", runs)
        walls, parts = [], []
        for i in range(runs):
            key = f"2026-01-01T{(i * 5) // 60:02d}:{(i * 5) % 60:02d}"
            t0 = time.time()
            out = subprocess.run(
                [
                    str(BIN / "dagster"),
                    "asset",
                    "materialize",
                    "-m",
                    "btcbot_pipeline.definitions",
                    "--select",
                    "*",
                    "--partition",
                    key,
                ],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.time() - t0
            if out.returncode:
                sys.exit(f"run {key} failed:\n{out.stderr[-3000:]}")
            record = _run_ids(env["DAGSTER_HOME"])[-1]
            ev = _events(env["DAGSTER_HOME"], record.dagster_run.run_id)
            parts.append(
                (
                    ev["PIPELINE_START"] - t0,
                    ev["STEP_START"] - ev["PIPELINE_START"],
                    ev["STEP_SUCCESS"] - ev["STEP_START"],
                    ev["PIPELINE_SUCCESS"] - ev["STEP_SUCCESS"],
                    t0 + wall - ev["PIPELINE_SUCCESS"],
                )
            )
            walls.append(wall)
            print(f"  {key}: {wall:5.2f} s", flush=True)
        names = (
            "process start → run start (Python, Dagster, definitions)",
            "run start → step start",
            "the cycle step (book, data, 7 stages, gates, events)",
            "step end → run end",
            "run end → exit",
        )
        print(
            f"cli: `dagster asset materialize` of one cycle, {runs} runs, validator {validator}: "
            f"median {statistics.median(walls):.2f} s (min {min(walls):.2f}, max {max(walls):.2f})"
        )
        for i, name in enumerate(names):
            print(f"  {statistics.median(p[i] for p in parts):6.2f} s  {name}")


def daemon(runs: int, validator: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        end = f"2026-01-01T00:{runs:02d}"
        env = _project(root, validator, "* * * * *", end, runs)
        ws = ["-w", str(root / "workspace.yaml")]
        subprocess.run(
            [str(BIN / "dagster"), "sensor", "start", "cycle_catchup_sensor", *ws],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
        )
        log = open(root / "daemon.log", "w")
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *ws], cwd=root, env=env, stdout=log, stderr=log)
        try:
            deadline = time.time() + 120 + 30 * runs
            while time.time() < deadline:
                time.sleep(2)
                records = _run_ids(env["DAGSTER_HOME"])
                if len(records) >= runs and all(r.dagster_run.is_finished for r in records):
                    break
            else:
                sys.exit(f"the daemon did not finish {runs} runs in time; see {root / 'daemon.log'}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        failed = [r.dagster_run.run_id for r in records if r.dagster_run.status.value != "SUCCESS"]
        if failed:
            sys.exit(f"runs failed: {failed}")
        rows = []
        for r in records:
            created, started, ended = r.create_timestamp.timestamp(), r.start_time, r.end_time
            ev = _events(env["DAGSTER_HOME"], r.dagster_run.run_id)
            launched = ev.get("PIPELINE_STARTING", started)
            rows.append((created, launched, started, ended))
        durations = [e - s for _, _, s, e in rows]
        first = rows[0]
        print(f"daemon: catch-up sensor, CYCLE_CRON=* * * * *, {runs} runs, validator {validator}")
        print(
            f"  tick → trace persisted (first run): {first[3] - first[0]:.2f} s "
            f"(queue {first[1] - first[0]:.2f} s, worker start {first[2] - first[1]:.2f} s, "
            f"cycle {first[3] - first[2]:.2f} s)"
        )
        print(
            f"  launched → ended per run: median {statistics.median(e - l for _, l, _, e in rows):.2f} s; "
            f"cycle (run start → end): median {statistics.median(durations):.2f} s, max {max(durations):.2f} s"
        )
        print(
            "  keeps up with a cycle a minute: "
            f"{'yes' if statistics.median(e - l for _, l, _, e in rows) < 60 else 'NO'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("cli", "daemon", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--validator", choices=("auto", "great_expectations", "exact"), default="auto")
    args = parser.parse_args()
    global REPO_DATASET
    with tempfile.TemporaryDirectory() as data:
        REPO_DATASET = Path(data) / "replay"
        subprocess.run(
            [str(BIN / "btcbot"), "replay-init", "--dataset", str(REPO_DATASET), "--seed", "42"],
            check=True,
            capture_output=True,
        )
        if args.mode in ("cli", "both"):
            cli(args.runs, args.validator)
        if args.mode in ("daemon", "both"):
            daemon(args.runs, args.validator)


REPO_DATASET = Path()

if __name__ == "__main__":
    main()
