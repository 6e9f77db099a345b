"""A trader as an algorithmic client is one: HTTP with its API key (Alpaca's headers), every order
with its own client_order_id so that a request lost with a dying process is simply sent again
(the same client_order_id and body return the first order: placing is idempotent); and the books
read back through the API (orders, FILL activities, positions) to check what the journeys promise.
"""
import threading
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest

REQUEST_TIMEOUT = 60.0
RETRY_TIMEOUT = 90.0  # how long a request is retried while a process is down (restart with backoff)
SETTLE_TIMEOUT = 90.0
POLL_INTERVAL = 0.1

FINAL = frozenset({"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"})
# Resting: at a venue (new, partially_filled) or held at the broker for a reason it states.
RESTING = frozenset({"new", "partially_filled", "accepted", "held", "stopped", "suspended"})
STUCK = frozenset({"pending_new", "pending_cancel", "pending_replace"})


def poll(condition, *, timeout: float, what, interval: float = POLL_INTERVAL):
    """The suite's one bounded poll: call `condition` (an HTTP request) every `interval` until it
    returns something truthy, which is returned; fail after `timeout` seconds saying `what` (a
    string, or a callable for a message that shows the last state). Used only where there
    is no event to wait on: an order's state and a server's readiness are read over HTTP, as a
    client does."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: wait() is the interval between two reads
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what() if callable(what) else what}: not within {timeout:.0f} s", pytrace=False)
        pause.wait(interval)


def market(symbol: str, *, side: str = "buy", qty: str | None = "1", notional: str | None = None) -> dict:
    body = {"symbol": symbol, "side": side, "type": "market", "time_in_force": "day"}
    if notional is not None:
        body["notional"] = notional
    else:
        body["qty"] = qty
    return body


@dataclass
class Placed:
    """One order request and the answer it finally got (after retries of a lost request)."""

    body: dict
    status_code: int
    answer: dict
    attempts: int

    @property
    def accepted(self) -> bool:
        return self.status_code == 200

    @property
    def order_id(self) -> str:
        return self.answer["id"]

    def __str__(self) -> str:
        what = f"{self.body['side']} {self.body.get('qty') or '$' + self.body['notional']} {self.body['symbol']}"
        if self.accepted:
            return f"{what}: {self.answer['status']}"
        return f"{what}: HTTP {self.status_code} {self.answer.get('reason')} ({self.answer.get('message')})"


class Trader:
    def __init__(self, base_url: str, username: str, key_id: str, secret: str, password: str = "", *,
                 server_gone=None):
        self.username = username
        # Called when a request cannot connect: fails the journey at once if the server is not
        # coming back (the launcher exited), instead of retrying until RETRY_TIMEOUT.
        self.server_gone = server_gone or (lambda: None)
        self.password = password
        self.key_id, self.secret = key_id, secret
        self.http = httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT,
                                 headers={"APCA-API-KEY-ID": key_id, "APCA-API-SECRET-KEY": secret})

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, **kwargs) -> tuple[httpx.Response, int]:
        """The answer, retried while the connection fails (a web process killed or restarting)."""
        attempts = 0

        def attempt():
            nonlocal attempts
            attempts += 1
            try:
                return self.http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                self.server_gone(f"{method} {path}: {exc!r}")
                return None

        return poll(attempt, timeout=RETRY_TIMEOUT, what=f"{method} {path} answered"), attempts

    def place(self, body: dict) -> Placed:
        body = {**body, "client_order_id": body.get("client_order_id") or f"journey-{uuid.uuid4().hex}"}
        response, attempts = self._request("POST", "/v2/orders", json=body)
        assert response.status_code < 500, f"POST /v2/orders {body}: HTTP {response.status_code} {response.text}"
        return Placed(body, response.status_code, response.json(), attempts)

    def get(self, path: str, **params):
        response, _ = self._request("GET", path, params=params)
        assert response.status_code == 200, f"GET {path}: HTTP {response.status_code} {response.text}"
        return response.json()

    def orders(self) -> dict[str, dict]:
        return {o["id"]: o for o in self.get("/v2/orders", status="all", limit=500, direction="asc")}

    def fills(self) -> list[dict]:
        """Every FILL activity of the account, page after page."""
        fills, token = [], None
        while True:
            page = self.get("/v2/account/activities/FILL", direction="asc", page_size=100,
                            **({"page_token": token} if token else {}))
            fills += page
            if len(page) < 100:
                return fills
            token = page[-1]["id"]

    def positions(self) -> dict[str, Decimal]:
        signed = {}
        for p in self.get("/v2/positions"):
            qty = Decimal(p["qty"])
            signed[p["symbol"]] = -abs(qty) if p["side"] == "short" else qty
        return signed


def wait_settled(trader: Trader, order_ids, *, timeout: float = SETTLE_TIMEOUT,
                 settled_states: frozenset = FINAL | RESTING) -> dict[str, dict]:
    """Every one of these orders in a settled state (by default final or resting, never stuck in
    pending_*), as the API shows them. Market orders never rest at the simulated venues (a
    remainder nobody takes is canceled), so the journeys wait for FINAL."""
    order_ids = set(order_ids)
    latest: dict[str, dict] = {}

    def settled():
        latest.update({i: o for i, o in trader.orders().items() if i in order_ids})
        return all(latest.get(i, {}).get("status") in settled_states for i in order_ids) and latest

    try:
        return poll(settled, timeout=timeout, what="every order settled")
    except pytest.fail.Exception:
        stuck = {i: latest.get(i, {}).get("status") for i in order_ids
                 if latest.get(i, {}).get("status") not in settled_states}
        pytest.fail(f"{trader.username}: {len(stuck)} of {len(order_ids)} orders still not "
                    f"{'final' if settled_states == FINAL else 'final or resting'} after {timeout:.0f} s: "
                    f"{sorted(stuck.items(), key=lambda kv: str(kv[1]))[:20]}", pytrace=False)


def check_books(trader: Trader) -> None:
    """Fills applied once: each order's FILL activities add up to its filled_qty (a rejected or
    canceled order keeps what it filled before, no more), no fill is listed twice, and each
    position equals the sum of its symbol's fills."""
    orders, fills, positions = trader.orders(), trader.fills(), trader.positions()
    assert len({f["id"] for f in fills}) == len(fills), "a fill listed twice"
    per_order: dict[str, Decimal] = {}
    per_symbol: dict[str, Decimal] = {}
    for f in fills:
        qty = Decimal(f["qty"])
        per_order[f["order_id"]] = per_order.get(f["order_id"], Decimal(0)) + qty
        signed = qty if f["side"] == "buy" else -qty
        per_symbol[f["symbol"]] = per_symbol.get(f["symbol"], Decimal(0)) + signed
    unknown = set(per_order) - set(orders)
    assert not unknown, f"fills for orders the account does not list: {sorted(unknown)}"
    wrong = {i: (o["status"], o["filled_qty"], str(per_order.get(i, 0))) for i, o in orders.items()
             if Decimal(o["filled_qty"]) != per_order.get(i, Decimal(0))}
    assert not wrong, f"orders whose filled_qty is not the sum of their fills (status, filled_qty, fills): {wrong}"
    held = {s: q for s, q in per_symbol.items() if q != 0}
    assert positions == held, f"positions {positions} are not the sums of the fills {held}"
