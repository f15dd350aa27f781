"""Exchange answers replayed at ccxt's HTTP layer, so that ccxt's own parsing runs.

ccxt's synchronous exchanges send every request through ``self.session.request``
(a ``requests.Session``). :class:`ReplaySession` answers those requests from
recorded responses (``tests/data/marketdata/*.json``, written in each
exchange's documented format) or from small handlers that serve candles and
funding payments the way the documented endpoints page them. Status codes,
bodies and transport failures go back through ccxt's own error mapping.

Documented formats followed:
Binance spot ``GET /api/v3/klines`` and ``/api/v3/exchangeInfo``
(developers.binance.com/docs/binance-spot-api-docs/rest-api/market-data-endpoints);
USD-M ``/fapi/v1/exchangeInfo``, ``/fapi/v1/fundingRate``, ``/fapi/v1/leverageBracket``,
``/fapi/v3/positionRisk``, ``/fapi/v3/account``, ``/fapi/v1/premiumIndex``; COIN-M
``/dapi/v1/exchangeInfo``, ``/dapi/v1/fundingRate``, ``/dapi/v2/leverageBracket``,
``/dapi/v1/premiumIndex``
(developers.binance.com/docs/derivatives); Bybit ``/v5/market/instruments-info``,
``/v5/market/kline`` (newest candle first), ``/v5/market/risk-limit``
(bybit-exchange.github.io/docs/v5/market).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from requests.structures import CaseInsensitiveDict

DATA = Path(__file__).resolve().parent / "data" / "marketdata"
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

Answer = Any  # a body, (status, body), (status, raw text), or an exception to raise
Handler = Callable[[dict[str, str]], Answer]


def recorded(name: str) -> Any:
    """A recorded response body from ``tests/data/marketdata``."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _response(status: int, body: Any, url: str) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 418: "I'm a teapot",
                   429: "Too Many Requests", 503: "Service Unavailable"}.get(status, "")
    resp._content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json;charset=UTF-8"})
    resp.url = url
    resp.encoding = "utf-8"
    return resp


class ReplaySession(requests.Session):
    """A ``requests.Session`` whose requests are answered by routes (host + path)."""

    def __init__(self, routes: dict[str, Handler | Answer]) -> None:
        super().__init__()
        self.routes = routes
        self.calls: list[tuple[str, str, dict[str, str], dict[str, str]]] = []

    def request(self, method: str, url: str, data: Any = None, headers: Any = None,
                **kwargs: Any) -> requests.Response:  # type: ignore[override]
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        key = parts.netloc + parts.path
        self.calls.append((method, key, query, dict(headers or {})))
        route = self.routes.get(key)
        if route is None:
            return _response(404, {"code": -1, "msg": f"no recording for {key}"}, url)
        answer = route(query) if callable(route) else route
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer if isinstance(answer, tuple) else (200, answer)
        return _response(status, body, url)

    def count(self, path: str) -> int:
        """Requests made to a path (host + path ending)."""
        return sum(1 for _, key, _, _ in self.calls if key.endswith(path))


def sequence(*answers: Handler | Answer) -> Handler:
    """A handler giving each answer in turn (the last one from then on)."""
    queue = list(answers)

    def handler(query: dict[str, str]) -> Answer:
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(query) if callable(answer) else answer

    return handler


def binance_klines(closes: dict[str, dict[int, str]]) -> Handler:
    """GET /api/v3/klines: up to ``limit`` candles in [startTime, endTime], oldest first."""

    def handler(q: dict[str, str]) -> Answer:
        table = closes.get(q["symbol"])
        if table is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        step = {"1d": DAY_MS, "1h": HOUR_MS}[q["interval"]]
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        limit = int(q.get("limit", 500))
        out = []
        for t in sorted(table):
            if start <= t <= end and len(out) < limit:
                c = table[t]
                out.append([t, c, c, c, c, "1000.00000000", t + step - 1, "1.0", 100,
                            "500.00000000", "0.5", "0"])
        return out

    return handler


def bybit_klines(closes: dict[str, dict[int, str]]) -> Handler:
    """GET /v5/market/kline: the newest ``limit`` candles in [start, end], newest first."""

    def handler(q: dict[str, str]) -> Answer:
        table = closes.get(q["symbol"])
        if table is None:
            return 200, {"retCode": 10001, "retMsg": "Not supported symbols", "result": {},
                         "retExtInfo": {}, "time": 1733385600000}
        start, end = int(q.get("start", 0)), int(q.get("end", 2**62))
        limit = int(q.get("limit", 200))
        rows = [[str(t), c, c, c, c, "12.5", "250000"] for t, c in sorted(table.items())
                if start <= t <= end][::-1][:limit]
        return {"retCode": 0, "retMsg": "OK",
                "result": {"category": q.get("category", "spot"), "symbol": q["symbol"],
                           "list": rows}, "retExtInfo": {}, "time": 1733385600000}

    return handler


def binance_funding(symbol: str, payments: Iterable[tuple[int, str]]) -> Handler:
    """GET /fapi/v1/fundingRate (or /dapi/v1): up to ``limit`` payments in [startTime, endTime]."""
    table = sorted(payments)

    def handler(q: dict[str, str]) -> Answer:
        start, end = int(q.get("startTime", 0)), int(q.get("endTime", 2**62))
        limit = int(q.get("limit", 100))
        return [{"symbol": symbol, "fundingTime": t, "fundingRate": r, "markPrice": "65000.0"}
                for t, r in table if start <= t <= end][:limit]

    return handler


def binance_spot_routes(closes: dict[str, dict[int, str]]) -> dict[str, Any]:
    return {"api.binance.com/api/v3/exchangeInfo": recorded("binance_api_v3_exchangeInfo.json"),
            "api.binance.com/api/v3/klines": binance_klines(closes)}


def bybit_spot_routes(closes: dict[str, dict[int, str]]) -> dict[str, Any]:
    return {"api.bybit.com/v5/market/instruments-info":
            recorded("bybit_v5_market_instruments-info_spot.json"),
            "api.bybit.com/v5/market/kline": bybit_klines(closes)}


def install(monkeypatch: Any, routes: dict[str, Any]) -> ReplaySession:
    """Make every exchange the market-data layer opens use a session on ``routes``."""
    from betaneutral.marketdata import client

    session = ReplaySession(routes)
    monkeypatch.setattr(client, "SESSION_FACTORY", lambda: session)
    monkeypatch.setattr(client, "_sleep", lambda seconds: session.calls.append(
        ("SLEEP", str(seconds), {}, {})))
    return session
