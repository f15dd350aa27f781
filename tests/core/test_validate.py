"""The number checks every core function applies to its arguments (core._validate)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from betaneutral.core._validate import as_float
from betaneutral.errors import DomainError, InputTypeError


@pytest.mark.parametrize(("value", "expected"), [
    (1.5, 1.5), (-2.0, -2.0), (3, 3.0), (np.float64(0.25), 0.25), (np.int32(7), 7.0),
    (Fraction(1, 4), 0.25), (1e308, 1e308), (5e-324, 5e-324),
])
def test_a_finite_number_is_its_float(value: object, expected: float) -> None:
    got = as_float("x", value)
    assert type(got) is float
    assert got == expected


def test_negative_zero_keeps_its_sign() -> None:
    assert math.copysign(1.0, as_float("x", -0.0)) == -1.0


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, np.float64("nan"),
                                   np.float32("inf")])
def test_not_finite_is_a_domain_error_naming_the_parameter(value: object) -> None:
    with pytest.raises(DomainError, match=r"^x must be finite"):
        as_float("x", value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), "1.5", None, [1.0], b"1"])
def test_not_a_number_is_a_type_error_naming_the_parameter(value: object) -> None:
    with pytest.raises(InputTypeError, match=r"^x must be a number"):
        as_float("x", value)
