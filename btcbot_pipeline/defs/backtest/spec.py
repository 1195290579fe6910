"""A backtest spec: what one named backtest replays, over which window, with which settings.

``btcbot backtest`` writes it to ``BACKTEST_DIR/<name>.spec.json`` before running; the
code location turns every spec there into its own asset group, so the same backtest can
be re-launched (a backfill of its partitions) from the Dagster UI. A spec is complete:
its ``settings`` are every setting (but paths and secrets) as ``.env``, the environment,
``--params`` and ``--set`` gave them when it was made, so a re-run never depends on the
``.env`` of the day it runs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from btcbot_pipeline.domain import utc
from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings
from btcbot_pipeline.storage.identity import params_hash

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
# Never taken into a spec: where files live is the spec's own business, and secrets never
# belong in a file that describes an experiment.
_NOT_RECORDED = {
    "STATE_DB_PATH",
    "REPLAY_DATASET_PATH",
    "BACKTEST_DIR",
    "BTCTURK_API_KEY",
    "BTCTURK_API_SECRET",
    "ALERT_WEBHOOK_URL",
}
# A backtest replays files and simulates fills: these gates are fixed whatever .env says
# (a dry-run profile with KILL_SWITCH=true would otherwise trade nothing). --set wins.
BACKTEST_GATES = {
    "STAGE7_ENABLED": "true",
    "DRY_RUN": "true",
    "LIVE_TRADING": "false",
    "KILL_SWITCH": "false",
    "MARKET_DATA_SOURCE": "replay",
}
PARTITIONS = {"day": ("0 0 * * *", timedelta(days=1)), "week": ("0 0 * * 1", timedelta(days=7))}


class SpecError(BtcbotError):
    """A backtest spec cannot be made or read (bad name, window, parameter or file)."""


class BacktestSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    dataset: str
    start: datetime
    end: datetime
    partition: Literal["day", "week"] = "day"
    settings: dict[str, str | None]

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.fullmatch(value):
            raise ValueError(
                f"backtest name {value!r}: letters, digits and _ only, starting with a letter (≤ 63 chars)"
            )
        return value

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

    def cfg(self, backtest_dir: str | Path) -> BotSettings:
        """The backtest's settings: the recorded ones (``.env`` is not read; every recorded
        value wins over the environment)."""
        return load_settings(
            None,
            **self.settings,
            REPLAY_DATASET_PATH=self.dataset,
            STATE_DB_PATH=str(book_path(backtest_dir, self.name)),
        )

    def partition_bounds(self) -> tuple[datetime, datetime]:
        """Partition-aligned bounds covering ``[start, end)``: UTC midnights (Mondays for weeks)."""
        step = PARTITIONS[self.partition][1]
        lo = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.partition == "week":
            lo -= timedelta(days=lo.weekday())
        hi = lo
        while hi < self.end:
            hi += step
        return lo, hi


def book_path(backtest_dir: str | Path, name: str) -> Path:
    return Path(backtest_dir) / f"{name}.duckdb"


def spec_path(backtest_dir: str | Path, name: str) -> Path:
    return Path(backtest_dir) / f"{name}.spec.json"


def _text(value: Any) -> str:
    from btcbot_pipeline.settings.fields import summary_text as _summary_text

    return _summary_text(value)


def read_params_file(path: str | Path) -> dict[str, str]:
    """``--params FILE``: a JSON object, or ``KEY=VALUE`` lines (``#`` comments), by setting name."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"--params {path}: no such file")
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"--params {path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise SpecError(f"--params {path}: a JSON object of SETTING: value is expected")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SpecError(f"--params {path}:{n}: expected KEY=VALUE, got {line!r}")
        key, value = line.split("=", 1)
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if "=" not in item:
            raise SpecError(f"--set {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def make_spec(
    *,
    name: str,
    dataset: str,
    start: datetime,
    end: datetime,
    partition: str = "day",
    env_file: str | None = ".env",
    params: dict[str, str] | None = None,
    sets: dict[str, str] | None = None,
) -> BacktestSpec:
    """The complete spec: ``.env`` + environment, then the backtest gates, ``--params``,
    ``--set``; every value that differs from the defaults is recorded.

    Raises:
        SpecError: a bad name or window; SettingsError: a refused setting.
    """
    if not end > start:
        raise SpecError(f"--end {utc.minute_text(end)} must be after --start {utc.minute_text(start)}")
    overrides = {**BACKTEST_GATES, **(params or {}), **(sets or {})}
    for key in overrides:
        if key.upper() in _NOT_RECORDED:
            raise SpecError(
                f"{key} cannot be set for a backtest: the dataset is --dataset and the book BACKTEST_DIR/<name>.duckdb"
            )
    cfg = load_settings(env_file, **overrides)
    # Every setting, not only those off their defaults: a re-run (from the UI, where
    # Dagster loads .env into the environment) must not pick up anything new.
    recorded: dict[str, str | None] = {}
    for field, info in BotSettings.model_fields.items():
        alias = info.alias or field.upper()
        if alias not in _NOT_RECORDED:
            value = getattr(cfg, field)
            recorded[alias] = None if value is None else _text(value)
    try:
        spec = BacktestSpec(
            name=name, dataset=str(dataset), start=start, end=end, partition=partition, settings=recorded
        )
    except ValueError as exc:
        raise SpecError(str(exc).splitlines()[-1] if "name" not in str(exc) else _first_error(exc)) from None
    # The recorded text must give back exactly these parameters.
    again = spec.cfg("unused")
    if params_hash(again) != params_hash(cfg):
        raise SpecError("internal: the recorded settings do not reproduce the parameters; please report")
    return spec


def _first_error(exc: ValueError) -> str:
    for line in str(exc).splitlines():
        if line.strip().startswith("Value error,"):
            return line.strip().removeprefix("Value error,").split(" [type=")[0].strip()
    return str(exc)


def save_spec(spec: BacktestSpec, backtest_dir: str | Path) -> Path:
    path = spec_path(backtest_dir, spec.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def load_specs(backtest_dir: str | Path) -> list[BacktestSpec]:
    """Every readable spec in ``backtest_dir``, by name. An unreadable one is skipped: one
    bad file must not take the code location (and every other backtest) down."""
    root = Path(backtest_dir)
    out = []
    for path in sorted(root.glob("*.spec.json")) if root.is_dir() else []:
        try:
            out.append(BacktestSpec.model_validate_json(path.read_text(encoding="utf-8")))
        except (ValueError, OSError, SettingsError):
            continue
    return out
