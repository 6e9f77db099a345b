"""Every execution creates its obligation in its own transaction; batches settle them exactly
once; settled and unsettled cash and shares are exact at every moment."""
from datetime import date

import pytest
from django.core.management import call_command

from accounts.models import JournalEntry
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from orders.models import Execution
from orders.services import execution_apply
from settlement import selectors
from settlement.models import Obligation, SettlementBatch
from settlement.services import obligations_settle_batch, settle_due

from .helpers import D, at, trade

pytestmark = pytest.mark.django_db(transaction=True)


def fresh(obj):
    obj.refresh_from_db()
    return obj


def test_each_execution_gets_one_obligation_with_its_settlement_date(account, aapl):
    # Friday 10 October 2025: Monday is Columbus Day (NYSE open, banks closed) -> Tuesday.
    executions = trade(account, "buy", 10, "100", when=at("2025-10-10"), fills=2)
    obligations = list(Obligation.objects.filter(account=account).order_by("id"))
    assert [o.execution_id for o in obligations] == [e.pk for e in executions]
    assert {(o.trade_date, o.settle_date, o.amount, o.status) for o in obligations} == {
        (date(2025, 10, 10), date(2025, 10, 14), D("-500.00"), "pending")}
    # A replayed execution report creates nothing.
    assert execution_apply(venue="TEST", exec_id=executions[0].exec_id, order_id=executions[0].order_id, qty="5",
                           price="100", transacted_at=at("2025-10-10")) is None
    assert Obligation.objects.count() == Execution.objects.count() == 2


def test_the_trade_date_is_new_yorks(account, aapl):
    # 02:00 UTC on 15 October is still the 14th in New York.
    from datetime import datetime, timezone

    trade(account, "buy", 1, "100", when=datetime(2025, 10, 15, 2, 0, tzinfo=timezone.utc))
    assert Obligation.objects.get().trade_date == date(2025, 10, 14)


def test_obligations_settle_on_their_date_not_before(account, aapl):
    trade(account, "buy", 10, "100", when=at("2025-10-10"))
    account = fresh(account)
    assert (account.settled_cash, account.unsettled_cash) == (D("10000.00"), D("-1000.00"))
    assert settle_due(as_of=date(2025, 10, 13)).settled == 0  # Columbus Day: nothing due yet
    assert selectors.unsettled_shares(account.pk) == {"AAPL": D(10)}
    result = settle_due(as_of=date(2025, 10, 14))
    assert result.settled == 1
    account = fresh(account)
    assert (account.settled_cash, account.unsettled_cash) == (D("9000.00"), D("0.00"))
    assert selectors.unsettled_shares(account.pk) == {}
    assert selectors.settled_positions(account.pk) == [
        {"symbol": "AAPL", "qty": D(10), "settled_qty": D(10), "unsettled_qty": D(0)}]
    ob = Obligation.objects.get()
    assert ob.status == "settled" and ob.entry.kind == JournalEntry.Kind.SETTLEMENT
    assert settle_due(as_of=date(2025, 10, 20)).settled == 0  # nothing twice
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()


def test_settled_and_unsettled_are_exact_after_every_batch(aapl):
    from tests.factories import make_account

    accounts = [make_account(cash="100000") for _ in range(3)]
    for i, acct in enumerate(accounts):
        trade(acct, "buy", 30, "100", when=at("2025-10-08"), fills=3)
        trade(acct, "sell", 10 + i, "101", when=at("2025-10-08"), fills=2)
    while obligations_settle_batch(as_of=date(2025, 10, 9), limit=4).claimed:
        for acct in accounts:
            acct = fresh(acct)
            assert acct.unsettled_cash == selectors.pending_cash(acct.pk)
            assert acct.settled_cash + acct.unsettled_cash == D("100000") - 3000 + (10 + accounts.index(acct)) * 101
    assert Obligation.objects.filter(status="pending").count() == 0
    assert SettlementBatch.objects.count() == 4  # 15 obligations, 4 at a time
    call_command("verify_ledger")


def test_a_busy_account_is_left_for_the_next_batch_and_trading_is_not_blocked(account, aapl):
    """The batch never waits for an account lock: an account trading right now keeps its
    obligations pending until the next run, and the batch cannot deadlock with its trades."""
    import threading

    from django.db import connection, transaction

    from accounts.locks import lock_account

    trade(account, "buy", 5, "100", when=at("2025-10-08"))
    held, release = threading.Event(), threading.Event()

    def hold_the_account():
        with transaction.atomic():
            lock_account(account.pk)
            held.set()
            release.wait(10)
        connection.close()

    t = threading.Thread(target=hold_the_account)
    t.start()
    assert held.wait(10)
    try:
        result = settle_due(as_of=date(2025, 10, 9))
        assert (result.settled, result.busy) == (0, 1)
    finally:
        release.set()
        t.join()
    assert settle_due(as_of=date(2025, 10, 9)).settled == 1


def test_the_beat_tasks_run_the_services_and_record_their_runs(account, aapl):
    from core.models import JobRun
    from settlement.tasks import settle_due_task
    from workflows.tasks import confirmations_task, reconcile_task

    trade(account, "buy", 2, "100", when=at("2025-10-08"))
    assert settle_due_task.apply(kwargs={"as_of": "2025-10-09"}).get() == {"batches": 1, "settled": 1, "busy": 0}
    assert confirmations_task.apply().get() == {"made": 1}
    assert reconcile_task.apply(kwargs={"day": "2025-10-08"}).get()  # no drop copies here: no_file runs
    assert set(JobRun.objects.values_list("job", "outcome")) == {
        ("settlement.settle_due", "ok"), ("settlement.confirmations", "ok"), ("settlement.reconcile", "ok")}
