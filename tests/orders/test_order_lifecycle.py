"""An order's life through the services the REST API and the FIX bridge call."""
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from accounts.selectors import ledger_balance_mismatches, ledger_unbalanced_entries
from compliance.selectors import audit_chain_breaks, audit_events_for_entity
from orders.models import Execution, Order, OutboxMessage
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_replace,
    order_venue_acknowledged,
    order_venue_cancel_rejected,
    order_venue_canceled,
    order_venue_rejected,
    order_venue_replaced,
)
from portfolio.models import Position
from core.errors import Conflict, Refused

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def place(account, **kw):
    order = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", qty="10", limit_price="100")
    order.update(kw)
    return order_place(account_id=account.pk, actor="test", **order)


def fill(order, qty, price, exec_id, **kw):
    return execution_apply(venue="TEST", exec_id=exec_id, order_id=order.pk, qty=qty, price=price,
                           transacted_at=timezone.now(), **kw)


def fresh(obj):
    obj.refresh_from_db()
    return obj


def test_place_reserves_cash_writes_outbox_and_audit(account, aapl):
    order = place(account)
    assert order.status == "pending_new"
    assert order.reserved_cash == D("1000.00")
    assert fresh(account).reserved_cash == D("1000.00")
    assert OutboxMessage.objects.filter(order=order, kind="new").count() == 1
    assert [e.action for e in audit_events_for_entity(entity_type="order", entity_id=order.pk)] == ["order.placed"]


