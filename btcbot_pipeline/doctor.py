"""``btcbot doctor``: is this machine ready to run cycles? (runs no cycle).

:func:`run_doctor` returns :class:`Check` rows, each PASS / WARN / FAIL (or SKIP) with a
one-line fix for anything not passing, over: settings (they load; unknown or unsupported
setting names), the market-data source of ``MARKET_DATA_SOURCE`` only (the replay dataset
and its ``market_snapshot`` gate suite, or the ``btcbot health`` exchange probes), the
effective universe, storage (the book opens read-write and passes its check,
``DAGSTER_HOME``) and each candidate's exchange rules. :func:`format_checks` prints them;
:func:`exit_code` is 0 all PASS, 1 some WARN, 2 any FAIL. What each check covers:
``docs/operations.md``.

Live orders are possible only through the separate live job with all four gates armed, so
a live profile (``DRY_RUN=false``, ``LIVE_TRADING=true``) gets a row saying whether it is
armed (a WARN with ``KILL_SWITCH=false``) and a WARN naming the caps it lacks
(``MAX_OPEN_ORDERS``, ``MAX_OPEN_ORDERS_PER_SYMBOL``, ``LIVE_CANARY_NOTIONAL_TRY``).
``btcbot preflight --profile live`` is the full check before a live run.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from btcbot_pipeline.domain import utc
from btcbot_pipeline.health import DEFAULT_MAX_SKEW_MS
from btcbot_pipeline.storage.paths import book_path_problem
from btcbot_pipeline.storage.verify import Report, verify_book

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
_RANK = {PASS: 0, SKIP: 0, WARN: 1, FAIL: 2}
# difflib ratio above which a listed symbol is offered for a whitelist entry ("BTCTRYY").
_SUGGEST_CUTOFF = 0.6


@dataclass(frozen=True, slots=True)
class Check:
    area: str
    name: str
    status: str
    detail: str
    fix: str = ""


def _settings_checks(env_file: str | None, overrides: dict[str, str]) -> tuple[list[Check], object | None]:
    from btcbot_pipeline.settings import SettingsError, load_settings

    try:
        cfg = load_settings(env_file, **overrides)
    except SettingsError as exc:
        first = str(exc).strip().splitlines()
        return [
            Check(
                "settings",
                "load",
                FAIL,
                " | ".join(first[:3]),
                "fix the variables named above in the environment or .env",
            )
        ], None
    checks = [Check("settings", "load", PASS, "settings load; gate combinations coherent")]
    live = _live_profile(cfg)
    if not cfg.stage7_enabled:
        checks.append(
            Check(
                "settings",
                "stage7_enabled",
                FAIL,
                "STAGE7_ENABLED=false: every cycle refuses to run",
                "set STAGE7_ENABLED=true" + ("" if live else " with DRY_RUN=true (e.g. cp .env.example .env)"),
            )
        )
    else:
        mode = "DRY_RUN=false, LIVE_TRADING=true (the live profile)" if live else "DRY_RUN=true"
        checks.append(Check("settings", "stage7_enabled", PASS, f"STAGE7_ENABLED=true, {mode}"))
    if live:
        checks += _live_checks(cfg)
    if cfg.kill_switch:
        checks.append(
            Check(
                "settings",
                "kill_switch",
                WARN,
                "KILL_SWITCH=true: cycles run and record plan, trace and accounting; no order is placed or "
                "cancelled; resting orders stay",
                "set KILL_SWITCH=false to let cycles place and cancel orders",
            )
        )
    if cfg.stage7_max_excluded_share >= 1:
        checks.append(
            Check(
                "settings",
                "excluded_share",
                WARN,
                "STAGE7_MAX_EXCLUDED_SHARE=1: the gate never stops a cycle for excluded symbols",
                "set STAGE7_MAX_EXCLUDED_SHARE below 1 (default 0.5)",
            )
        )
    if cfg.stage7_max_daily_loss_try >= cfg.dry_run_try_balance:
        checks.append(
            Check(
                "settings",
                "risk_budget",
                WARN,
                f"STAGE7_MAX_DAILY_LOSS_TRY={cfg.stage7_max_daily_loss_try} >= "
                f"DRY_RUN_TRY_BALANCE={cfg.dry_run_try_balance}: "
                "the daily loss limit can never trip",
                "set STAGE7_MAX_DAILY_LOSS_TRY below the capital",
            )
        )
    if cfg.stage7_max_data_age_sec == 0:
        checks.append(
            Check(
                "settings",
                "max_data_age",
                WARN,
                "STAGE7_MAX_DATA_AGE_SEC=0: any data older than the cycle is stale",
                "set STAGE7_MAX_DATA_AGE_SEC to about a cycle (e.g. 60..300)",
            )
        )
    return checks, cfg


def _live_profile(cfg: object) -> bool:
    """``DRY_RUN=false`` with ``LIVE_TRADING=true`` (settings that load then also have the
    acknowledgement and the credentials): the live job may run. Live orders are possible only
    through it, and only with ``KILL_SWITCH=false`` as well."""
    return not cfg.dry_run and cfg.live_trading  # type: ignore[attr-defined]


# The live settings a live profile should set, and what each bounds.
LIVE_CAPS = (
    ("MAX_OPEN_ORDERS", "max_open_orders", "the orders resting at once"),
    ("MAX_OPEN_ORDERS_PER_SYMBOL", "max_open_orders_per_symbol", "the orders resting per symbol"),
    ("LIVE_CANARY_NOTIONAL_TRY", "live_canary_notional_try", "the TRY notional one live cycle submits"),
)


def _live_checks(cfg: object) -> list[Check]:
    """The arm state (a WARN when real orders are possible, the kill switch off) and the caps
    a live run needs."""
    if cfg.kill_switch:  # type: ignore[attr-defined]
        armed = Check(
            "settings",
            "live_armed",
            PASS,
            "live profile with KILL_SWITCH=true: live cycles run and record but place and cancel no order",
        )
    else:
        armed = Check(
            "settings",
            "live_armed",
            WARN,
            "live trading is armed (DRY_RUN=false, KILL_SWITCH=false, LIVE_TRADING=true, "
            "LIVE_TRADING_ACK=I_UNDERSTAND): the live job may place and cancel real orders",
            "run `btcbot preflight --profile live` before starting the live job; KILL_SWITCH=true freezes it",
        )
    missing = [(name, what) for name, field, what in LIVE_CAPS if getattr(cfg, field) is None]
    if missing:
        caps = Check(
            "settings",
            "live_caps",
            WARN,
            "live profile without " + ", ".join(f"{name} (bounds {what})" for name, what in missing),
            f"set {', '.join(name for name, _ in missing)} to small values before a live run",
        )
    else:
        caps = Check(
            "settings", "live_caps", PASS, ", ".join(f"{name}={getattr(cfg, field)}" for name, field, _ in LIVE_CAPS)
        )
    return [armed, caps]


def _cycle_times(start: datetime, end: datetime) -> list[datetime]:
    first = start.replace(second=0, microsecond=0)
    first += timedelta(minutes=(-first.minute) % 5)
    if first < start:
        first += timedelta(minutes=5)
    last = end.replace(second=0, microsecond=0)
    last -= timedelta(minutes=last.minute % 5)
    if last < first:
        return []
    middle = first + timedelta(minutes=5 * (((last - first) // timedelta(minutes=5)) // 2))
    return sorted({first, middle, last})


def _dataset_checks(dataset: str, cfg: object | None) -> tuple[list[Check], object | None]:
    from btcbot_pipeline.adapters.replay.dataset import ReplayDataset, ReplayDatasetError
    from btcbot_pipeline.adapters.replay.validate import validate_replay_dataset
    from btcbot_pipeline.domain.exchange_rules import exclude_unusable_rules
    from btcbot_pipeline.domain.market import finalize_snapshot
    from btcbot_pipeline.quality.rules import MARKET_SUITE, GateParams, market_frame
    from btcbot_pipeline.storage.rows import market_rows

    checks: list[Check] = []
    report = validate_replay_dataset(dataset)
    if report.errors:
        codes = sorted({i.code for i in report.errors})
        checks.append(
            Check(
                "dataset",
                "replay-validate",
                FAIL,
                f"{len(report.errors)} error(s) in {dataset}: {', '.join(codes)}",
                f"run `btcbot replay-validate --dataset {dataset}` and repair or remove the files it names",
            )
        )
    elif report.warnings:
        codes = sorted({i.code for i in report.warnings})
        checks.append(
            Check(
                "dataset",
                "replay-validate",
                WARN,
                f"{len(report.warnings)} warning(s): {', '.join(codes)}",
                f"see `btcbot replay-validate --dataset {dataset}`",
            )
        )
    else:
        checks.append(Check("dataset", "replay-validate", PASS, f"{len(report.symbols)} symbols, no issues"))
    try:
        data = ReplayDataset.load(dataset)
    except ReplayDatasetError as exc:
        checks.append(
            Check(
                "dataset",
                "market_snapshot_gate",
                FAIL,
                f"dataset unusable: {exc}",
                "fix the dataset (see replay-validate)",
            )
        )
        return checks, None
    if cfg is None:
        return checks, data
    params = cfg.cycle_params()  # type: ignore[attr-defined]
    gp = GateParams(cycle=params, max_excluded_share=cfg.stage7_max_excluded_share)  # type: ignore[attr-defined]
    times = _cycle_times(data.start, data.end)
    if not times:
        checks.append(
            Check(
                "dataset",
                "market_snapshot_gate",
                FAIL,
                "the dataset spans no five-minute cycle time",
                "record or generate at least a few minutes of data (btcbot replay-init)",
            )
        )
        return checks, data
    from btcbot_pipeline.quality.expectations import validate

    snaps = [
        exclude_unusable_rules(
            finalize_snapshot(
                data.snapshot_at(t, vol_lookback=params.universe.vol_lookback, max_data_age_s=params.max_data_age_s),
                max_data_age_s=params.max_data_age_s,
            ),
            params.rules,
        )
        for t in times
    ]
    rows = market_rows(snaps)
    result = validate(MARKET_SUITE, market_frame(rows["market_snapshot"], gp, rows["market_cycles"]))
    at = ", ".join(utc.minute_text(t) for t in times)
    if result.passed:
        excluded = sorted({f"{s.symbol}:{s.skip_reason}" for snap in snaps for s in snap.symbols if s.skip_reason})
        detail = f"passed at {at}" + (f"; excluded per symbol: {', '.join(excluded[:6])}" if excluded else "")
        checks.append(Check("dataset", "market_snapshot_gate", PASS, detail))
    else:
        status = FAIL if result.blocking else WARN
        text = "; ".join(
            f"{f.expectation} ({f.ge_type}, observed {f.observed}) rows: "
            + ", ".join(
                f"{r.get('cycle_ts')} {r.get('symbol')}" + (f":{r['skip_reason']}" if r.get("skip_reason") else "")
                for r in f.rows[:3]
            )
            for f in result.failures
        )
        checks.append(
            Check(
                "dataset",
                "market_snapshot_gate",
                status,
                f"at {at}: {text}",
                "cycles on this data would be stopped by the gate: repair or remove the named symbols' files"
                if status == FAIL
                else "review the named rows; cycles still run",
            )
        )
    return checks, data


# Doctor recomputes the rows of the book's last day of 5-minute cycles; the book-wide
# checks (chain, money, fills, seal links) cover every cycle. `btcbot verify` does all.
DOCTOR_VERIFY_CYCLES = 288


def _verify_check(db: str, report: Report) -> Check:
    """The book's check as one doctor row: PASS, or the first findings."""
    scope = f"{report.cycles} cycles (rows of the last {min(report.rows_checked, report.cycles)} recomputed)"
    if report.exit_code == 0:
        return Check("storage", "book_check", PASS, f"{db}: {scope} check out")
    first = "; ".join(f.line() for f in report.findings[:3])
    status = FAIL if report.exit_code == 2 else WARN
    return Check(
        "storage",
        "book_check",
        status,
        f"{len(report.findings)} finding(s) in {scope}: {first}",
        f"btcbot verify {db} lists them all",
    )


