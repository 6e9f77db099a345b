"""Point-in-time reconstruction (workflows.reconstruction, GET /v2/account?as_of=, GET
/v2/positions?as_of=): a busy day replayed at controlled times, what the live API showed recorded
after each minute, and every minute rebuilt afterwards from the ledger, the executions and the
audit trail must equal what was shown, field for field."""
import itertools
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import cash_deposit, cash_withdraw
from marketdata.feed.handler import tickstore_write
from marketdata.models import FeedSymbol, FeedVenue, MinuteBar
from marketdata.selectors import last_price_set
from orders.models import Order
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_replace,
    order_venue_acknowledged,
    order_venue_canceled,
    order_venue_rejected,
    order_venue_replaced,
)
from orders.state import OPEN_STATUSES
from tests.factories import make_account_with_key, make_asset
from workflows.reconstruction import orders_at, prices_at, reconstruct

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 6, 15, 13, 30, tzinfo=dt_timezone.utc)  # a Monday, 09:30 New York
_exec_ids = itertools.count(1)


class Clock:
    def __init__(self):
        self.t = T0 - timedelta(minutes=5)

    def __call__(self):
        return self.t

    def at(self, minute: int, second: int = 0):
        self.t = T0 + timedelta(minutes=minute, seconds=second)


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(timezone, "now", c)
    return c


class Trader:
    def __init__(self, *, cash, account_type="cash", staff=False):
        self.account, key_id, secret = make_account_with_key(cash=cash, account_type=account_type)
        if staff:
            self.account.user.is_staff = True
            self.account.user.save(update_fields=["is_staff"])
        self.client = APIClient()
        self.client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)

    def place(self, symbol, side, qty, *, limit=None, ack=True) -> Order:
        order = order_place(account_id=self.account.pk, actor="test", symbol=symbol, side=side, qty=str(qty),
                            order_type="limit" if limit else "market", time_in_force="day",
                            limit_price=str(limit) if limit else None)
        if ack and order.venue:
            order_venue_acknowledged(order_id=order.pk, venue=order.venue, venue_order_id=f"V-{order.pk}")
        return order

    def get(self, path, **params):
        return self.client.get(path, params)


def fill(order: Order, qty, price) -> None:
    execution_apply(venue=order.venue or "TEST", exec_id=f"R{next(_exec_ids)}", order_id=order.pk, qty=Decimal(str(qty)),
                    price=Decimal(str(price)), transacted_at=timezone.now())


def trade(symbol: str, price: str) -> None:
    """A last trade: the quote cache the live views read, and the minute bar it belongs to (what
    the reconstruction reads later)."""
    now = timezone.now()
    start = now.replace(second=0, microsecond=0)
    p = Decimal(price)
    last_price_set(symbol, p)
    MinuteBar.objects.update_or_create(symbol=symbol, start=start, defaults=dict(
        open=p, high=p, low=p, close=p, volume=Decimal(1), trade_count=1, vwap=p, notional=p,
        open_ts=now, close_ts=now))


def _live(trader: Trader) -> dict:
    account = trader.get("/v2/account").json()
    account.pop("last_equity")  # the previous close's equity: not rebuilt
    positions = trader.get("/v2/positions").json()
    orders = sorted(
        ({"id": str(o.pk), "status": o.status, "filled_qty": o.filled_qty, "filled_avg_price": o.filled_avg_price,
          "reserved_cash": o.reserved_cash, "reserved_qty": o.reserved_qty}
         for o in Order.objects.filter(account=trader.account, status__in=OPEN_STATUSES)), key=lambda o: o["id"])
    return {"account": account, "positions": positions, "orders": orders}


