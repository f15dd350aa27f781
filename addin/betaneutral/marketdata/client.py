"""Exchange access for the market-data commands: construction, retries, errors, keys.

Every call to an exchange goes through :meth:`Client.call`, which

* uses ccxt's own rate limiter (``enableRateLimit=True``) and a 30 s timeout;
* retries a network failure, a timeout, a rate-limit answer or a malformed
  (partial) response at most ``retries`` times, waiting 1 s, 2 s, 4 s, ...
  (``RETRY_DELAYS``) in between;
* turns every ccxt error into one :class:`MarketDataError` line naming the
  exchange, what was being fetched and the kind of failure, with URLs and the
  credentials removed from the exchange's own text.

Only read methods can be called: ``load_markets`` and ``fetch_*``.

Credentials (``fetch position``, and Binance's leverage tiers) come from the
environment variables :data:`API_KEY_ENV`, :data:`API_SECRET_ENV` and, for OKX,
:data:`API_PASSPHRASE_ENV`; nothing else can set them. They are handed to ccxt
and nowhere else: ccxt's request logging is switched off for the exchange
object (its debug lines carry the request headers, where some exchanges put
the key), and every message that leaves this module has the key, the secret
and the passphrase removed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from betaneutral.errors import BetaNeutralError

__all__ = [
    "API_KEY_ENV",
    "API_PASSPHRASE_ENV",
    "API_SECRET_ENV",
    "EXCHANGE_IDS",
    "Client",
    "MarketDataError",
    "open_client",
]

API_KEY_ENV = "BETANEUTRAL_API_KEY"
API_SECRET_ENV = "BETANEUTRAL_API_SECRET"
API_PASSPHRASE_ENV = "BETANEUTRAL_API_PASSPHRASE"

#: ccxt exchange ids the commands accept, with what each is used for.
EXCHANGE_IDS: dict[str, str] = {
    "binance": "Binance spot (closes)",
    "binanceusdm": "Binance USD-M futures (USDT/USDC-margined)",
    "binancecoinm": "Binance COIN-M futures (coin-margined)",
    "bybit": "Bybit (spot, linear and inverse)",
    "okx": "OKX (spot and swaps)",
    "deribit": "Deribit (BTC and ETH futures)",
}

#: Waits between attempts, seconds (the number of retries is len + 0 .. ``retries``).
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0)

_READ_METHODS = re.compile(r"(load_markets|fetch_[a-z_]+)")
_URL = re.compile(r"\b(?:https?|wss?)://\S+")


class MarketDataError(BetaNeutralError):
    """A fetch failed (network, rate limit, exchange error, malformed data); nothing written."""


def _sleep(seconds: float) -> None:  # replaced by the tests
    time.sleep(seconds)


#: Factory of the HTTP session given to ccxt (None: ccxt's own). Tests replay recorded
#: responses by returning a session whose ``request`` answers from files.
SESSION_FACTORY: Callable[[], Any] | None = None


def _import_ccxt() -> Any:
    try:
        import ccxt
    except ImportError:
        raise MarketDataError(
            "the market-data commands need ccxt, which is not installed: "
            'pip install "betaneutral[market]"') from None
    return ccxt


def read_credentials(exchange_id: str) -> dict[str, str]:
    """API key, secret (and OKX passphrase) from the environment, or a MarketDataError.

    The message of a missing variable names the variable, never a value.
    """
    key = os.environ.get(API_KEY_ENV, "").strip()
    secret = os.environ.get(API_SECRET_ENV, "").strip()
    missing = [name for name, value in ((API_KEY_ENV, key), (API_SECRET_ENV, secret))
               if not value]
    creds = {"apiKey": key, "secret": secret}
    if exchange_id == "okx":
        passphrase = os.environ.get(API_PASSPHRASE_ENV, "").strip()
        if not passphrase:
            missing.append(API_PASSPHRASE_ENV)
        creds["password"] = passphrase
    if missing:
        raise MarketDataError(
            f"{exchange_id}: a read-only API key is needed; set the environment "
            f"variable(s) {', '.join(missing)} (keys are read from the environment only)")
    return creds


def has_credentials() -> bool:
    """True when both the key and the secret variables are set (values not looked at)."""
    return bool(os.environ.get(API_KEY_ENV, "").strip()
                and os.environ.get(API_SECRET_ENV, "").strip())


class Client:
    """A ccxt exchange wrapped for read-only, bounded, one-line-error use.

    Parameters
    ----------
    exchange : ccxt.Exchange
        The exchange object (see :func:`open_client`).
    retries : int, default 3
        Extra attempts after a retryable failure.
    secrets : iterable of str
        Texts removed from every message (the credentials).
    """

    def __init__(self, exchange: Any, *, retries: int = 3, secrets: Iterable[str] = ()) -> None:
        self.exchange = exchange
        self.id: str = exchange.id
        self.retries = int(retries)
        self._secrets = tuple(s for s in secrets if s)
        self._ccxt = _import_ccxt()

    def clean(self, text: str) -> str:
        """``text`` on one line, without URLs or credentials, at most 200 characters."""
        out = _URL.sub("<url>", str(text))
        for secret in self._secrets:
            out = out.replace(secret, "<redacted>")
        out = " ".join(out.split())
        return out if len(out) <= 200 else out[:197] + "..."

    def _kind(self, exc: BaseException) -> tuple[str, bool]:
        """(description, retryable) of an exception raised inside a ccxt call."""
        c = self._ccxt
        if isinstance(exc, (c.RateLimitExceeded, c.DDoSProtection)):
            return "rate limit reached", True
        if isinstance(exc, c.RequestTimeout):
            return "request timed out", True
        if isinstance(exc, c.ExchangeNotAvailable):
            return "exchange not available", True
        if isinstance(exc, c.NetworkError):
            return "network failure", True
        if isinstance(exc, c.BadSymbol):
            return "unknown or delisted symbol", False
        if isinstance(exc, c.AuthenticationError):
            return "the API key was refused (a read-only key is enough)", False
        if isinstance(exc, c.NotSupported):
            return "not supported by this exchange", False
        if isinstance(exc, c.BaseError):
            return "exchange error", False
        if isinstance(exc, (ValueError, TypeError, KeyError, IndexError, AttributeError)):
            return "malformed response (a partial or truncated page)", True
        raise exc

    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """``exchange.method(*args, **kwargs)`` with bounded retries and a clean error.

        Parameters
        ----------
        what : str
            What is fetched, for the message ("BTC/USDT closes from 2024-01-01").
        method : str
            A ccxt read method: ``load_markets`` or ``fetch_...``.

        Raises
        ------
        MarketDataError
            After the last attempt, or at once for a non-retryable error.
        """
        if not _READ_METHODS.fullmatch(method):
            raise MarketDataError(f"{method} is not a read method; BetaNeutral only reads")
        attempts = 0
        while True:
            attempts += 1
            self.exchange.last_http_response = self.exchange.last_json_response = None
            try:
                answer = getattr(self.exchange, method)(*args, **kwargs)
                body = self.exchange.last_http_response
                if not (isinstance(body, str) and body.strip()
                        and self.exchange.last_json_response is None):
                    return answer
                kind, retryable = "malformed response (a partial or truncated page)", True
                detail = "the body is not complete JSON"
            except Exception as exc:  # classified below, never shown raw
                kind, retryable = self._kind(exc)
                detail = self.clean(f"{type(exc).__name__}: {exc}")
            if retryable and attempts <= self.retries:
                _sleep(RETRY_DELAYS[min(attempts - 1, len(RETRY_DELAYS) - 1)])
                continue
            tries = f" after {attempts} attempts" if attempts > 1 else ""
            # Raised outside the except block: the ccxt exception (whose text holds the
            # request URL) is neither the cause nor the context of this one.
            raise MarketDataError(f"{self.id}: {what}: {kind}{tries} ({detail}); "
                                  "nothing was written")


def open_client(exchange_id: str, *, credentials: bool = False, retries: int = 3,
                options: dict[str, Any] | None = None) -> Client:
    """A :class:`Client` for a ccxt exchange id, with the keys from the environment if asked.

    Parameters
    ----------
    exchange_id : str
        One of :data:`EXCHANGE_IDS` (case-insensitive).
    credentials : bool, default False
        Read the key and secret from the environment (required then).
    retries : int, default 3
        Extra attempts after a retryable failure.
    options : dict, optional
        ccxt options of the exchange (e.g. which market types to load).

    Raises
    ------
    MarketDataError
        ccxt missing, an unknown exchange, or missing credentials.
    """
    ccxt = _import_ccxt()
    name = str(exchange_id).strip().lower()
    if name not in EXCHANGE_IDS:
        raise MarketDataError(f"exchange must be one of {sorted(EXCHANGE_IDS)}, got "
                              f"{exchange_id!r}")
    # The last body and its JSON are kept so that a truncated body, which ccxt hands on
    # as text, is seen (Client.call); the headers (the key on some venues) are not kept.
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": 30_000,
                              "enableLastHttpResponse": True, "enableLastJsonResponse": True,
                              "enableLastResponseHeaders": False}
    secrets: list[str] = []
    if credentials:
        creds = read_credentials(name)
        config.update(creds)
        secrets = list(creds.values())
    if options:
        config["options"] = dict(options)
    exchange = getattr(ccxt, name)(config)
    quiet = logging.getLogger("betaneutral.marketdata.ccxt")
    quiet.disabled = True  # ccxt's debug lines carry request headers (the key on some venues)
    quiet.propagate = False
    exchange.logger = quiet
    exchange.verbose = False
    if SESSION_FACTORY is not None:
        exchange.session = SESSION_FACTORY()
    return Client(exchange, retries=retries, secrets=secrets)
