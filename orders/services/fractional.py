"""The fractional desk (docs/fractional.md): whole shares go to the venues, the fractional
remainder is filled against the house's inventory account (accounts/house.py), through the same
fill path as a venue's (orders/services/fills.py).

- An order's venue part is its whole shares, sent in the outbox row's payload (`qty`); a part of
  0 whole shares writes no outbox row at all.
- The house part fills once the venue part has filled in full, at the venue part's average price;
  an order with no venue part fills at once, at the quote (ask for a buy, bid for a sell; the last
  trade when the side is not quoted).
- A notional order's qty is decided at acceptance: the notional at that quote, floored to 9
  decimals. A notional buy never spends more than its notional: its venue part is a limit order at
  the notional per whole share (marketable: at or above the quote it was sized at), and the house
  part shrinks to what the notional has left.
"""
import uuid
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from django.db.models import F

from accounts.house import house_account_id
from accounts.locks import lock_account
from compliance.services import audit_record
from marketdata.selectors import last_prices, latest_quotes
from portfolio.locks import lock_positions
from portfolio.services import position_get_or_create_locked
from core.errors import Refused
from core.values import money
from core.vocabulary import OrderSide, OrderType, TimeInForce

from ..events import publish_trade_update
from ..models import Execution, Order, OutboxMessage
from ..state import Status
from .fills import fill_locked
from .locking import LockedOrder
from .reservations import reservation_release
from .transition import move

HOUSE_VENUE = "HOUSE"
QTY_QUANTUM = Decimal("0.000000001")
ZERO = Decimal(0)


def whole_shares(qty: Decimal) -> Decimal:
    return qty.to_integral_value(rounding=ROUND_FLOOR)


def has_house_part(order: Order) -> bool:
    return order.qty is not None and order.qty != whole_shares(order.qty)


def quote_price(symbol: str, side: str) -> Decimal | None:
    """What a market order of `side` pays now: the ask for a buy, the bid for a sell, else the
    last trade. None when nothing is known (the caller refuses)."""
    quote = latest_quotes([symbol]).get(symbol) or {}
    raw = quote.get("ap" if side == OrderSide.BUY else "bp")
    price = Decimal(str(raw)) if raw not in (None, "") else ZERO
    if price > 0:
        return price
    return last_prices([symbol]).get(symbol)


def notional_qty(notional: Decimal, price: Decimal) -> Decimal:
    """The shares a notional buys at `price`, floored to 9 decimals (never more than the notional)."""
    return (notional / price).quantize(QTY_QUANTUM, rounding=ROUND_DOWN)


def _tick_floor(price: Decimal) -> Decimal:
    """Down to the Reg NMS tick: $0.01 at $1.00 and above, $0.0001 below."""
    return price.quantize(Decimal("0.01") if price >= 1 else Decimal("0.0001"), rounding=ROUND_DOWN)


def venue_payload(order: Order, payload: dict) -> dict:
    """The outbox payload of the order's venue part: whole shares; a notional buy's as a limit at
    the notional per whole share, so the venue part alone cannot spend more than the notional."""
    if not has_house_part(order) and order.notional is None:
        return payload
    whole = whole_shares(order.qty - order.filled_qty)
    payload = {**payload, "qty": format(whole, "f")}
    if order.notional is not None and order.side == OrderSide.BUY:
        payload.update(ord_type=OrderType.LIMIT, price=format(_tick_floor(order.notional / whole), "f"))
    return payload


def route_new(lo: LockedOrder, order: Order, *, payload: dict, actor: str, at, price: Decimal | None = None) -> str:
    """Send an order going out now: its whole shares to the venue (outbox NEW), its fractional
    remainder to the desk once they fill; an order of less than one share is filled by the desk
    here, at `price` (read now if not given). Returns "routed" or "filled"."""
    if order.qty is None or whole_shares(order.qty - order.filled_qty) > 0:
        OutboxMessage.objects.create(order=order, kind=OutboxMessage.Kind.NEW, payload=venue_payload(order, payload))
        return "routed"
    price = price or quote_price(order.symbol, order.side)
    if price is None:
        raise Refused("price_unavailable", f"no market price for {order.symbol}: the house cannot fill the fraction")
    house_complete(lo, order, price=price, actor=actor, at=at)
    return "filled"


