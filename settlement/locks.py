"""The settlement batch's claim of due obligations.

Rows are claimed with FOR UPDATE SKIP LOCKED in id order: concurrent workers take disjoint
batches and never wait for each other, and a worker killed mid-batch releases its claims when
PostgreSQL rolls its transaction back, so the next batch takes them again. Nothing else locks
pending obligations except a cash-account sale (settlement/rules.py) updating its own account's
buys, and a split rescaling its own account's obligations (services.obligations_apply_split),
each while holding that account's lock; the batch never waits for an account lock
(accounts.locks.lock_accounts_skip_locked), so they cannot wait on each other in a cycle.
"""
from datetime import date

from .models import Obligation


def claim_due_obligations(*, as_of: date, limit: int) -> list[tuple]:
    """Up to `limit` (id, account_id, amount) of pending obligations due on or before as_of that
    no other worker holds, in id order. Caller is inside the batch's transaction."""
    return list(Obligation.objects.select_for_update(skip_locked=True)
                .filter(status=Obligation.Status.PENDING, settle_date__lte=as_of)
                .order_by("id")
                .values_list("id", "account_id", "amount")[:limit])
