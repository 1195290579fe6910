"""Who owns the project's Dagster definitions (shown on every asset, check, job, schedule
and sensor in the UI)."""

import warnings

import dagster as dg

OWNERS = ["team:trading"]

# `owners=` on jobs, schedules and sensors is a Dagster 1.13 beta parameter: each use
# warned once per process, so `dagster sensor list` printed 22 lines of warnings around a
# 4-line answer. We pass it knowingly (here, and nowhere else); other beta warnings stay.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of ", category=dg.BetaWarning)