def _storage_checks(db: str) -> list[Check]:
    import duckdb

    checks: list[Check] = []
    path = Path(db)
    problem = book_path_problem(db, probe=True)  # a file really written and removed in its folder
    if problem:
        checks.append(
            Check("storage", "book", FAIL, problem, "point STATE_DB_PATH at a DuckDB file in a writable folder")
        )
    elif not path.exists():
        checks.append(
            Check(
                "storage", "book", PASS, f"{db} does not exist yet; its folder is writable (created on the first cycle)"
            )
        )
    else:
        try:
            with duckdb.connect(str(path)) as con:
                con.execute("SELECT 1").fetchone()
                report = verify_book(con, rows_last=DOCTOR_VERIFY_CYCLES)
            checks.append(Check("storage", "book", PASS, f"{db} opens read-write"))
            checks.append(_verify_check(db, report))
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            locked = "lock" in message.lower()
            checks.append(
                Check(
                    "storage",
                    "book",
                    FAIL,
                    f"{db}: {message}",
                    "stop the process holding the book (dagster dev / another run) or point STATE_DB_PATH elsewhere"
                    if locked
                    else f"move the unreadable {db} aside; the next cycle creates a new book",
                )
            )
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        checks.append(
            Check(
                "storage",
                "dagster_home",
                WARN,
                "DAGSTER_HOME is unset: run history is not kept",
                "export DAGSTER_HOME=$PWD/dagster_home",
            )
        )
    elif not Path(home).is_dir():
        checks.append(
            Check(
                "storage",
                "dagster_home",
                FAIL,
                f"DAGSTER_HOME={home} does not exist",
                f"mkdir -p {home} (and add a dagster.yaml)",
            )
        )
    elif not (Path(home) / "dagster.yaml").is_file():
        checks.append(
            Check(
                "storage",
                "dagster_home",
                WARN,
                f"{home} has no dagster.yaml (Dagster defaults apply)",
                f"copy the project's dagster_home/dagster.yaml to {home}",
            )
        )
    else:
        checks.append(Check("storage", "dagster_home", PASS, f"{home} with dagster.yaml"))
    return checks


