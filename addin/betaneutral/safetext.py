"""Make untrusted text safe to place in a spreadsheet cell or a CSV field.

A spreadsheet treats a cell whose text starts with ``=``, ``+``, ``-`` or ``@``
as a formula, and a leading tab, carriage return or line feed can hide such a
start (formula or "CSV" injection, CWE-1236). Free text is therefore
*neutralised*: C0 control characters other than tab, CR and LF are removed,
and when the first character, or the first character after leading spaces, is
one of ``= + - @ TAB CR LF`` a single quote is put in front. Identifiers
(asset, symbol, exchange, contract names) are *validated* instead, against a
strict pattern, so that they never need escaping.

References: OWASP "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection)
and OWASP ASVS 5.0 requirement V1.2.10.
"""

from __future__ import annotations

import re

from betaneutral.errors import InputTypeError

__all__ = ["IDENTIFIER_PATTERN", "neutralise_text", "validate_identifier"]

#: Default pattern for identifiers: upper-case letters, digits and ``. _ : / -``,
#: starting with a letter or digit, at most 64 characters.
IDENTIFIER_PATTERN = r"^[A-Z0-9][A-Z0-9._:/-]{0,63}$"

_TRIGGERS = frozenset("=+-@\t\r\n")
# C0 controls (U+0000..U+001F) except TAB (09), LF (0A) and CR (0D).
_C0_EXCEPT_TAB_CR_LF = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise_text(value: str) -> str:
    """Return ``value`` made inert as spreadsheet cell text.

    Parameters
    ----------
    value : str
        Free text (a label, a note, a reason) from a user or a data file.

    Returns
    -------
    str
        The text with NUL and the other C0 control characters (except TAB, CR and
        LF) removed, prefixed with ``'`` when its first character, or its first
        character after leading spaces, is one of ``= + - @ TAB CR LF``.

    Raises
    ------
    InputTypeError
        If ``value`` is not a ``str``.

    Notes
    -----
    Removal happens before the check, so a NUL cannot hide a leading ``=``.
    The result is idempotent: neutralising it again changes nothing, because it
    then starts with ``'``.

    Examples
    --------
    >>> neutralise_text("=1+2")
    "'=1+2"
    >>> neutralise_text("  @SUM(A1)")
    "'  @SUM(A1)"
    >>> neutralise_text("BTC hedge")
    'BTC hedge'
    """
    if not isinstance(value, str):
        raise InputTypeError(f"value must be text (str), got {type(value).__name__}")
    text = _C0_EXCEPT_TAB_CR_LF.sub("", value)
    stripped = text.lstrip(" ")
    if stripped and stripped[0] in _TRIGGERS:
        return "'" + text
    return text


def validate_identifier(name: str, value: object, pattern: str = IDENTIFIER_PATTERN) -> str:
    """Return ``value`` if it is an identifier matching ``pattern``, else raise.

    Parameters
    ----------
    name : str
        Name of the field, used in the error message (e.g. ``"asset"``).
    value : object
        The candidate identifier.
    pattern : str
        Regular expression the *whole* value must match (``re.fullmatch``, so a
        trailing newline never slips past ``$``).

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    InputTypeError
        If ``value`` is not a ``str`` or does not match ``pattern``; the message
        names the field.

    Examples
    --------
    >>> validate_identifier("symbol", "BINANCE:BTCUSDT")
    'BINANCE:BTCUSDT'
    """
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be text matching {pattern}, got {value!r}")
    if re.fullmatch(pattern, value) is None:
        raise InputTypeError(f"{name} must match {pattern}, got {value!r}")
    return value
