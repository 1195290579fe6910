"""The bot's settings, read once from the environment and an optional ``.env`` file.

:class:`BotSettings` keeps the seeds' variable names (``DRY_RUN``, ``KILL_SWITCH``,
``STAGE7_*``, ...) exactly, without a prefix: they are the users' interface. Every money or
bps value is a ``Decimal`` whose bounds are declared on the field, and the gate combinations
that the original system refused (seed project report §5) are refused here too, at load time.
A bad configuration stops the process before any cycle runs, because a cycle run with a
half-understood configuration is worse than no cycle at all.

Other code calls :func:`load_settings`, then :meth:`BotSettings.cycle_params` (or a
section's own builder) to get plain domain parameters; the domain never reads settings.

One module per section, each declaring its variables, their rules and the domain
parameters it builds:

- ``safety.py``    ``DRY_RUN``, ``KILL_SWITCH``, ``LIVE_TRADING``, ``LIVE_TRADING_ACK``,
  ``STAGE7_ENABLED`` and the gate combinations;
- ``exchange.py``  ``BTCTURK_*``, ``MARKET_DATA_SOURCE`` → ``ClientConfig``;
- ``universe.py``  ``STAGE7_UNIVERSE_*``, volume, spread, lookback, weights → ``UniverseParams``;
- ``trading.py``   policy, execution, the simulated OMS, rules fallbacks, freshness, risk →
  ``PolicyParams``, ``ExecutionParams``, ``OmsParams``, ``RulesParams``, ``RiskLimits``;
- ``alerts.py``    ``ALERT_*`` → ``AlertThresholds``;
- ``data.py``      book, dataset and backtest paths, gate chunking;
- ``schedule.py``  ``CYCLE_CRON``, the partition span, catch-up;
- ``bot.py``       :class:`BotSettings`: the sections together, cross-section checks,
  ``cycle_params``, ``safe_summary``;
- ``loading.py``   :func:`load_settings` and :class:`SettingsError`;
- ``fields.py``    text forms and field rules the sections share;
- ``names.py``     which names the bot reads, and what ``btcbot doctor`` says of the others.
"""

from btcbot_pipeline.settings.bot import BotSettings
from btcbot_pipeline.settings.fields import SECRET_MASK
from btcbot_pipeline.settings.loading import SettingsError, load_settings
from btcbot_pipeline.settings.safety import LIVE_TRADING_ACK_PHRASE

__all__ = [
    "LIVE_TRADING_ACK_PHRASE",
    "SECRET_MASK",
    "BotSettings",
    "SettingsError",
    "load_settings",
]
