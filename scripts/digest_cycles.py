"""Digest of every stage of every cycle, to prove that a speed-up changed no result (not a test).

Each variant builds its snapshots (replay dataset → ``finalize_snapshot`` →
``exclude_unusable_rules``), selects universes and folds the cycles, as the Dagster assets
do, and hashes with SHA-256 the canonical JSON (``payloads.dumps``) of every stage of every
cycle: market cycle and symbol payloads, universe, plan (mode and rules stats included),
effective rules, intents, fills, order events, ledger metrics and state, and the risk
decision with its state. Chunked variants carry the ledger and the risk state between
windows through their payloads, as consecutive Dagster runs do.

Variants (all datasets from ``init_replay_dataset(seed=42)`` starting 2026-01-01):

- ``base``: one day, 288 five-minute cycles, the bench's demo settings, one fold;
- ``small_universe``: 3 symbols, cash target 2000, slippage 60 bps, fee 10 bps, 3 orders
  per cycle, folded in windows of 12 cycles;
- ``risk_trips``: 12 symbols, daily-loss 20 TRY and drawdown 0.3 % limits that trip, a
  30 min cooldown, windows of 24 cycles and an operator clear at the 7th window;
- ``damaged_skip`` / ``damaged_observe`` / ``damaged_fallback``: two days with a book gap,
  a candle gap, a truncated book, a missing ticker, a repeated candle, a symbol with a bad
  number, missing and halted rules, candles that stop for more than a day; cycles at
  hh:m5:30 under the three metadata policies (``skip_symbol``, ``observe_only_cycle`` with a
  universe of 3, ``STAGE7_RULES_REQUIRE_METADATA=false``);
- ``noticker``: one day without ticker files (24 h stats from candles), 10 symbols, volume
  and spread screens, a 5-close volatility lookback;
- ``kill_switch``: 48 cycles with ``KILL_SWITCH=true``;
- ``dataset`` / ``dataset_trading``: ``--dataset DIR`` (e.g. a ``btcbot replay-import`` of
  real pairs), every five minutes from its first to its last book row: demo settings, and
  risk limits that never trip with a universe of 4 in daily windows.

Usage::

    python scripts/digest_cycles.py [--check] [--bulk] [--only NAME ...] [--dataset DIR]

``--check`` exits 1 if a digest differs from :data:`EXPECTED` (the digests of the code
before the speed-up, commit ebdb8b3). ``--bulk`` builds snapshots and universes with the
range functions instead of one cycle at a time. To compare a dataset variant with older
code, run this script with ``PYTHONPATH`` pointing at an export of that code
(``git archive <commit> | tar -x -C /tmp/old``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from btcbot_pipeline.adapters.replay.dataset import ReplayDataset
from btcbot_pipeline.adapters.replay.synth import init_replay_dataset
from btcbot_pipeline.domain import payloads
from btcbot_pipeline.domain import universe as universe_module
from btcbot_pipeline.domain.cycle import CycleResult, run_cycles
from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
from btcbot_pipeline.domain.ledger import LedgerState
from btcbot_pipeline.domain.market import MarketSnapshot, finalize_snapshot
from btcbot_pipeline.domain.params import CycleParams
from btcbot_pipeline.domain.payloads import risk_state_from_payload, risk_state_payload
from btcbot_pipeline.domain.risk import RiskClear, RiskState
from btcbot_pipeline.domain.universe import UniverseSelection, select_universe
from btcbot_pipeline.settings import load_settings

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEMO = dict(
    STAGE7_ENABLED="true",
    KILL_SWITCH="false",
    DRY_RUN_TRY_BALANCE="10000",
    STAGE7_UNIVERSE_SIZE="5",
    MAX_ORDERS_PER_CYCLE="5",
    NOTIONAL_CAP_TRY_PER_CYCLE="10000",
)

# Digests of the code before the speed-up (commit ebdb8b3), per variant.
EXPECTED: dict[str, str] = {
    "base": "139383f489c1995c454aff1b88c99b50b5fd2c0df1e8d07bb7ddadd492c24cae",
    "small_universe": "7a1e656c6c73d460a6dada1b1f0ec88ba283a00b236cf06e3b2affb067162f90",
    "risk_trips": "b5602a664dca5676f72f7c10602549415bf4ff1a17fb47caf13985dc00cd4c1c",
    "damaged_skip": "9ed7e0163a2639719ca70e9d5abbfefaea0905a376ef49df24e37c135f45b7be",
    "damaged_observe": "999bc209513059cee3e3cf2ac373e9648b095d8c90ccb5924edd15fa7bfaf746",
    "damaged_fallback": "4dccc8ce05317b0faee160079b83f3b14fecda14ec20ddb8b971f02c83e5d560",
    "noticker": "347bc147442752254d58d37f74df846da3b176d899675fe4431103d79a323f8b",
    "kill_switch": "55f41f18315ff20698718d7c5ca51fcfb1b28a28d646175e5e347147bb3dc52a",
}


# --dataset variants: the digests of the code before the speed-up, by dataset fingerprint.
TRADING = {
    **DEMO,
    "STAGE7_UNIVERSE_SIZE": "4",
    "STAGE7_MAX_DRAWDOWN_PCT": "0.95",
    "STAGE7_MAX_DAILY_LOSS_TRY": "1000000",
}
EXPECTED_BY_DATASET: dict[str, dict[str, str]] = {
    # /tmp/real10: `btcbot replay-import` of ten Binance 5m pairs, January 2018 (5,760 cycles)
    "690ceab8859aa4b52bddcd2c6b9739d8a358e796c12b77ab373eac3939ef2317": {
        "dataset": "b8cf48dd78240bcf2c1db9edefe5a2e9d788eceb482e0b613f2027b2bec77bc4",
        "dataset_trading": "1e526c8691132c8f3d2cb0456a908a83b05292de7fd7289c8c8e78553deee9aa",
    },
}


def dataset_fingerprint(root: Path) -> str:
    """SHA-256 over every file of a dataset folder (relative path and bytes)."""
    sha = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        sha.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


@dataclass(frozen=True)
class Variant:
    dataset: str
    overrides: dict[str, str]
    times: tuple[datetime, ...]
    chunk: int = 0  # cycles per window; 0 = the whole range in one fold
    clear_at_chunk: int | None = None
    notes: dict[str, str] = field(default_factory=dict)


def _every(start: datetime, count: int, step_min: int = 5) -> tuple[datetime, ...]:
    return tuple(start + timedelta(minutes=step_min * k) for k in range(count))


VARIANTS: dict[str, Variant] = {
    "base": Variant("synth1d", DEMO, _every(START, 288)),
    "small_universe": Variant(
        "synth1d",
        {
            **DEMO,
            "STAGE7_UNIVERSE_SIZE": "3",
            "TRY_CASH_TARGET": "2000",
            "TRY_CASH_MAX": "3000",
            "STAGE7_SLIPPAGE_BPS": "60",
            "STAGE7_FEES_BPS": "10",
            "MAX_ORDERS_PER_CYCLE": "3",
            "NOTIONAL_CAP_TRY_PER_CYCLE": "1500",
        },
        _every(START, 288),
        chunk=12,
    ),
    "risk_trips": Variant(
        "synth1d",
        {
            **DEMO,
            "STAGE7_UNIVERSE_SIZE": "12",
            "STAGE7_MAX_DAILY_LOSS_TRY": "20",
            "STAGE7_MAX_DRAWDOWN_PCT": "0.003",
            "STAGE7_RISK_COOLDOWN_SEC": "1800",
        },
        _every(START, 288),
        chunk=24,
        clear_at_chunk=6,
    ),
    "damaged_skip": Variant(
        "damaged2d",
        {**DEMO, "STAGE7_UNIVERSE_SIZE": "6"},
        _every(START + timedelta(seconds=30), 576),
    ),
    "damaged_observe": Variant(
        "damaged2d",
        {**DEMO, "STAGE7_UNIVERSE_SIZE": "3", "STAGE7_RULES_INVALID_METADATA_POLICY": "observe_only_cycle"},
        _every(START + timedelta(seconds=30), 576),
        chunk=48,
    ),
    "damaged_fallback": Variant(
        "damaged2d",
        {**DEMO, "STAGE7_UNIVERSE_SIZE": "6", "STAGE7_RULES_REQUIRE_METADATA": "false"},
        _every(START + timedelta(seconds=30), 576),
    ),
    "noticker": Variant(
        "noticker1d",
        {
            **DEMO,
            "STAGE7_UNIVERSE_SIZE": "10",
            "STAGE7_MIN_QUOTE_VOLUME_TRY": "30000000",
            "STAGE7_MAX_SPREAD_BPS": "8",
            "STAGE7_VOL_LOOKBACK": "5",
        },
        _every(START, 288),
    ),
    "kill_switch": Variant("synth1d", {**DEMO, "KILL_SWITCH": "true"}, _every(START, 48)),
}


def _damage(root: Path) -> None:
    """Gaps, stale rows, a bad symbol and bad rules in a two-day synthetic dataset."""

    def keep(path: Path, drop: Any) -> None:
        lines = path.read_text().splitlines(keepends=True)
        path.write_text(lines[0] + "".join(line for line in lines[1:] if not drop(line[:20])))

    day2 = "2026-01-02T"
    keep(root / "orderbook/ADATRY.csv", lambda ts: ts.startswith(day2 + "02:") and ts > day2 + "02:00")
    keep(root / "orderbook/ADATRY.csv", lambda ts: ts.startswith("2026-01-01T07:1"))
    keep(root / "candles/AVAXTRY.csv", lambda ts: day2 + "05:01" <= ts[:16] <= day2 + "05:44")
    keep(root / "candles/BTCTRY.csv", lambda ts: "2026-01-01T23:30" <= ts[:16] <= day2 + "00:40")
    keep(root / "orderbook/LINKTRY.csv", lambda ts: ts[:16] > day2 + "20:00")
    keep(root / "candles/XRPTRY.csv", lambda ts: ts[:16] > "2026-01-01T20:00")  # > 24 h without a candle
    (root / "ticker/DOGETRY.csv").unlink()
    candles = root / "candles/LTCTRY.csv"
    lines = candles.read_text().splitlines(keepends=True)
    candles.write_text("".join(lines[:100] + [lines[99]] + lines[100:]))  # a repeated row: later wins
    book = root / "orderbook/DOTTRY.csv"
    lines = book.read_text().splitlines(keepends=True)
    lines[700] = lines[700].split(",")[0] + ",abc,1\n"
    book.write_text("".join(lines))
    info_path = root / "exchangeinfo.json"
    info = json.loads(info_path.read_text())
    info["data"]["symbols"] = [s for s in info["data"]["symbols"] if s["name"] != "ETHTRY"]
    for entry in info["data"]["symbols"]:
        if entry["name"] == "SOLTRY":
            entry["status"] = "HALT"
    info_path.write_text(json.dumps(info))


def build_datasets(tmp: Path, names: set[str]) -> dict[str, ReplayDataset]:
    out: dict[str, ReplayDataset] = {}
    if "synth1d" in names:
        init_replay_dataset(tmp / "synth1d", seed=42, start=START, minutes=1440)
        out["synth1d"] = ReplayDataset.load(tmp / "synth1d")
    if "noticker1d" in names:
        init_replay_dataset(tmp / "noticker1d", seed=42, start=START, minutes=1440, with_ticker=False)
        out["noticker1d"] = ReplayDataset.load(tmp / "noticker1d")
    if "damaged2d" in names:
        init_replay_dataset(tmp / "damaged2d", seed=42, start=START, minutes=2880)
        _damage(tmp / "damaged2d")
        out["damaged2d"] = ReplayDataset.load(tmp / "damaged2d")
    return out


def snapshots_for(
    dataset: ReplayDataset, times: tuple[datetime, ...], params: CycleParams, bulk: bool
) -> list[MarketSnapshot]:
    lookback, age = params.universe.vol_lookback, params.max_data_age_s
    if bulk:
        built = dataset.snapshots(list(times), vol_lookback=lookback, max_data_age_s=age)  # type: ignore[attr-defined]
    else:
        built = [
            finalize_snapshot(dataset.snapshot_at(t, vol_lookback=lookback, max_data_age_s=age), max_data_age_s=age)
            for t in times
        ]
    return [exclude_unusable_rules(s, params.rules) for s in built]


def universes_for(snapshots: list[MarketSnapshot], params: CycleParams, bulk: bool) -> list[UniverseSelection]:
    select_universes = getattr(universe_module, "select_universes", None)
    if bulk and select_universes is not None:
        return list(select_universes(snapshots, params.universe))
    return [select_universe(s, params.universe) for s in snapshots]


def fold(
    variant: Variant, snapshots: list[MarketSnapshot], selections: list[UniverseSelection], params: CycleParams
) -> list[CycleResult]:
    if not variant.chunk:
        return run_cycles(snapshots, selections, LedgerState.opening(params.start_capital_try), params)
    results: list[CycleResult] = []
    state_text: str | None = None
    risk_text: str | None = None
    for index, begin in enumerate(range(0, len(snapshots), variant.chunk)):
        state = (
            payloads.ledger_state_from_payload(json.loads(state_text))
            if state_text
            else LedgerState.opening(params.start_capital_try)
        )
        risk: RiskState | None = risk_state_from_payload(json.loads(risk_text)) if risk_text else None
        clear = RiskClear(f"clear-{index}", "digest test") if index == variant.clear_at_chunk else None
        end = begin + variant.chunk
        window = run_cycles(snapshots[begin:end], selections[begin:end], state, params, risk=risk, clear=clear)
        results.extend(window)
        state_text = payloads.dumps(payloads.ledger_state_payload(window[-1].state))
        last_risk = window[-1].risk
        risk_text = None if last_risk is None else payloads.dumps(risk_state_payload(last_risk.state))
    return results


def _rules_payload(result: CycleResult) -> list[dict[str, Any]]:
    return [
        {
            "symbol": r.symbol,
            "status": r.status.value,
            "price_step": payloads._d(r.price_step),
            "quantity_step": payloads._d(r.quantity_step),
            "min_notional_try": payloads._d(r.min_notional_try),
            "detail": r.detail,
            "min_notional_source": r.min_notional_source,
        }
        for r in result.rules
    ]


def _risk_payload(result: CycleResult) -> dict[str, Any] | None:
    r = result.risk
    if r is None:
        return None
    return {
        "cycle_ts": payloads._ts(r.cycle_ts),
        "mode": r.mode.value,
        "reasons": list(r.reasons),
        "cooldown_until": payloads._ts(r.cooldown_until),
        "inputs_hash": r.inputs_hash,
        "cleared_by": r.cleared_by,
        "drawdown": payloads._d(r.drawdown),
        "daily_pnl_try": payloads._d(r.daily_pnl_try),
        "state": risk_state_payload(r.state),
    }


def digest(snapshots: list[MarketSnapshot], selections: list[UniverseSelection], results: list[CycleResult]) -> str:
    sha = hashlib.sha256()

    def add(payload: Any) -> None:
        sha.update(payloads.dumps(payload).encode())
        sha.update(b"\n")

    for snapshot, selection, result in zip(snapshots, selections, results, strict=True):
        add(payloads.market_cycle_payload(snapshot))
        for symbol in snapshot.symbols:
            add(payloads.symbol_payload(symbol))
        add(payloads.universe_payload(selection))
        add(payloads.plan_payload(result))
        add(_rules_payload(result))
        for intent in result.intents:
            add(payloads.intent_payload(intent))
        for fill in result.fills:
            add(payloads.fill_payload(fill))
        for event in result.events:
            add(
                [
                    event.event_id,
                    event.cycle_id,
                    payloads._ts(event.cycle_ts),
                    event.client_order_id,
                    event.event_type,
                    event.status_after,
                ]
            )
        add(payloads.metrics_payload(result.metrics))
        add(payloads.ledger_state_payload(result.state))
        add(_risk_payload(result))
    return sha.hexdigest()


def run_variant(name: str, variant: Variant, dataset: ReplayDataset, bulk: bool) -> tuple[str, str]:
    params = load_settings(None, **variant.overrides).cycle_params()
    t0 = time.perf_counter()
    snapshots = snapshots_for(dataset, variant.times, params, bulk)
    selections = universes_for(snapshots, params, bulk)
    results = fold(variant, snapshots, selections, params)
    elapsed = time.perf_counter() - t0
    modes = Counter(r.mode.final.value for r in results)
    skips = Counter(s.skip_reason for snap in snapshots for s in snap.symbols if s.skip_reason)
    fills = sum(len(r.fills) for r in results)
    summary = (
        f"{len(results)} cycles, {fills} fills, equity {results[-1].metrics.equity_try:.2f}, "
        f"modes {dict(sorted(modes.items()))}, skips {dict(sorted(skips.items()))}, {elapsed:.2f} s"
    )
    return digest(snapshots, selections, results), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a digest differs from EXPECTED")
    parser.add_argument("--bulk", action="store_true", help="range snapshots and universes instead of per cycle")
    parser.add_argument("--only", nargs="*", default=None, help="variants to run (default: all)")
    parser.add_argument("--dataset", default=None, help="also run the 'dataset' variant on this folder")
    args = parser.parse_args()

    variants = {k: v for k, v in VARIANTS.items() if args.only is None or k in args.only}
    loaded: dict[str, ReplayDataset] = {}
    expected = dict(EXPECTED)
    if args.dataset:
        real = ReplayDataset.load(args.dataset)
        first = real.start.replace(second=0, microsecond=0)
        times = _every(first, int((real.end - first).total_seconds() // 300) + 1)
        variants["dataset"] = Variant("dataset", DEMO, times)
        variants["dataset_trading"] = Variant("dataset", TRADING, times, chunk=288)
        loaded["dataset"] = real
        fingerprint = dataset_fingerprint(Path(args.dataset))
        print(f"dataset {args.dataset}: fingerprint {fingerprint}")
        expected.update(EXPECTED_BY_DATASET.get(fingerprint, {}))
    mismatches = 0
    with tempfile.TemporaryDirectory() as tmp:
        loaded.update(build_datasets(Path(tmp), {v.dataset for v in variants.values()}))
        for name, variant in variants.items():
            value, summary = run_variant(name, variant, loaded[variant.dataset], args.bulk)
            want = expected.get(name)
            verdict = "" if want is None else ("  ok" if want == value else "  MISMATCH")
            mismatches += bool(want is not None and want != value)
            print(f"{name:17} {value}{verdict}\n{'':17} {summary}")
        shutil.rmtree(tmp, ignore_errors=True)
    if args.check and mismatches:
        print(f"{mismatches} digest(s) differ from EXPECTED", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
