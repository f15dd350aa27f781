"""BetaNeutral: neutralise a crypto book's beta to BTC with short futures."""

from betaneutral._version import __version__

__all__ = ["__version__"]
