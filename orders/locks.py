"""Order row locks: the only place order rows are locked FOR UPDATE (docs/architecture.md, "The
lock order", step 2): taken by the holder of the account's row lock (accounts.locks.lock_account),
after the positions it needs (portfolio.locks.lock_positions).

orders/services/locking.py builds on this: `lock_for_order` takes one order's account, position
and order locks (the order with its replacement and its class family) in that order, for every
service that works on an existing order. This module is the primitive; that one is the use case.
"""
from accounts.models import Account

from .models import Order


def lock_orders(account: Account, order_ids) -> dict:
    """Lock the account's order rows with these primary keys, in pk order. Caller holds the
    account and position locks. Returns {pk: Order}; a pk of another account's order is absent."""
    rows = Order.objects.select_for_update().filter(account=account, pk__in=list(order_ids)).order_by("pk")
    return {o.pk: o for o in rows}
