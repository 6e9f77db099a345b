"""Races on real PostgreSQL connections: five simultaneous orders
spending the same $10,000, and deadlocks by the thousand an hour, must be impossible."""
import random
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from compliance.selectors import audit_chain_breaks
from orders.models import Execution, Order
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_replace,
    order_venue_acknowledged,
    order_venue_canceled,
)
from orders.state import OPEN_STATUSES, IllegalTransition
from portfolio.models import Position
from tests.concurrency import is_deadlock, run_in_threads
from tests.factories import make_account, make_asset
from core.errors import TradeXError

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_five_simultaneous_orders_spend_the_same_10000_only_once(account, aapl):
    """Bug pinned: five $10,000 orders against $10,000 of buying power all passed a stale check."""

    def buy(i):
        return order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                           time_in_force="day", qty="100", limit_price="100", client_order_id=f"race-{i}")

    results = run_in_threads(buy, [(i,) for i in range(5)], workers=5)
    accepted = [r for r, e in results if e is None]
    refused = [e for r, e in results if e is not None]
    assert len(accepted) == 1
    assert [getattr(e, "reason", repr(e)) for e in refused] == ["insufficient_buying_power"] * 4
    account.refresh_from_db()
    assert account.reserved_cash == D("10000.00")
    assert Order.objects.count() == 1


def test_the_same_execution_applied_concurrently_changes_state_once(account, aapl):
    order = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                        time_in_force="day", qty="10", limit_price="100")
    now = timezone.now()
    results = run_in_threads(
        lambda: execution_apply(venue="XNAS", exec_id="E-1", order_id=order.pk, qty="10", price="100", transacted_at=now),
        [()] * 6, workers=6)
    assert [e for _, e in results if e is not None] == []
    assert sum(r is not None for r, _ in results) == 1  # the others were replays: no-ops
    assert Execution.objects.count() == 1
    assert Position.objects.get(account=account).qty == 10
    account.refresh_from_db()
    assert account.cash == D("9000.00") and account.reserved_cash == 0
    # And a later replay, as after a FIX resend with PossDupFlag, is a no-op too.
    assert execution_apply(venue="XNAS", exec_id="E-1", order_id=order.pk, qty="10", price="100", transacted_at=now) is None
    assert Execution.objects.count() == 1


SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN"]


def _random_operation(rng: random.Random, accounts, seq: int):
    """One plausible client or venue action, chosen from the state as it is now."""
    account = rng.choice(accounts)
    open_orders = list(Order.objects.filter(account=account, status__in=OPEN_STATUSES).values_list(
        "pk", "status", "qty", "filled_qty", "limit_price"))
    kind = rng.choice(["place", "place", "place", "cancel", "replace", "ack", "fill", "fill", "venue_cancel"])
    if kind == "place" or not open_orders:
        side = rng.choice(["buy", "buy", "sell"])
        return ("place", account.pk, rng.choice(SYMBOLS), side, rng.randint(1, 30), rng.choice(["95", "100", "104"]))
    pk, status, qty, filled, limit = rng.choice(open_orders)
    if kind == "fill":
        # exec id from the fill's position in the order: two threads filling the same slice collide
        # on (venue, exec_id) exactly as a resent ExecutionReport would.
        return ("fill", pk, f"{pk}-{filled}", str(min(qty - filled, rng.randint(1, 10))), str(limit))
    return (kind, account.pk, pk)


def _execute(op):
    kind = op[0]
    if kind == "place":
        _, account_id, symbol, side, qty, limit = op
        return order_place(account_id=account_id, actor="stress", symbol=symbol, side=side, order_type="limit",
                           time_in_force="day", qty=str(qty), limit_price=limit)
    if kind == "fill":
        _, pk, exec_id, qty, price = op
        return execution_apply(venue="XNAS", exec_id=exec_id, order_id=pk, qty=qty, price=price,
                               transacted_at=timezone.now())
    _, account_id, pk = op
    if kind == "cancel":
        return order_cancel(account_id=account_id, order_id=pk, actor="stress")
    if kind == "replace":
        return order_replace(account_id=account_id, order_id=pk, actor="stress", qty="25")
    if kind == "ack":
        return order_venue_acknowledged(order_id=pk, venue="XNAS", venue_order_id=f"V-{pk}")
    return order_venue_canceled(order_id=pk)


def test_200_concurrent_operations_across_20_accounts_no_deadlock_no_double_spend(db):
    for symbol in SYMBOLS:
        make_asset(symbol, price="100")
    accounts = [make_account(cash=rng_cash, account_type=kind)
                for rng_cash, kind in zip(["3000", "5000", "8000", "20000"] * 5, ["cash", "margin"] * 10)]
    rng = random.Random(20261122)
    # Ops are drawn in waves so later ones act on orders earlier ones created.
    errors = []
    for wave in range(5):
        ops = [(_random_operation(rng, accounts, wave * 40 + i),) for i in range(40)]
        results = run_in_threads(_execute, ops, workers=8)
        errors += [e for _, e in results if e is not None]

    assert [e for e in errors if is_deadlock(e)] == []
    # Only business refusals and races with the venue's answers are allowed, never a crash.
    unexpected = [e for e in errors if not isinstance(e, (TradeXError, IllegalTransition))]
    assert unexpected == []
    assert ledger_unbalanced_entries() == [] and ledger_balance_mismatches() == []
    assert audit_chain_breaks() == []
    for account in Account.objects.all():
        open_reserved = Order.objects.filter(account=account, status__in=OPEN_STATUSES).aggregate(s=Sum("reserved_cash"))["s"] or 0
        assert account.reserved_cash == open_reserved, account.pk
        assert account.reserved_cash >= 0
        if account.account_type == "cash":
            assert account.cash - account.reserved_cash >= 0, "a cash account spent money it did not have"
        for position in Position.objects.filter(account=account):
            held = Order.objects.filter(account=account, symbol=position.symbol, status__in=OPEN_STATUSES).aggregate(s=Sum("reserved_qty"))["s"] or 0
            assert position.held_qty == held
            assert position.held_qty <= max(position.qty, 0)
    assert Order.objects.count() > 20 and Execution.objects.count() > 5  # the stress did real work
