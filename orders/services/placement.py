"""Placing an order: risk checks and the reservation in the transaction that holds the account
row lock (invariant 1), the order and its outbox row written together, audit in the same
transaction, the client told only after commit."""
import uuid

from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.locks import lock_account, lock_positions
from compliance.services import audit_record
from portfolio.models import Position
from portfolio.services import position_hold
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
from tradex.errors import Conflict, Refused

from ..events import publish_trade_update
from ..models import Order, OutboxMessage
from ..state import OPEN_STATUSES, Status
from .request import OrderRequest, parse_order_request, validate_client_order_id

# Held by the broker until triggered (stops) or the auction (opg/cls): no venue message yet.
BROKER_HELD_TYPES = {"stop", "stop_limit", "trailing_stop"}
BROKER_HELD_TIFS = {"opg", "cls"}


def intent_of(request: OrderRequest, asset, *, filled_qty=0) -> OrderIntent:
    return OrderIntent(
        symbol=request.symbol, side=request.side, order_type=request.order_type, time_in_force=request.time_in_force,
        qty=request.qty, notional=request.notional, limit_price=request.limit_price, stop_price=request.stop_price,
        trail_price=request.trail_price, trail_percent=request.trail_percent, extended_hours=request.extended_hours,
        filled_qty=filled_qty, asset_tradable=asset.tradable and asset.status == "active",
        asset_shortable=asset.shortable, asset_easy_to_borrow=asset.easy_to_borrow, asset_fractionable=asset.fractionable,
    )


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
    and select_related("risk_limits"); locks the positions in the global order."""
    limits = limits_of(account)
    positions = lock_positions(account, symbols=None)
    today = timezone.now().date()
    day_trades = (day_trades_last_5_days(account.pk, today)
                  if account.is_margin and limits.day_trading_policy == "pdt" else 0)
    snapshot = account_snapshot(account, positions.values(), open_orders_for_symbol=account.open_orders_for_symbol,
                                day_trades=day_trades, today=today)
    market = market_state(prices, symbol=symbol, halted_symbol=account.halted_symbol, halted_all=account.halted_all)
    return snapshot, positions, market, limits


def lock_for_placement(account_id, symbol: str, client_order_id: str | None = None):
    return lock_account(account_id, annotations=placement_annotations(account_id, symbol, client_order_id),
                        related=("risk_limits",))


def order_preview(*, account_id, actor: str = "", client_order_id=None, **order) -> Verdict:
    """The dry run: every check and the buying-power effect, nothing written."""
    request, asset = parse_order_request(**order)
    prices = prices_for(account_id, request.symbol)
    with transaction.atomic():
        account = lock_for_placement(account_id, request.symbol)
        snapshot, _, market, limits = locked_snapshot(account, request.symbol, prices)
        return evaluate(snapshot, intent_of(request, asset), market, limits)


def order_place(*, account_id, actor: str, client_order_id=None, **order) -> Order:
    request, asset = parse_order_request(**order)
    client_order_id = validate_client_order_id(client_order_id)
    prices = prices_for(account_id, request.symbol)
    return _place(account_id=account_id, actor=actor, request=request, asset=asset, client_order_id=client_order_id,
                  prices=prices)


@transaction.atomic(durable=True)
def _place(*, account_id, actor, request: OrderRequest, asset, client_order_id, prices: dict) -> Order:
    account = lock_for_placement(account_id, request.symbol, client_order_id)
    fingerprint = request.fingerprint()
    if client_order_id is not None and account.earlier_order_id is not None:
        existing = Order.objects.get(pk=account.earlier_order_id)
        if existing.request_hash != fingerprint:
            raise Conflict("client_order_id_conflict", "client_order_id was already used for a different order")
        return existing  # a retry of the same order: answer as the first time
    snapshot, positions, market, limits = locked_snapshot(account, request.symbol, prices)
    verdict = evaluate(snapshot, intent_of(request, asset), market, limits)
    if not verdict.accepted:
        raise Refused(verdict.first.code, verdict.first.message)
    reservation = verdict.reservation
    held_at_broker = request.order_type in BROKER_HELD_TYPES or request.time_in_force in BROKER_HELD_TIFS
    now = timezone.now()
    order_id = uuid.uuid4()
    order = Order.objects.create(
        id=order_id, account=account, client_order_id=client_order_id or str(order_id), request_hash=fingerprint, asset=asset,
        symbol=request.symbol, side=request.side, order_type=request.order_type, time_in_force=request.time_in_force,
        order_class=request.order_class, qty=request.qty, notional=request.notional, limit_price=request.limit_price,
        stop_price=request.stop_price, trail_price=request.trail_price, trail_percent=request.trail_percent,
        extended_hours=request.extended_hours, status=Status.ACCEPTED if held_at_broker else Status.PENDING_NEW,
        reserved_cash=reservation.cash, reserved_qty=reservation.held_qty, submitted_at=now,
    )
    if reservation.cash:
        account.reserved_cash += reservation.cash
        account.save(update_fields=["reserved_cash"])
    if reservation.held_qty:
        position_hold(position=positions[request.symbol], qty=reservation.held_qty)
    if not held_at_broker:
        OutboxMessage.objects.create(order=order, kind=OutboxMessage.Kind.NEW)
    audit_record(account=account, actor=actor, action="order.placed", entity_type="order", entity_id=order.pk,
                 data={"client_order_id": order.client_order_id, "symbol": order.symbol, "side": order.side,
                       "type": order.order_type, "time_in_force": order.time_in_force, "qty": order.qty,
                       "notional": order.notional, "limit_price": order.limit_price, "stop_price": order.stop_price,
                       "status": order.status, "reserved_cash": reservation.cash, "reserved_qty": reservation.held_qty,
                       "buying_power_before": verdict.buying_power, "buying_power_after": verdict.buying_power_after})
    publish_trade_update(order, "pending_new" if not held_at_broker else "accepted")
    return order
