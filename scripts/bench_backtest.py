"""Benchmark of ``btcbot backtest`` against two peer backtests, as whole processes (not a test).

Every figure is one child process timed from spawn to exit: wall (``time.perf_counter``), CPU
(user + system from ``os.wait4``) and peak memory (``ru_maxrss`` from ``os.wait4``: the largest
of the child and the descendants it waited for, KiB on Linux). Each child runs in a new session;
any process still in that session after it exits is counted as left behind, and killed.

Runs, each round (default 3), ours and a peer alternated (the order flips every other round):

- ours on the real 10 pairs (``../shared/data/binance-5m-2018`` through ``btcbot replay-import``),
  20 days (5,760 cycles) and 2 days (576), in the trading configuration (examples/backtest.env
  with the Stage 7 loss latches out of the way) and the default one (examples/backtest.env);
- ours on 100 pairs, 2 days, trading configuration: the 10 real pairs and, for each, 9 more
  made from its candles rolled in time by k·37 bars (k = 1…9), imported the same way;
- the peers of ``../shared/peers/`` (backtrader, vectorbt) on the same candles, each in its own
  virtual environment under ``.bench/`` (made once); vectorbt runs once before timing (numba cache).

Figures are medians over rounds; the marginal rate is (5,760 − 576) / (t20 − t2) on medians,
shown on wall and on CPU seconds (the latter drifts less when others load the machine).
Usage::

    .venv/bin/python scripts/bench_backtest.py [--rounds 3] [--json runs.json]
    .venv/bin/python scripts/bench_backtest.py --skip-peers --skip-100 --only trading
    .venv/bin/python scripts/bench_backtest.py --backtrader-python /tmp/pbt/bin/python \\
        --vectorbt-python /tmp/pvb/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DATA = SHARED / "data" / "binance-5m-2018"
PEERS = SHARED / "peers"
BTCBOT = str(REPO / ".venv" / "bin" / "btcbot")
START, END2, END20 = "2018-01-10T05:00", "2018-01-12T05:00", "2018-01-30T05:00"
CYCLES2, CYCLES20 = 576, 5760
CONFIGS = {
    "trading": ["--set", "STAGE7_MAX_DAILY_LOSS_TRY=1000000", "--set", "STAGE7_MAX_DRAWDOWN_PCT=0.99"],
    "default": [],
}
PEER_PACKAGES = {"backtrader": ["backtrader", "pandas", "pyarrow"], "vectorbt": ["vectorbt", "pyarrow"]}
SHIFT_BARS = 37  # the k-th derived copy of a pair is its candles rolled k·37 bars earlier


def run(argv: list[str], work: Path, label: str, env: dict[str, str] | None = None) -> dict:
    """One child process, waited with ``os.wait4``; output goes to ``work/<label>.out|err``."""
    out, err = work / f"{label}.out", work / f"{label}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        began = time.perf_counter()
        child = subprocess.Popen(argv, cwd=REPO, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
    text = out.read_text(errors="replace")
    record = {
        "label": label,
        "argv": argv,
        "returncode": child.returncode,
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "maxrss_kib": usage.ru_maxrss,
        "left_behind": kill_session(child.pid),
        "stdout_tail": text.strip().splitlines()[-3:],
    }
    done = re.findall(r"^done: (\d+) cycles", text, re.M) or re.findall(r"cycles=(\d+)", text)
    record["cycles"] = int(done[-1]) if done else None
    if child.returncode != 0:
        print(f"  ! {label} exited {child.returncode}: {err.read_text(errors='replace')[-800:]}", file=sys.stderr)
    return record


def kill_session(sid: int) -> int:
    """Kill every live process whose session id (``/proc/PID/stat`` field 6) is ``sid``; count them."""
    found = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == sid and fields[0] != "Z":
            found += 1
            try:
                os.kill(int(stat.parent.name), signal.SIGKILL)
            except ProcessLookupError:
                pass
    return found


def checked(argv: list[str], work: Path, label: str, env: dict[str, str] | None = None) -> dict:
    record = run(argv, work, label, env)
    if record["returncode"] != 0:
        sys.exit(f"{label} failed: see {work / (label + '.err')}")
    return record


def hundred_pairs_source(work: Path) -> Path:
    """10 real pairs + 9 copies of each, its candles rolled k·37 bars (dates kept): 100 pairs."""
    import pyarrow as pa
    import pyarrow.feather as feather

    folder = work / "ohlcv100"
    folder.mkdir()
    for path in sorted(DATA.glob("*_BTC-5m.feather")):
        base = path.name.split("_")[0]
        table = feather.read_table(path)
        shutil.copyfile(path, folder / path.name)
        for k in range(1, 10):
            shift = (k * SHIFT_BARS) % table.num_rows
            columns = [
                table[name]
                if name == "date"
                else pa.concat_arrays([table[name].combine_chunks()[shift:], table[name].combine_chunks()[:shift]])
                for name in table.column_names
            ]
            rolled = pa.table(columns, names=table.column_names)
            feather.write_feather(rolled, folder / f"{base}{'ABCDEFGHI'[k - 1]}_BTC-5m.feather")
    return folder


def peer_python(name: str, given: str | None, work: Path) -> str:
    """The given interpreter, or ``.bench/<name>`` made once with ``python -m venv`` and pip."""
    if given:
        return given
    venv = REPO / ".bench" / name
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        print(f"making {venv} (pip install {' '.join(PEER_PACKAGES[name])}) ...", flush=True)
        checked([sys.executable, "-m", "venv", "--clear", str(venv)], work, f"venv-{name}")
        checked([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[name]], work, f"pip-{name}")
        (venv / ".ready").write_text("")
    return str(python)


def median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r["returncode"] == 0]
    return statistics.median(values) if values else None


def table(runs: list[dict], configs: list[str], peers: list[str]) -> str:
    def of(label: str) -> list[dict]:
        return [r for r in runs if r["label"].rsplit("-r", 1)[0] == label]

    columns = [f"ours {c}" for c in configs] + peers
    source = {f"ours {c}": f"{c}-20d" for c in configs} | {p: p for p in peers}
    rows: dict[str, dict[str, float | None]] = {
        "wall, 5,760 cycles (s)": {c: median(of(source[c]), "wall_s") for c in columns},
        "CPU user+sys (s)": {c: median(of(source[c]), "cpu_s") for c in columns},
        "peak RSS, largest process (MiB)": {
            c: (v / 1024 if (v := median(of(source[c]), "maxrss_kib")) else None) for c in columns
        },
    }
    walls = rows["wall, 5,760 cycles (s)"]
    rows["cycles/s, whole process"] = {c: (CYCLES20 / v if v else None) for c, v in walls.items()}
    rows["wall, 576 cycles (s)"] = {f"ours {c}": median(of(f"{c}-2d"), "wall_s") for c in configs}
    rows["marginal cycles/s (5,184 / (t20 − t2))"] = {
        f"ours {c}": (CYCLES20 - CYCLES2) / (t20 - t2)
        for c in configs
        if (t20 := median(of(f"{c}-20d"), "wall_s")) and (t2 := median(of(f"{c}-2d"), "wall_s")) and t20 > t2
    }
    rows["marginal cycles/s on CPU (5,184 / (cpu20 − cpu2))"] = {
        f"ours {c}": (CYCLES20 - CYCLES2) / (c20 - c2)
        for c in configs
        if (c20 := median(of(f"{c}-20d"), "cpu_s")) and (c2 := median(of(f"{c}-2d"), "cpu_s")) and c20 > c2
    }
    for key, what in (("wall_s", "wall"), ("cpu_s", "CPU")):
        if of("trading-100pairs-2d") and (t10 := median(of("trading-2d"), key)):
            t100 = median(of("trading-100pairs-2d"), key)
            rows[f"{what} 100 pairs / 10 pairs (trading, 2 days)"] = {"ours trading": t100 / t10 if t100 else None}
    if of("trading-100pairs-2d") and (m100 := median(of("trading-100pairs-2d"), "maxrss_kib")):
        rows["peak RSS 100 pairs, 2 days (MiB)"] = {"ours trading": m100 / 1024}
    mine = {c: [r for r in runs if r["label"].startswith(source[c].split("-")[0])] for c in columns}
    rows["processes left behind (all runs)"] = {c: sum(r["left_behind"] for r in mine[c]) for c in columns}
    rows["failed runs (exit ≠ 0, left out above)"] = {c: sum(r["returncode"] != 0 for r in mine[c]) for c in columns}
    ratios = [(c, p) for c in columns[: len(configs)] for p in peers]
    head = ["figure", *columns, *(f"{c.split()[1]} / {p}" for c, p in ratios)]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, values in rows.items():
        cells = [fmt(values.get(c)) for c in columns]
        for c, p in ratios:
            a, b = values.get(c), values.get(p)
            cells.append(f"{a / b:.2f}×" if a and b and "runs" not in name else "")
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)


def fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=sorted(CONFIGS))
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--skip-100", action="store_true")
    parser.add_argument("--backtrader-python", help="an interpreter with backtrader, pandas, pyarrow")
    parser.add_argument("--vectorbt-python", help="an interpreter with vectorbt, pyarrow")
    parser.add_argument("--json", type=Path, help="write the raw runs here")
    args = parser.parse_args()
    configs = [args.only] if args.only else list(CONFIGS)
    work = Path(tempfile.mkdtemp(prefix="bench_backtest_"))
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # an ephemeral Dagster instance
    (work / "empty.env").write_text("")
    try:

        def importer(source: Path, name: str) -> Path:
            print(f"importing {source.name} → {name} ...", flush=True)
            checked(
                [
                    BTCBOT,
                    "replay-import",
                    "--ohlcv",
                    str(source),
                    "--quote",
                    "TRY",
                    "--rate",
                    "100000",
                    "--dataset",
                    str(work / name),
                ],
                work,
                f"import-{name}",
            )
            return work / name

        real10 = importer(DATA, "real10")
        peers: dict[str, str] = {}
        if not args.skip_peers:
            peers = {p: peer_python(p, getattr(args, f"{p}_python"), work) for p in PEER_PACKAGES}
            print("warming vectorbt (numba cache) ...", flush=True)
            checked([peers["vectorbt"], str(PEERS / "vectorbt_rebalance.py"), str(DATA)], work, "vectorbt-warmup")

        def ours(config: str, end: str, dataset: Path) -> list[str]:
            return [
                BTCBOT,
                "backtest",
                "--dataset",
                str(dataset),
                "--start",
                START,
                "--end",
                end,
                "--name",
                "bench",
                "--replace",
                "--params",
                "examples/backtest.env",
                "--env-file",
                str(work / "empty.env"),
                *CONFIGS[config],
            ]

        mine = [(f"{c}-20d", ours(c, END20, real10)) for c in configs] + [
            (f"{c}-2d", ours(c, END2, real10)) for c in configs
        ]
        if not args.skip_100 and "trading" in configs:
            mine.append(
                ("trading-100pairs-2d", ours("trading", END2, importer(hundred_pairs_source(work), "pairs100")))
            )
        theirs = [(p, [py, str(PEERS / f"{p}_rebalance.py"), str(DATA)]) for p, py in peers.items()]
        runs: list[dict] = []
        for n in range(1, args.rounds + 1):
            pairs = [(b, a) if n % 2 == 0 else (a, b) for a, b in zip_longest(mine, theirs)]
            for label, argv in (item for pair in pairs for item in pair if item):
                backtests = work / "backtests" / f"{label}-r{n}"
                backtests.mkdir(parents=True)
                record = run(argv, work, f"{label}-r{n}", env | {"BACKTEST_DIR": str(backtests)})
                shutil.rmtree(backtests)
                record["round"] = n
                runs.append(record)
                print(
                    f"round {n} {label}: {record['wall_s']:.2f} s wall, {record['cpu_s']:.2f} s CPU, "
                    f"{record['maxrss_kib'] / 1024:.0f} MiB, cycles {record['cycles']}, "
                    f"left behind {record['left_behind']}",
                    flush=True,
                )
        print(
            f"\nMedians of {args.rounds} round(s), whole processes; peers on the same 10 pairs, 5,760 bars. "
            f"100 pairs = 10 real + 9 time-rolled copies of each (k·{SHIFT_BARS} bars), window "
            f"{START} … {END2}.\n"
        )
        print(table(runs, configs, list(peers)))
        if args.json:
            args.json.write_text(json.dumps({"rounds": args.rounds, "runs": runs}, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
