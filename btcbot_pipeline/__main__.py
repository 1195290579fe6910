"""``python -m btcbot_pipeline`` is the ``btcbot`` command."""

from btcbot_pipeline.cli import run

# Guarded: the gate worker's process (multiprocessing "spawn") imports the parent's main
# module again, and must not run the command a second time.
if __name__ == "__main__":
    run()