def test_buy_fill_moves_cash_position_and_releases_reservation(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    fill(order, "4", "99.50", "E1")
    order = fresh(order)
    assert order.status == "partially_filled" and order.filled_qty == 4
    assert order.reserved_cash == D("600.00")
    fill(order, "6", "99.00", "E2")
    order, account = fresh(order), fresh(account)
    assert order.status == "filled"
    assert order.filled_avg_price == D("99.200000")
    assert account.reserved_cash == 0
    assert account.cash == D("10000") - D("398.00") - D("594.00")
    position = Position.objects.get(account=account, symbol="AAPL")
    assert position.qty == 10 and position.avg_entry_price == D("99.2")
    assert not ledger_unbalanced_entries() and not ledger_balance_mismatches()


def test_sell_realizes_pnl_and_holds_shares_once(account, aapl):
    buy = place(account)
    fill(buy, "10", "100", "B1")
    sell = place(account, side="sell", qty="6", limit_price="110")
    assert fresh(Position.objects.get(account=account)).held_qty == 6
    with pytest.raises(Refused) as exc:
        place(account, side="sell", qty="5", limit_price="110")  # only 4 left: a cash account cannot short
    assert exc.value.reason == "insufficient_qty"
    fill(sell, "6", "110", "S1")
    position = Position.objects.get(account=account)
    assert position.qty == 4 and position.held_qty == 0 and position.realized_pl == D("60.00")
    assert fresh(account).cash == D("10000") - D("1000") + D("660")


def test_margin_short_and_cover(margin_account, aapl):
    short = place(margin_account, side="sell", qty="10", limit_price="100")
    assert short.reserved_cash == D("500.00")  # 150 % requirement less the 100 % proceeds
    fill(short, "10", "100", "S1")
    position = Position.objects.get(account=margin_account)
    assert position.qty == -10
    cover = place(margin_account, side="buy", qty="10", limit_price="95")
    fill(cover, "10", "95", "C1")
    position = fresh(position)
    assert position.qty == 0 and position.realized_pl == D("50.00")
    assert fresh(margin_account).reserved_cash == 0


def test_client_order_id_retry_returns_first_and_conflict_refused(account, aapl):
    first = place(account, client_order_id="abc")
    assert place(account, client_order_id="abc").pk == first.pk
    with pytest.raises(Conflict):
        place(account, client_order_id="abc", qty="11")
    assert Order.objects.count() == 1 and fresh(account).reserved_cash == D("1000.00")


def test_cancel_goes_pending_until_venue_confirms(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    order = order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
    assert order.status == "pending_cancel" and fresh(account).reserved_cash == D("1000.00")
    order_venue_canceled(order_id=order.pk)
    assert fresh(order).status == "canceled" and fresh(account).reserved_cash == 0


def test_cancel_rejected_returns_order_to_working(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    order_cancel(account_id=account.pk, order_id=order.pk, actor="test")
    order_venue_cancel_rejected(order_id=order.pk, reason="too late to cancel")
    assert fresh(order).status == "new"


def test_venue_reject_releases_reservation(account, aapl):
    order = place(account)
    order_venue_rejected(order_id=order.pk, reason="unknown symbol at venue")
    order, account = fresh(order), fresh(account)
    assert order.status == "rejected" and order.reject_reason == "unknown symbol at venue"
    assert account.reserved_cash == 0


def test_replace_moves_reservation_on_confirm(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    fill(order, "2", "100", "E1")
    replacement = order_replace(account_id=account.pk, order_id=order.pk, actor="test", qty="20", limit_price="101")
    assert fresh(order).status == "pending_replace" and replacement.status == "pending_new"
    # The original keeps its 800 for 8 open shares; the replacement holds only the extra.
    assert replacement.reserved_cash == D("1818.00") - D("800.00")
    assert fresh(account).reserved_cash == D("1818.00")
    order_venue_replaced(order_id=order.pk)
    order, replacement, account = fresh(order), fresh(replacement), fresh(account)
    assert order.status == "replaced" and replacement.status == "new"
    assert replacement.filled_qty == 2 and replacement.reserved_cash == account.reserved_cash == D("1818.00")
    fill(replacement, "18", "101", "E2")
    assert fresh(replacement).status == "filled" and fresh(account).reserved_cash == 0
    assert Position.objects.get(account=account).qty == 20


def test_replace_refused_by_venue_gives_back_the_extra(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    replacement = order_replace(account_id=account.pk, order_id=order.pk, actor="test", qty="15")
    order_venue_cancel_rejected(order_id=order.pk, reason="order already filled")
    assert fresh(replacement).status == "rejected" and fresh(order).status == "new"
    assert fresh(account).reserved_cash == D("1000.00")


def test_late_fill_after_cancel_is_applied_never_lost(account, aapl):
    order = place(account)
    order_venue_canceled(order_id=order.pk)
    fill(order, "10", "100", "LATE1")
    assert Position.objects.get(account=account).qty == 10
    events = audit_events_for_entity(entity_type="order", entity_id=order.pk)
    assert events[-1].data["late_fill_after"] == "canceled"
    assert fresh(account).reserved_cash == 0


def test_every_change_is_audited_and_chain_verifies(account, aapl):
    order = place(account)
    order_venue_acknowledged(order_id=order.pk, venue="TEST", venue_order_id="V1")
    fill(order, "10", "100", "E1")
    actions = [e.action for e in audit_events_for_entity(entity_type="order", entity_id=order.pk)]
    assert actions == ["order.placed", "order.acknowledged", "order.filled"]
    assert audit_chain_breaks() == []
    assert Execution.objects.count() == 1
    assert Account.objects.get(pk=account.pk).unsettled_cash == D("-1000.00")


@pytest.mark.parametrize("kyc", ["pending", "rejected"])
def test_an_account_whose_identity_check_is_not_approved_cannot_trade_even_with_money(account, aapl, kyc):
    Account.objects.filter(pk=account.pk).update(kyc_status=kyc)  # funded (10,000), ACTIVE, not approved

    with pytest.raises(Refused) as exc:
        place(account)

    assert exc.value.reason == "account_not_approved"
    assert not Order.objects.exists() and fresh(account).reserved_cash == 0
    Account.objects.filter(pk=account.pk).update(kyc_status="approved")
    assert place(account).status == "pending_new"
