"""Taking one order's locks in the lock order (docs/architecture.md): its account
(accounts.locks.lock_account), its position (portfolio.locks.lock_positions), then the order and
the orders linked to it (orders.locks.lock_orders, the one place order rows are locked), by pk.
Every service that works on an existing order starts with lock_for_order."""
import uuid
from dataclasses import dataclass, field

from django.db.models import Q

from accounts.locks import lock_account
from accounts.models import Account
from marketdata.models import Asset
from portfolio.locks import lock_positions
from portfolio.models import Position
from portfolio.services import position_get_or_create_locked
from core.errors import NotFound

from ..locks import lock_orders
from ..models import Order


@dataclass
class LockedOrder:
    account: Account
    position: Position
    order: Order
    replacement: Order | None  # the pending replacement of `order`, if any
    original: Order | None  # the order `order` replaces, if any
    # The order's class family (bracket/OCO/OTO), locked with it: its parent, its legs, and its
    # parent's other legs, by pk. Empty for a simple order.
    family: dict = field(default_factory=dict)


def lock_for_order(order_id, *, account_id=None, annotations=None, related=()) -> LockedOrder:
    """Lock the account, the order's position (created if absent), then the order and the orders
    it replaces or is replaced by. Caller runs inside a transaction.

    The order's account and symbol are read first without a lock: they never change, and knowing
    them is what lets us lock the account before the order.
    """
    try:
        order_id = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise NotFound("order not found", reason="order_not_found") from exc
    qs = Order.objects.filter(pk=order_id)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)  # a caller may only touch its own orders
    route = qs.values_list("account_id", "symbol", "asset_id", "parent_id").first()
    if route is None:
        raise NotFound("order not found", reason="order_not_found")
    acct_id, symbol, asset_id, parent_id = route
    account = lock_account(acct_id, annotations=annotations, related=related)
    position = lock_positions(account, [symbol]).get(symbol)
    if position is None:
        position = position_get_or_create_locked(account=account, asset=Asset.objects.get(pk=asset_id))
    # Under the account lock the replace and parent links are stable: every writer of them holds
    # that lock. Family members share the order's account and symbol, so locking them here keeps
    # the global order (they are order rows, locked with the others by pk).
    links = Q(replaces_id=order_id) | Q(replaced_by__id=order_id) | Q(parent_id=order_id)
    if parent_id is not None:
        links |= Q(pk=parent_id) | Q(parent_id=parent_id)
    related = Order.objects.filter(links).values_list("pk", flat=True)
    orders = lock_orders(account, [order_id, *related])
    order = orders[order_id]
    replacement = next((o for o in orders.values() if o.replaces_id == order.pk), None)
    original = orders.get(order.replaces_id) if order.replaces_id else None
    family = {pk: o for pk, o in orders.items() if pk != order.pk and (
        o.parent_id == order.pk or pk == parent_id or (parent_id is not None and o.parent_id == parent_id))}
    return LockedOrder(account=account, position=position, order=order, replacement=replacement, original=original,
                       family=family)
