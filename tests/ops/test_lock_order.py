"""The lock order of docs/architecture.md ("The lock order"), on PostgreSQL with real transactions.

Each representative transaction runs with a recorder on the connection that reads every statement
that takes or may wait for a row lock (SELECT ... FOR UPDATE, UPDATE, the audit chain's advisory
lock) and checks the sequence against the table:

    1. the client's account row       (before anything else of the account)
    2. the account's own rows         (only with that account's lock held)
    3. the house account, its rows    (after the client's)
    4. one short-locate row
    5. the system audit chain         (last)

A lock of an earlier step than one already held is a violation, and so is a FOR UPDATE on a table
the table does not list. Then the same transactions run concurrently from threads: no deadlock
(40P01), and the books, reservations and locate list still agree.
"""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from accounts.house import house_account_id
from accounts.models import Account
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from compliance.selectors import audit_chain_breaks
from marketdata.selectors import last_price_set
from orders.models import Order
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_replace,
    order_venue_acknowledged,
)
from orders.state import OPEN_STATUSES
from portfolio.models import MarginCall, ShortLocate
from portfolio.services import short_locates_load
from settlement.models import CorporateAction, Obligation
from settlement.services import obligations_settle_batch
from tests.concurrency import is_deadlock, run_in_threads
from tests.factories import make_account, make_asset
from workflows.corporate_actions import corporate_actions_run
from workflows.margin_calls import margin_evaluate

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal

CLIENT_ACCOUNT, OWN_ROWS, HOUSE_ACCOUNT, LOCATE, SYSTEM_AUDIT = 1, 2, 3, 4, 5
ALONE = 0  # a row locked before anything else (a corporate action's row)
# Tables whose rows belong to one account: locked only by a holder of that account's lock.
OWN_TABLES = {"portfolio_position", "orders_order", "orders_outboxmessage", "settlement_obligation",
              "settlement_corporateactionapplication"}
ALONE_TABLES = {"settlement_corporateaction", "risk_tradinghalt"}
_TABLE = re.compile(r'^\s*(?:SELECT .*? FROM|UPDATE)\s+"?(\w+)"?', re.S | re.I)


class LockRecorder:
    """Collects, per transaction, the locks its statements take: (step, key, skip_locked)."""

    def __init__(self, house_id):
        self.house = str(house_id)
        self.transactions = [[]]

    def __call__(self, execute, sql, params, many, context):
        event = self.classify(sql, params or ())
        if event is not None:
            if not connection.in_atomic_block:
                self.transactions.append([event])
                self.transactions.append([])
            else:
                self.transactions[-1].append(event)
        return execute(sql, params, many, context)

    def end_transaction(self):
        if self.transactions[-1]:
            self.transactions.append([])

    def classify(self, sql, params):
        upper = sql.upper()
        if "PG_ADVISORY_XACT_LOCK" in upper:
            return (SYSTEM_AUDIT, "audit", False, sql)
        for_update = "FOR UPDATE" in upper
        if not (for_update or upper.lstrip().startswith("UPDATE")):
            return None
        match = _TABLE.match(sql)
        table = match.group(1).lower() if match else "?"
        skip = "SKIP LOCKED" in upper
        first = str(params[0]) if params else None
        if table == "accounts_account":
            if not for_update:  # a write to account rows (one, or a batch's): their locks must be held
                ids = params[0] if params and isinstance(params[0], list) else params[-1:]
                return (OWN_ROWS, ("accounts", tuple(map(str, ids))), False, sql)
            if skip:
                return (CLIENT_ACCOUNT, ("accounts", tuple(sorted(map(str, params)))), True, sql)
            return (HOUSE_ACCOUNT if first == self.house else CLIENT_ACCOUNT, first, False, sql)
        if table in ("portfolio_position", "orders_order") and for_update:
            return (OWN_ROWS, ("account", first), skip, sql)
        if table in OWN_TABLES:
            return (OWN_ROWS, ("any account", None), skip, sql)
        if table == "portfolio_shortlocate":
            return (LOCATE, "locate", skip, sql)
        if table in ALONE_TABLES:
            return (ALONE, table, skip, sql)
        if for_update:
            return ("unlisted", table, skip, sql)
        return None  # an UPDATE of a row the lock order does not cover (none is locked after it)


