"""Placing an order: risk checks and the reservation in the transaction that holds the account
row lock (invariant 1), the order and its outbox row written together, audit in the same
transaction, the client told only after commit."""
import uuid
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.locks import lock_account
from accounts.services import cash_reserve
from compliance.services import audit_record
from marketdata import clock
from portfolio.locks import lock_positions
from portfolio.margin import house_rates_for_orders
from portfolio.models import Position
from portfolio.services import (
    locate_reserve,
    position_get_or_create_locked,
    position_hold,
    short_locate_available,
)
from risk.inputs import (
    account_snapshot,
    day_trades_last_5_days,
    halt_annotations,
    limits_of,
    market_prices,
    market_state,
)
from risk.snapshot import OrderIntent
from risk.verdict import Verdict, evaluate
from core.errors import Conflict, InvalidInput, Refused
from core.vocabulary import OrderClass, OrderSide, OrderType, TimeInForce

from ..events import publish_trade_update
from ..models import Order
from ..venue_selection import venue_for
from ..state import OPEN_STATUSES, Status
from .fractional import HOUSE_VENUE, has_house_part, notional_qty, quote_price, route_new, whole_shares
from .locking import LockedOrder
from .order_classes import OCO, QUEUED, WAITING_TRIGGER, legs_create
from .request import OrderRequest, parse_order_request, validate_client_order_id

# Held by the broker until triggered (stops) or the auction (opg/cls): no venue message yet.
BROKER_HELD_TYPES = {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP}
BROKER_HELD_TIFS = {TimeInForce.OPG, TimeInForce.CLS}
ZERO = Decimal(0)


def intent_of(request: OrderRequest, asset, *, filled_qty=0, qty=None) -> OrderIntent:
    """`qty`: a notional order's quantity as decided at acceptance (order_qty)."""
    return OrderIntent(
        symbol=request.symbol, side=request.side, order_type=request.order_type, time_in_force=request.time_in_force,
        qty=request.qty if qty is None else qty, notional=request.notional, limit_price=request.limit_price,
        stop_price=request.stop_price,
        trail_price=request.trail_price, trail_percent=request.trail_percent, extended_hours=request.extended_hours,
        filled_qty=filled_qty, asset_tradable=asset.tradable and asset.status == "active",
        asset_shortable=asset.shortable, asset_easy_to_borrow=asset.easy_to_borrow, asset_fractionable=asset.fractionable,
        # One query, for hard-to-borrow sells only (easy-to-borrow orders keep their budget).
        borrow_available=None if asset.easy_to_borrow or request.side != OrderSide.SELL else short_locate_available(asset.symbol),
    )


def located_need(intent: OrderIntent, reservation) -> Decimal:
    """The shares a hard-to-borrow short sale must reserve on the locate list (0 for the rest)."""
    return reservation.short_qty if intent.borrow_available is not None else ZERO


def placement_annotations(account_id, symbol: str, client_order_id: str | None) -> dict:
    """What order checks read with the account lock, in the same query: open orders in the
    symbol, the halts, and an earlier order with this client_order_id."""
    open_orders = (Order.objects.filter(account=OuterRef("pk"), symbol=symbol, status__in=OPEN_STATUSES)
                   .order_by().values("account").annotate(n=Count("pk")).values("n"))
    annotations = {"open_orders_for_symbol": Coalesce(Subquery(open_orders), 0), **halt_annotations(symbol)}
    if client_order_id:
        earlier = Order.objects.filter(account=OuterRef("pk"), client_order_id=client_order_id).values("pk")[:1]
        annotations["earlier_order_id"] = Subquery(earlier)
    return annotations


def prices_for(account_id, symbol: str) -> dict:
    """Prices of everything the account holds and of the order's symbol, read before the lock."""
    symbols = set(Position.objects.filter(account_id=account_id).exclude(qty=0).values_list("symbol", flat=True))
    symbols.add(symbol)
    return market_prices(symbols)


