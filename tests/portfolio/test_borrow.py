"""Short sales and the borrow list: easy-to-borrow symbols need no locate; hard-to-borrow ones
may be sold short only up to the shares the stock-loan desk can locate today, checked pre-trade
(a pure risk check); an accepted short order reserves its located shares so no two orders count on
the same ones, and each short fill draws the locate down."""
from decimal import Decimal

import pytest
from django.utils import timezone

from marketdata.selectors import last_price_set
from orders.services import execution_apply, order_cancel, order_place, order_venue_canceled
from portfolio.models import ShortLocate
from portfolio.services import short_locates_load
from risk.snapshot import AccountSnapshot, Limits, MarketState, OrderIntent, PositionSnapshot
from risk.verdict import evaluate
from tests.concurrency import run_in_threads
from tests.factories import make_account, make_asset
from core.errors import Refused

D = Decimal

CASES = {
    "easy to borrow: no locate needed": (True, None, 0, 10, None),
    "hard to borrow, not listed": (False, None, 0, 10, "hard_to_borrow"),
    "hard to borrow, none left": (False, "0", 0, 10, "hard_to_borrow"),
    "hard to borrow, within the locate": (False, "50", 0, 10, None),
    "hard to borrow, beyond the locate": (False, "50", 0, 60, "hard_to_borrow"),
    "selling shares held needs no locate": (False, None, 20, 10, None),
    "only the short part needs one": (False, "5", 20, 25, None),
}


@pytest.mark.parametrize("etb,available,held,qty,refusal", CASES.values(), ids=CASES.keys())
def test_short_sale_check(etb, available, held, qty, refusal, settings):
    positions = {"HTB": PositionSnapshot("HTB", qty=D(held), avg_entry_price=D(10))} if held else {}
    snapshot = AccountSnapshot(account_id="a", account_type="margin", status="ACTIVE", kyc_status="approved",
                               settled_cash=D(100000),
                               unsettled_cash=D(0), reserved_cash=D(0), positions=positions)
    intent = OrderIntent(symbol="HTB", side="sell", order_type="limit", time_in_force="day", qty=D(qty), notional=None,
                         limit_price=D(10), asset_easy_to_borrow=etb,
                         borrow_available=None if available is None else D(available))
    verdict = evaluate(snapshot, intent, MarketState(prices={"HTB": D(10)}), Limits.house())
    assert (verdict.first.code if not verdict.accepted else None) == refusal


def test_short_fills_draw_the_locate_down(db):
    make_asset("HTB", price="10", easy_to_borrow=False)
    account = make_account(cash="100000", account_type="margin")
    short_locates_load(locates={"HTB": D(100)}, as_of=timezone.now().date(), actor="stock_loan")
    last_price_set("HTB", D("10"))
    order = order_place(account_id=account.pk, actor="test", symbol="HTB", side="sell", order_type="limit",
                        time_in_force="day", qty="60", limit_price="10")
    execution_apply(venue="TEST", exec_id="H1", order_id=order.pk, qty="60", price="10", transacted_at=timezone.now())
    assert ShortLocate.objects.get(symbol="HTB").shares_available == 40
    with pytest.raises(Refused) as exc:
        order_place(account_id=account.pk, actor="test", symbol="HTB", side="sell", order_type="limit",
                    time_in_force="day", qty="50", limit_price="10")
    assert exc.value.reason == "hard_to_borrow" and "40" in str(exc.value)


def _htb(locate="100"):
    make_asset("HTB", price="10", easy_to_borrow=False)
    short_locates_load(locates={"HTB": D(locate)}, as_of=timezone.now().date(), actor="stock_loan")
    last_price_set("HTB", D("10"))


def _short(account, qty):
    return order_place(account_id=account.pk, actor="test", symbol="HTB", side="sell", order_type="limit",
                       time_in_force="day", qty=str(qty), limit_price="10")


def _locate():
    row = ShortLocate.objects.get(symbol="HTB")
    return row.shares_available, row.shares_reserved


def test_an_open_short_order_reserves_its_located_shares_until_it_ends(db):
    _htb()
    first, second = (make_account(cash="100000", account_type="margin") for _ in range(2))
    order = _short(first, 70)
    assert order.located_qty == 70 and _locate() == (100, 70)
    with pytest.raises(Refused) as exc:
        _short(second, 40)  # only 30 left unreserved
    assert exc.value.reason == "hard_to_borrow"

    # a partial fill draws the pool and releases as much; the cancel gives back the rest
    execution_apply(venue="TEST", exec_id="P1", order_id=order.pk, qty="20", price="10", transacted_at=timezone.now())
    assert _locate() == (80, 50)
    order_cancel(account_id=first.pk, order_id=order.pk, actor="test")
    order_venue_canceled(order_id=order.pk)
    assert _locate() == (80, 0)
    assert _short(second, 80).located_qty == 80


def test_a_sell_beyond_held_shares_reserves_only_its_short_part(db):
    _htb()
    account = make_account(cash="100000", account_type="margin")
    bought = order_place(account_id=account.pk, actor="test", symbol="HTB", side="buy", order_type="limit",
                         time_in_force="day", qty="30", limit_price="10")
    execution_apply(venue="TEST", exec_id="B1", order_id=bought.pk, qty="30", price="10", transacted_at=timezone.now())
    order = _short(account, 50)  # 30 held long, 20 short
    assert (order.reserved_qty, order.located_qty) == (30, 20) and _locate() == (100, 20)
    execution_apply(venue="TEST", exec_id="S1", order_id=order.pk, qty="40", price="10", transacted_at=timezone.now())
    assert _locate() == (90, 10)  # 30 closed the long, 10 opened the short
    execution_apply(venue="TEST", exec_id="S2", order_id=order.pk, qty="10", price="10", transacted_at=timezone.now())
    assert _locate() == (80, 0)


@pytest.mark.django_db(transaction=True)
def test_concurrent_short_orders_never_reserve_more_than_was_located():
    _htb(locate="100")
    accounts = [make_account(cash="100000", account_type="margin") for _ in range(6)]
    results = run_in_threads(_short, [(a, 30) for a in accounts], workers=6)

    placed = [order for order, exc in results if exc is None]
    refused = [exc for _, exc in results if exc is not None]
    assert len(placed) == 3 and all(isinstance(e, Refused) and e.reason == "hard_to_borrow" for e in refused)
    assert _locate() == (100, 90)
