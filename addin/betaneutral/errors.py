"""Typed errors raised by BetaNeutral.

Every error the product raises for a user's mistake or for data it cannot use
derives from :class:`BetaNeutralError`. The core raises them; adapters translate
them (the Excel functions into error codes, the command line into a one-line
message and an exit code). Anything else that escapes is a bug and is left to
surface.

Hierarchy::

    BetaNeutralError
    ├── InputTypeError          (also TypeError)    -> Excel #VALUE!
    ├── DomainError             (also ValueError)   -> Excel #NUM!
    ├── InsufficientDataError   (also ValueError)   -> Excel #N/A
    ├── DegenerateDataError     (also ValueError)   -> Excel #DIV/0!
    └── UnknownNameError        (also LookupError)  -> Excel #N/A

Messages name the parameter, the value and the rule, for example
``"contract_size_btc must be > 0, got 0.0"``.
"""

from __future__ import annotations

__all__ = [
    "BetaNeutralError",
    "DegenerateDataError",
    "DomainError",
    "InputTypeError",
    "InsufficientDataError",
    "UnknownNameError",
]


class BetaNeutralError(Exception):
    """Base class of every error BetaNeutral raises on purpose."""


class InputTypeError(BetaNeutralError, TypeError):
    """A value has the wrong type: text, a boolean or a date where a number is required."""


class DomainError(BetaNeutralError, ValueError):
    """A number is outside its allowed domain (a price <= 0, a stress move <= -100%, ...)."""


class InsufficientDataError(BetaNeutralError, ValueError):
    """Too few observations, or inputs of mismatched lengths."""


class DegenerateDataError(BetaNeutralError, ValueError):
    """The data make the quantity undefined, e.g. a benchmark with zero variance."""


class UnknownNameError(BetaNeutralError, LookupError):
    """A name (contract, method, benchmark, column) is not one the product knows."""

    def __str__(self) -> str:  # LookupError/KeyError would quote the message
        return str(self.args[0]) if self.args else ""
