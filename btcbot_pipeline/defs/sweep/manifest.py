"""A sweep on disk: its member specs, its manifest, and the rules for running it again.

Layout (under ``BACKTEST_DIR/sweeps/<sweep>/``, a folder of its own so that the per-spec
asset groups, which read ``BACKTEST_DIR/*.spec.json`` only, never see the members)::

    sweep.json                   the manifest: window, dataset, shared settings, members and their params
    <sweep>__001.spec.json       each member's complete backtest spec (defs/backtest/spec.py)
    <sweep>__001.duckdb          each member's book (and .png: its report chart)
    leaderboard.csv / .parquet / .png

A sweep of the same name is run again only with the same manifest (then every member's
book starts over); another grid, window, dataset or shared setting is refused unless
``replace``, which deletes the sweep's folder first (as ``btcbot backtest --replace``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from btcbot_pipeline.defs.backtest.spec import NAME, BacktestSpec, book_path, make_spec, save_spec, spec_path
from btcbot_pipeline.domain import sweep_grid
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.settings import SettingsError

SWEEPS = "sweeps"
MANIFEST = "sweep.json"
LEADERBOARD_FILES = ("leaderboard.csv", "leaderboard.parquet", "leaderboard.png")


class SweepError(BtcbotError):
    """A sweep cannot be made, read or launched (bad name, grid, spec, instance)."""


class Member(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    params: dict[str, str]


class SweepManifest(BaseModel):
    """What a sweep runs: ``settings`` are the settings every member shares (the grid's
    keys left out), ``params`` the grid's keys, ``members`` each member's values of them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    dataset: str
    start: datetime
    end: datetime
    partition: str
    params: list[str]
    settings: dict[str, str | None]
    members: list[Member]


def sweep_dir(backtest_dir: str | Path, sweep: str) -> Path:
    return Path(backtest_dir) / SWEEPS / sweep


def member_book(backtest_dir: str | Path, member: str) -> Path:
    """The member's book, from its name alone (``<sweep>__NNN``)."""
    return book_path(sweep_dir(backtest_dir, sweep_grid.sweep_of(member)), member)


def plan_sweep(
    *,
    name: str,
    dataset: str,
    start: datetime,
    end: datetime,
    partition: str,
    env_file: str | None,
    params: Mapping[str, str] | None,
    sets: Mapping[str, str],
    grid: Sequence[Mapping[str, str]],
) -> tuple[SweepManifest, list[BacktestSpec]]:
    """The manifest and one complete spec per parameter set: ``params`` (``--params``) and
    ``sets`` (``--set``) are shared, each set's values override them.

    Raises:
        SweepError: a bad sweep name, or a member whose settings are refused (named).
    """
    digits = max(sweep_grid.MIN_DIGITS, len(str(len(grid))))
    longest = 63 - len(sweep_grid.SEPARATOR) - digits
    if not NAME.fullmatch(name) or len(name) > longest or sweep_grid.SEPARATOR in name:
        raise SweepError(
            f"sweep name {name!r}: letters, digits and single _ only, starting with a letter (≤ {longest} chars)"
        )
    specs = []
    for member, values in zip(sweep_grid.member_names(name, len(grid)), grid):
        try:
            specs.append(
                make_spec(
                    name=member,
                    dataset=dataset,
                    start=start,
                    end=end,
                    partition=partition,
                    env_file=env_file,
                    params=dict(params or {}),
                    sets={**sets, **values},
                )
            )
        except (SettingsError, BtcbotError) as exc:
            shown = ", ".join(f"{k}={v}" for k, v in values.items())
            raise SweepError(f"sweep {name} member {member} ({shown}): {exc}") from None
    keys = sweep_grid.varying_keys(grid)
    first = specs[0]
    manifest = SweepManifest(
        name=name,
        dataset=first.dataset,
        start=first.start,
        end=first.end,
        partition=first.partition,
        params=keys,
        settings={k: v for k, v in first.settings.items() if k not in keys},
        members=[Member(name=s.name, params=dict(p)) for s, p in zip(specs, grid)],
    )
    return manifest, specs


def prepare_sweep(
    manifest: SweepManifest, specs: Sequence[BacktestSpec], backtest_dir: str | Path, *, replace: bool = False
) -> Path:
    """Write the sweep's folder: its member specs and manifest, every member's book deleted
    (a sweep always runs from its first cycle). Returns the folder.

    Raises:
        SweepError: the sweep exists with another manifest and ``replace`` is not set.
    """
    folder = sweep_dir(backtest_dir, manifest.name)
    old = load_manifest(folder) if (folder / MANIFEST).is_file() else None
    if replace and folder.is_dir():
        shutil.rmtree(folder)
    elif old is not None and old != manifest:
        changed = [
            k
            for k in ("dataset", "start", "end", "partition", "params", "settings", "members")
            if getattr(old, k) != getattr(manifest, k)
        ]
        raise SweepError(
            f"sweep '{manifest.name}' already exists with another grid or spec (differs in {', '.join(changed)}): "
            "run it under another --name to keep both, or pass --replace to start it over"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        book = book_path(folder, spec.name)
        for path in (book, Path(f"{book}.wal"), book.with_suffix(".png")):
            path.unlink(missing_ok=True)
        save_spec(spec, folder)
    for name in LEADERBOARD_FILES:
        (folder / name).unlink(missing_ok=True)
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return folder


def load_manifest(folder: str | Path) -> SweepManifest:
    path = Path(folder) / MANIFEST
    try:
        return SweepManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"sweep manifest {path} cannot be read: {str(exc).splitlines()[0]}") from None


def manifest_files(backtest_dir: str | Path) -> list[Path]:
    root = Path(backtest_dir) / SWEEPS
    return sorted(root.glob(f"*/{MANIFEST}")) if root.is_dir() else []


def load_member_spec(folder: str | Path, member: str) -> BacktestSpec:
    path = spec_path(folder, member)
    try:
        return BacktestSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"sweep member spec {path} cannot be read: {str(exc).splitlines()[0]}") from None
