"""Soak: live-source dry-run cycles through Dagster against the fake BTCTurk, with faults.

    .venv/bin/python scripts/soak.py --cycles 500 [--seed 7] [--fault-rate 0.35] [--json OUT]

A throwaway project (its own ``.env``, book and ``DAGSTER_HOME``) points the bot at a
fake BTCTurk and a webhook receiver, both on 127.0.0.1 in this process. Each cycle is a
run of ``cycle_job`` for one partition, executed through Dagster in this one long-lived
process (the instance records every run, as the daemon's runs are recorded). Time is
compressed: the cycles are consecutive 5-minute partitions of a past day, and before
each one the fake exchange's clock is set to that cycle's time, so the exchange stamps
its data as it would have then; the cycles run back to back.

Before a cycle, with probability ``--fault-rate``, one fault is injected at random
(seeded): 429 with Retry-After, 500, 503, a timeout, a drip (one byte at a time), an
oversize body, the connection dropped, a symbol vanishing, or the webhook failing. The
report: cycles requested, recorded, lost (no ledger row), duplicated (more than one);
runs failed and why; the alerts raised at the faulted cycles, per fault; the webhook's
deliveries; the process's resident memory over time (growth after warm-up). Exit 0 when
nothing was lost or duplicated and memory did not grow past warm-up by more than
``--rss-growth-mb``; else 1.

It is a benchmark, not a suite test: ``btcbot_pipeline_tests/test_soak.py`` runs 20 cycles.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 2, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)
PATHS = ("/api/v2/ticker", "/api/v2/orderbook", "/v1/klines/history", "/api/v2/server/exchangeinfo")
FAULTS = ("429", "500", "503", "timeout", "drip", "oversize", "down", "drop_symbol", "webhook")


class Hook:
    """A webhook receiver: answers ``status``; counts what it received."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if outer.status == 200:
                    outer.received.append(json.loads(body or b"{}").get("alert_id", ""))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook/soak"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _rss_mb() -> float:
    """This process's resident memory now (Linux /proc), MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def _project(root: Path, fake_url: str, hook_url: str, cycles: int) -> None:
    settings = {
        "MARKET_DATA_SOURCE": "btcturk",
        "BTCTURK_BASE_URL": fake_url,
        "BTCTURK_GRAPH_BASE_URL": fake_url,
        "ALERT_WEBHOOK_URL": hook_url,
        "STATE_DB_PATH": str(root / "book.duckdb"),
        "CYCLE_PARTITIONS_START": START.strftime("%Y-%m-%dT%H:%M"),
        "CYCLE_PARTITIONS_END": (START + STEP * cycles).strftime("%Y-%m-%dT%H:%M"),
        "STAGE7_UNIVERSE_WHITELIST": "BTCTRY,USDTTRY",
        "BACKTEST_DIR": str(root / "backtests"),
        # compressed time: a hung read costs 1 s, not 10 (the timeout fault holds 1.5 s); a
        # drip is cut at 2 s a call; a cycle's reads at 10 s; a webhook delivery at 2 s
        "BTCTURK_TIMEOUT_SEC": "1",
        "BTCTURK_CALL_DEADLINE_SEC": "2",
        "BTCTURK_CYCLE_DEADLINE_SEC": "10",
        "ALERT_WEBHOOK_DEADLINE_SEC": "2",
    }
    lines = [s for s in (REPO / ".env.example").read_text().splitlines() if s.split("=", 1)[0].strip() not in settings]
    (root / ".env").write_text("\n".join(lines + [f"{k}={v}" for k, v in settings.items()]) + "\n")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")


def _inject(fake: Any, hook: Hook, kind: str, rng: random.Random, available: tuple[str, ...]) -> str:
    """Apply one fault; returns what was injected (``kind@path``)."""
    if kind == "webhook":
        hook.status = 503
        return "webhook"
    if kind == "drop_symbol":
        fake.inject("*", "drop_symbol", times=-1, symbol="USDTTRY")
        return "drop_symbol@USDTTRY"
    path = rng.choice(PATHS)
    if kind not in available:
        kind = "503"  # a fake without that fault (older build): the nearest one
    fake.inject(path, kind, times=1, retry_after=1, delay_s=1.5)
    return f"{kind}@{path}"


def soak(
    cycles: int, seed: int, fault_rate: float, workdir: Path | None = None, quiet: bool = False, ephemeral: bool = False
) -> dict[str, Any]:
    from btcbot_pipeline.testing.fake_btcturk import FAULT_KINDS, FakeBtcturk, FakeMarket

    rng = random.Random(seed)
    root = Path(workdir or tempfile.mkdtemp(prefix="btcbot-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    fake, hook = FakeBtcturk(FakeMarket.demo()).start(), Hook()
    _project(root, fake.url, hook.url, cycles)
    before_cwd, before_home = os.getcwd(), os.environ.get("DAGSTER_HOME")
    os.chdir(root)
    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    try:
        import dagster as dg

        from btcbot_pipeline.definitions import build_definitions
        from btcbot_pipeline.settings import load_settings

        job = build_definitions(load_settings(".env")).resolve_job_def("cycle_job")
        # the daemon's instance (SQLite in DAGSTER_HOME: ~1 s of commits per run here), or in memory
        instance = dg.DagsterInstance.ephemeral() if ephemeral else dg.DagsterInstance.get()
        quiet_logs = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
        injected: dict[str, str] = {}
        failures: dict[str, str] = {}
        rss: list[float] = []
        started = time.perf_counter()
        for i in range(cycles):
            ts = START + STEP * i
            key = ts.strftime("%Y-%m-%dT%H:%M")
            fake.clock_offset_ms = int((ts.timestamp() - time.time()) * 1000)
            if rng.random() < fault_rate:
                injected[key] = _inject(fake, hook, rng.choice(FAULTS), rng, FAULT_KINDS)
            result = job.execute_in_process(
                partition_key=key, instance=instance, raise_on_error=False, run_config=quiet_logs
            )
            if not result.success:
                failures[key] = _why(result)
            fake.clear_faults()
            hook.status = 200
            rss.append(_rss_mb())
            if not quiet and (i + 1) % max(1, cycles // 10) == 0:
                print(
                    f"  {i + 1}/{cycles} cycles, {time.perf_counter() - started:.0f} s, RSS {rss[-1]:.0f} MB",
                    flush=True,
                )
        elapsed = time.perf_counter() - started
        return _report(root, cycles, injected, failures, rss, hook, elapsed)
    finally:
        os.chdir(before_cwd)
        if before_home is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before_home
        fake.stop()
        hook.close()


def _why(result: Any) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data is not None:
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                return user.description.splitlines()[0]
            error = event.step_failure_data.error
            return (error.message if error else "step failed").strip().splitlines()[0]
    return "run failed"


def _report(
    root: Path,
    cycles: int,
    injected: dict[str, str],
    failures: dict[str, str],
    rss: list[float],
    hook: Hook,
    elapsed: float,
) -> dict[str, Any]:
    import duckdb

    with duckdb.connect(str(root / "book.duckdb"), read_only=True) as con:
        per_cycle = dict(
            con.execute(
                "SELECT strftime(cycle_ts, '%Y-%m-%dT%H:%M'), count(*) FROM ledger_metrics GROUP BY 1"
            ).fetchall()
        )
        alerts = con.execute(
            "SELECT strftime(cycle_ts, '%Y-%m-%dT%H:%M'), rule, status FROM alerts ORDER BY cycle_ts"
        ).fetchall()
        modes = dict(con.execute("SELECT final_mode, count(*) FROM run_metrics GROUP BY 1").fetchall())
        degraded = con.execute("SELECT count(*) FROM market_cycles WHERE degraded_reason IS NOT NULL").fetchone()[0]
    keys = [(START + STEP * i).strftime("%Y-%m-%dT%H:%M") for i in range(cycles)]
    by_fault: dict[str, Counter[str]] = defaultdict(Counter)
    for key, rule, _status in alerts:
        if key in injected:
            by_fault[injected[key].split("@")[0]][rule] += 1
    warm = rss[max(0, len(rss) // 10 - 1)] if rss else 0.0
    return {
        "cycles_requested": cycles,
        "cycles_recorded": sum(1 for k in keys if per_cycle.get(k)),
        "cycles_lost": [k for k in keys if not per_cycle.get(k)],
        "cycles_duplicated": [k for k, n in per_cycle.items() if n > 1],
        "runs_failed": failures,
        "faults_injected": dict(Counter(v.split("@")[0] for v in injected.values())),
        "alerts_by_fault": {k: dict(v) for k, v in sorted(by_fault.items())},
        "alerts_by_status": dict(Counter(s for _, _, s in alerts)),
        "webhook_received": len(hook.received),
        "webhook_duplicates": len(hook.received) - len(set(hook.received)),
        "modes": modes,
        "degraded_cycles": degraded,
        "rss_mb": {
            "after_warmup": round(warm, 1),
            "peak": round(max(rss, default=0.0), 1),
            "end": round(rss[-1] if rss else 0.0, 1),
            "growth_after_warmup": round((rss[-1] - warm) if rss else 0.0, 1),
            "samples": [round(r, 1) for r in rss[:: max(1, len(rss) // 20)]],
        },
        "seconds": round(elapsed, 1),
        "cycles_per_s": round(cycles / elapsed, 2) if elapsed else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fault-rate", type=float, default=0.35)
    parser.add_argument("--rss-growth-mb", type=float, default=50.0, help="allowed growth after warm-up")
    parser.add_argument("--workdir", type=Path, help="keep the project here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    parser.add_argument(
        "--ephemeral-instance",
        action="store_true",
        help="record the runs in memory instead of the project's DAGSTER_HOME (the test's short soak)",
    )
    args = parser.parse_args(argv)
    report = soak(args.cycles, args.seed, args.fault_rate, args.workdir, ephemeral=args.ephemeral_instance)
    for name, value in report.items():
        if name == "rss_mb":
            value = {k: v for k, v in value.items() if k != "samples"}
        print(f"{name:<20} {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True))
    ok = (
        not report["cycles_lost"]
        and not report["cycles_duplicated"]
        and report["rss_mb"]["growth_after_warmup"] <= args.rss_growth_mb
    )
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