def _rebuilt(trader: Trader, as_of: datetime) -> dict:
    stamp = as_of.isoformat().replace("+00:00", "Z")
    response = trader.get("/v2/account", as_of=stamp)
    assert response.status_code == 200, response.content
    account = response.json()
    assert account.pop("as_of") == stamp
    account.pop("last_equity")
    account.pop("price_sources")
    api_orders = {o["id"]: o for o in account.pop("open_orders")}
    positions = trader.get("/v2/positions", as_of=stamp).json()
    orders = sorted(
        ({"id": o.id, "status": o.status, "filled_qty": o.filled_qty, "filled_avg_price": o.filled_avg_price,
          "reserved_cash": o.reserved_cash, "reserved_qty": o.reserved_qty}
         for o in reconstruct(account=trader.account, as_of=as_of).open_orders), key=lambda o: o["id"])
    assert set(api_orders) == {o["id"] for o in orders}
    return {"account": account, "positions": positions, "orders": orders}


@pytest.fixture
def day(clock):
    """Three accounts trading two symbols for ten minutes; returns the traders and, per minute
    checkpoint, what each one's live API showed."""
    make_asset("PITA", price="50.00", prev_close=None)
    make_asset("PITB", price="20.00", prev_close=None)
    alice = Trader(cash="10000")
    bob = Trader(cash="20000", account_type="margin")
    carol = Trader(cash="5000")
    traders = {"alice": alice, "bob": bob, "carol": carol}
    script = {
        0: lambda: [trade("PITA", "50.00"), trade("PITB", "20.00"),
                    s.update(a1=alice.place("PITA", "buy", 10, limit="51")),
                    s.update(b1=bob.place("PITB", "buy", 100)),
                    cash_deposit(account_id=carol.account.pk, amount=Decimal("1000"), actor="test")],
        1: lambda: [fill(s["a1"], 4, "50.50"), fill(s["b1"], 100, "20.10"), trade("PITA", "50.50"),
                    trade("PITB", "20.10")],
        2: lambda: [s.update(a2=order_replace(account_id=alice.account.pk, order_id=s["a1"].pk, actor="test",
                                              qty=Decimal(12), limit_price=Decimal("52"))),
                    s.update(b2=bob.place("PITB", "sell", 40, limit="22")),
                    s.update(c1=carol.place("PITB", "buy", 30, limit="20"))],
        3: lambda: [order_venue_replaced(order_id=s["a1"].pk), fill(Order.objects.get(pk=s["a2"].pk), 5, "51.90"),
                    trade("PITA", "51.90"), trade("PITB", "20.50")],
        4: lambda: [fill(s["a2"], 3, "51.80"), fill(s["b2"], 15, "22.00"),
                    order_cancel(account_id=carol.account.pk, order_id=s["c1"].pk, actor="test"),
                    trade("PITB", "22.00")],
        5: lambda: [order_venue_canceled(order_id=s["c1"].pk),
                    s.update(b3=bob.place("PITA", "buy", 30)),
                    s.update(c2=carol.place("PITA", "buy", 5, limit="40", ack=False))],
        6: lambda: [fill(s["b3"], 30, "52.00"), order_venue_rejected(order_id=s["c2"].pk, reason="test reject"),
                    s.update(a3=alice.place("PITA", "sell", 6, limit="53")), trade("PITA", "52.00")],
        7: lambda: [fill(s["a3"], 6, "53.00"), trade("PITA", "53.00"),
                    cash_deposit(account_id=bob.account.pk, amount=Decimal("500"), actor="test"),
                    cash_withdraw(account_id=carol.account.pk, amount=Decimal("200"), actor="test")],
        8: lambda: [s.update(c3=carol.place("PITA", "buy", 10)), fill(s["c3"], 10, "52.50"),
                    order_cancel(account_id=bob.account.pk, order_id=s["b2"].pk, actor="test"),
                    trade("PITA", "52.50")],
        9: lambda: [order_venue_canceled(order_id=s["b2"].pk), s.update(a4=alice.place("PITB", "buy", 50, limit="21")),
                    fill(s["a4"], 20, "21.00"), trade("PITB", "21.00")],
    }
    s: dict = {}
    shown: dict[datetime, dict] = {}
    for minute, step in script.items():
        clock.at(minute, 10)
        step()
        clock.at(minute + 1)
        shown[timezone.now()] = {name: _live(t) for name, t in traders.items()}
    clock.at(11)
    return traders, shown, s


