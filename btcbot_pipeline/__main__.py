"""``python -m btcbot_pipeline`` is the ``btcbot`` command."""

import sys

from btcbot_pipeline.cli import main

sys.exit(main())
