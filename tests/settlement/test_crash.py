"""A settlement worker killed in the middle of a run — inside an open batch transaction, after it
had committed some batches — loses nothing and settles nothing twice: the rerun (two workers at
once) finishes exactly the rest and the ledger balances.

The kill lands mid-batch deterministically: once some batches have committed, the test takes a
lock on the batch table, so the worker's next batch claims its obligations, moves their cash and
marks them settled, then blocks on the insert of its batch row; the test sees it waiting
(pg_locks) and SIGKILLs it there."""
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import Sum

from accounts.models import JournalEntry, JournalLeg
from settlement.models import Obligation, SettlementBatch
from tests.factories import make_account

from .helpers import D, at, trade

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2025-10-09"
BATCH = 5
TIMEOUT = 60


def wait_for(predicate, what: str, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)  # polling interval of the observable event, not a wait for time to pass


def worker() -> subprocess.Popen:
    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return subprocess.Popen([sys.executable, "manage.py", "settle", "--as-of", AS_OF, "--batch-size", str(BATCH)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def settled_count() -> int:
    return Obligation.objects.filter(status="settled").count()


def blocked_backend() -> int | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                       "WHERE NOT l.granted AND c.relname = 'settlement_settlementbatch'")
        row = cursor.fetchone()
    return row[0] if row else None


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_worker_killed_mid_batch_then_rerun_settles_everything_exactly_once(aapl):
    accounts = [make_account(cash="1000000") for _ in range(3)]
    for acct in accounts:
        trade(acct, "buy", 100, "100", when=at("2025-10-08"), fills=100)
        trade(acct, "sell", 40, "101", when=at("2025-10-08"), fills=40)
    total = Obligation.objects.count()
    assert total == 420

    proc = worker()
    try:
        wait_for(lambda: settled_count() >= 6 * BATCH, "some batches to commit")
        lock = connections.create_connection("default")  # a second connection of the test's own
        lock.set_autocommit(False)
        with lock.cursor() as cursor:
            cursor.execute("LOCK TABLE settlement_settlementbatch IN EXCLUSIVE MODE")
        backend = wait_for(blocked_backend, "the worker to block inside a batch")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(TIMEOUT)
        assert proc.returncode == -signal.SIGKILL
        lock.rollback()
        lock.close()
        wait_for(lambda: not backend_alive(backend), "the killed worker's backend to roll back")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # What the killed worker committed: whole batches only; its open batch left nothing behind.
    done = settled_count()
    assert 0 < done < total
    assert done == SettlementBatch.objects.aggregate(n=Sum("obligations"))["n"]
    assert Obligation.objects.filter(status="settled", batch_id__isnull=True).count() == 0
    call_command("verify_ledger")

    # The rerun: two workers at once; SKIP LOCKED gives them disjoint batches.
    reruns = [worker(), worker()]
    outputs = [p.communicate(timeout=TIMEOUT)[0] for p in reruns]
    assert [p.returncode for p in reruns] == [0, 0], outputs
    assert Obligation.objects.filter(status="pending").count() == 0
    assert SettlementBatch.objects.aggregate(n=Sum("obligations"))["n"] == total

    # Exactly once: per account, the settlement entries moved exactly its obligations' cash.
    for acct in accounts:
        acct.refresh_from_db()
        moved = JournalLeg.objects.filter(entry__kind=JournalEntry.Kind.SETTLEMENT, account=acct,
                                          book=JournalLeg.Book.CUSTOMER_SETTLED).aggregate(s=Sum("amount"))["s"]
        assert moved == Obligation.objects.filter(account=acct).aggregate(s=Sum("amount"))["s"] == D("-5960.00")
        assert acct.unsettled_cash == 0
        assert acct.settled_cash == Decimal("1000000") - 10000 + 4040
    call_command("verify_ledger")
