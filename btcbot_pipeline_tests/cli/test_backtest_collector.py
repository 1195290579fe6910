"""``btcbot backtest`` collects garbage rarely while it runs, and leaves the collector as it found it."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from btcbot_pipeline.cli.backtest import _collecting_rarely, _preload


def test_setup_is_not_collected_the_run_rarely_and_the_settings_come_back() -> None:
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())

    with _collecting_rarely() as loaded:
        assert not gc.isenabled()  # loading and checking
        loaded()
        assert gc.isenabled()
        assert gc.get_threshold()[0] == 200_000
        assert gc.get_freeze_count() > 0  # what was loaded is not walked again

    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


def test_a_refused_backtest_restores_the_collector_too() -> None:
    before = (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count())

    with pytest.raises(RuntimeError, match="dataset refused"):
        with _collecting_rarely():
            raise RuntimeError("dataset refused")

    assert (gc.isenabled(), gc.get_threshold(), gc.get_freeze_count()) == before


def test_modules_preloaded_on_a_thread_are_in_before_the_freeze(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a module that takes a while to import: loaded() must wait for it, or it stays unfrozen
    (tmp_path / "btcbot_preload_probe.py").write_text("import time\ntime.sleep(0.3)\nMARKER = [object()]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "btcbot_preload_probe", raising=False)

    try:
        with _collecting_rarely(_preload(["no_such_module_anywhere", "btcbot_preload_probe"])) as loaded:
            loaded()
            marker = sys.modules["btcbot_preload_probe"].MARKER
            assert not any(o is marker for o in gc.get_objects())  # frozen: no collection walks it
    finally:
        sys.modules.pop("btcbot_preload_probe", None)
