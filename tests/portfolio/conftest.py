"""Portfolio fixtures: positions reached the way the system reaches them (an order through
order_place, then a venue fill through execution_apply)."""
import itertools
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest

from marketdata.selectors import last_price_set
from orders.services import execution_apply, order_place
from tests.factories import make_account, make_asset

_exec_ids = itertools.count(1)
D = Decimal
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=dt_timezone.utc)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


def trade(account, side: str, qty, price, *, symbol="AAPL", lots=None, at=None):
    """Place a limit order at `price` (the last trade is moved there first) and fill it there. A
    fractional qty is a market order (the only kind that may be fractional): less than one share
    is filled by the house's desk at that last price when placed (docs/fractional.md)."""
    from orders.services import order_lots_select

    last_price_set(symbol, D(str(price)))
    fractional = D(str(qty)) % 1 != 0
    order = order_place(account_id=account.pk, actor="test", symbol=symbol, side=side,
                        order_type="market" if fractional else "limit", time_in_force="day", qty=str(qty),
                        limit_price=None if fractional else str(price))
    if lots is not None:
        order_lots_select(account_id=account.pk, order_id=order.pk, lot_ids=lots, actor="test")
    if order.status == "filled":
        return order
    execution_apply(venue="TEST", exec_id=f"P{next(_exec_ids)}", order_id=order.pk, qty=str(qty), price=str(price),
                    transacted_at=at or datetime.now(dt_timezone.utc))
    return order


@pytest.fixture
def aapl(db):
    return make_asset("AAPL", price="100.00", prev_close="98.00")


@pytest.fixture
def trader(db):
    return make_account(cash="1000000", account_type="margin")
