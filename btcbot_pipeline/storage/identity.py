"""What a run is, for a book's ``book_info`` row: kind, source, dataset, parameters, code.

Fingerprints are content hashes (sha256), so they are the same on any machine for the
same files and settings: the dataset's over every file's relative path and bytes, the
parameters' over the canonical JSON of everything that changes a cycle's decisions.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from btcbot_pipeline.domain.payloads import dumps
from btcbot_pipeline.settings import BotSettings
from btcbot_pipeline.storage.book import BookIdentity

_PACKAGE = Path(__file__).resolve().parents[1]


def dataset_fingerprint(path: str | Path) -> str | None:
    """sha256 over the dataset's files (relative path and content), ``None`` if it is not a
    folder. Provenance manifests (``*_manifest.json``: where the data came from, absolute
    paths) are left out: the same market data in another folder has the same fingerprint."""
    root = Path(path)
    if not root.is_dir():
        return None
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith("_manifest.json")):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version plus a digest of its source files: two runs with the same
    version string but edited code are told apart."""
    try:
        version = metadata.version("btcbot_pipeline")
    except metadata.PackageNotFoundError:  # running from a source tree without install
        version = "0+unknown"
    digest = hashlib.sha256()
    for file in sorted(_PACKAGE.rglob("*.py")):
        digest.update(file.relative_to(_PACKAGE).as_posix().encode() + b"\0" + file.read_bytes())
    return f"{version}+{digest.hexdigest()[:12]}"


def params_document(cfg: BotSettings) -> dict[str, Any]:
    """Everything in the settings that changes what a cycle decides or how it is gated."""
    return {
        "cycle": cfg.cycle_params().as_dict(),
        "cycle_cron": cfg.cycle_cron,
        "max_excluded_share": format(cfg.stage7_max_excluded_share, "f"),
        "kill_switch": cfg.kill_switch,
        "market_data_source": cfg.market_data_source,
    }


def params_hash(cfg: BotSettings) -> str:
    return hashlib.sha256(dumps(params_document(cfg)).encode()).hexdigest()


def run_identity(
    cfg: BotSettings,
    *,
    kind: str,
    name: str,
    source: str | None = None,
    dataset: str | None = None,
    window: tuple[datetime, datetime] | None = None,
    now: datetime | None = None,
) -> BookIdentity:
    """The identity a run claims its book with. A backtest's is strict (same dataset and
    parameters, or refused); the dry-run book's checks kind and source only.

    ``source`` / ``dataset``: where this run's market data really comes from (the
    market-data resource), default the settings' ``MARKET_DATA_SOURCE`` and its dataset
    or base URL."""
    source = source or cfg.market_data_source
    replay = source == "replay"
    dataset = dataset or (cfg.replay_dataset_path if replay else cfg.btcturk_base_url)
    return BookIdentity(
        kind=kind,
        name=name,
        source=source,
        dataset_path=dataset,
        dataset_fingerprint=dataset_fingerprint(dataset) if replay else None,
        params_hash=params_hash(cfg),
        params_json=dumps(params_document(cfg)),
        code_version=code_version(),
        # Wall clock on purpose: when the book was created (never part of a fingerprint).
        created_at=now or datetime.now(timezone.utc),
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        strict=kind == "backtest",
    )
