"""Specific-lot identification for a closing order (PUT /v2/orders/{id}/lots): the order is
orders', the lots and the selection portfolio's (portfolio.services.lot_selection_set)."""
from django.db import transaction

from accounts.locks import lock_account
from core.errors import InvalidInput, NotFound
from portfolio.models import LotSelection
from portfolio.services import lot_ids_check, lot_selection_set

from ..models import Order


@transaction.atomic(durable=True)
def order_lots_select(*, account_id, order_id, lot_ids: list[int], actor: str) -> LotSelection:
    """Name the lots a closing order closes, before it fills: open lots of the order's account and
    symbol, on the side the order closes, those first in the given order, FIFO for the rest."""
    lot_ids_check(lot_ids)
    account = lock_account(account_id)
    order = Order.objects.filter(pk=order_id, account_id=account_id).first()
    if order is None:
        raise NotFound("order not found", reason="order_not_found")
    if order.filled_qty:
        raise InvalidInput("order_already_filled", "lots can be chosen only before the order starts to fill")
    return lot_selection_set(account=account, order_id=order.pk, symbol=order.symbol, side=order.side,
                             lot_ids=lot_ids, actor=actor)
