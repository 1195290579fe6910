"""Reading the settings once: :func:`load_settings` and its :class:`SettingsError`.

Precedence, highest first: keyword overrides, the process environment, the ``.env`` file,
the defaults. Every pydantic error becomes one ``VARIABLE: problem (was <value>)`` line,
with the secrets' values masked.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from btcbot_pipeline.errors import BtcbotError
from btcbot_pipeline.settings.alerts import SECRET_NAMES as ALERT_SECRET_NAMES
from btcbot_pipeline.settings.bot import BotSettings
from btcbot_pipeline.settings.exchange import SECRET_NAMES as EXCHANGE_SECRET_NAMES
from btcbot_pipeline.settings.fields import SECRET_MASK

_SECRET_ALIASES = EXCHANGE_SECRET_NAMES | ALERT_SECRET_NAMES


class SettingsError(BtcbotError):
    """The configuration cannot be used; the message says which variable and why.

    The message has one line per problem, ``VARIABLE: problem (was <value>)``. Secret values
    are never part of it.

    Attributes:
        problems: the message's lines, one per problem.
    """

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def _alias_by_name() -> dict[str, str]:
    return {name: info.alias or name.upper() for name, info in BotSettings.model_fields.items()}


def _problem_lines(error: ValidationError) -> list[str]:
    """One ``VARIABLE: problem (was <value>)`` line per pydantic error; secrets masked."""
    aliases = _alias_by_name()
    lines: list[str] = []
    for item in error.errors(include_url=False):
        loc = item.get("loc", ())
        message = str(item.get("msg", "invalid value"))
        if not loc:
            # Model-level (combination) errors are already formatted, one per line.
            lines.extend(message.splitlines())
            continue
        head = str(loc[0])
        variable = aliases.get(head, head)
        # Our field validators raise ValueError; pydantic prefixes their text.
        message = message.removeprefix("Value error, ")
        if variable in _SECRET_ALIASES:
            shown = SECRET_MASK
        else:
            raw = item.get("input")
            shown = repr(raw) if isinstance(raw, str) else str(raw)
        lines.append(f"{variable}: {message} (was {shown})")
    return lines


def load_settings(env_file: str | os.PathLike[str] | None = ".env", **overrides: Any) -> BotSettings:
    """Read and validate the settings once, failing fast with a readable error.

    Precedence, highest first: ``overrides``, process environment, ``env_file``, defaults.

    Args:
        env_file: a dotenv file to read if it exists (a missing file is not an error);
            ``None`` reads the environment only.
        **overrides: values that win over everything else, keyed by field name
            (``dry_run``) or environment name (``DRY_RUN``). Tests and the CLI use these.

    Returns:
        The validated settings.

    Raises:
        SettingsError: a value or a combination is refused, or an override names no
            setting. Each line names the environment variable and the value seen, except
            secrets.
    """
    aliases = _alias_by_name()
    known = set(aliases.values())
    by_alias: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in overrides.items():
        if key in aliases:
            by_alias[aliases[key]] = value
        elif key.upper() in known:
            by_alias[key.upper()] = value
        else:
            unknown.append(key)
    if unknown:
        # extra="ignore" suits a shared .env file, but a mistyped override is a bug.
        raise SettingsError([f"{key}: unknown setting (was an override)" for key in unknown])
    try:
        return BotSettings(_env_file=env_file, **by_alias)
    except ValidationError as exc:
        lines = _problem_lines(exc)
        # Chained for the traceback; hide_input_in_errors keeps secrets out of its text.
        raise SettingsError(lines) from exc
