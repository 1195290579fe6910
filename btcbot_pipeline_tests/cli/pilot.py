"""The pilot profile as an operator fills it in, pointed at the fake BTCTurk (for the
preflight and live-cycle command tests)."""

from __future__ import annotations

from pathlib import Path

from btcbot_pipeline.testing.fake_btcturk import FAKE_API_KEY, FAKE_API_SECRET, FakeBtcturk

PILOT = Path(__file__).resolve().parents[2] / ".env.pilot.example"
PILOT_PAIRS = ("ETHTRY", "XRPTRY", "AVAXTRY")  # beside the demo's BTCTRY and USDTTRY


def pilot_env(tmp_path: Path, fake: FakeBtcturk, **changes: str) -> Path:
    """``.env.pilot.example`` as an operator fills it in, pointed at the fake exchange."""
    values = {
        "BTCTURK_API_KEY": FAKE_API_KEY,
        "BTCTURK_API_SECRET": FAKE_API_SECRET,
        "BTCTURK_BASE_URL": fake.url,
        "BTCTURK_GRAPH_BASE_URL": fake.url,
        **changes,
    }
    lines = []
    for line in PILOT.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values.pop(key)}" if "=" in line and key in values else line)
    lines += [f"{key}={value}" for key, value in values.items()]
    env = tmp_path / ".env.live"
    env.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return env
