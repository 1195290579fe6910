"""Benchmark of `btcbot backtest` as a whole process (not a test).

Every backtest is one ``btcbot backtest`` child process, timed from spawn to exit with
``time.perf_counter``; its peak RSS is the child's own ``ru_maxrss`` from ``os.wait4``
(the child and the grandchildren it waited for, never another run's). Each run gets a
fresh scratch working folder, an empty ``--env-file``, its own ``BACKTEST_DIR`` and an
environment scrubbed of every btcbot setting and of ``DAGSTER_HOME`` (so Dagster uses an
ephemeral in-memory instance), unless ``--dagster-home`` asks for a fresh temporary SQLite
instance per run (a copy of ``dagster_home/dagster.yaml``).

Modes:

- ``real`` (default): imports the real 10-pair Binance 5-minute bars with
  ``btcbot replay-import`` (timed once), then runs a 2-day backtest
  (2018-01-10T05:00 … 2018-01-12T05:00) and the full 20-day one (… 2018-01-30T05:00).
- ``scale``: writes deterministic synthetic datasets (``init_replay_dataset``, seed 42,
  one-minute rows) of 10 and of 100 pairs, and runs 2-day and 6-day backtests of 5-minute
  cycles on each: the cost of 10× more pairs at the same number of cycles.

Every backtest uses DRY_RUN_TRY_BALANCE=10000, STAGE7_UNIVERSE_SIZE=5,
MAX_ORDERS_PER_CYCLE=5, NOTIONAL_CAP_TRY_PER_CYCLE=10000; the book is persisted and the
quality gates are on (the product defaults). ``--repeat N`` runs each backtest N times,
interleaved, and reports the median with min–max. The marginal rate is
``(cycles_long - cycles_short) / (t_long - t_short)`` on medians: the cycles/s once the
process start, imports, dataset load and Dagster set-up are paid.

Usage::

    .venv/bin/python benchmarks/backtest.py                      # real data, 3 repeats
    .venv/bin/python benchmarks/backtest.py --mode scale --repeat 1
    .venv/bin/python benchmarks/backtest.py --dagster-home        # record in SQLite instances

Ends with a markdown table (figure | value) for a closing note. No network.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL_DATA = REPO.parent / "shared" / "data" / "binance-5m-2018"  # ../shared beside the clone
REAL_RATE = "100000"  # TRY per BTC for the 2018 BTC-quoted pairs, as the importer tests use
REAL_START = "2018-01-10T05:00"
REAL_END_SHORT = "2018-01-12T05:00"  # 2 days
REAL_END_LONG = "2018-01-30T05:00"  # 20 days: the whole import (last bar 2018-01-30T04:55)
SYNTH_START = datetime(2026, 1, 1, tzinfo=timezone.utc)
SYNTH_SEED = 42
SETTINGS = {
    "DRY_RUN_TRY_BALANCE": "10000",
    "STAGE7_UNIVERSE_SIZE": "5",
    "MAX_ORDERS_PER_CYCLE": "5",
    "NOTIONAL_CAP_TRY_PER_CYCLE": "10000",
}
DONE_LINE = re.compile(r"^done: (\d+) cycles in ([0-9.]+) s")


# --------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """One finished child process."""

    seconds: float
    cpu: float  # user + system seconds of the child (and the children it waited for)
    max_rss_kb: int
    returncode: int
    log: Path

    @property
    def rss_mib(self) -> float:
        return self.max_rss_kb / 1024


def run_timed(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> Proc:
    """Run ``cmd`` to completion; wall time from spawn to reap, the child's own peak RSS."""
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - t0
    # Reaped here: set the code so Popen never waits again.
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return Proc(seconds, cpu, usage.ru_maxrss, child.returncode, log)  # ru_maxrss: KiB on Linux


def fail(proc: Proc, what: str) -> None:
    tail = proc.log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
    sys.exit(f"{what} failed (exit {proc.returncode}); last lines of {proc.log}:\n" + "\n".join(tail))