def locked_snapshot(account, symbol: str, prices: dict):
    """(snapshot, positions, market, limits) from the account locked with placement_annotations
    and select_related("risk_limits"); locks the positions in the global order.

    The snapshot prices every position it locked: `prices` was read before the lock for the
    positions seen then, and a fill that committed in between may have opened another one; its
    price is read here, under the lock (one cache round trip, only when that happened)."""
    limits = limits_of(account)
    positions = lock_positions(account, symbols=None)
    missing = {s for s, p in positions.items() if p.qty != 0 and s not in prices}
    if missing:
        prices = {**prices, **market_prices(missing)}
    today = timezone.now().date()
    day_trades = (day_trades_last_5_days(account.pk, today)
                  if account.is_margin and limits.day_trading_policy == "pdt" else 0)
    snapshot = account_snapshot(account, positions.values(), open_orders_for_symbol=account.open_orders_for_symbol,
                                day_trades=day_trades, today=today)
    market = market_state(prices, symbol=symbol, halted_symbol=account.halted_symbol, halted_all=account.halted_all,
                          halted_account=account.halted_account, house_rates=house_rates_for_orders())
    return snapshot, positions, market, limits


def lock_for_placement(account_id, symbol: str, client_order_id: str | None = None):
    return lock_account(account_id, annotations=placement_annotations(account_id, symbol, client_order_id),
                        related=("risk_limits",))


def order_qty(request: OrderRequest) -> tuple[Decimal | None, Decimal | None]:
    """(qty, quote): the order's quantity - a notional order's decided now from the notional at the
    quote, floored to 9 decimals (docs/fractional.md) - and, for an order with a fractional part,
    the quote the house fills it at if it has no whole shares. Read before the account lock."""
    if request.notional is None and (request.qty is None or not fractional(request.qty)):
        return request.qty, None
    quote = quote_price(request.symbol, request.side)
    if quote is None:
        raise Refused("price_unavailable", f"no market price for {request.symbol}: the order cannot be sized or filled")
    if request.notional is None:
        return request.qty, quote
    qty = notional_qty(request.notional, quote)
    if qty <= 0:
        raise InvalidInput("notional_too_small", f"notional {request.notional} buys no share of {request.symbol} "
                                                 f"at {quote}")
    return qty, quote


def fractional(qty: Decimal) -> bool:
    return qty != whole_shares(qty)


def order_preview(*, account_id, actor: str = "", client_order_id=None, **order) -> Verdict:
    """The dry run: every check and the buying-power effect, nothing written."""
    request, asset = parse_order_request(**order)
    qty, _ = order_qty(request)
    prices = prices_for(account_id, request.symbol)
    with transaction.atomic():
        account = lock_for_placement(account_id, request.symbol)
        snapshot, _, market, limits = locked_snapshot(account, request.symbol, prices)
        return evaluate(snapshot, intent_of(request, asset, qty=qty), market, limits)


def order_place(*, account_id, actor: str, client_order_id=None, **order) -> Order:
    request, asset = parse_order_request(**order)
    client_order_id = validate_client_order_id(client_order_id)
    qty, quote = order_qty(request)
    prices = prices_for(account_id, request.symbol)
    now = clock.now()
    hold_reason = held_at_broker(request, now)
    # Less than one share: the house fills it all, no venue is involved.
    venue = "" if hold_reason else HOUSE_VENUE if whole_shares(qty) == 0 else venue_for(request.symbol)
    return _place(account_id=account_id, actor=actor, request=request, asset=asset, client_order_id=client_order_id,
                  prices=prices, venue=venue, hold_reason=hold_reason, now=now, qty=qty, quote=quote)


def held_at_broker(request: OrderRequest, now) -> str:
    """Why the order stays at the broker instead of going to a venue now ("" = it goes): stops wait
    for their trigger, opg/cls for the auction, and - Alpaca's rule - an order placed while it may
    not trade (outside regular hours, unless an extended-hours limit day order in pre/post) is
    queued for the next session (marketdata/clock.py)."""
    if request.order_type in BROKER_HELD_TYPES:
        return WAITING_TRIGGER
    if request.time_in_force in BROKER_HELD_TIFS:
        return f"waiting for the {'open' if request.time_in_force == TimeInForce.OPG else 'close'}"
    if not clock.can_route(now, extended_hours=request.extended_hours):
        return QUEUED
    return ""


def order_record_routed(*, account_id, actor: str, venue: str, client_order_id=None, **order) -> Order:
    """An order booked as already routed to `venue`, whatever the market clock and the venues'
    sessions say: for writing a known history (the surveillance demo's patterns), never a client's
    order. The checks, the reservation, the outbox row and the audit event are order_place's; an
    outbox row for a venue no bridge serves is never sent."""
    request, asset = parse_order_request(**order)
    client_order_id = validate_client_order_id(client_order_id)
    qty, quote = order_qty(request)
    prices = prices_for(account_id, request.symbol)
    return _place(account_id=account_id, actor=actor, request=request, asset=asset, client_order_id=client_order_id,
                  prices=prices, venue=venue, now=clock.now(), qty=qty, quote=quote)


