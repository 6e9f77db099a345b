"""Manipulative patterns for the demo history, so a newcomer opens the admin's alert queue and sees
it working: a wash trade between two accounts of one owner, a layering episode and a burst of
market orders marking the previous session's close. Orders are placed, filled and cancelled
through the orders services, as the tests do; then the scan raises the alerts.

The demo runs before any venue is connected (seed_demo runs before the stack starts), and its
orders must never reach a live venue (they are filled here, by hand). So they are booked with
orders.services.order_record_routed at DEMO_VENUE, a venue no bridge serves: their outbox rows
wait forever, unsent, and the market clock does not hold them at night.
"""
from datetime import timedelta
from decimal import ROUND_UP, Decimal

from django.utils import timezone

from accounts.services import account_create
from marketdata.calendar import session_before
from marketdata.models import Asset
from marketdata.selectors import last_prices
from orders.services import (
    execution_apply,
    order_cancel,
    order_record_routed,
    order_venue_canceled,
)

from .models import OwnerGroup
from .selectors import ny_date
from .services import owner_group_create, scan

DEMO_GROUP = "Demo: Harbour Holdings (wash trades)"
DEMO_VENUE = "DEMO-HIST"
DEMO_SYMBOLS = ("AMD", "NVDA", "MSFT", "AAPL")
CASH = Decimal("5000000")


class _Fills:
    def __init__(self):
        self.n = 0

    def __call__(self, order, qty, price, at):
        self.n += 1
        return execution_apply(venue=DEMO_VENUE, exec_id=f"SURV-DEMO-{order.pk.hex[:12]}-{self.n}", order_id=order.pk,
                               qty=qty, price=price, transacted_at=at)


def demo_write(*, actor: str = "cli:seed_demo") -> dict:
    """Write the patterns once (a second call finds the demo owner group and does nothing), scan,
    and return what was made."""
    if OwnerGroup.objects.filter(name=DEMO_GROUP).exists():
        return {"skipped": "already written"}
    asset = Asset.objects.filter(symbol__in=DEMO_SYMBOLS).order_by("symbol").first()
    # The price risk checks the orders against: the quote cache's last trade, else the asset's.
    price = last_prices([asset.symbol]).get(asset.symbol) if asset is not None else None
    if not price:
        return {"skipped": "no demo asset with a price"}
    _write(asset.symbol, price, actor)
    return scan(lag_seconds=0)


def _account(name: str, actor: str):
    return account_create(username=name, cash=CASH, account_type="margin", actor=actor)[0]


def _write(symbol: str, p: Decimal, actor: str) -> None:
    fill = _Fills()
    now = timezone.now()
    cent = Decimal("0.01")

    def place(account, side, qty, limit=None):
        kind = {"order_type": "limit", "limit_price": str(limit)} if limit else {"order_type": "market"}
        return order_record_routed(account_id=account.pk, actor=actor, venue=DEMO_VENUE, symbol=symbol, side=side,
                                   qty=str(qty), time_in_force="day", **kind)

    # 1. Wash trade: one owner's two accounts, one buys what the other sells, same price, 4 s apart.
    a, b = _account("surv-demo-harbour-a", actor), _account("surv-demo-harbour-b", actor)
    owner_group_create(name=DEMO_GROUP, account_ids=[a.pk, b.pk], actor=actor,
                       notes="Two accounts of one beneficial owner (demo).")
    fill(place(b, "buy", 200, p), 200, p, now - timedelta(hours=2))
    fill(place(a, "buy", 200, p), 200, p, now - timedelta(minutes=30))
    fill(place(b, "sell", 200, p), 200, p, now - timedelta(minutes=30) + timedelta(seconds=4))

    # 2. Layering: three large bids under the market, a sale into the support they suggest, the
    #    bids cancelled within seconds, never filled.
    layer = _account("surv-demo-layering", actor)
    fill(place(layer, "buy", 300, p), 300, p, now - timedelta(minutes=20))
    qty = (Decimal(60000) / p).to_integral_value(rounding=ROUND_UP)
    bids = [place(layer, "buy", qty, (p * step).quantize(cent)) for step in (Decimal("0.995"), Decimal("0.99"),
                                                                              Decimal("0.985"))]
    fill(place(layer, "sell", 300, p), 300, (p * Decimal("1.002")).quantize(cent), timezone.now())
    for bid in bids:
        order_cancel(account_id=layer.pk, order_id=bid.pk, actor=actor)
        order_venue_canceled(order_id=bid.pk)

    # 3. Marking the close of the previous session: market buys in its last minutes lift the price
    #    0.8 % from where another client's trades left it.
    close = session_before(ny_date(now)).close
    other, marker = _account("surv-demo-other-client", actor), _account("surv-demo-close-marker", actor)
    fill(place(other, "buy", 100, p), 100, p, close - timedelta(minutes=25))
    fill(place(other, "buy", 300, p), 300, p, close - timedelta(minutes=8))
    for i, step in enumerate((Decimal("1.002"), Decimal("1.005"), Decimal("1.008"))):
        fill(place(marker, "buy", 300), 300, (p * step).quantize(cent), close - timedelta(minutes=3 - i))