def clean_env() -> dict[str, str]:
    """The environment minus DAGSTER_HOME and every btcbot setting (any case)."""
    from btcbot_pipeline.settings import BotSettings

    names = set()
    for name, info in BotSettings.model_fields.items():
        names.add(name.upper())
        if info.alias:
            names.add(info.alias.upper())
    names.add("DAGSTER_HOME")
    return {k: v for k, v in os.environ.items() if k.upper() not in names}


# --------------------------------------------------------------------------- backtests


@dataclass
class Backtest:
    """One backtest configuration and its runs."""

    label: str
    dataset: Path
    start: str
    end: str
    runs: list[Proc] = field(default_factory=list)
    cycles: list[int] = field(default_factory=list)
    # The "done: N cycles in X s" line of btcbot backtest (the Dagster run only).
    in_run: list[float] = field(default_factory=list)
    equity: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)
    instance_mib: list[float] = field(default_factory=list)
    warm_digests: list[str] = field(default_factory=list)  # of the untimed warm-up runs

    @property
    def t(self) -> float:
        return statistics.median(p.seconds for p in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(p.cpu for p in self.runs)

    @property
    def n(self) -> int:
        return self.cycles[0]

    def seconds_text(self) -> str:
        return spread([p.seconds for p in self.runs], "{:.2f} s")

    def cpu_text(self) -> str:
        return spread([p.cpu for p in self.runs], "{:.2f} s")

    def rss_text(self) -> str:
        return spread([p.rss_mib for p in self.runs], "{:.0f} MiB")


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.root = root
        self.btcbot = str(Path(args.btcbot).resolve())
        self.env = clean_env()
        self.empty_env = root / "empty.env"
        self.empty_env.write_text("", encoding="utf-8")
        self.count = 0

    def backtest_cmd(self, bt: Backtest, name: str) -> list[str]:
        cmd = [
            self.btcbot,
            "backtest",
            "--dataset",
            str(bt.dataset),
            "--start",
            bt.start,
            "--end",
            bt.end,
            "--name",
            name,
            "--env-file",
            str(self.empty_env),
        ]
        for key, value in SETTINGS.items():
            cmd += ["--set", f"{key}={value}"]
        return cmd

    def warm_up(self, bt: Backtest) -> None:
        """``--warmup`` untimed runs of ``bt`` (page cache, bytecode), figures dropped."""
        for _ in range(self.args.warmup):
            spare = Backtest(f"{bt.label} (warm-up)", bt.dataset, bt.start, bt.end)
            self.run(spare)
            bt.warm_digests += spare.digests

    def run(self, bt: Backtest) -> None:
        """One run of ``bt`` from a fresh scratch folder; appends its figures."""
        self.count += 1
        scratch = self.root / f"run{self.count:03d}"
        backtests = scratch / "backtests"
        backtests.mkdir(parents=True)
        env = dict(self.env, BACKTEST_DIR=str(backtests))
        home = None
        if self.args.dagster_home:
            home = scratch / "dagster_home"
            home.mkdir()
            shutil.copy(self.args.dagster_yaml, home / "dagster.yaml")
            env["DAGSTER_HOME"] = str(home)
        name = "bench"
        proc = run_timed(self.backtest_cmd(bt, name), cwd=scratch, env=env, log=scratch / "backtest.log")
        if proc.returncode != 0:
            fail(proc, f"backtest {bt.label}")
        book = backtests / f"{name}.duckdb"
        cycles, equity = read_book(book)
        done = [m for m in map(DONE_LINE.match, proc.log.read_text(encoding="utf-8").splitlines()) if m]
        bt.runs.append(proc)
        bt.cycles.append(cycles)
        bt.equity.append(equity)
        bt.in_run.append(float(done[-1].group(2)) if done else float("nan"))
        bt.digests.append(fingerprint(self.btcbot, book, cwd=scratch, env=env))
        if home is not None:
            bt.instance_mib.append(du(home) / 2**20)
        extra = f", instance {bt.instance_mib[-1]:.1f} MiB" if home is not None else ""
        print(
            f"  {bt.label:<26} #{len(bt.runs)}: {proc.seconds:7.2f} s, {cycles} cycles, peak RSS {proc.rss_mib:5.0f} "
            f"MiB, in-run {bt.in_run[-1]:.1f} s, equity {equity} TRY{extra}",
            flush=True,
        )
        if not self.args.keep:
            shutil.rmtree(scratch)


def read_book(book: Path) -> tuple[int, str]:
    import duckdb

    con = duckdb.connect(str(book), read_only=True)
    try:
        (cycles,) = con.execute("select count(*) from ledger_metrics").fetchone()
        row = con.execute("select equity_try from ledger_metrics order by cycle_ts desc limit 1").fetchone()
    finally:
        con.close()
    equity = f"{row[0]:.2f}" if row else "n/a"
    return int(cycles), equity


def fingerprint(btcbot: str, book: Path, *, cwd: Path, env: dict[str, str]) -> str:
    """The book's overall digest (the ``digest`` line of ``btcbot fingerprint``)."""
    out = subprocess.run(
        [btcbot, "fingerprint", str(book)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("digest"):
            return line.split()[-1]
    return out.stdout.splitlines()[0].strip()


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def spread(values: list[float], fmt: str) -> str:
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} (min {fmt.format(min(values))}, max {fmt.format(max(values))})"


def marginal(short: Backtest, long: Backtest, *, cpu: bool = False) -> float:
    """Cycles/s between the two windows (medians of wall or CPU seconds); NaN when the
    longer one was not slower."""
    dt = long.cpu - short.cpu if cpu else long.t - short.t
    return (long.n - short.n) / dt if dt > 0 else float("nan")


def rate_text(rate: float) -> str:
    if rate != rate:  # NaN
        return "n/a: the longer window was not slower (noise; use longer --days or more --repeat)"
    return f"{rate:,.0f} cycles/s ({1000 / rate:.2f} ms/cycle)"


def fixed_text(short: Backtest, rate: float, rate_cpu: float) -> str:
    """What a run costs beyond its cycles: process start, imports, dataset load, Dagster set-up."""
    wall = "n/a" if rate != rate else f"{short.t - short.n / rate:.2f} s"
    cpu = "n/a" if rate_cpu != rate_cpu else f"{short.cpu - short.n / rate_cpu:.2f} s"
    return f"{wall} wall, {cpu} CPU"


def ratio_text(a: float, b: float) -> str:
    return "n/a" if a != a or b != b else f"{a / b:.2f}×"


def check_same(bt: Backtest) -> str:
    """Cycles, equity and digest must not change between runs (warm-up runs included)."""
    digests = bt.digests + bt.warm_digests
    same = len(set(bt.cycles)) == len(set(bt.equity)) == len(set(digests)) == 1
    if not same:
        print(
            f"WARNING: {bt.label} differs between runs: cycles {bt.cycles}, equity {bt.equity}, digests {digests}",
            file=sys.stderr,
        )
        return "DIFFERS between runs (see stderr)"
    n = len(digests)
    warm = f", {len(bt.warm_digests)} of them warm-up" if bt.warm_digests else ""
    return f"identical in {n} run{'s' if n > 1 else ''}{warm}"


# --------------------------------------------------------------------------- modes


def mode_real(bench: Bench, rows: list[tuple[str, str]]) -> None:
    args = bench.args
    dataset = bench.root / "real10"
    print(f"importing {args.data} (rate {REAL_RATE} TRY/BTC) …", flush=True)
    bench.root.joinpath("import").mkdir()
    imp = run_timed(
        [
            bench.btcbot,
            "replay-import",
            "--ohlcv",
            str(args.data),
            "--quote",
            "TRY",
            "--rate",
            REAL_RATE,
            "--dataset",
            str(dataset),
        ],
        cwd=bench.root / "import",
        env=bench.env,
        log=bench.root / "import.log",
    )
    if imp.returncode != 0:
        fail(imp, "replay-import")
    pairs = len(list((dataset / "orderbook").glob("*.csv")))
    print(
        f"  replay-import: {imp.seconds:.2f} s, {pairs} pairs, peak RSS {imp.rss_mib:.0f} MiB",
        flush=True,
    )

    short = Backtest("real 10 pairs, 2-day", dataset, REAL_START, REAL_END_SHORT)
    long = Backtest("real 10 pairs, 20-day", dataset, REAL_START, REAL_END_LONG)
    bench.warm_up(short)
    for _ in range(args.repeat):
        bench.run(short)
        bench.run(long)
    rate, rate_cpu = marginal(short, long), marginal(short, long, cpu=True)
    rows += [
        ("dataset", f"real Binance 5m bars, {pairs} pairs ({args.data}), × {REAL_RATE} TRY/BTC"),
        ("replay-import (whole process)", f"{imp.seconds:.2f} s, peak RSS {imp.rss_mib:.0f} MiB"),
        (f"2-day backtest, whole process ({REAL_START} … {REAL_END_SHORT})", short.seconds_text()),
        (f"20-day backtest, whole process ({REAL_START} … {REAL_END_LONG})", long.seconds_text()),
        ("cycles (2-day / 20-day)", f"{short.n} / {long.n}"),
        ("CPU time user+sys (2-day / 20-day)", f"{short.cpu_text()} / {long.cpu_text()}"),
        ("in-run time printed by btcbot (2-day / 20-day)", in_run_text(short, long)),
        ("whole-process rate, 20-day", f"{long.n / long.t:,.0f} cycles/s"),
        ("marginal rate (cycles_20 − cycles_2) / (t_20 − t_2)", rate_text(rate)),
        ("marginal rate on CPU time", rate_text(rate_cpu)),
        ("fixed cost (t_2 − cycles_2 / marginal rate)", fixed_text(short, rate, rate_cpu)),
        ("peak RSS (2-day / 20-day)", f"{short.rss_text()} / {long.rss_text()}"),
        ("final equity, 20-day", f"{long.equity[0]} TRY"),
        ("fingerprint digest, 20-day", f"`{long.digests[0]}` ({check_same(long)})"),
        ("fingerprint digest, 2-day", f"`{short.digests[0]}` ({check_same(short)})"),
    ]
    if bench.args.dagster_home:
        rows.append(("Dagster SQLite instance size (2-day / 20-day)", instance_text(short, long)))


def in_run_text(short: Backtest, long: Backtest) -> str:
    return f"{statistics.median(short.in_run):.1f} s / {statistics.median(long.in_run):.1f} s"


def instance_text(short: Backtest, long: Backtest) -> str:
    a, b = statistics.median(short.instance_mib), statistics.median(long.instance_mib)
    return f"{a:.1f} MiB / {b:.1f} MiB"


def rss(bt: Backtest) -> float:
    return statistics.median(p.rss_mib for p in bt.runs)


def synth_symbols(pairs: int) -> list[str]:
    """The 12 default pairs first (sorted), then generic ``SYNnnnTRY`` pairs: 10 ⊂ 100."""
    from btcbot_pipeline.adapters.replay.synth import DEFAULT_PAIRS

    names = sorted(DEFAULT_PAIRS)
    names += [f"SYN{i:03d}TRY" for i in range(max(0, pairs - len(names)))]
    return names[:pairs]


def mode_scale(bench: Bench, rows: list[tuple[str, str]]) -> None:
    from btcbot_pipeline.adapters.replay.synth import init_replay_dataset

    args = bench.args
    small, large = args.pairs
    short_days, long_days = args.days
    start = SYNTH_START
    fmt = "%Y-%m-%dT%H:%M"
    end_short = (start + timedelta(days=short_days)).strftime(fmt)
    end_long = (start + timedelta(days=long_days)).strftime(fmt)
    configs: dict[int, tuple[Backtest, Backtest]] = {}
    for pairs in (small, large):
        dataset = bench.root / f"synth{pairs}"
        t0 = time.perf_counter()
        init_replay_dataset(
            dataset,
            seed=SYNTH_SEED,
            start=start,
            minutes=long_days * 1440,
            symbols=synth_symbols(pairs),
        )
        print(
            f"synthetic dataset: {pairs} pairs × {long_days * 1440} one-minute rows in {time.perf_counter() - t0:.1f} "
            f"s ({du(dataset) / 2**20:.0f} MiB)",
            flush=True,
        )
        configs[pairs] = (
            Backtest(f"synth {pairs} pairs, {short_days}-day", dataset, start.strftime(fmt), end_short),
            Backtest(f"synth {pairs} pairs, {long_days}-day", dataset, start.strftime(fmt), end_long),
        )
    bench.warm_up(configs[small][0])
    for _ in range(args.repeat):
        for pairs in (small, large):
            for bt in configs[pairs]:
                bench.run(bt)
    (s_short, s_long), (l_short, l_long) = configs[small], configs[large]
    rates = {n: (marginal(*configs[n]), marginal(*configs[n], cpu=True)) for n in (small, large)}
    rows.append(
        (
            "dataset",
            f"synthetic (init_replay_dataset seed {SYNTH_SEED}, one-minute rows from "
            f"{start.strftime(fmt)}, {long_days} days): {small} and {large} pairs, "
            f"{small} ⊂ {large}; 5-minute cycles",
        )
    )
    d1, d2 = f"{short_days}-day", f"{long_days}-day"
    for pairs in (small, large):
        bt_s, bt_l = configs[pairs]
        rate, rate_cpu = rates[pairs]
        rows += [
            (f"{pairs} pairs: {d1} backtest, whole process", bt_s.seconds_text()),
            (f"{pairs} pairs: {d2} backtest, whole process", bt_l.seconds_text()),
            (f"{pairs} pairs: cycles ({d1} / {d2})", f"{bt_s.n} / {bt_l.n}"),
            (
                f"{pairs} pairs: CPU time user+sys ({d1} / {d2})",
                f"{bt_s.cpu_text()} / {bt_l.cpu_text()}",
            ),
            (
                f"{pairs} pairs: in-run time printed by btcbot ({d1} / {d2})",
                in_run_text(bt_s, bt_l),
            ),
            (f"{pairs} pairs: marginal rate", rate_text(rate)),
            (f"{pairs} pairs: marginal rate on CPU time", rate_text(rate_cpu)),
            (f"{pairs} pairs: fixed cost", fixed_text(bt_s, rate, rate_cpu)),
            (f"{pairs} pairs: peak RSS ({d1} / {d2})", f"{bt_s.rss_text()} / {bt_l.rss_text()}"),
            (f"{pairs} pairs: final equity, {d2}", f"{bt_l.equity[0]} TRY"),
            (
                f"{pairs} pairs: fingerprint digest, {d2}",
                f"`{bt_l.digests[0]}` ({check_same(bt_l)})",
            ),
        ]
        check_same(bt_s)
        if bench.args.dagster_home:
            rows.append(
                (
                    f"{pairs} pairs: Dagster SQLite instance size ({d1} / {d2})",
                    instance_text(bt_s, bt_l),
                )
            )
    ratio = f"{large} vs {small} pairs"
    (r_small, c_small), (r_large, c_large) = rates[small], rates[large]
    rows += [
        (
            f"cost ratio {ratio}, whole process ({d1} / {d2})",
            f"{ratio_text(l_short.t, s_short.t)} / {ratio_text(l_long.t, s_long.t)}",
        ),
        (
            f"cost ratio {ratio}, CPU time ({d1} / {d2})",
            f"{ratio_text(l_short.cpu, s_short.cpu)} / {ratio_text(l_long.cpu, s_long.cpu)}",
        ),
        (
            f"cost ratio {ratio}, marginal s/cycle (wall / CPU)",
            f"{ratio_text(r_small, r_large)} / {ratio_text(c_small, c_large)}",
        ),
        (
            f"peak RSS ratio {ratio} ({d1} / {d2})",
            f"{ratio_text(rss(l_short), rss(s_short))} / {ratio_text(rss(l_long), rss(s_long))}",
        ),
    ]


# --------------------------------------------------------------------------- main


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_btcbot = REPO / ".venv" / "bin" / "btcbot"
    p = argparse.ArgumentParser(
        prog="benchmarks/backtest.py",
        description="Time `btcbot backtest` as whole processes (wall time, peak RSS, cycles/s) on the real 2018 "
        "10-pair dataset (mode real) or on synthetic 10- vs 100-pair datasets (mode scale). "
        "Prints a markdown table at the end. Not a test; no network.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--mode",
        choices=("real", "scale"),
        default="real",
        help="real: replay-import the Binance files, 2-day and 20-day backtests; "
        "scale: synthetic 10 vs 100 pairs, same cycles",
    )
    p.add_argument("--repeat", type=int, default=3, help="runs of each backtest (median, min, max reported)")
    p.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="untimed runs of the shortest backtest first (file cache, Python bytecode); 0 to skip",
    )
    p.add_argument(
        "--dagster-home",
        action="store_true",
        help="record each run in a fresh temporary SQLite Dagster instance (copy of --dagster-yaml) "
        "instead of an ephemeral in-memory one",
    )
    p.add_argument(
        "--dagster-yaml",
        type=Path,
        default=REPO / "dagster_home" / "dagster.yaml",
        help="instance settings copied into each temporary DAGSTER_HOME",
    )
    p.add_argument(
        "--data",
        type=Path,
        default=REAL_DATA,
        help="mode real: folder of the Freqtrade *_BTC-5m files",
    )
    p.add_argument(
        "--pairs",
        type=int,
        nargs=2,
        default=(10, 100),
        metavar=("SMALL", "LARGE"),
        help="mode scale: pair counts compared",
    )
    p.add_argument(
        "--days",
        type=int,
        nargs=2,
        default=(2, 6),
        metavar=("SHORT", "LONG"),
        help="mode scale: backtest lengths in days (5-minute cycles); the marginal rate is taken between them",
    )
    p.add_argument("--btcbot", default=str(default_btcbot), help="the btcbot executable to time")
    p.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="work in DIR (must be empty or missing) and keep datasets, books and logs; default: a temp dir, removed",
    )
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    if args.mode == "scale" and not (0 < args.days[0] < args.days[1]):
        p.error("--days SHORT LONG: 0 < SHORT < LONG")
    if args.mode == "real" and not args.data.is_dir():
        p.error(f"--data {args.data}: no such folder")
    if args.dagster_home and not args.dagster_yaml.is_file():
        p.error(f"--dagster-yaml {args.dagster_yaml}: no such file")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        if any(args.keep.iterdir()):
            sys.exit(f"--keep {args.keep}: folder is not empty")
        root = args.keep.resolve()
    else:
        root = Path(tempfile.mkdtemp(prefix="btcbot-bench-"))
    command = shlex.join(sys.orig_argv) if argv is None else shlex.join(["benchmarks/backtest.py", *argv])
    load = os.getloadavg()
    started = datetime.now(timezone.utc)
    print(
        f"{command}\nwork folder {root}, instance {'temporary SQLite' if args.dagster_home else 'ephemeral'}, "
        f"load average {load[0]:.2f}",
        flush=True,
    )
    rows: list[tuple[str, str]] = [("mode", args.mode)]
    try:
        bench = Bench(args, root)
        t0 = time.perf_counter()
        (mode_real if args.mode == "real" else mode_scale)(bench, rows)
        total = time.perf_counter() - t0
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    settings = " ".join(f"--set {k}={v}" for k, v in SETTINGS.items())
    rows += [
        (
            "repeats",
            f"{args.repeat} (figures are medians; min/max when > 1), after {args.warmup} untimed warm-up run(s)",
        ),
        (
            "Dagster instance",
            "temporary SQLite DAGSTER_HOME per run" if args.dagster_home else "ephemeral (no DAGSTER_HOME)",
        ),
        ("backtest settings", f"`{settings}`, empty --env-file, book persisted, gates on"),
        (
            "machine",
            f"{os.cpu_count()} CPUs, load average {load[0]:.2f} at start, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}",
        ),
        ("code", f"commit {git_commit()}, {started:%Y-%m-%d %H:%M} UTC"),
        ("benchmark wall time", f"{total:.0f} s"),
        ("command", f"`{command}`"),
    ]
    print("\n| figure | value |\n|---|---|")
    for figure, value in rows:
        print(f"| {figure} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
