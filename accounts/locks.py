"""The one lock order of TradeX (invariant 2), and the only place rows are locked FOR UPDATE:

    account row  ->  position rows, by symbol  ->  order rows, by pk

Every service that writes more than one of these takes its locks through these functions, in this
order, inside one transaction. Two transactions can then only wait on each other in one
direction, so PostgreSQL never has to break a deadlock (40P01).

A second account in one transaction: only the house's inventory account (accounts/house.py), and
always last - after the client's account, position and order locks - then its position. Nothing
holding the house account's lock waits for another account's, so it is a leaf of the lock graph.
"""
from django.db import connection

from .models import Account


def lock_account(account_id, *, annotations: dict | None = None, related: tuple = ()) -> Account:
    """Lock and return the account row. First lock of every trading transaction.

    Two statements: the first takes the lock, the second reads the row with the account's audit
    chain head, any `annotations` (subqueries) and `related` one-to-one rows the use case needs.
    They cannot be one: under READ COMMITTED, a SELECT ... FOR UPDATE that waited for the lock
    re-reads the locked row but evaluates its subqueries on the snapshot taken before the wait, so
    they would miss what the previous holder of the lock committed (found by the 200-operation
    stress test as duplicate audit sequence numbers). The second statement's snapshot is taken
    after the lock is held.
    """
    from compliance.services import audit_head_annotations

    assert connection.in_atomic_block, "lock_account needs a transaction"
    Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True).get()
    qs = Account.objects.annotate(**audit_head_annotations(account_id), **(annotations or {}))
    if related:
        qs = qs.select_related(*related)
    return qs.get(pk=account_id)


def lock_positions(account: Account, symbols=None):
    """Lock the account's position rows for these symbols (all of them when symbols is None), in
    symbol order. Caller holds the account lock. Returns {symbol: Position}; a symbol with no row
    is absent."""
    from portfolio.models import Position

    rows = Position.objects.select_for_update().filter(account=account)
    if symbols is not None:
        rows = rows.filter(symbol__in=sorted(set(symbols)))
    return {p.symbol: p for p in rows.order_by("symbol")}


def lock_orders(account: Account, order_ids):
    """Lock order rows by primary key, in pk order. Caller holds the account and position locks."""
    from orders.models import Order

    rows = Order.objects.select_for_update().filter(account=account, pk__in=list(order_ids)).order_by("pk")
    return {o.pk: o for o in rows}


def lock_accounts_skip_locked(account_ids) -> set:
    """Lock those of these account rows that no one else holds, in pk order, skipping the rest.

    For batch jobs (settlement) that already hold other rows: a job that never waits for an
    account lock cannot be part of a wait cycle with a trading transaction, which holds its
    account and may then wait for the job's rows. Returns the set of pks locked; the caller
    leaves the skipped accounts' work for its next batch. No instances are loaded: a job that
    appends to an account's audit chain must use lock_account."""
    assert connection.in_atomic_block, "lock_accounts_skip_locked needs a transaction"
    return set(Account.objects.select_for_update(skip_locked=True).filter(pk__in=list(account_ids))
               .order_by("pk").values_list("pk", flat=True))
