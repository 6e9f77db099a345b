"""API test fixtures: traders with API keys, and HTTP clients signed as them."""
import itertools
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import JournalEntry
from compliance.models import AuditEvent
from orders.models import Execution, Order, OutboxMessage
from orders.services import execution_apply, order_place
from tests.factories import make_account_with_key, make_asset

_exec_ids = itertools.count(1)


class Trader:
    def __init__(self, *, cash="10000", account_type="cash"):
        self.account, self.key_id, self.secret = make_account_with_key(cash=cash, account_type=account_type)
        self.client = APIClient()
        self.client.credentials(HTTP_APCA_API_KEY_ID=self.key_id, HTTP_APCA_API_SECRET_KEY=self.secret)

    def place(self, **kw) -> Order:
        order = dict(symbol="AAPL", side="buy", order_type="limit", time_in_force="day", qty="10", limit_price="100")
        order.update(kw)
        return order_place(account_id=self.account.pk, actor="test", **order)

    def buy_filled(self, symbol="AAPL", qty="10", price="100") -> Order:
        """A position, the way the system gets one: an order and a venue fill."""
        order = self.place(symbol=symbol, qty=qty, order_type="market", limit_price=None)
        fill(order, qty, price)
        order.refresh_from_db()
        return order


def fill(order: Order, qty, price, *, at=None) -> Execution | None:
    return execution_apply(venue="TEST", exec_id=f"E{next(_exec_ids)}", order_id=order.pk, qty=qty, price=price,
                           transacted_at=at or timezone.now())


def write_counts() -> dict[str, int]:
    """Rows of every table a request could write to (invariant 8: bad input changes nothing)."""
    return {m.__name__: m.objects.count() for m in (Order, OutboxMessage, AuditEvent, JournalEntry, Execution)}


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price=Decimal("100.00"), exchange="NASDAQ", prev_close=Decimal("98.00"))


@pytest.fixture
def msft(db):
    return make_asset("MSFT", price=Decimal("400.00"), exchange="NASDAQ", prev_close=Decimal("400.00"))


@pytest.fixture
def alice(db):
    return Trader()


@pytest.fixture
def bob(db):
    return Trader()