def lock_order_violations(events) -> list[str]:
    """What in one transaction's locks breaks the table of docs/architecture.md."""
    problems, accounts, highest, claimed = [], set(), None, False
    for step, key, skip, sql in events:
        if claimed and not skip and step not in (OWN_ROWS, SYSTEM_AUDIT):
            # Rows claimed SKIP LOCKED may be what a trading transaction waits for: their holder
            # must not wait for a trading transaction's locks in turn.
            problems.append(f"a wait after a SKIP LOCKED claim: {sql[:120]}")
        if step == "unlisted":
            problems.append(f"FOR UPDATE on {key}, a table the lock order does not list: {sql[:120]}")
            continue
        if step == OWN_ROWS:
            if skip:  # claimed SKIP LOCKED (the settlement batch, the FIX bridge): waits for nothing
                claimed = True
                continue
            kind, owner = key
            owners = set(owner) if kind == "accounts" else {owner}
            if kind == "any account" and not accounts or kind != "any account" and not owners <= accounts:
                problems.append(f"an account's own rows locked without its account lock: {sql[:120]}")
            if highest == SYSTEM_AUDIT and not skip:
                problems.append(f"a lock after the system audit chain: {sql[:120]}")
            continue
        if step in (CLIENT_ACCOUNT, HOUSE_ACCOUNT):
            held = set(key[1]) if isinstance(key, tuple) else {key}
            if held <= accounts:
                continue  # locked again: waits for nothing
            if step == CLIENT_ACCOUNT and not skip and accounts:
                problems.append(f"a second client account locked: {sql[:120]}")
            accounts |= held
        if not skip and highest is not None and step < highest:
            problems.append(f"step {step} locked after step {highest}: {sql[:120]}")
        if not skip:
            highest = step if highest is None else max(highest, step)
    return problems


@pytest.fixture
def lock_log(monkeypatch):
    """A recorder on this thread's connection; transactions end where Django commits or rolls back."""
    recorder = LockRecorder(house_account_id())
    for name in ("commit", "rollback"):
        original = getattr(connection, name)

        def ended(*args, _original=original, **kwargs):
            recorder.end_transaction()
            return _original(*args, **kwargs)

        monkeypatch.setattr(connection, name, ended)
    with connection.execute_wrapper(recorder):
        yield recorder


def _world():
    """Two client accounts trading a hard-to-borrow symbol, an easy one, and a fractional one the
    house sells short from no inventory."""
    make_asset("AAPL", price="100.00")
    make_asset("HTB", price="10.00", easy_to_borrow=False, fractionable=False)
    make_asset("FRX", price="20.00", easy_to_borrow=False)
    short_locates_load(locates={"HTB": D(1000), "FRX": D(1000)}, as_of=timezone.now().date(), actor="stock_loan")
    for symbol, price in (("AAPL", "100"), ("HTB", "10"), ("FRX", "20")):
        last_price_set(symbol, D(price))
    house_account_id()
    return make_account(cash="100000"), make_account(cash="100000", account_type="margin")


def _limit(account, symbol, side, qty, price, **kw):
    return order_place(account_id=account.pk, actor="test", symbol=symbol, side=side, order_type="limit",
                       time_in_force=kw.pop("tif", "day"), qty=str(qty), limit_price=str(price), **kw)


def _fill(order, qty, price, exec_id):
    return execution_apply(venue="TEST", exec_id=exec_id, order_id=order.pk, qty=str(qty), price=str(price),
                           transacted_at=timezone.now())


def test_each_use_case_takes_its_locks_in_the_documented_order(lock_log):
    cash, margin = _world()
    steps_seen = set()

    def check(label, fn):
        lock_log.transactions = [[]]
        result = fn()
        transactions = [t for t in lock_log.transactions if t]
        assert transactions, f"{label}: no lock recorded"
        for events in transactions:
            assert lock_order_violations(events) == [], label
            steps_seen.update(step for step, *_ in events)
        return result, transactions

    buy, _ = check("place a buy", lambda: _limit(cash, "AAPL", "buy", 10, 100))
    check("fill it", lambda: _fill(buy, 10, 100, "B1"))
    sell, _ = check("place a sell of it", lambda: _limit(cash, "AAPL", "sell", 4, 100))
    _, fill_sell = check("fill the sell: the cash-account rules update the pending buy", lambda: _fill(sell, 4, 100, "S1"))
    assert any(e[0] == OWN_ROWS and "settlement_obligation" in e[3] for t in fill_sell for e in t)
    resting, _ = check("place a buy to cancel", lambda: _limit(cash, "AAPL", "buy", 5, 90, tif="gtc"))
    check("the venue acknowledges it", lambda: order_venue_acknowledged(
        order_id=resting.pk, venue="TEST", venue_order_id="V1", actor="test"))
    check("cancel it", lambda: order_cancel(account_id=cash.pk, order_id=resting.pk, actor="test"))
    other = _limit(cash, "AAPL", "buy", 5, 90, tif="gtc")
    order_venue_acknowledged(order_id=other.pk, venue="TEST", venue_order_id="V2", actor="test")
    check("replace another (its positions locked again after the order)", lambda: order_replace(
        account_id=cash.pk, order_id=other.pk, actor="test", qty="6", limit_price="91"))
    short, placed = check("place a hard-to-borrow short sale", lambda: _limit(margin, "HTB", "sell", 30, 10, tif="gtc"))
    assert any(e[0] == LOCATE for t in placed for e in t)
    _, drawn = check("fill part of it: the locate drawn", lambda: _fill(short, 10, 10, "H1"))
    assert any(e[0] == LOCATE for t in drawn for e in t)
    _, house = check("a fractional buy: the house sells short from no inventory, then draws the locate",
                     lambda: order_place(account_id=cash.pk, actor="test", symbol="FRX", side="buy",
                                         order_type="market", time_in_force="day", qty="0.5"))
    order_of_steps = [e[0] for t in house for e in t if e[0] in (CLIENT_ACCOUNT, HOUSE_ACCOUNT, LOCATE)]
    assert order_of_steps[:1] == [CLIENT_ACCOUNT] and HOUSE_ACCOUNT in order_of_steps
    assert order_of_steps.index(HOUSE_ACCOUNT) < order_of_steps.index(LOCATE)
    _, split = check("a split: open short order, its locate, then the pending obligations",
                     lambda: (CorporateAction.objects.create(symbol="HTB", kind="split", new_shares=2, old_shares=1,
                                                             ex_date=timezone.now().date()),
                              corporate_actions_run(today=timezone.now().date())))
    assert any(e[0] == LOCATE for t in split for e in t)
    _, batch = check("a settlement batch", lambda: obligations_settle_batch(as_of=date.today() + timedelta(days=30)))
    assert any(e[2] for t in batch for e in t) and any(e[0] == SYSTEM_AUDIT for t in batch for e in t)
    holder = make_account(cash="1000", account_type="margin")
    _fill(_limit(holder, "AAPL", "buy", 18, 100), 18, 100, "M1")
    call, _ = check("a margin call", lambda: margin_evaluate(account_id=holder.pk, prices={"AAPL": D("30")}))
    assert isinstance(call, MarginCall)
    assert {CLIENT_ACCOUNT, OWN_ROWS, HOUSE_ACCOUNT, LOCATE, SYSTEM_AUDIT} <= steps_seen