def _rules_checks(data: object, cfg: object | None) -> list[Check]:
    from btcbot_pipeline.domain.exchange_rules import resolve_rules
    from btcbot_pipeline.domain.params import RulesParams

    params = cfg.cycle_params().rules if cfg is not None else RulesParams()  # type: ignore[attr-defined]
    published = data.rules  # type: ignore[attr-defined]
    checks = []
    usable = 0
    for symbol in data.symbols:  # type: ignore[attr-defined]
        eff = resolve_rules(symbol, published.get(symbol), params)
        usable += eff.usable
        status = eff.status.value
        if status == "ok":
            checks.append(
                Check(
                    "rules",
                    symbol,
                    PASS,
                    "ok" + (" (min notional: safe floor)" if eff.min_notional_source == "safe_floor" else ""),
                )
            )
        elif status == "fallback":
            checks.append(
                Check("rules", symbol, WARN, f"fallback: {eff.detail}", "publish the symbol in exchangeinfo.json")
            )
        else:
            effect = (
                "the symbol is excluded each cycle"
                if params.invalid_metadata_policy.value == "skip_symbol"
                else "a cycle that selects or holds it is OBSERVE_ONLY"
            )
            checks.append(
                Check(
                    "rules",
                    symbol,
                    WARN,
                    f"{status}: {eff.detail}; {effect}",
                    "add valid rules to exchangeinfo.json or set STAGE7_RULES_REQUIRE_METADATA=false to use fallbacks",
                )
            )
    if data.symbols and not usable:  # type: ignore[attr-defined]
        checks.append(
            Check(
                "rules",
                "any usable",
                FAIL,
                "no symbol has usable rules: every cycle excludes everything",
                "provide exchangeinfo.json or set STAGE7_RULES_REQUIRE_METADATA=false",
            )
        )
    return checks


