"""The test kit: what the tests use, and the fake exchange ``btcbot fake-btcturk`` serves.

- ``builders``: market snapshots and symbol rules with defaults (state only what matters);
- ``cycle_harness``: the cycle assets run in process on a temporary book and dataset;
- ``env_isolation``: a developer's or CI's own bot settings kept out of a test's environment;
- ``replay_builders``: replay-dataset files written from literal CSV text;
- ``hostile_data``: hostile replay datasets drawn by Hypothesis (the property test, ``scripts/fuzz_replay.py``);
- ``hostile_http``: an HTTP server that answers badly on purpose (drips, stalls, oversize bodies);
- ``webhook_server``: a webhook receiver that records what the alerts post;
- ``fake_btcturk``: the fake BTCTurk on 127.0.0.1, serving ``payloads/`` (recorded answers) or a test's numbers;
- ``fake_btcturk_setup``: a cycle's two-pair market on it, and clients that retry in milliseconds.

Nothing in the package imports the kit but the CLI's ``fake-btcturk`` command
(``btcbot_pipeline_tests/testing/test_kit.py``), and the kit imports without pytest: the
fixtures that need it are in ``btcbot_pipeline_tests/conftest.py``. ``hostile_data`` needs
Hypothesis (the ``dev`` extra); this ``__init__`` imports none of the modules.
"""