def test_the_checker_catches_locks_out_of_order():
    """The checks above can fail: locks in the order a deadlock needs are reported."""
    house, client, other = "house", "client", "other"

    def account(pk, step=CLIENT_ACCOUNT):
        return (step, pk, False, f"SELECT account {pk} FOR UPDATE")

    locate = (LOCATE, "locate", False, "UPDATE portfolio_shortlocate")
    positions = (OWN_ROWS, ("account", other), False, "SELECT portfolio_position FOR UPDATE")
    audit = (SYSTEM_AUDIT, "audit", False, "SELECT pg_advisory_xact_lock")
    assert lock_order_violations([account(client), locate, account(house, HOUSE_ACCOUNT)])
    assert lock_order_violations([account(client), positions])
    assert lock_order_violations([account(client), account(other)])
    assert lock_order_violations([audit, account(client)])
    claim = (OWN_ROWS, ("any account", None), True, "SELECT settlement_obligation FOR UPDATE SKIP LOCKED")
    assert lock_order_violations([claim, account(client)])
    assert lock_order_violations([("unlisted", "orders_venue", False, "SELECT ... FOR UPDATE")])
    assert lock_order_violations([account(client), account(house, HOUSE_ACCOUNT), locate, audit]) == []


def test_the_representative_transactions_run_concurrently_without_deadlock():
    """Placing, filling, cancelling, fractional fills against the house, hard-to-borrow short sales
    and settlement batches at once, on shared rows (the house, the locate rows, the obligations):
    no deadlock, and the books, reservations and locate list still agree."""
    _world()
    clients = [make_account(cash="100000", account_type="margin") for _ in range(3)]
    # Pending obligations for the settlement batches to claim while the others trade.
    for i, account in enumerate(clients):
        _fill(_limit(account, "AAPL", "buy", 20, 100), 20, 100, f"seed-{i}")
    far = date.today() + timedelta(days=30)

    def operation(i):
        account = clients[i % len(clients)]
        kind = i % 6
        if kind == 0:
            order = _limit(account, "HTB", "sell", 5, 10)
            return _fill(order, 5, 10, f"short-{i}")
        if kind == 1:
            return order_place(account_id=account.pk, actor="test", symbol="FRX", side="buy", order_type="market",
                               time_in_force="day", qty="0.25")
        if kind == 2:
            order = _limit(account, "AAPL", "sell", 2, 100)
            return _fill(order, 2, 100, f"sell-{i}")
        if kind == 3:
            order = _limit(account, "HTB", "sell", 3, 11, tif="gtc")
            return order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
        if kind == 4:
            return obligations_settle_batch(as_of=far, limit=5)
        return margin_evaluate(account_id=account.pk, prices={"AAPL": D("100"), "HTB": D("10"), "FRX": D("20")})

    results = run_in_threads(operation, [(i,) for i in range(36)], workers=4)
    errors = [e for _, e in results if e is not None]
    assert not [e for e in errors if is_deadlock(e)], errors
    assert errors == []
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()
    assert not audit_chain_breaks()
    for account in Account.objects.all():
        held = Order.objects.filter(account=account, status__in=OPEN_STATUSES).aggregate(s=Sum("reserved_cash"))["s"]
        assert account.reserved_cash == (held or 0), account
    for row in ShortLocate.objects.all():
        open_located = Order.objects.filter(symbol=row.symbol, status__in=OPEN_STATUSES).aggregate(
            s=Sum("located_qty"))["s"] or 0
        assert row.shares_reserved == open_located, row.symbol
    assert Obligation.objects.filter(status="settled").exists()
