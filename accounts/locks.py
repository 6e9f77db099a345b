"""Account row locks, the first lock of every transaction that writes an account's rows.

The lock order of TradeX (docs/architecture.md, "The lock order", says who takes each lock and
why it cannot deadlock):

    1. the account row                  lock_account (here)
    2. the account's own rows, only ever waited for by the holder of 1: its positions by symbol
       (portfolio.locks.lock_positions), its orders by pk (orders.locks.lock_orders), their
       outbox rows, pending obligations, margin call, day-trade count, trade-update seq, audit chain
    3. the house account, then its rows (fractional fills; a leaf)
    4. one short-locate row              portfolio.services (locate_reserve, _locate_draw, ...)
    5. the system audit chain            compliance.services (an advisory lock), always last

Every transaction takes what it needs in this order, so two transactions can only wait for each
other in one direction and PostgreSQL never has to break a deadlock (40P01). Batch jobs that hold
other rows first (settlement) take account rows with lock_accounts_skip_locked and never wait for them.
tests/ops/test_lock_order.py records the locks each use case takes and checks this order.
"""
from django.db import connection

from compliance.services import audit_head_annotations

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
    assert connection.in_atomic_block, "lock_account needs a transaction"
    Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True).get()
    qs = Account.objects.annotate(**audit_head_annotations(account_id), **(annotations or {}))
    if related:
        qs = qs.select_related(*related)
    return qs.get(pk=account_id)


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
