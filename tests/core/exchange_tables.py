"""Margin tables published by the exchanges, as the tests' references.

The BTCUSD COIN-M table Binance's liquidation FAQ works its examples on
(https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46, read 2026-11-25):
caps 10 / 20 / 30 / 50 / 100 / 200 / 400 / 1,000 / 1,500 BTC. The catalogue now holds the
later table; the FAQ's worked numbers are checked against the FAQ's own table.
"""

from __future__ import annotations

import math

from betaneutral.core.contracts import published_brackets

FAQ_COINM_TIERS = published_brackets(
    (
        (10.0, 0.004, 125.0),
        (20.0, 0.005, 100.0),
        (30.0, 0.01, 50.0),
        (50.0, 0.025, 20.0),
        (100.0, 0.05, 10.0),
        (200.0, 0.10, 5.0),
        (400.0, 0.125, 4.0),
        (1_000.0, 0.15, 3.0),
        (1_500.0, 0.25, 2.0),
        (math.inf, 0.25, 1.0),
    )
)
