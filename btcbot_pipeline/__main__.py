"""``python -m btcbot_pipeline`` is the ``btcbot`` command."""

import sys

from btcbot_pipeline.cli import main

# Guarded: the gate worker's process (multiprocessing "spawn") imports the parent's main
# module again, and must not run the command a second time.
if __name__ == "__main__":
    sys.exit(main())
