"""When cycles run: ``CYCLE_CRON``, the partition span ``CYCLE_PARTITIONS_START`` …
``CYCLE_PARTITIONS_END`` and ``CATCHUP_MAX_RUNS_PER_TICK``.

The cron expression is checked field by field here (a Dagster schedule would only fail
when the definitions load); partition bounds are canonical ``%Y-%m-%dT%H:%M`` text (``utc.MINUTE``), so
keys and comparisons are textual. The Dagster partitions themselves are built in
``defs/cycle/partitions.py``: settings import no Dagster.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from btcbot_pipeline.domain import utc

# Cron fields: name, lowest and highest value (day of week: 0 and 7 are both Sunday).
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day-of-month", 1, 31), ("month", 1, 12), ("day-of-week", 0, 7))
_CRON_NAMES = {
    **{
        m: i
        for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)
    },
    **{d: i for i, d in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))},
}


def _cron_field_problem(text: str, low: int, high: int) -> str | None:
    """Why one cron field is not valid for its range, or ``None`` (``*``, ``a``, ``a-b``,
    each with an optional ``/step``, comma separated; month and weekday names too)."""
    for part in text.split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"step {step!r} is not a positive number"
        if span == "*":
            continue
        ends = span.split("-")
        if len(ends) > 2 or not all(ends):
            return f"{part!r} is not a value, a range or *"
        values = []
        for end in ends:
            value = _CRON_NAMES.get(end.upper()) if not end.isdigit() else int(end)
            if value is None:
                return f"{end!r} is not a number"
            if not low <= value <= high:
                return f"{value} is outside {low}-{high}"
            values.append(value)
        if len(values) == 2 and values[0] > values[1]:
            return f"range {span!r} runs backwards"
    return None


class ScheduleSection(BaseModel):
    """The cycle cron, the partition span and how much the catch-up sensor asks per tick."""

    cycle_cron: str = Field(default="*/5 * * * *", alias="CYCLE_CRON")
    cycle_partitions_start: str = Field(default="2026-01-01T00:00", alias="CYCLE_PARTITIONS_START")
    # Optional last window end: keeps a replay's partition set to the dataset's span
    # (Dagster's UI slows past ~100k partitions: 347 days of five-minute cycles).
    cycle_partitions_end: str | None = Field(default=None, alias="CYCLE_PARTITIONS_END")
    # Most cycles the catch-up sensor requests per tick (oldest first; the rest next tick).
    catchup_max_runs_per_tick: int = Field(default=12, ge=1, le=1000, alias="CATCHUP_MAX_RUNS_PER_TICK")

    @field_validator("cycle_cron", mode="after")
    @classmethod
    def _cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                "must be a cron expression of 5 space-separated fields (minute hour day-of-month month day-of-week)"
            )
        for text, (name, low, high) in zip(fields, _CRON_FIELDS):
            problem = _cron_field_problem(text, low, high)
            if problem:
                raise ValueError(f"{name} field {text!r}: {problem}")
        return " ".join(fields)

    @field_validator("cycle_partitions_start", "cycle_partitions_end", mode="after")
    @classmethod
    def _partition_start(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip()
        try:
            parsed = utc.parse_minute(text)
        except ValueError as exc:
            raise ValueError(f"must look like 2026-01-01T00:00 (format {utc.MINUTE})") from exc
        # Canonical text ("2026-1-1T0:0" → "2026-01-01T00:00"): keys and comparisons are textual.
        return utc.minute_text(parsed)

    def span_problems(self) -> list[str]:
        """An end at or before the start, as a problem line (or none)."""
        if self.cycle_partitions_end is not None and self.cycle_partitions_end <= self.cycle_partitions_start:
            return [
                "CYCLE_PARTITIONS_END: must be after CYCLE_PARTITIONS_START "
                f"(was CYCLE_PARTITIONS_END={self.cycle_partitions_end}, "
                f"CYCLE_PARTITIONS_START={self.cycle_partitions_start})"
            ]
        return []
