"""The README's live rehearsal, as printed: its ``sed`` turns ``.env.pilot.example`` into a
profile for the fake exchange that preflight finds armed except the kill switch."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from btcbot_pipeline.cli import main
from btcbot_pipeline.testing.env_isolation import clear_bot_environment
from btcbot_pipeline.testing.fake_btcturk import FakeBtcturk, FakeMarket

ROOT = Path(__file__).resolve().parents[1]


def rehearsal_lines() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Live trading: a canary, step by step") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1).replace("\\\n", " ").splitlines()


def test_the_readmes_rehearsal_profile_passes_preflight_but_the_kill_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_bot_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env.pilot.example").write_text((ROOT / ".env.pilot.example").read_text(encoding="utf-8"))
    (sed,) = [line for line in rehearsal_lines() if line.lstrip().startswith("sed -e")]
    with FakeBtcturk(FakeMarket.demo()) as fake:
        subprocess.run(["bash", "-c", sed.replace("127.0.0.1:8765", f"127.0.0.1:{fake.port}")], check=True)
        code = main(["preflight", "--profile", "live"])
    out = capsys.readouterr().out
    assert code == 1, out
    assert [line for line in out.splitlines() if line.startswith("FAIL")] == [
        line for line in out.splitlines() if line.startswith("FAIL  gate KILL_SWITCH")
    ]
    assert "btcbot fake-btcturk --port 8765 &" in [line.strip() for line in rehearsal_lines()]
