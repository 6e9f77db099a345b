"""An order's whole journey over real FIX sessions: REST-level service → outbox → NewOrderSingle
→ venue matching → ExecutionReports → order filled, position and cash updated, ledger balanced,
audit journey complete."""
from decimal import Decimal

import pytest

from accounts.models import Account
from compliance.models import AuditEvent
from orders.models import Order
from orders.services import order_place
from portfolio.models import Position
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 15


def _status(order_id):
    return Order.objects.values_list("status", flat=True).get(pk=order_id)


def test_market_buy_fills_over_fix(fix_assets, venue_factory, bridge_factory):
    venue = venue_factory("SIMA")
    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    account = make_account(cash=Decimal("100000"))

    order = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                        qty="10", time_in_force="day")

    assert bridge.app.wait_for(lambda: _status(order.pk) == "filled", TIMEOUT)
    order.refresh_from_db()
    assert order.venue == "SIMA" and order.filled_qty == 10
    assert Decimal("95") < order.filled_avg_price < Decimal("105")
    position = Position.objects.get(account=account, symbol="AAPL")
    assert position.qty == 10
    account = Account.objects.get(pk=account.pk)
    assert account.reserved_cash == 0
    actions = list(AuditEvent.objects.filter(entity_id=str(order.pk)).order_by("seq").values_list("action", flat=True))
    assert actions[0] == "order.placed" and "order.acknowledged" in actions and actions[-1] == "order.filled"


@pytest.fixture
def resting(fix_assets, venue_factory, bridge_factory):
    """A limit buy working at SIMA far from the market, over a logged-on session: (venue, bridge,
    account, order)."""
    venue = venue_factory("SIMA")
    bridge = bridge_factory([("SIMA", "127.0.0.1", venue.config.port)])
    assert bridge.app.wait_for(lambda: bridge.app.is_logged_on("SIMA"), TIMEOUT)
    account = make_account(cash=Decimal("100000"))
    order = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="limit",
                        limit_price="92", qty="10", time_in_force="day")
    assert bridge.app.wait_for(lambda: _status(order.pk) == "new", TIMEOUT)
    return venue, bridge, account, order


def test_resting_limit_order_is_canceled_over_fix(resting):
    """A cancel goes out as OrderCancelRequest and the venue's ExecutionReport (ExecType=4) turns the
    order canceled and releases its reservation."""
    from orders.services import order_cancel

    _venue, bridge, account, order = resting
    order_cancel(account_id=account.pk, order_id=order.pk, actor="test")

    assert bridge.app.wait_for(lambda: _status(order.pk) == "canceled", TIMEOUT), _status(order.pk)
    assert Account.objects.get(pk=account.pk).reserved_cash == 0


def test_resting_limit_order_is_replaced_over_fix(resting):
    """A replace goes out as OrderCancelReplaceRequest: the original ends `replaced` and the new
    order works at the venue with the new quantity and price."""
    from orders.services import order_replace

    venue, bridge, account, order = resting
    replacement = order_replace(account_id=account.pk, order_id=order.pk, actor="test", qty="5", limit_price="93")

    assert bridge.app.wait_for(lambda: _status(order.pk) == "replaced" and _status(replacement.pk) == "new",
                               TIMEOUT), (_status(order.pk), _status(replacement.pk))
    resting_orders = venue.venue.open_orders("TRADEX")
    assert [(o.qty, o.price) for o in resting_orders] == [(Decimal("5"), Decimal("93.00"))]
