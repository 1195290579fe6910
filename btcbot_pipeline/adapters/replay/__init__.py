"""Replay datasets: files on disk standing in for the BTCTurk public API.

Modules:

- ``dataset``: :class:`ReplayDataset` (``load`` → ``snapshot_at``), :class:`ReplayDatasetError`.
- ``validate``: :func:`validate_replay_dataset` → :class:`ValidationReport`.
- ``synth``: :func:`init_replay_dataset`, a deterministic synthetic dataset.
- ``exchangeinfo``: :func:`parse_exchange_info` / :func:`load_exchange_info` → ``SymbolRules``.
- ``csvio``: the CSV reading (pyarrow), timestamp and number checks shared by the reader and the validator.
"""

from __future__ import annotations

from btcbot_pipeline.adapters.replay.csvio import ValidationIssue
from btcbot_pipeline.adapters.replay.dataset import ReplayDataset, ReplayDatasetError
from btcbot_pipeline.adapters.replay.exchangeinfo import (
    ExchangeInfoError,
    load_exchange_info,
    parse_exchange_info,
)
from btcbot_pipeline.adapters.replay.synth import SynthSummary, init_replay_dataset
from btcbot_pipeline.adapters.replay.validate import ValidationReport, validate_replay_dataset

__all__ = [
    "ExchangeInfoError",
    "ReplayDataset",
    "ReplayDatasetError",
    "SynthSummary",
    "ValidationIssue",
    "ValidationReport",
    "init_replay_dataset",
    "load_exchange_info",
    "parse_exchange_info",
    "validate_replay_dataset",
]