def test_every_minute_of_a_busy_day_is_rebuilt_exactly(day):
    traders, shown, _ = day
    assert len(shown) == 10
    checked = set()
    for as_of, live in shown.items():
        for name, trader in traders.items():
            rebuilt = _rebuilt(trader, as_of)
            diff = {k: (v, live[name]["account"].get(k)) for k, v in rebuilt["account"].items()
                    if live[name]["account"].get(k) != v}
            assert rebuilt == live[name], f"{name} at {as_of:%H:%M}: {diff}"
            checked |= {(o["status"]) for o in live[name]["orders"]}
    # The day went through the states worth checking.
    assert {"new", "partially_filled", "pending_replace", "pending_cancel"} <= checked


def test_the_day_had_what_it_claims(day):
    traders, shown, s = day
    last = shown[max(shown)]
    assert {p["symbol"]: p["qty"] for p in last["alice"]["positions"]} == {"PITA": "6", "PITB": "20"}
    alice_pita = next(p for p in last["alice"]["positions"] if p["symbol"] == "PITA")
    # FIFO: the sale took the 4 at 50.50 and 2 of the 5 at 51.90; left: 3 at 51.90 and 3 at 51.80
    assert alice_pita["avg_entry_price"] == "51.85"
    assert Decimal(last["bob"]["account"]["reserved_cash"]) == 0
    assert last["bob"]["account"]["short_market_value"] == "0"
    by_minute = [v["carol"]["account"]["reserved_cash"] for v in shown.values()]
    assert by_minute[2] != "0" and by_minute[-1] == "0"


def test_prices_come_from_the_last_trade_at_or_before_as_of(day):
    traders, shown, _ = day
    as_of = min(shown) + timedelta(minutes=3)  # 13:34: PITA last traded 51.90 in 13:33
    r = reconstruct(account=traders["alice"].account, as_of=as_of)
    assert r.prices == {"PITA": Decimal("51.90")} and r.price_sources == {"PITA": "bar"}


def test_a_symbol_without_any_price_is_marked_at_its_entry_price(day):
    traders, shown, _ = day
    MinuteBar.objects.filter(symbol="PITB").delete()
    r = reconstruct(account=traders["bob"].account, as_of=max(shown))
    assert r.price_sources["PITB"] == "entry_price"
    pitb = next(p for p in r.positions if p.position.symbol == "PITB")
    assert pitb.current_price is None and pitb.market_value == pitb.cost_basis


def test_the_audit_trail_alone_gives_each_orders_status_at_a_time(day):
    traders, shown, s = day
    orders, _ = orders_at(traders["alice"].account.pk, T0 + timedelta(minutes=2, seconds=30))
    assert orders[str(s["a1"].pk)].status == "pending_replace"
    assert orders[str(s["a2"].pk)].status == "pending_new"
    orders, _ = orders_at(traders["alice"].account.pk, T0 + timedelta(minutes=3, seconds=30))
    assert orders[str(s["a1"].pk)].status == "replaced" and orders[str(s["a1"].pk)].reserved_cash == 0


# --- the API's rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("value, reason", [
    ("yesterday", "invalid_as_of"),
    ("2026-06-15", "invalid_as_of"),
    ("2026-06-15T13:35:00", "invalid_as_of"),  # no offset
    ("2026-06-15T13:50:00Z", "as_of_in_future"),
    ("2026-06-15T12:00:00Z", "as_of_before_account"),
])
def test_bad_as_of_is_a_422_with_its_reason(day, value, reason):
    traders, _, _ = day
    for path in ("/v2/account", "/v2/positions"):
        response = traders["alice"].get(path, as_of=value)
        assert response.status_code == 422, response.content
        assert response.json()["reason"] == reason


