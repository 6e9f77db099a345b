"""Reconciliation of a venue's end-of-day drop copy with the broker's executions: injected
breaks are reported exactly; a clean day records a clean run; nothing is changed."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from exchange_sim import SymbolSpec, Venue, default_venues
from core.wire.dropcopy import due_drop_copy, write_drop_copy
from exchange_sim.events import Fill
from orders.models import Execution
from orders.services import execution_apply, order_place
from settlement.models import ReconciliationBreak, ReconciliationRun
from settlement.services import break_resolve
from workflows.reconciliation import reconcile_venue_day
from core.errors import InvalidInput

pytestmark = pytest.mark.django_db(transaction=True)
DAY = date(2025, 10, 8)
START = datetime(2025, 10, 8, 14, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self):
        self.now += timedelta(milliseconds=1)
        return self.now


@pytest.fixture
def venue(tmp_path):
    config = default_venues(1, symbols=["AAPL"], journal_dir=str(tmp_path / "journal"), seed=7)[0]
    v = Venue(config, {"AAPL": SymbolSpec(symbol="AAPL", reference_price=Decimal("100.00"))}, clock=Clock())
    v.step(START)  # the market makers quote
    yield v
    v.close()


def venue_fills(venue, order, side, qty):
    """Send the broker's order to the venue (as the FIX bridge would): the fills it makes."""
    events = venue.new_order(owner="TRADEX", cl_ord_id=order.pk.hex, symbol="AAPL", side=side, ord_type="market",
                             qty=Decimal(qty))
    fills = [e for e in events if isinstance(e, Fill) and e.owner == "TRADEX"]
    assert fills and sum(f.last_qty for f in fills) == Decimal(qty)
    return fills


def apply(venue, order, fill, *, qty=None, price=None, exec_id=None):
    return execution_apply(venue=venue.name, exec_id=exec_id or fill.exec_id, order_id=order.pk,
                           qty=str(qty if qty is not None else fill.last_qty),
                           price=str(price if price is not None else fill.last_px), transacted_at=fill.ts)


def place(account, side, qty, n):
    return order_place(account_id=account.pk, actor="test", symbol="AAPL", side=side, order_type="market",
                       time_in_force="day", qty=str(qty), client_order_id=f"r{n}")


def test_injected_breaks_are_reported_exactly(venue, account, aapl, tmp_path):
    good, short, wrong_qty, wrong_price = (place(account, "buy", q, n) for n, q in enumerate((3, 2, 4, 2)))
    for f in venue_fills(venue, good, "buy", 3):
        apply(venue, good, f)
    lost, *rest = venue_fills(venue, short, "buy", 2)  # one fill never reached the broker
    for f in rest:
        apply(venue, short, f)
    bad_qty, *rest = venue_fills(venue, wrong_qty, "buy", 4)
    apply(venue, wrong_qty, bad_qty, qty=bad_qty.last_qty + 1)  # the broker booked a different quantity
    for f in rest:
        apply(venue, wrong_qty, f)
    bad_price, *rest = venue_fills(venue, wrong_price, "buy", 2)
    apply(venue, wrong_price, bad_price, price=bad_price.last_px + Decimal("0.01"))  # and a different price
    for f in rest:
        apply(venue, wrong_price, f)
    extra = apply(venue, good, bad_qty, exec_id="NOT-AT-VENUE", qty="1")  # the broker has one the venue lacks
    before = Execution.objects.count()

    path = write_drop_copy(venue, DAY, tmp_path / "dropcopy")
    run = reconcile_venue_day(venue=venue.name, day=DAY, path=path)

    expected = {("missing", lost.exec_id), ("qty", bad_qty.exec_id), ("price", bad_price.exec_id),
                ("extra", "NOT-AT-VENUE")}
    assert {(b.kind, b.exec_id) for b in ReconciliationBreak.objects.filter(run=run)} == expected
    assert run.result == "breaks" and run.breaks == len(expected)
    assert ReconciliationBreak.objects.get(kind="extra").execution_id == extra.pk
    assert Execution.objects.count() == before  # nothing fixed silently
    # Staff resolve a break with a note, audited; an empty note is refused.
    with pytest.raises(InvalidInput):
        break_resolve(break_id=ReconciliationBreak.objects.get(kind="extra").pk, actor="admin:ops", resolution=" ")
    resolved = break_resolve(break_id=ReconciliationBreak.objects.get(kind="extra").pk, actor="admin:ops",
                             resolution="busted with the venue")
    assert resolved.status == "resolved"


def test_a_clean_day_records_a_clean_run(venue, account, aapl, tmp_path):
    order = place(account, "buy", 5, 9)
    for f in venue_fills(venue, order, "buy", 5):
        apply(venue, order, f)
    path = write_drop_copy(venue, DAY, tmp_path / "dropcopy")
    assert write_drop_copy(venue, DAY - timedelta(days=1), tmp_path / "dropcopy").read_text().count("\n") == 1
    run = reconcile_venue_day(venue=venue.name, day=DAY, path=path)
    assert (run.result, run.breaks, run.venue_executions, run.broker_executions) == (
        "clean", 0, Execution.objects.count(), Execution.objects.count())
    assert not ReconciliationBreak.objects.exists()


def test_a_missing_drop_copy_is_recorded(account, tmp_path):
    run = reconcile_venue_day(venue="SIMA", day=DAY, path=tmp_path / "none.csv")
    assert run.result == ReconciliationRun.Result.NO_FILE


def test_the_drop_copy_is_due_after_the_new_york_evening():
    evening = datetime(2025, 10, 9, 0, 30, tzinfo=timezone.utc)  # 20:30 in New York on the 8th
    assert due_drop_copy(datetime(2025, 10, 8, 23, 0, tzinfo=timezone.utc), None) is None
    assert due_drop_copy(evening, None) == DAY
    assert due_drop_copy(evening, DAY) is None
