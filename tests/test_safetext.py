"""Tests of betaneutral.safetext: formula-injection neutralisation and identifier checks.

Payloads follow OWASP "CSV Injection" (owasp.org/www-community/attacks/CSV_Injection:
cells must not begin with = + - @ TAB CR) and OWASP ASVS 5.0 V1.2.10 (also NUL), plus the
classic examples used by defusedcsv's tests/test_escape.py.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betaneutral.errors import InputTypeError
from betaneutral.safetext import neutralise_text, validate_identifier

TRIGGERS = "=+-@\t\r\n"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+1", "'+1"),
        ("-1+1", "'-1+1"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\n=1+1", "'\n=1+1"),
        (" =1+1", "' =1+1"),
        ("   @A1", "'   @A1"),
        ("  \t=1", "'  \t=1"),
        ("\x00=1+1", "'=1+1"),
        ("=1\x00+1", "'=1+1"),
        ("AB\x00C", "ABC"),
        ("x\x01\x08\x0b\x0c\x0e\x1b\x1fy", "xy"),
    ],
)
def test_payloads_are_neutralised(payload: str, expected: str) -> None:
    """Each classic injection payload comes out with the exact expected escaping."""
    assert neutralise_text(payload) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "BTC hedge", "a=b", "rebalance: beta 0.07 > 0.05", "'=already quoted",
     "line one\nline two", "tab\tinside", "1.5", "#N/A", "＝1+1"],
)
def test_harmless_text_is_unchanged(text: str) -> None:
    """Text that does not start with a trigger is returned as is, inner tabs and newlines
    included."""
    assert neutralise_text(text) == text


@pytest.mark.parametrize("value", [None, 1, 1.5, b"=1", ["=1"]])
def test_non_text_is_rejected(value: object) -> None:
    """Only str is accepted; anything else raises InputTypeError."""
    with pytest.raises(InputTypeError, match="value must be text"):
        neutralise_text(value)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7F) | st.sampled_from("=+-@ \t\r\n")))
def test_output_is_inert_and_idempotent(text: str) -> None:
    """For any text the result has no C0 control except TAB/CR/LF, never starts (after
    spaces) with a trigger, and neutralising again changes nothing."""
    out = neutralise_text(text)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", out)
    assert out.lstrip(" ")[:1] not in set(TRIGGERS)
    assert neutralise_text(out) == out


@pytest.mark.parametrize(
    "ident",
    ["BTC", "ETH", "1000PEPE", "BINANCE:BTCUSDT", "OKX:BTC-USDT-SWAP", "BTC/USDT:USDT",
     "DERIBIT:BTC-PERPETUAL", "BINANCE:BTCUSD_PERP", "A" * 64],
)
def test_valid_identifiers_pass_unchanged(ident: str) -> None:
    """Upper-case identifiers of 1 to 64 allowed characters are returned unchanged."""
    assert validate_identifier("symbol", ident) == ident


@pytest.mark.parametrize(
    "ident",
    ["", "btc", "=BTC", "-BTC", "@BTC", "BTC USDT", "BTC\n", "\tBTC", "BTC;DROP", "A" * 65,
     "BTC\x00", "ÉTH"],
)
def test_invalid_identifiers_raise_naming_the_field(ident: str) -> None:
    """Anything outside the pattern (case, leading trigger, spaces, trailing newline, length,
    controls) raises InputTypeError naming the field and the pattern."""
    with pytest.raises(InputTypeError, match=r"^asset must match \^\[A-Z0-9\]"):
        validate_identifier("asset", ident)


@pytest.mark.parametrize("value", [None, 42, 1.0, b"BTC"])
def test_non_text_identifiers_raise(value: object) -> None:
    """A non-str identifier raises InputTypeError naming the field."""
    with pytest.raises(InputTypeError, match=r"^exchange must be text"):
        validate_identifier("exchange", value)


def test_custom_pattern() -> None:
    """A caller-supplied pattern replaces the default one."""
    assert validate_identifier("side", "SELL", r"^(BUY|SELL)$") == "SELL"
    with pytest.raises(InputTypeError, match="side must match"):
        validate_identifier("side", "HOLD", r"^(BUY|SELL)$")
