"""``sweep``: many parameter sets of one backtest, as one Dagster job's partitions, then a leaderboard.

``btcbot sweep --dataset DIR --start T --end T --name NAME --grid FILE`` expands the grid
file (:mod:`btcbot_pipeline.domain.sweep_grid`) into member specs under
``BACKTEST_DIR/sweeps/NAME/`` (:mod:`btcbot_pipeline.defs.sweep.manifest`), queues one run
of ``sweep_job`` per member in the instance at ``DAGSTER_HOME`` and waits for them
(:mod:`btcbot_pipeline.defs.sweep.launch`), then prints the leaderboard, writes it as CSV,
Parquet and PNG beside the books and reports it as the ``sweep/leaderboard`` asset's
materialization. Exit 0: every member succeeded; 1: some failed (named); 2: bad input.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from btcbot_pipeline.cli import options
from btcbot_pipeline.cli.backtest import dataset_ok, spec_fields
from btcbot_pipeline.domain import utc


def _sweep(args: argparse.Namespace) -> int:
    from btcbot_pipeline.defs.sweep.launch import require_instance

    instance = require_instance()  # before anything is written: no instance, no sweep
    try:
        return _run_sweep(args, instance)
    finally:
        instance.dispose()


def _run_sweep(args: argparse.Namespace, instance: object) -> int:
    from btcbot_pipeline.defs.sweep.grid_file import read_grid_file
    from btcbot_pipeline.defs.sweep.launch import add_partitions
    from btcbot_pipeline.defs.sweep.manifest import SweepError, load_manifest, plan_sweep, prepare_sweep, sweep_dir
    from btcbot_pipeline.domain.sweep_grid import GridError, expand
    from btcbot_pipeline.settings import load_settings
    from btcbot_pipeline.settings.names import known_setting_names

    workspace = Path(args.workspace).resolve()
    if not workspace.is_file():
        raise SweepError(
            f"--workspace {args.workspace}: no such file (the sweep's runs load the btcbot_backtests location)"
        )
    if not dataset_ok(args, "sweep"):
        return 2
    settings = load_settings(args.env_file)
    try:
        grid = expand(read_grid_file(args.grid), known=known_setting_names(), source=f"--grid {args.grid}")
    except GridError as exc:
        raise SweepError(str(exc)) from None
    manifest, specs = plan_sweep(name=args.name, grid=grid, **spec_fields(args))
    folder = sweep_dir(settings.backtest_dir, manifest.name)
    before = load_manifest(folder).members if args.replace and (folder / "sweep.json").is_file() else []
    prepare_sweep(manifest, specs, settings.backtest_dir, replace=args.replace)
    members = [m.name for m in manifest.members]
    print(
        f"sweep {manifest.name}: {len(members)} members ({', '.join(manifest.params)}) over {args.dataset}, "
        f"{utc.minute_text(manifest.start)} … {utc.minute_text(manifest.end)} UTC, books in {folder}",
        flush=True,
    )
    add_partitions(instance, manifest.name, members, [m.name for m in before if m.name not in members])  # type: ignore[arg-type]
    env = {**os.environ, "BACKTEST_DIR": str(Path(settings.backtest_dir).resolve())}
    return _launch_and_rank(args, instance, manifest, folder, workspace, env)


def _launch_and_rank(args, instance, manifest, folder: Path, workspace: Path, env: dict[str, str]) -> int:  # noqa: ANN001
    from btcbot_pipeline.defs.sweep.launch import (
        ChildDaemon,
        daemon_alive,
        location_workspace,
        needs_daemon,
        submit_members,
        wait_members,
    )
    from btcbot_pipeline.defs.sweep.manifest import SweepError

    members = [m.name for m in manifest.members]
    daemon: ChildDaemon | None = None

    def ensure_daemon() -> None:
        nonlocal daemon
        failure = daemon.failure() if daemon is not None else None
        if failure is not None:
            raise SweepError(
                f"{failure}\nthe sweep's runs that had not ended stay queued in the instance: run `btcbot sweep` "
                "again with the same arguments, or start a dagster-daemon"
            )
        if daemon is None and needs_daemon(instance) and not daemon_alive(instance):
            daemon = ChildDaemon(workspace, folder / "daemon.log", env, cwd=folder)
            pid = daemon.start()
            print(
                f"no dagster-daemon is running for {os.environ['DAGSTER_HOME']}: started one (pid {pid}, log "
                f"{folder / 'daemon.log'}) for this sweep",
                flush=True,
            )

    t0 = time.perf_counter()
    try:
        submit = location_workspace(workspace, folder / "workspace.yaml")
        # Dagster's commands load a .env of their working directory over the environment:
        # run in the sweep's folder, so that the project's .env (its BACKTEST_DIR) cannot
        # replace the one this sweep resolved and passes in env (the members' books are here)
        backfill = submit_members(members, submit, env, cwd=folder)
        print(f"queued {len(members)} runs of sweep_job (backfill {backfill})", flush=True)
        # A daemon of our own starts only now, so that it finds every member queued and
        # launches as many at once as the instance allows: submitting is one run at a time
        # (seconds each on a busy machine), and a daemon dequeuing meanwhile could finish
        # each short member before the next one is queued.
        ensure_daemon()
        runs = wait_members(
            instance,
            manifest.name,
            backfill,
            len(members),
            progress=lambda line: print(line, flush=True),
            on_idle=ensure_daemon,
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the sweep's runs that had not ended stay in the instance (queued ones wait for a daemon; "
            f"the Runs page filters them by tag btcbot/sweep={manifest.name}, to cancel them)",
            file=sys.stderr,
            flush=True,
        )
        raise
    finally:
        if daemon is not None:
            daemon.stop()
            instance.wipe_daemon_heartbeats()  # ours, now stale: the next sweep must not count on it
            print("stopped the dagster-daemon this sweep started", flush=True)
    print(f"all {len(members)} members ended in {time.perf_counter() - t0:.1f} s")
    return _leaderboard(instance, manifest, folder, runs)


def _leaderboard(instance, manifest, folder: Path, runs) -> int:  # noqa: ANN001
    import dagster as dg

    from btcbot_pipeline.defs.sweep.launch import report_leaderboard
    from btcbot_pipeline.reporting import leaderboard as lb

    failed = [r for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
    ok = {r.member for r in runs} - {r.member for r in failed}
    # each member's run left its row beside its book: no book is read again here
    rows = lb.ranked([lb.read_row(folder / f"{m.name}.duckdb") for m in manifest.members if m.name in ok])
    if rows:
        print(lb.text_table(rows, manifest.params))
        files = {
            "csv": lb.write_csv(rows, manifest.params, folder / "leaderboard.csv"),
            "parquet": lb.write_parquet(rows, manifest.params, folder / "leaderboard.parquet"),
            "png": lb.render_scatter(rows, folder / "leaderboard.png", title=f"sweep {manifest.name}"),
        }
        report_leaderboard(
            instance,
            manifest.name,
            rows,
            manifest.params,
            files=files,
            extra={"members": len(runs), "failed": len(failed), "best": rows[0].member},
        )
        for kind, path in files.items():
            print(f"leaderboard {kind} {path}")
    for run in failed:
        print(f"member {run.member} FAILED (run {run.run_id}): {run.failure}", file=sys.stderr)
    return 1 if failed else 0


def add_sweep(sub: options.Subparsers) -> None:
    p = sub.add_parser(
        "sweep", help="run many parameter sets of one backtest as one Dagster job's partitions, then a leaderboard"
    )
    options.dataset(p, "replay dataset folder (validated first; errors exit 2)")
    p.add_argument("--start", type=options.utc, required=True, help="first cycle, UTC (e.g. 2018-01-10T00:00)")
    p.add_argument("--end", type=options.utc, required=True, help="end of the window, exclusive, UTC")
    p.add_argument("--name", required=True, help="books in BACKTEST_DIR/sweeps/NAME/, members NAME__001 ...")
    p.add_argument(
        "--grid", required=True, metavar="FILE", help="YAML or TOML: {grid: {KEY: [values]}} or {sets: [{KEY: value}]}"
    )
    options.settings_overrides(p, "every member (the grid's values override them)")
    options.partition(p)
    p.add_argument("--replace", action="store_true", help="delete an existing sweep of this name first")
    options.workspace(p)
    options.env_file(p)
    p.set_defaults(func=_sweep)
