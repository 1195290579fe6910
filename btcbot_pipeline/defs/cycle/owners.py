"""Who owns the project's Dagster definitions (shown on every asset, check, job, schedule
and sensor in the UI)."""

OWNERS = ["team:trading"]