@transaction.atomic(durable=True)
def _place(*, account_id, actor, request: OrderRequest, asset, client_order_id, prices: dict, venue: str,
           hold_reason: str = "", now=None, qty=None, quote=None) -> Order:
    account = lock_for_placement(account_id, request.symbol, client_order_id)
    fingerprint = request.fingerprint()
    if client_order_id is not None and account.earlier_order_id is not None:
        existing = Order.objects.get(pk=account.earlier_order_id)
        if existing.request_hash != fingerprint:
            raise Conflict("client_order_id_conflict", "client_order_id was already used for a different order")
        return existing  # a retry of the same order: answer as the first time
    snapshot, positions, market, limits = locked_snapshot(account, request.symbol, prices)
    qty = request.qty if qty is None else qty
    intent = intent_of(request, asset, qty=qty)
    verdict = evaluate(snapshot, intent, market, limits)
    if not verdict.accepted:
        raise Refused(verdict.first.code, verdict.first.message)
    reservation = verdict.reservation
    if request.order_class == OCO and not _closes_position(request, positions.get(request.symbol), reservation):
        raise Refused("oco_needs_position", f"an oco order closes an existing {request.symbol} position of at least "
                                            f"{request.qty} shares not held by other orders")
    located = located_need(intent, reservation)
    if located and not locate_reserve(request.symbol, located):
        raise Refused("hard_to_borrow", f"{request.symbol} is hard to borrow and other orders took today's located "
                                        f"shares first")
    held = not venue
    now = now or timezone.now()
    order_id = uuid.uuid4()
    order = Order.objects.create(
        id=order_id, account=account, client_order_id=client_order_id or str(order_id), request_hash=fingerprint, asset=asset,
        symbol=request.symbol, side=request.side, order_type=request.order_type, time_in_force=request.time_in_force,
        order_class=request.order_class, qty=qty, notional=request.notional, limit_price=request.limit_price,
        stop_price=request.stop_price, trail_price=request.trail_price, trail_percent=request.trail_percent,
        extended_hours=request.extended_hours, status=Status.ACCEPTED if held else Status.PENDING_NEW, venue=venue,
        reserved_cash=reservation.cash, reserved_qty=reservation.held_qty, located_qty=located, submitted_at=now,
        hold_reason=hold_reason,
        hwm=prices.get(request.symbol) if request.order_type == OrderType.TRAILING_STOP else None,
    )
    cash_reserve(account, reservation.cash)
    if reservation.held_qty:
        position_hold(position=positions[request.symbol], qty=reservation.held_qty)
    audit_record(account=account, actor=actor, action="order.placed", entity_type="order", entity_id=order.pk,
                 data={"client_order_id": order.client_order_id, "symbol": order.symbol, "side": order.side,
                       "type": order.order_type, "time_in_force": order.time_in_force, "qty": order.qty,
                       "notional": order.notional, "limit_price": order.limit_price, "stop_price": order.stop_price,
                       "status": order.status, "venue": venue, "reserved_cash": reservation.cash, "reserved_qty": reservation.held_qty,
                       "located_qty": located,
                       "buying_power_before": verdict.buying_power, "buying_power_after": verdict.buying_power_after})
    legs = []
    if request.order_class != OrderClass.SIMPLE:
        legs = legs_create(account=account, parent=order, request=request, asset=asset,
                           last_price=prices.get(request.symbol), at=now, actor=actor)
    publish_trade_update(order, "accepted" if held else "pending_new")
    if not held:
        # Whole shares to the venue (outbox), the fraction to the house's desk (orders/services/fractional.py).
        position = positions.get(request.symbol)
        if position is None and has_house_part(order):
            position = position_get_or_create_locked(account=account, asset=asset)
        route_new(LockedOrder(account=account, position=position, order=order, replacement=None, original=None), order,
                  payload={}, actor=actor, at=now, price=quote)
    for leg in legs:
        if leg.status == Status.ACCEPTED:
            publish_trade_update(leg, "accepted")
    return order


def _closes_position(request: OrderRequest, position, reservation) -> bool:
    """An OCO exits a position: a sell needs the shares (none sold short), a buy covers a short."""
    if request.side == OrderSide.SELL:
        return reservation.short_qty == 0
    return position is not None and position.qty <= -request.qty
