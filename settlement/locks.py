"""The settlement batch's claim on due obligations.

Rows are claimed with FOR UPDATE SKIP LOCKED in id order: concurrent workers take disjoint
batches and never wait for each other, and a worker killed mid-batch releases its claims when
PostgreSQL rolls its transaction back, so the next batch takes them again.

Pending obligations are otherwise locked only by a transaction that holds their account's lock
(docs/architecture.md, "The lock order", step 2): a cash-account sale updating the
account's buys (settlement/rules.py) and a stock split rescaling them (corporate actions). The
batch takes its accounts with SKIP LOCKED too (accounts.locks.lock_accounts_skip_locked) and then
waits only for the system audit chain, so a trading transaction waiting for a claimed obligation
cannot be part of a wait cycle. Other settlement rows are locked one at a time: a corporate action
(its row, then the system audit chain), a dividend's application (under its account's lock), a
reconciliation break (alone).
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
