"""Argument checks shared by the core functions.

Each check raises a typed error from :mod:`betaneutral.errors` whose message
names the parameter, the offending value and the rule, in the form
``"<name> must be <rule>, got <value>"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np
import numpy.typing as npt

from betaneutral.errors import (
    DomainError,
    InputTypeError,
    InsufficientDataError,
    UnknownNameError,
)

FloatArray = npt.NDArray[np.float64]


def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return repr(value)


#: Public name of :func:`_fmt` (the adapters' messages use it).
fmt_value = _fmt


def as_float(name: str, value: Any) -> float:
    """Return ``value`` as a finite float or raise.

    Booleans, text and anything non-numeric raise :class:`InputTypeError`;
    NaN and infinities raise :class:`DomainError`.
    """
    if type(value) is float and value - value == 0.0:  # a finite float: the common case
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
        raise InputTypeError(f"{name} must be a number, got {_fmt(value)}")
    try:
        out = float(value)
    except OverflowError:
        raise DomainError(f"{name} must be finite, got a number beyond the float range") from None
    if not math.isfinite(out):
        raise DomainError(f"{name} must be finite, got {_fmt(out)}")
    return out


def positive(name: str, value: Any) -> float:
    """Finite float ``> 0``."""
    out = as_float(name, value)
    if out <= 0.0:
        raise DomainError(f"{name} must be > 0, got {_fmt(out)}")
    return out


def non_negative(name: str, value: Any) -> float:
    """Finite float ``>= 0``."""
    out = as_float(name, value)
    if out < 0.0:
        raise DomainError(f"{name} must be >= 0, got {_fmt(out)}")
    return out


def in_range(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Finite float inside ``[low, high]`` (ends open or closed as asked)."""
    out = as_float(name, value)
    bad_low = low is not None and (out < low if low_inclusive else out <= low)
    bad_high = high is not None and (out > high if high_inclusive else out >= high)
    if bad_low or bad_high:
        lo = "" if low is None else ("[" if low_inclusive else "(") + f"{low:g}"
        hi = "" if high is None else f"{high:g}" + ("]" if high_inclusive else ")")
        if low is None:
            rule = f"{'<=' if high_inclusive else '<'} {high:g}"
        elif high is None:
            rule = f"{'>=' if low_inclusive else '>'} {low:g}"
        else:
            rule = f"in {lo}, {hi}"
        raise DomainError(f"{name} must be {rule}, got {_fmt(out)}")
    return out


def positive_int(name: str, value: Any, minimum: int = 1) -> int:
    """Whole number ``>= minimum`` (a float with no fractional part is accepted)."""
    out = as_float(name, value)
    if out != int(out):
        raise DomainError(f"{name} must be a whole number, got {_fmt(out)}")
    if out < minimum:
        raise DomainError(f"{name} must be >= {minimum}, got {int(out)}")
    return int(out)


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """Case-insensitive choice among ``options``; returns the canonical (listed) spelling."""
    opts = list(options)
    if not isinstance(value, str):
        raise InputTypeError(f"{name} must be one of {opts}, got {_fmt(value)}")
    for opt in opts:
        if value.strip().lower() == opt.lower():
            return opt
    raise UnknownNameError(f"{name} must be one of {opts}, got {_fmt(value)}")


def float_array(
    name: str, values: Any, *, ndim: int | None = None, check_inf: bool = True
) -> FloatArray:
    """Convert to a float64 array; NaN is allowed and means *missing*.

    The input is not copied when it already is a float64 array, so callers
    must not modify the result in place. Raises :class:`InputTypeError` for
    non-numeric content (booleans included) and :class:`DomainError` for
    infinities (unless ``check_inf`` is False, for callers that detect
    non-finite values themselves).
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        if arr.dtype.kind == "O":
            try:
                if any(isinstance(v, (bool, np.bool_, str)) for v in arr.ravel()):
                    raise TypeError
                arr = arr.astype(np.float64)
            except (TypeError, ValueError):
                raise InputTypeError(
                    f"{name} must contain only numbers, got dtype {arr.dtype}"
                ) from None
        else:
            raise InputTypeError(f"{name} must contain only numbers, got dtype {arr.dtype}")
    out = np.asarray(arr, dtype=np.float64)
    if ndim is not None and out.ndim != ndim:
        raise InputTypeError(f"{name} must be {ndim}-dimensional, got shape {out.shape}")
    if check_inf:
        check_no_inf(name, out)
    return out


def paired_series(
    y_name: str, y_values: Any, x_name: str, x_values: Any, *, y_ndim: int | None = None,
    check_inf: bool = True,
) -> tuple[FloatArray, FloatArray, bool]:
    """Asset series (one per column) and the one series they are regressed on, dated alike.

    Returns ``(y, x, single)``: ``y`` as a 2-D array (a 1-D input becomes one column,
    ``single`` True), ``x`` 1-D. ``y_ndim`` requires that many dimensions of the input.
    Raises :class:`InsufficientDataError` when ``y`` is not 1- or 2-dimensional or the
    two do not have the same number of rows, as :func:`float_array` otherwise.
    """
    y = float_array(y_name, y_values, ndim=y_ndim, check_inf=check_inf)
    x = float_array(x_name, x_values, ndim=1, check_inf=check_inf)
    single = y.ndim == 1
    if single:
        y = y[:, None]
    if y.ndim != 2:
        raise InsufficientDataError(f"{y_name} must be 1- or 2-dimensional, got shape "
                                    f"{y.shape}")
    if y.shape[0] != x.shape[0]:
        raise InsufficientDataError(
            f"{y_name} and {x_name} must have the same number of rows, got {y.shape[0]} "
            f"and {x.shape[0]}")
    return y, x, single


def check_no_inf(name: str, values: FloatArray) -> None:
    """Raise :class:`DomainError` when ``values`` holds an infinity."""
    if np.isinf(values).any():
        raise DomainError(f"{name} must not contain infinities")
