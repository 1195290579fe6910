"""The gates of the cycle assets as blocking asset checks, recorded per partition.

:func:`check_spec` declares one blocking, partitioned ``AssetCheckSpec`` per gate suite
(:mod:`btcbot_pipeline.quality`); :class:`ChunkChecks` turns the engine's results for a
chunk (validated once per suite before it is written) into one ``AssetCheckEvaluation``
per suite and partition, so each cycle shows its own verdict. A partition fails a suite
only where an offending row lies in its cycles; in a rolled-back chunk no partition is
green; a suite that did not run gets no evaluation, never a failure. Descriptions speak
in trading terms with rounded figures (:func:`gate_failure_text`); exact values and up to
five offending rows stay in the metadata. The full rules: ``docs/gates.md``.
"""

# No `from __future__ import annotations`: Dagster reads annotations at runtime elsewhere in this package.

import bisect
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterator, Mapping, Sequence

import dagster as dg

from btcbot_pipeline.defs.cycle.owners import OWNERS
from btcbot_pipeline.domain import utc as utc_text  # this module's utc() makes a time aware
from btcbot_pipeline.engine import GateStopped, Partition
from btcbot_pipeline.quality.rules import ERROR, WARN, Failure, GateResult, Suite
from btcbot_pipeline.settings import BotSettings

Tally = tuple[int, Mapping[str, int]]  # a cycle's candidate count and excluded symbols by reason


def check_spec(
    suite: Suite, asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition | None = None
) -> dg.AssetCheckSpec:
    """The suite as a blocking check of ``asset``, per partition of ``partitions_def``.

    Dagster 1.13's ``AssetCheckSpec`` takes no owners or tags: they are in its metadata."""
    lines = [f"{e.name} [{e.severity}]" + (f": {e.description}" if e.description else "") for e in suite.expectations]
    with warnings.catch_warnings():
        # partitions_def on a check is a Dagster "preview" feature (1.13): the warning would
        # print on every code-location load; the behaviour is covered by our tests.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            suite.name,
            asset=asset,
            blocking=True,
            partitions_def=partitions_def,
            description=f"Gate (GE suite, validated before the rows are written; severity {suite_severity(suite)}): "
            + "; ".join(lines),
            metadata={"owners": OWNERS, "tags": {"btcbot/kind": "gate", "btcbot/severity": suite_severity(suite)}},
        )


def suite_severity(suite: Suite) -> str:
    """ERROR when any expectation of the suite blocks, else WARN."""
    return ERROR if any(e.severity == ERROR for e in suite.expectations) else WARN


def _severity(name: str) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if name == ERROR else dg.AssetCheckSeverity.WARN


@dataclass(frozen=True)
class Limits:
    """The settings a failure text quotes (``STAGE7_*``)."""

    max_excluded_share: Decimal = Decimal("0.5")
    max_spread_bps: Decimal | None = None
    max_data_age_s: int | None = None
    universe_size: int | None = None


def limits_for(cfg: BotSettings) -> Limits:
    """The limits ``cfg`` sets the gates."""
    return Limits(
        cfg.stage7_max_excluded_share, cfg.stage7_max_spread_bps, cfg.stage7_max_data_age_sec, cfg.stage7_universe_size
    )