def desk_due(order: Order) -> bool:
    """After a venue fill: the venue part is done and the house part is still to fill."""
    return (has_house_part(order) and order.is_open and order.status != Status.PENDING_REPLACE
            and order.filled_qty >= whole_shares(order.qty))


def _spent(order: Order) -> Decimal:
    """What the order's fills so far cost, as the ledger booked them (each rounded to the cent)."""
    total = ZERO
    for value in Execution.objects.filter(order=order).annotate(v=F("qty") * F("price")).values_list("v", flat=True):
        total += money(value)
    return total


def house_complete(lo: LockedOrder, order: Order, *, price: Decimal, actor: str, at) -> None:
    """Fill what the order has left from the house at `price`; a notional buy takes no more than
    its notional pays for (its qty is cut to what it bought if that is less)."""
    left = order.qty - order.filled_qty
    if order.notional is not None and order.side == OrderSide.BUY:
        left = min(left, max(notional_qty(order.notional - _spent(order), price), ZERO))
        if order.filled_qty + left < order.qty:
            audit_record(account=lo.account, actor=actor, action="order.notional_qty_cut", entity_type="order",
                         entity_id=order.pk, data={"qty": order.qty, "cut_to": order.filled_qty + left,
                                                   "notional": order.notional, "price": price})
            order.qty = order.filled_qty + left
    if left <= 0:
        # Nothing left the notional can pay for: the order is done with what it bought.
        reservation_release(account=lo.account, position=lo.position, order=order)
        if order.filled_qty > 0:
            move(order, Status.FILLED, filled_at=at)
        else:
            move(order, Status.CANCELED, canceled_at=at)
        order.save()
        publish_trade_update(order, "fill" if order.status == Status.FILLED else "canceled")
        return
    house_fill(lo, order, qty=left, price=price, actor=actor, at=at)


def house_fill(lo: LockedOrder, order: Order, *, qty: Decimal, price: Decimal, actor: str, at) -> None:
    """The house sells (or buys) `qty` to (from) the client at `price`: the client's fill and the
    house's opposite fill, each through fill_locked with venue HOUSE and exec ids unique per order
    ("<order>-C", "<order>-H"). Locks the house account and position after the client's."""
    house = lock_account(house_account_id())
    if house.pk == order.account_id:
        raise Refused("house_fraction", "the house account does not trade fractions with itself")
    position = lock_positions(house, [order.symbol]).get(order.symbol) or \
        position_get_or_create_locked(account=house, asset=order.asset)
    counter_id = uuid.uuid4()
    counter = Order.objects.create(
        id=counter_id, account=house, client_order_id=f"house-{order.pk.hex}", request_hash="", asset_id=order.asset_id,
        symbol=order.symbol, side=OrderSide.SELL if order.side == OrderSide.BUY else OrderSide.BUY,
        order_type=OrderType.MARKET, time_in_force=TimeInForce.DAY,
        qty=qty, status=Status.NEW, venue=HOUSE_VENUE, venue_order_id=order.pk.hex, reserved_cash=0, submitted_at=at)
    audit_record(account=house, actor=actor, action="order.placed", entity_type="order", entity_id=counter.pk,
                 data={"client_order_id": counter.client_order_id, "symbol": counter.symbol, "side": counter.side,
                       "qty": qty, "status": counter.status, "venue": HOUSE_VENUE, "fractional_for": order.pk})
    if order.status in (Status.PENDING_NEW, Status.ACCEPTED):
        # The desk is this order's only venue: it acknowledges it as a venue would.
        order.venue, order.venue_order_id = HOUSE_VENUE, counter_id.hex
        move(order, Status.NEW)
        publish_trade_update(order, "new")
    fill_locked(lo, venue=HOUSE_VENUE, exec_id=f"{order.pk.hex}-C", qty=qty, price=price, transacted_at=at,
                complete=True, actor=actor)
    house_lo = LockedOrder(account=house, position=position, order=counter, replacement=None, original=None)
    fill_locked(house_lo, venue=HOUSE_VENUE, exec_id=f"{order.pk.hex}-H", qty=qty, price=price, transacted_at=at,
                complete=True, actor=actor)


__all__ = ["HOUSE_VENUE", "whole_shares", "has_house_part", "quote_price", "notional_qty", "venue_payload",
           "route_new", "desk_due", "house_complete", "house_fill"]
