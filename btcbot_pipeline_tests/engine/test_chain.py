"""The book is a chain: every cycle opens from the state the cycle before it closed with.

A window with later cycles in the book is refused (naming them and the one run that
rebuilds from there); the ledger chain gate checks every link against the book itself.
"""

from __future__ import annotations

from btcbot_pipeline.testing.cycle_harness import Cycle, failure_text

CHAIN_SQL = (
    "SELECT strftime(cycle_ts, '%H:%M'), carried_from IS NOT DISTINCT FROM lag(cycle_id) OVER w,"
    " opening_digest IS NOT DISTINCT FROM lag(closing_digest) OVER w FROM ledger_metrics"
    " WINDOW w AS (ORDER BY cycle_ts) ORDER BY cycle_ts"
)


def _tables(cycle: Cycle) -> dict[str, list[tuple]]:
    return {t: cycle.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in ("ledger_metrics", "fills", "cycle_trace")}


def _other_slippage(cycle: Cycle) -> Cycle:
    return Cycle(db=cycle.db, dataset=cycle.dataset, overrides={**cycle.overrides, "STAGE7_SLIPPAGE_BPS": "40"})


def test_rerunning_a_cycle_inside_the_chain_is_refused_with_the_rebuild_command(cycle: Cycle) -> None:
    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:50").success
    before = _tables(cycle)

    result = _other_slippage(cycle).run("2026-01-01T00:35")

    assert not result.success
    assert failure_text(result).splitlines()[-1] == (
        "ChainError: the book holds 3 later cycles (2026-01-01T00:40 … 2026-01-01T00:50 UTC) carried on from the "
        "state 2026-01-01T00:35 would replace: running it alone would break the book's chain. Nothing was written. "
        "To rebuild from 2026-01-01T00:35 through the book's last cycle, in one run: dagster asset materialize "
        "-m btcbot_pipeline.definitions --select 'group:cycle' --partition-range 2026-01-01T00:35...2026-01-01T00:50"
    )
    assert _tables(cycle) == before


def test_the_rebuild_run_rewrites_every_later_cycle_from_the_new_state(cycle: Cycle, tmp_path) -> None:
    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:50").success
    old_cash = cycle.rows("SELECT cash_try FROM ledger_metrics ORDER BY cycle_ts")

    assert _other_slippage(cycle).run(first="2026-01-01T00:35", last="2026-01-01T00:50").success

    # the same as a book that ran 00:30 at the old slippage and the rest at the new one
    expected = Cycle(db=tmp_path / "expected.duckdb", dataset=cycle.dataset, overrides=cycle.overrides)
    assert expected.run("2026-01-01T00:30").success
    assert _other_slippage(expected).run(first="2026-01-01T00:35", last="2026-01-01T00:50").success
    assert _tables(cycle) == _tables(expected)
    new_cash = cycle.rows("SELECT cash_try FROM ledger_metrics ORDER BY cycle_ts")
    assert new_cash[0] == old_cash[0] and new_cash[1:] != old_cash[1:]
    assert cycle.rows(CHAIN_SQL) == [(t, True, True) for t in ("00:30", "00:35", "00:40", "00:45", "00:50")]


def test_a_cycle_before_the_chain_is_refused_and_the_book_opens_once(cycle: Cycle) -> None:
    assert cycle.run("2026-01-01T00:05").success

    refused = cycle.run("2026-01-01T00:00")

    assert not refused.success
    text = failure_text(refused)
    assert "the book holds 1 later cycle (2026-01-01T00:05 … 2026-01-01T00:05 UTC)" in text
    assert "--partition-range 2026-01-01T00:00...2026-01-01T00:05" in text
    assert cycle.rows("SELECT count(*) FROM ledger_metrics") == [(1,)]

    assert cycle.run(first="2026-01-01T00:00", last="2026-01-01T00:05").success
    assert cycle.run("2026-01-01T00:10").success

    assert cycle.rows("SELECT strftime(cycle_ts, '%H:%M') FROM ledger_metrics WHERE carried_from IS NULL") == [
        ("00:00",)
    ]
    assert cycle.rows(CHAIN_SQL) == [("00:00", True, True), ("00:05", True, True), ("00:10", True, True)]
    # one opening: the BUYs of all cycles never spend more than the opening cash
    assert cycle.rows("SELECT min(cash_try) >= 0 FROM ledger_metrics") == [(True,)]


def test_a_run_refuses_to_carry_from_a_cycle_whose_state_was_changed_in_the_book(cycle: Cycle) -> None:
    import duckdb

    assert cycle.run(first="2026-01-01T00:30", last="2026-01-01T00:35").success
    # 00:35 rewritten behind the chain's back (its closing state is no longer the one it recorded)
    with duckdb.connect(str(cycle.db)) as con:
        con.execute(
            "UPDATE ledger_metrics SET closing_digest = sha256('another state') "
            "WHERE cycle_ts = TIMESTAMP '2026-01-01 00:35'"
        )

    result = cycle.run("2026-01-01T00:40")

    assert not result.success
    text = failure_text(result)
    assert "BookCheckError: the book fails its check (2 findings): its rows are not what earlier runs committed" in text
    assert (
        "ERROR  2026-01-01T00:35  ledger_metrics.closing_digest  is not the digest of the state the cycle stores"
        in text
    )
    assert cycle.rows("SELECT count(*) FROM ledger_metrics WHERE cycle_ts = TIMESTAMP '2026-01-01 00:40'") == [(0,)]


def test_a_backtest_graph_names_its_group_and_day_partitions_in_the_rebuild_command() -> None:
    from datetime import datetime, timezone

    import dagster as dg

    from btcbot_pipeline.defs.cycle.assets import CycleGraph

    days = dg.DailyPartitionsDefinition(start_date="2018-01-10")
    graph = CycleGraph(days, kind="backtest", name="real10", group="backtest_real10", cycle_cron="*/5 * * * *")

    assert graph.rebuild_command("2018-01-12", datetime(2018, 1, 20, 23, 55, tzinfo=timezone.utc)) == (
        "dagster asset materialize -m btcbot_pipeline.backtest_definitions --select 'group:backtest_real10' "
        "--partition-range 2018-01-12...2018-01-20"
    )


def test_chain_links_pass_only_when_id_and_digest_both_match() -> None:
    from btcbot_pipeline.quality.rules import CHAIN_SUITE, chain_frame, evaluate_exact

    links = [
        ("t0", "c0", None, None, None, None),  # the book opens
        ("t1", "c1", "c0", "d0", "c0", "d0"),
        ("t2", "c2", "c1", "dX", "c1", "d1"),  # opened from another state
        ("t3", "c3", None, None, "c2", "d2"),  # opened a second time
    ]

    flags = [r["starts_from_previous_cycle"] for r in chain_frame(links)]
    result = evaluate_exact(CHAIN_SUITE, chain_frame(links))

    assert flags == [True, True, False, False]
    assert result.blocking and result.failures[0].observed == 2