def _name_checks(environ: Mapping[str, str], env_file: str | None) -> list[Check]:
    from btcbot_pipeline.settings.names import unknown_setting_names

    found = unknown_setting_names(environ, env_file)
    if not found:
        where = f"{env_file} and the environment" if env_file and Path(env_file).is_file() else "the environment"
        return [Check("settings", "names", PASS, f"every setting name in {where} is known")]
    return [Check("settings", f"unknown:{u.name}", WARN, u.message(), u.fix()) for u in found]


def _listing(symbols: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(symbols[:limit])
    return shown + (f", … (+{len(symbols) - limit})" if len(symbols) > limit else "")


def universe_checks(
    *,
    whitelist: Sequence[str],
    blacklist: Sequence[str],
    quote: str,
    listed: Sequence[str],
    default: Sequence[str],
    source: str,
) -> tuple[list[Check], list[str]]:
    """The effective universe candidates and the checks that show them.

    Args:
        whitelist / blacklist / quote: ``STAGE7_UNIVERSE_*`` (canonical symbols).
        listed: every symbol the source knows (dataset files, or exchangeinfo and ticker).
        default: the candidates without a whitelist (a dataset's symbols; the exchange's
            ``BTCTURK_MAX_SYMBOLS`` largest pairs).
        source: how to name the source in the text (``"the dataset"``).

    Returns:
        The checks (``universe/candidates``, and ``universe/blacklist`` when it names a
        symbol the source does not know) and the candidates, in order. A whitelist that
        selects nothing is a FAIL; rejected whitelist entries are a WARN with "did you
        mean …?" (difflib against ``listed``) and a fix line giving the corrected value.
    """
    known = sorted(set(listed))

    def suggestion(symbol: str) -> str | None:
        close = difflib.get_close_matches(symbol, known, n=1, cutoff=_SUGGEST_CUTOFF)
        return close[0] if close else None

    def in_quote(symbol: str) -> bool:
        return symbol.endswith(quote) and len(symbol) > len(quote)

    rejected: list[tuple[str, str, str | None]] = []
    if whitelist:
        candidates: list[str] = []
        for symbol in whitelist:
            if symbol not in known:
                rejected.append((symbol, f"not listed by {source}", suggestion(symbol)))
            elif not in_quote(symbol):
                rejected.append((symbol, f"not quoted in {quote}", None))
            elif symbol in blacklist:
                rejected.append((symbol, "also in STAGE7_UNIVERSE_BLACKLIST", None))
            else:
                candidates.append(symbol)
        basis = "STAGE7_UNIVERSE_WHITELIST"
    else:
        candidates = [s for s in default if in_quote(s) and s not in blacklist]
        basis = f"every {quote} pair of {source}, no whitelist"
    why = "; ".join(f"{s} {reason}" + (f" (did you mean {hint}?)" if hint else "") for s, reason, hint in rejected)
    checks: list[Check] = []
    if not candidates:
        if whitelist:
            proposed = [hint for _, _, hint in rejected if hint and in_quote(hint) and hint not in blacklist]
            fix = (
                f"set STAGE7_UNIVERSE_WHITELIST={','.join(dict.fromkeys(proposed))}"
                if proposed
                else f"set STAGE7_UNIVERSE_WHITELIST to pairs {source} lists "
                f"(e.g. {_listing([s for s in known if in_quote(s)], 5)}) "
                f"or leave it empty for every {quote} pair"
            )
            checks.append(
                Check("universe", "candidates", FAIL, f"STAGE7_UNIVERSE_WHITELIST selects nothing: {why}", fix)
            )
        else:
            checks.append(
                Check(
                    "universe",
                    "candidates",
                    FAIL,
                    f"no {quote} pair among the {len(known)} symbols {source} lists"
                    + (" once STAGE7_UNIVERSE_BLACKLIST is applied" if blacklist else ""),
                    "check STAGE7_UNIVERSE_QUOTE_CCY and STAGE7_UNIVERSE_BLACKLIST",
                )
            )
    elif rejected:
        proposed = candidates + [hint for _, _, hint in rejected if hint and in_quote(hint) and hint not in blacklist]
        checks.append(
            Check(
                "universe",
                "candidates",
                WARN,
                f"{len(candidates)} candidate(s): {_listing(candidates)} ({basis}); rejected: {why}",
                f"set STAGE7_UNIVERSE_WHITELIST={','.join(dict.fromkeys(proposed))}",
            )
        )
    else:
        checks.append(
            Check("universe", "candidates", PASS, f"{len(candidates)} candidate(s): {_listing(candidates)} ({basis})")
        )
    strays = [s for s in blacklist if s not in known]
    if strays:
        hints = {s: suggestion(s) for s in strays}
        text = "; ".join(
            f"{s} is not listed by {source}" + (f" (did you mean {hints[s]}?)" if hints[s] else "") for s in strays
        )
        kept = [s for s in blacklist if s in known] + [h for h in hints.values() if h]
        checks.append(
            Check(
                "universe",
                "blacklist",
                WARN,
                f"STAGE7_UNIVERSE_BLACKLIST: {text}: it excludes nothing",
                f"set STAGE7_UNIVERSE_BLACKLIST={','.join(dict.fromkeys(kept))}"
                if kept
                else "remove it from STAGE7_UNIVERSE_BLACKLIST",
            )
        )
    return checks, candidates


def _universe(cfg: object, listed: Sequence[str], default: Sequence[str], source: str) -> tuple[list[Check], list[str]]:
    return universe_checks(
        whitelist=cfg.stage7_universe_whitelist,
        blacklist=cfg.stage7_universe_blacklist,  # type: ignore[attr-defined]
        quote=cfg.stage7_universe_quote_ccy,
        listed=listed,
        default=default,
        source=source,  # type: ignore[attr-defined]
    )


def _raw_source(environ: Mapping[str, str], env_file: str | None) -> str:
    """``MARKET_DATA_SOURCE`` as written, for when the settings do not load."""
    for name, value in environ.items():
        if name.upper() == "MARKET_DATA_SOURCE":
            return value.strip().lower()
    if env_file and Path(env_file).is_file():
        from dotenv import dotenv_values

        for name, value in dotenv_values(env_file).items():
            if name.upper() == "MARKET_DATA_SOURCE" and value:
                return value.strip().lower()
    return "replay"


def _exchange_checks(cfg: object, max_skew_ms: int) -> tuple[list[Check], list[str], dict | None]:
    from btcbot_pipeline.health import probe_exchange

    report = probe_exchange(cfg, max_skew_ms=max_skew_ms)
    checks = [
        Check("exchange", p.name, p.status, p.detail + ("" if p.status == SKIP else f" ({p.ms:.0f} ms)"), p.fix)
        for p in report.probes
    ]
    if report.by_volume is None:  # no ticker: the candidates are unknown and the probe line says why
        return checks, [], None
    listed = sorted(set(report.rules or {}) | set(report.by_volume or ()))
    default = sorted((report.by_volume or ())[: cfg.btcturk_max_symbols])  # type: ignore[attr-defined]
    universe, candidates = _universe(cfg, listed, default, "the exchange")
    return checks + universe, candidates, report.rules


def run_doctor(
    dataset: str | None = None,
    db: str | None = None,
    env_file: str | None = ".env",
    overrides: dict[str, str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    max_skew_ms: int = DEFAULT_MAX_SKEW_MS,
) -> list[Check]:
    """Every check, in display order (settings, source, universe, storage, rules).

    ``environ`` is the process environment to look for unknown setting names in
    (default ``os.environ``); ``dataset`` is only used with ``MARKET_DATA_SOURCE=replay``.
    """
    environ = os.environ if environ is None else environ
    checks, cfg = _settings_checks(env_file, dict(overrides or {}))
    checks += _name_checks(environ, env_file)
    source = cfg.market_data_source if cfg is not None else _raw_source(environ, env_file)  # type: ignore[attr-defined]
    db = db or (cfg.state_db_path if cfg is not None else "data/btcbot_book.duckdb")  # type: ignore[attr-defined]
    if source == "btcturk":
        unused = dataset or (cfg.replay_dataset_path if cfg is not None else "data/replay")  # type: ignore[attr-defined]
        checks.append(
            Check(
                "dataset",
                "not used",
                SKIP,
                f"MARKET_DATA_SOURCE=btcturk: the replay dataset {unused} is not read, so not checked",
            )
        )
        candidates: list[str] = []
        rules = None
        if cfg is not None:  # without settings there is no URL to probe; settings/load says why
            exchange, candidates, rules = _exchange_checks(cfg, max_skew_ms)
            checks += exchange
        checks += _storage_checks(db)
        if rules is not None and candidates:
            checks += _rules_checks(SimpleNamespace(rules=rules, symbols=candidates), cfg)
        return checks
    dataset = dataset or (cfg.replay_dataset_path if cfg is not None else "data/replay")  # type: ignore[attr-defined]
    data_checks, data = _dataset_checks(dataset, cfg)
    checks += data_checks
    if data is not None and cfg is not None:
        symbols = list(data.symbols)  # type: ignore[attr-defined]
        checks += _universe(cfg, symbols, symbols, "the dataset")[0]
    checks += _storage_checks(db)
    if data is not None:
        checks += _rules_checks(data, cfg)
    return checks


def exit_code(checks: list[Check]) -> int:
    return max((_RANK[c.status] for c in checks), default=0)


def format_checks(checks: list[Check]) -> str:
    width = max(len(f"{c.area}/{c.name}") for c in checks)
    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL"]
    for c in checks:
        lines.append(f"{c.area + '/' + c.name:<{width}}  {c.status:<6}  {c.detail}")
        if c.fix and c.status in (WARN, FAIL):
            lines.append(f"{'':<{width}}  {'':<6}  fix: {c.fix}")
    worst = exit_code(checks)
    counts = {s: sum(1 for c in checks if c.status == s) for s in (PASS, WARN, FAIL, SKIP)}
    skipped = f", {counts[SKIP]} skipped" if counts[SKIP] else ""
    lines.append(
        f"doctor: {counts[PASS]} pass, {counts[WARN]} warn, {counts[FAIL]} fail{skipped} → {[PASS, WARN, FAIL][worst]}"
    )
    return "\n".join(lines)
