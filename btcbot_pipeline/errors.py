"""The root of the project's own errors.

Every error this project raises on purpose (a refused setting, a bad dataset or spec, a
book that cannot be read, an exchange that answered wrongly, ...) is a
:class:`BtcbotError`, so ``btcbot`` catches them in one place and prints one line
(``ErrorType: message``) instead of a traceback. Errors that are also a built-in kind
(a ``ValueError`` for a value that does not parse) stay that kind.
"""

from __future__ import annotations


class BtcbotError(Exception):
    """An error of btcbot_pipeline's own: its message is meant for the operator."""
