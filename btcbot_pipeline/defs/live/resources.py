"""The live venue resource: preflight, the arm state, the BTCTurk venue for one run.

:meth:`LiveVenueResource.open` runs ``btcbot preflight --profile live``'s checks and logs
the arm state (one line per gate) before anything else; a failed check ends the run before
any order is read or sent. The venue it yields reads with a :class:`BtcturkReadClient`
and builds a :class:`BtcturkTradingClient` only for one write, from the gates as
:meth:`gates` reads them at that moment (the settings read again: a kill switch flipped in
the ``.env`` file between two actions blocks the second). With ``KILL_SWITCH=true`` the
run starts (preflight's only failure then is the kill switch): the cycle is recorded and
nothing is placed or cancelled.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Iterator

import dagster as dg

from btcbot_pipeline.engine import PROGRESS_LOGGER
from btcbot_pipeline.settings import BotSettings, SettingsError, load_settings


class LiveVenueResource(dg.ConfigurableResource):
    """The BTCTurk venue of the live graph (settings from the environment and ``env_file``)."""

    env_file: str | None = ".env"
    overrides: dict[str, str] = {}

    def gates(self) -> Any:
        """The four gates as they are now (:class:`LiveArming`); refused settings arm nothing."""
        from btcbot_pipeline.adapters.btcturk.client import LiveArming

        try:
            cfg = load_settings(self.env_file, **self.overrides)
        except SettingsError:
            return LiveArming(dry_run=True, kill_switch=True, live_trading=False, ack=None)
        return LiveArming(cfg.dry_run, cfg.kill_switch, cfg.live_trading, cfg.live_trading_ack)

    @contextmanager
    def open(self, cfg: BotSettings, log: Any) -> Iterator[Any]:
        from btcbot_pipeline.adapters.btcturk.account import client_config
        from btcbot_pipeline.adapters.btcturk.client import BtcturkReadClient, BtcturkTradingClient
        from btcbot_pipeline.adapters.btcturk.signing import Credentials
        from btcbot_pipeline.adapters.btcturk.venue import BtcturkVenue, LiveLimits
        from btcbot_pipeline.preflight import KILL_SWITCH_CHECK, preflight

        report = preflight(cfg, profile="live", env_file=self.env_file)
        progress = logging.getLogger(PROGRESS_LOGGER)  # the terminal of `btcbot live-cycle`
        for line in [*report.lines, report.verdict()]:
            error = line.startswith("FAIL") and report.failed != [KILL_SWITCH_CHECK]
            (log.error if error else log.info)(line)
            (progress.error if error else progress.info)(line)
        if not report.startable:  # the kill switch alone lets the cycle run: it records and sends nothing
            raise dg.Failure(
                description="live preflight failed, nothing was read or sent:\n"
                + "\n".join(line for line in report.lines if line.startswith("FAIL")),
                allow_retries=False,
            )
        assert cfg.btcturk_api_key is not None and cfg.btcturk_api_secret is not None  # preflight checked them
        credentials = Credentials(cfg.btcturk_api_key, cfg.btcturk_api_secret)
        config = client_config(cfg)
        limits = LiveLimits(
            canary_notional_try=cfg.live_canary_notional_try,
            max_position_notional_try=cfg.max_position_notional_try,
            lookback_minutes=cfg.fills_poll_lookback_minutes,
            quote=cfg.stage7_universe_quote_ccy,
        )
        with BtcturkReadClient(credentials, config) as reader:
            yield BtcturkVenue(
                reader,
                writer=lambda arming: BtcturkTradingClient(credentials, arming, config),
                gates=self.gates,
                limits=limits,
            )