def test_an_offset_other_than_utc_is_the_same_moment(day):
    traders, shown, _ = day
    as_of = min(shown) + timedelta(minutes=4)
    utc = traders["alice"].get("/v2/account", as_of=as_of.isoformat().replace("+00:00", "Z")).json()
    ny = traders["alice"].get("/v2/account", as_of="2026-06-15T09:35:00-04:00").json()
    assert utc == ny


def test_only_staff_may_name_another_account(day, clock):
    traders, shown, _ = day
    alice, bob = traders["alice"], traders["bob"]
    stamp = max(shown).isoformat().replace("+00:00", "Z")
    other = bob.get("/v2/account", as_of=stamp, account_id=str(alice.account.pk))
    assert other.status_code == 404 and other.json()["reason"] == "account_not_found"
    assert bob.get("/v2/positions", account_id=str(alice.account.pk)).status_code == 404
    assert bob.get("/v2/account", account_id="nope").json()["reason"] == "invalid_account_id"
    own = alice.get("/v2/account", as_of=stamp, account_id=str(alice.account.pk))
    assert own.status_code == 200 and own.json()["id"] == str(alice.account.pk)
    staff = Trader(cash="0", staff=True)
    seen = staff.get("/v2/account", as_of=stamp, account_id=str(alice.account.pk)).json()
    assert seen == alice.get("/v2/account", as_of=stamp).json()
    assert staff.get("/v2/positions", as_of=stamp, account_id=str(alice.account.pk)).json() \
        == alice.get("/v2/positions", as_of=stamp).json()
    assert staff.get("/v2/account", account_id=str(Account.objects.model().pk)).status_code == 404


def test_without_as_of_the_views_answer_as_before(day):
    traders, _, _ = day
    alice = traders["alice"]
    account = alice.get("/v2/account").json()
    assert "as_of" not in account and "open_orders" not in account
    assert alice.get("/v2/positions").json() == alice.get("/v2/positions", account_id=str(alice.account.pk)).json()


@pytest.mark.django_db(transaction=True)
def test_a_trade_tick_comes_before_the_minute_bar():
    """The tick store is the first source: its last trade at or before as_of, never a later one."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE marketdata_quote_tick, marketdata_trade_tick")
    symbol = FeedSymbol.objects.create(symbol="PITT")
    venue = FeedVenue.objects.create(name="SIMA")
    stamps = [T0 - timedelta(seconds=30), T0 + timedelta(seconds=30)]
    n = len(stamps)
    trades = {"ts": np.array([int(t.timestamp()) * 10**9 for t in stamps]), "symbol_id": np.full(n, symbol.id, dtype=np.int32),
              "venue_id": np.full(n, venue.id, dtype=np.int16), "seq": np.arange(1, n + 1),
              "price": np.array([61_250_000, 99_000_000]), "size": np.full(n, 1_000_000)}
    quotes = {k: trades[k][:0] for k in ("ts", "symbol_id", "venue_id", "seq")} | {
        "bid": np.array([], dtype=np.int64), "bid_size": np.array([], dtype=np.int64),
        "ask": np.array([], dtype=np.int64), "ask_size": np.array([], dtype=np.int64)}
    tickstore_write(quotes, trades)
    p = Decimal("50")
    MinuteBar.objects.create(symbol="PITT", start=T0 - timedelta(minutes=5), open=p, high=p, low=p, close=p,
                             volume=Decimal(1), trade_count=1, vwap=p, notional=p, open_ts=T0, close_ts=T0)
    assert prices_at(["PITT"], T0) == ({"PITT": Decimal("61.25")}, {"PITT": "trade"})
    assert prices_at(["PITT"], T0 - timedelta(minutes=1)) == ({"PITT": Decimal("50")}, {"PITT": "bar"})
