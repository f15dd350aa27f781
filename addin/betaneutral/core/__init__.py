"""Pure mathematics of BetaNeutral: numpy, pandas and statsmodels only.

Nothing in this package reads cells, files or the environment. Functions take
numbers and arrays, carry units in their parameter names and raise the typed
errors of :mod:`betaneutral.errors`.
"""