@dataclass
class ChunkChecks:
    """Turns chunks' gate results into per-partition check evaluations.

    ``market``: for a cycle time, its candidate count and excluded symbols by reason as
    the snapshot stage saw them (used to name every excluded symbol's reason when the
    failure rows list only the first five; ignored unless it agrees with the gate's share).
    """

    key: Callable[[str], dg.AssetKey]
    limits: Limits = field(default_factory=Limits)
    market: Callable[[datetime], Tally | None] = lambda ts: None
    # The partitions (key, cycles) of the chunks this run committed, in order: a stop
    # says what of the run is in the book.
    committed: list[tuple[str, int]] = field(default_factory=list, init=False, repr=False)

    def evaluations(
        self, partitions: Sequence[Partition], gates: Sequence[GateResult], stopped: GateStopped | None = None
    ) -> Iterator[dg.AssetCheckEvaluation]:
        """One evaluation per suite that ran and per partition of the chunk (``stopped``:
        the gate stop that rolled the chunk back; without it the chunk is committed)."""
        parts = [p for p in partitions if p.times]
        if stopped is None:
            self.committed += [(p.key, len(p.times)) for p in parts]
        if not parts:
            return
        chunk = parts[0].key if len(parts) == 1 else f"{parts[0].key}…{parts[-1].key}"
        starts = [p.window.start for p in parts]
        for result in gates:
            suite = result.suite
            failed = {p.key: [] for p in parts}  # partition key → [(failure, rows here, count here)]
            for f in result.failures:
                for key, rows, count in self._attribute(f, result, parts, starts, stopped):
                    failed[key].append((f, rows, count))
            for p in parts:
                yield self._evaluation(suite, result, p, failed[p.key], chunk, stopped)

    def stop_description(self, stopped: GateStopped) -> str:
        """Why the run stopped, in trading terms on the first line, the gate's exact
        detail on the second: ``gate <check> stopped cycle <id> (<time> UTC): <what>``."""
        ts, cycle_id, _asset, check, expectation, detail = stopped.first_failure
        parts = [p for p in stopped.partitions if p.times]
        when = _time(ts)
        text = expectation
        for result in stopped.gates:
            for f in result.failures:
                if result.suite.name != check or f.expectation != expectation or when is None:
                    continue
                mine = [p for p in parts if p.window.start <= when < p.window.end]
                for key, rows, count in self._attribute(f, result, parts, [p.window.start for p in parts], stopped):
                    if mine and key == mine[0].key:
                        rows = [r for r in rows if _time(r.get("cycle_ts")) in (None, when)] or rows
                        text = self.explain(f, rows, count)
                        if not text.startswith(f"{expectation}:"):
                            text = f"{expectation}: {text}"
        first, last = stopped.partitions[0].key, stopped.partitions[-1].key
        window = first if first == last else f"{first}…{last}"
        return (
            f"gate {check} stopped cycle {cycle_id} ({_hhmm(ts)} UTC): {text}. {self._written(window)}; "
            f"not retried: the same rows fail the same gate.\n"
            f"Exact: {expectation} ({detail})"
        )

    def _written(self, window: str) -> str:
        """What of this run is in the book when its chunk ``window`` stopped."""
        if not self.committed:
            return f"Nothing of this run was written (the stopped chunk {window} was its first)"
        n, cycles = len(self.committed), sum(c for _, c in self.committed)
        first, last = self.committed[0][0], self.committed[-1][0]
        span = first if first == last else f"{first}…{last}"
        return (
            f"Nothing of {window} was written; this run committed {n} earlier partition{'s' if n != 1 else ''} "
            f"before it ({span}, {cycles} cycle{'s' if cycles != 1 else ''})"
        )

    def _attribute(
        self,
        f: Failure,
        result: GateResult,
        parts: list[Partition],
        starts: list[datetime],
        stopped: GateStopped | None,
    ) -> Iterator[tuple[str, list[dict[str, Any]], int | None]]:
        """The partitions ``f`` failed in, with its listed rows there and how many rows
        failed there (``None``: not known, the rows were cut off)."""

        def where(ts: datetime) -> int:
            return max(0, min(len(parts) - 1, bisect.bisect_right(starts, ts) - 1))

        by_part: dict[int, list[dict[str, Any]]] = {}
        unplaced = []
        for row in f.rows:
            ts = _time(row.get("cycle_ts"))
            if ts is None:
                unplaced.append(row)
            else:
                by_part.setdefault(where(ts), []).append(row)
        observed = f.observed if isinstance(f.observed, int) and not isinstance(f.observed, bool) else None
        rows_complete = observed is not None and 0 < len(f.rows) and observed <= len(f.rows) and not unplaced
        failing = set(by_part)
        known = rows_complete
        if stopped is not None and f.severity == ERROR:
            # the engine lists every failing cycle of a blocking failure
            listed = [_time(r[0]) for r in stopped.failure_rows if r[3] == result.suite.name and r[4] == f.expectation]
            failing |= {where(ts) for ts in listed if ts is not None}
            known = bool(listed) and not unplaced
        if not known:
            failing = set(range(len(parts)))  # rows cut off: no partition of the chunk can be cleared
        for i in sorted(failing):
            rows = by_part.get(i, []) + unplaced
            if rows_complete:
                count: int | None = len(rows)
            elif len(failing) == 1 and observed is not None:
                count = observed  # every offending row of the chunk is in this partition
            else:
                count = None
            yield parts[i].key, rows, count

    def _evaluation(
        self,
        suite: Suite,
        result: GateResult,
        p: Partition,
        failed: list[tuple[Failure, list[dict[str, Any]], int | None]],
        chunk: str,
        stopped: GateStopped | None,
    ) -> dg.AssetCheckEvaluation:
        written = stopped is None
        n = len(p.times)
        meta: dict[str, Any] = {
            "cycles_partition": n,
            "expectations_evaluated": result.evaluated,
            "validated_with": chunk,  # the partitions validated together (one GE run)
            "written": written,
        }
        cycles = f"this partition's {n} cycle{'s' if n != 1 else ''}"
        if not failed and stopped is not None:
            # its rows passed, but the chunk was rolled back: nothing of it is in the book,
            # so the check must not read green; WARN, the failing gate is the ERROR
            return dg.AssetCheckEvaluation(
                asset_key=self.key(suite.asset),
                check_name=suite.name,
                passed=False,
                partition=p.key,
                blocking=True,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=meta,
                description=f"{suite.name} not written: {_stop_reason(stopped)}; its own expectations passed over "
                f"{cycles}",
            )
        if not failed:
            return dg.AssetCheckEvaluation(
                asset_key=self.key(suite.asset),
                check_name=suite.name,
                passed=True,
                partition=p.key,
                blocking=True,
                severity=_severity(suite_severity(suite)),
                description=f"{suite.name}: every expectation passed over {cycles}",
                metadata=meta,
            )
        severity = ERROR if any(f.severity == ERROR for f, _, _ in failed) else WARN
        texts = [self.explain(f, rows, count, multi=n > 1) for f, rows, count in failed]
        if stopped is not None and severity == WARN:
            texts.append(f"not written: {_stop_reason(stopped)}")
        meta |= {
            "failing_cycles": dg.MetadataValue.json(
                sorted({_text(r.get("cycle_ts")) for _, rows, _ in failed for r in rows if r.get("cycle_ts")})
            ),
            "failed_expectations": dg.MetadataValue.json(
                [
                    {
                        "expectation": f.expectation,
                        "expectation_type": f.ge_type,
                        "column": f.column,
                        "severity": f.severity,
                        "offending_rows_partition": count,
                        "observed_chunk": str(f.observed),
                        "offending_rows": list(rows),  # exact values, at most the first five of the chunk
                    }
                    for f, rows, count in failed
                ]
            ),
        }
        return dg.AssetCheckEvaluation(
            asset_key=self.key(suite.asset),
            check_name=suite.name,
            passed=False,
            partition=p.key,
            blocking=True,
            severity=_severity(severity),
            description=f"{suite.name} failed ({severity}): " + "; ".join(texts)[:1800],
            metadata=meta,
        )

    # --- the failure, in trading terms --------------------------------------------------

    def explain(self, f: Failure, rows: Sequence[Mapping[str, Any]], count: int | None, *, multi: bool = False) -> str:
        """One failed expectation in one partition, figures rounded."""
        if f.expectation == "excluded_share_ok" and rows:
            return self._excluded(rows, count, multi)
        if f.expectation == "no_missing_cycles" and rows:
            r = rows[0]
            return (
                f"the ledger carried over {_text(r.get('gap_cycles'))} missing cycle(s) from cycle "
                f"{_text(r.get('carried_from'))}" + (f" (at {_hhmm(r.get('cycle_ts'))})" if multi else "")
            )
        what = _PHRASES.get(f.expectation, f"rows failing {f.expectation}")
        # a limit not known here is named by its setting alone
        what = re.sub(r" \(None(?: \w+)?\)", "", what.format(limits=self.limits))
        n = str(count) if count is not None else f"at least {len(rows)}" if rows else "some"
        listed = "; ".join(_row_text(r) for r in rows[:3])
        more = "" if count is not None and count <= 3 else " …" if listed else ""
        return f"{f.expectation}: {n} {what}" + (f": {listed}{more}" if listed else "")

    def _excluded(self, rows: Sequence[Mapping[str, Any]], count: int | None, multi: bool) -> str:
        by_cycle: dict[str, list[Mapping[str, Any]]] = {}
        for r in rows:
            by_cycle.setdefault(_text(r.get("cycle_ts")), []).append(r)
        first_ts, mine = next(iter(by_cycle.items()))
        share = _decimal(mine[0].get("excluded_share"))
        limit = f"limit {_pct(self.limits.max_excluded_share)} %"
        at = f" at {_hhmm(first_ts)}" if multi else ""
        more_cycles = f" (and {len(by_cycle) - 1} more cycle(s))" if len(by_cycle) > 1 else ""
        if share is None:
            return f"excluded_share_ok: too many symbols excluded{at}, {limit}{more_cycles}"
        tally = self.market(ts) if (ts := _time(first_ts)) is not None else None
        if tally is not None and tally[0] and Decimal(sum(tally[1].values())) / Decimal(tally[0]) == share:
            total, reasons = tally[0], Counter(tally[1])
            k: int | None = sum(reasons.values())
            unlisted = 0
        else:
            reasons = Counter(_text(r.get("skip_reason")) for r in mine)
            k = count if count is not None and len(by_cycle) == 1 else None
            unlisted = (k - len(mine)) if k is not None else 0
            whole = (Decimal(k) / share) if k is not None and share else None
            total = int(whole) if whole is not None and whole == whole.to_integral_value() else None
        shown = ", ".join(f"{reason} ×{c}" for reason, c in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        if unlisted > 0:
            shown += f" (+{unlisted} not listed)"
        head = (
            f"{k} of {total} symbols ({_pct(share)} %)"
            if k is not None and total is not None
            else f"{_pct(share)} % of symbols"
        )
        return f"{head} excluded{at}, {limit}: {shown}{more_cycles}"


def _stop_reason(stopped: GateStopped) -> str:
    _ts, cycle_id, _asset, check, expectation, _detail = stopped.first_failure
    return f"this chunk was rolled back because {check} failed at cycle {cycle_id} ({expectation})"


# A gate_failures detail as quality.rules.gate_failure_rows writes it: "<GE type> on
# <column>: observed <chunk's count> (<n> at this cycle); rows: <name>=<value>, …; …"
# (books written before the count at this cycle was added lack it).
_DETAIL = re.compile(
    r"(?P<ge>\S+) on (?P<column>.+?): observed (?P<observed>.*?)(?: \((?P<here>\d+) at this cycle\))?(?:; rows: "
    r"(?P<rows>.*))?",
    re.DOTALL,
)


def gate_failure_text(expectation: str, detail: str, limits: Limits) -> str:
    """A ``gate_failures`` row's failure in trading terms with figures rounded, as the
    check evaluations and the stop description say it: ``<expectation>: <what>``. A detail
    not in the gates' form is returned as it is."""
    m = _DETAIL.fullmatch(detail)
    if m is None:
        return f"{expectation}: {detail}"
    rows = [_detail_row(text) for text in m["rows"].split("; ")] if m["rows"] else []
    failure = Failure(expectation, m["ge"], m["column"], ERROR, m["observed"], tuple(rows))
    text = ChunkChecks(dg.AssetKey, limits).explain(failure, rows, int(m["here"]) if m["here"] else None)
    return text if text.startswith(f"{expectation}:") else f"{expectation}: {text}"


def _detail_row(text: str) -> dict[str, Any]:
    """``symbol=ADATRY, excluded_share=0.58…`` as the offending row it lists (``None`` as None)."""
    row: dict[str, Any] = {}
    for pair in text.split(", "):
        name, _, value = pair.partition("=")
        row[name] = None if value == "None" else value
    return row


# What the offending rows of an expectation are, per row (the count goes before it).
_PHRASES = {
    "excluded_share_ok": "symbol(s) excluded in a cycle over STAGE7_MAX_EXCLUDED_SHARE ({limits.max_excluded_share})",
    "symbol_present": "rows without a symbol",
    "prices_positive": "tradable symbol(s) with a zero or negative bid, ask or mark",
    "bid_le_ask": "tradable symbol(s) with a crossed book (bid above ask)",
    "volume_non_negative": "symbol(s) with a negative 24 h volume",
    "fresh": "tradable symbol(s) with data older than STAGE7_MAX_DATA_AGE_SEC ({limits.max_data_age_s} s)",
    "rules_usable": "tradable symbol(s) without usable exchange rules",
    "spread_within_bound": "tradable symbol(s) with a spread above STAGE7_MAX_SPREAD_BPS ({limits.max_spread_bps} bps)",
    "reason_matches_tradable": "symbol(s) whose skip reason contradicts their tradable flag",
    "size_within_limit": "selected symbol(s) beyond STAGE7_UNIVERSE_SIZE ({limits.universe_size})",
    "symbol_allowed": "selected symbol(s) not whitelisted or blacklisted",
    "ranked_in_order": "universe row(s) out of score order",
    "selected_is_top_ranked": "selected symbol(s) outside the top ranks",
    "rejected_has_reason": "rejected symbol(s) without a reason",
    "side_known": "action(s) with an unknown side",
    "sell_before_buy": "order(s) with a BUY before a SELL",
    "notional_within_symbol_cap": "BUY action(s) above MAX_POSITION_NOTIONAL_TRY",
    "cycle_notional_within_cap": "action(s) in a cycle above NOTIONAL_CAP_TRY_PER_CYCLE",
    "buy_allowed_by_mode": "BUY(s) planned in a mode that forbids buying",
    "skipped_has_reason": "skipped decision(s) without a reason",
    "client_order_id_unique": "intent(s) sharing a client_order_id",
    "client_order_id_well_formed": "intent(s) with a malformed client_order_id",
    "price_on_tick_grid": "intent(s) priced off the tick grid",
    "qty_on_lot_grid": "intent(s) with a quantity off the lot grid",
    "notional_at_least_min": "intent(s) below the exchange's minimum notional",
    "cash_target_respected": "intent(s) whose buys would spend below the cash target",
    "fill_id_unique": "fill(s) sharing a fill_id",
    "fee_non_negative": "fill(s) with a negative fee",
    "price_within_slippage": "fill(s) priced beyond the slippage bound",
    "gross_identity": "cycle(s) where gross PnL ≠ realized + unrealized",
    "net_identity": "cycle(s) where net PnL ≠ gross − fees − slippage",
    "equity_identity": "cycle(s) where equity ≠ cash + positions",
    "drawdown_in_unit_interval": "cycle(s) with a drawdown outside 0–100 %",
    "no_negative_position": "cycle(s) with a negative position or cash",
    "final_not_looser_than_base": "cycle(s) whose final mode is looser than the base mode",
    "one_row_per_symbol": "duplicate row(s) per cycle and symbol",
    "one_row_per_cycle": "duplicate row(s) per cycle",
    "one_row_per_action": "duplicate action row(s)",
}


# --- figures shown rounded --------------------------------------------------------------


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _pct(share: Decimal) -> str:
    """A share as a percentage, whole when it is whole, else one decimal."""
    value = share * 100
    return format(
        value.quantize(Decimal(1) if value == value.to_integral_value() or abs(value) >= 10 else Decimal("0.1")), "f"
    )


def _round(column: str, value: Any) -> str:
    """A value as a person reads it: TRY to 2 places, bps to 1, shares in %, else 8 significant digits."""
    d = _decimal(value)
    if d is None or isinstance(value, int):
        return _text(value)
    if not d.is_finite():
        return str(d)
    if column.endswith("_share"):
        return f"{_pct(d)} %"
    if column.endswith("_try"):
        return format(d.quantize(Decimal("0.01")), "f")
    if column.endswith("_bps"):
        return format(d.quantize(Decimal("0.1")), "f")
    if d == d.to_integral_value():
        return format(d.quantize(Decimal(1)), "f")
    return format(d.quantize(Decimal(1).scaleb(d.adjusted() - 7)).normalize(), "f")


def _row_text(row: Mapping[str, Any]) -> str:
    parts = [_text(row["symbol"])] if row.get("symbol") else []
    parts += [f"{k}={_round(k, v)}" for k, v in row.items() if k not in ("symbol", "cycle_ts")]
    return " ".join(parts) or _text(row.get("cycle_ts"))


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return utc_text.text(utc(value))
    return str(value)


def _hhmm(value: Any) -> str:
    ts = _time(value)
    return _text(value) if ts is None else utc_text.minute_text(ts)


def utc(ts: datetime) -> datetime:
    """``ts`` as an aware UTC datetime (a naive one is UTC wall time, as in the book)."""
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _time(value: Any) -> datetime | None:
    """A row's ``cycle_ts`` (a datetime, or its UTC text) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, str):
        try:
            return utc(utc_text.parse_iso(value))
        except ValueError:
            return None
    return None


def check_outputs(assets_def: dg.AssetsDefinition) -> Iterator[dg.Output]:
    """The step's (empty) output of each check: Dagster requires one per check spec; the
    evaluations themselves are yielded per partition above."""
    for name in assets_def.node_check_specs_by_output_name:
        yield dg.Output(None, output_name=name)
