"""Applying one fill to an order whose locks the caller holds: the one path every fill takes,
from a venue (orders/services/venue_reports.py) or from the house's fractional desk
(orders/services/fractional.py)."""
from decimal import Decimal

from django.utils import timezone

from accounts.models import JournalEntry, JournalLeg
from accounts.services import ledger_post
from compliance.services import audit_record
from portfolio.services import position_apply_fill
from risk.services import day_trade_record
from settlement.services import obligation_create
from core.values import AVG_PRICE_PLACES, money, round_to
from core.vocabulary import OrderSide

from ..events import publish_trade_update
from ..models import Execution
from ..state import TERMINAL_STATUSES, Status
from .locking import LockedOrder
from .reservations import reservation_release, reservation_release_for_fill
from .transition import move

Book = JournalLeg.Book


def fill_locked(lo: LockedOrder, *, venue: str, exec_id: str, qty: Decimal, price: Decimal, transacted_at,
                complete: bool, actor: str) -> tuple[Execution, dict]:
    """The execution, the ledger, the settlement obligation, the position, the order and its
    reservation, the day-trade counter, the audit event and the trade update, for one fill of
    `lo.order` (locked with its account and position). `complete`: this fill ends the order.
    Returns the execution and the reconciliation flags (overfill, late_fill_after)."""
    account, position, order = lo.account, lo.position, lo.order
    execution = Execution.objects.create(order=order, account=account, venue=venue, exec_id=exec_id, symbol=order.symbol,
                                         side=order.side, qty=qty, price=price, transacted_at=transacted_at)
    value = money(qty * price)
    street, customer = (value, -value) if order.side == OrderSide.BUY else (-value, value)
    ledger_post(account=account, kind=JournalEntry.Kind.FILL, reference=str(execution.pk),
                description=f"{order.side} {qty} {order.symbol} @ {price}",
                legs=[(Book.CUSTOMER_UNSETTLED, customer), (Book.FIRM_CLEARING, street)])
    # Its settlement obligation (T+1) and the cash-account rules, before the position moves.
    obligation_create(execution=execution, account=account, position=position)
    trade_date = transacted_at.date()
    effect = position_apply_fill(position=position, side=order.side, qty=qty, price=price, trade_date=trade_date,
                                 execution=execution)
    if effect.day_trade and order.filled_qty == 0:
        day_trade_record(account_id=account.pk, trade_date=trade_date)

    prior_value = order.filled_qty * (order.filled_avg_price or 0)
    order.filled_qty += qty
    order.filled_avg_price = round_to((prior_value + qty * price) / order.filled_qty, AVG_PRICE_PLACES)
    flags = {}
    if order.qty is not None and order.filled_qty > order.qty:
        flags["overfill"] = order.filled_qty - order.qty
    if order.status in TERMINAL_STATUSES:
        flags["late_fill_after"] = order.status
        reservation_release(account=account, position=position, order=order)
    else:
        reservation_release_for_fill(account=account, position=position, order=order, fill_qty=qty, fill_value=value,
                                     complete=complete)
        if complete:
            move(order, Status.FILLED, filled_at=timezone.now())
        elif order.status not in (Status.PENDING_CANCEL, Status.PENDING_REPLACE):
            # A cancel or replace in flight stays pending: the venue has yet to answer it.
            move(order, Status.PARTIALLY_FILLED)
    order.save()
    audit_record(account=account, actor=actor,
                 action="order.filled" if order.status == Status.FILLED else "order.partially_filled",
                 entity_type="order", entity_id=order.pk,
                 data={"status": order.status, "filled_qty": order.filled_qty, "venue": venue, "exec_id": exec_id,
                       "execution_id": execution.pk, "qty": qty, "price": price, "value": value,
                       "position_qty": position.qty, "realized_pl": effect.realized_pl, **flags})
    publish_trade_update(order, "fill" if order.status == Status.FILLED else "partial_fill", price=price, qty=qty,
                         position_qty=position.qty)
    return execution, flags


__all__ = ["fill_locked"]
