"""Bracket, OCO and OTO orders: legs held until the entry fills, activated and canceled atomically
with fills, and never both exit legs working at a venue."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order, OutboxMessage
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_venue_acknowledged,
    order_venue_canceled,
)
from orders.services.held_orders import order_trigger
from orders.state import OPEN_STATUSES
from portfolio.models import Position
from tests.concurrency import run_in_threads
from tests.orders.test_triggers import assert_reservations_match, fresh, own_shares
from core.errors import InvalidInput, Refused

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
AT_VENUE = {"pending_new", "new", "partially_filled", "pending_cancel", "pending_replace"}


def bracket(account, stop_loss=None, **kw):
    body = dict(symbol="AAPL", side="buy", order_type="market", time_in_force="gtc", qty="10", order_class="bracket",
                take_profit={"limit_price": "110"}, stop_loss=stop_loss or {"stop_price": "95"})
    body.update(kw)
    return order_place(account_id=account.pk, actor="test", **body)


def fill(order, qty, price, exec_id):
    return execution_apply(venue="TEST", exec_id=exec_id, order_id=order.pk, qty=qty, price=price,
                           transacted_at=timezone.now())


def legs(parent):
    legs = {o.order_type: o for o in Order.objects.filter(parent=parent)}
    return legs.get("limit"), next((o for t, o in legs.items() if t != "limit"), None)


def exits_at_venue(parent) -> int:
    exits = list(Order.objects.filter(parent=parent)) + ([parent] if parent.order_class == "oco" else [])
    return sum(o.status in AT_VENUE for o in exits)


def test_bracket_legs_wait_held_until_the_entry_fills(account, aapl):
    entry = bracket(account)
    tp, sl = legs(entry)
    assert entry.status == "pending_new" and entry.outbox.count() == 1
    assert (tp.status, tp.side, tp.limit_price, tp.qty) == ("held", "sell", D("110"), D("10"))
    assert (sl.status, sl.order_type, sl.stop_price) == ("held", "stop", D("95"))
    assert tp.reserved_qty == sl.reserved_qty == 0 and not tp.outbox.exists() and not sl.outbox.exists()
    fill(entry, "4", "100", "E1")
    assert fresh(tp).status == "held"  # a partial fill does not activate them
    fill(entry, "6", "100", "E2")
    tp, sl = fresh(tp), fresh(sl)
    assert tp.status == "pending_new" and tp.outbox.get().kind == "new" and tp.venue
    assert sl.status == "accepted" and not sl.outbox.exists()
    # The pair holds the ten shares once, on the take-profit.
    assert tp.reserved_qty == 10 and sl.reserved_qty == 0
    assert Position.objects.get(account=account).held_qty == 10
    assert exits_at_venue(entry) == 1
    assert_reservations_match(account)


def test_take_profit_fill_cancels_the_stop_in_the_same_transaction(account, aapl):
    entry = bracket(account)
    fill(entry, "10", "100", "E1")
    tp, sl = legs(entry)
    fill(tp, "4", "110", "T1")
    assert fresh(sl).qty == 6 and fresh(sl).status == "accepted"  # protects what is left
    fill(tp, "6", "110", "T2")
    tp, sl = fresh(tp), fresh(sl)
    assert tp.status == "filled" and sl.status == "canceled" and not sl.outbox.exists()
    position = Position.objects.get(account=account)
    assert position.qty == 0 and position.held_qty == 0
    assert_reservations_match(account)


def test_stop_trigger_with_take_profit_working_cancels_it_first_then_sends_market(account, aapl):
    entry = bracket(account)
    fill(entry, "10", "100", "E1")
    tp, sl = legs(entry)
    order_venue_acknowledged(order_id=tp.pk, venue=tp.venue, venue_order_id="V-TP")
    assert order_trigger(order_id=sl.pk, price="94", at=timezone.now()) == "waiting_sibling"
    tp, sl = fresh(tp), fresh(sl)
    assert tp.status == "pending_cancel" and tp.outbox.filter(kind="cancel").count() == 1
    assert sl.status == "accepted" and sl.triggered_at is not None and not sl.outbox.exists()
    assert exits_at_venue(entry) == 1
    order_venue_canceled(order_id=tp.pk)
    tp, sl = fresh(tp), fresh(sl)
    assert tp.status == "canceled" and sl.status == "pending_new"
    assert sl.outbox.get().payload == {"ord_type": "market", "tif": "day"}
    # The hold passed from the take-profit to the stop: the shares are still held once.
    assert sl.reserved_qty == 10 and tp.reserved_qty == 0
    assert exits_at_venue(entry) == 1
    assert_reservations_match(account)
    fill(sl, "10", "94", "S1")
    assert Position.objects.get(account=account).qty == 0
    assert_reservations_match(account)


def test_take_profit_filling_while_its_cancel_is_pending_cancels_the_triggered_stop(account, aapl):
    entry = bracket(account)
    fill(entry, "10", "100", "E1")
    tp, sl = legs(entry)
    order_trigger(order_id=sl.pk, price="94", at=timezone.now())
    fill(tp, "10", "110", "T1")  # the venue filled it before the cancel arrived
    tp, sl = fresh(tp), fresh(sl)
    assert tp.status == "filled" and sl.status == "canceled" and not sl.outbox.exists()
    assert_reservations_match(account)


def test_partial_take_profit_then_cancel_sends_the_stop_for_what_is_left(account, aapl):
    entry = bracket(account)
    fill(entry, "10", "100", "E1")
    tp, sl = legs(entry)
    order_trigger(order_id=sl.pk, price="94", at=timezone.now())
    fill(tp, "3", "110", "T1")
    order_venue_canceled(order_id=tp.pk)
    sl = fresh(sl)
    assert sl.status == "pending_new" and sl.qty == 7 and sl.reserved_qty == 7
    assert_reservations_match(account)


def test_parent_canceled_after_a_partial_fill_sizes_the_legs_to_the_fill(account, aapl):
    entry = bracket(account, order_type="limit", limit_price="100")
    order_venue_acknowledged(order_id=entry.pk, venue=entry.venue, venue_order_id="V-E")
    fill(entry, "4", "100", "E1")
    order_cancel(account_id=account.pk, order_id=entry.pk, actor="test")
    tp, sl = legs(entry)
    assert tp.status == sl.status == "held"  # the venue has not answered yet
    order_venue_canceled(order_id=entry.pk)
    tp, sl = fresh(tp), fresh(sl)
    assert (tp.status, tp.qty, tp.reserved_qty) == ("pending_new", D("4"), D("4"))
    assert (sl.status, sl.qty) == ("accepted", D("4"))
    assert_reservations_match(account)


def test_parent_canceled_unfilled_cancels_the_legs(account, aapl):
    entry = bracket(account, order_type="limit", limit_price="100")
    order_cancel(account_id=account.pk, order_id=entry.pk, actor="test")
    order_venue_canceled(order_id=entry.pk)
    tp, sl = legs(entry)
    assert fresh(entry).status == tp.status == sl.status == "canceled"
    assert_reservations_match(account)


def test_parent_held_at_the_broker_cancels_with_its_legs_at_once(account, aapl):
    entry = bracket(account, order_type="stop", stop_price="105")
    assert entry.status == "accepted"
    order_cancel(account_id=account.pk, order_id=entry.pk, actor="test")
    tp, sl = legs(entry)
    assert tp.status == sl.status == "canceled"
    assert_reservations_match(account)


@pytest.mark.parametrize(("stop_loss", "prices", "leg_type"), [
    ({"trail_percent": "5"}, ["110", "104.5"], "trailing_stop"),
    ({"trail_price": "3"}, ["106", "103"], "trailing_stop"),
    ({"stop_price": "95", "limit_price": "94"}, ["95"], "stop_limit"),
])
def test_stop_loss_leg_kinds_trigger_from_the_runner(runners, account, aapl, stop_loss, prices, leg_type):
    entry = bracket(account, stop_loss=stop_loss, take_profit={"limit_price": "120"})
    fill(entry, "10", "100", "E1")
    tp, sl = legs(entry)
    assert sl.order_type == leg_type and sl.status == "accepted"
    runner = runners()
    at = timezone.now()
    results = [runner.on_prices([("AAPL", D(p), at + timedelta(seconds=i))]) for i, p in enumerate(prices)]
    assert results[-1] == [(str(sl.pk), "waiting_sibling")]
    assert fresh(tp).status == "pending_cancel" and not fresh(sl).outbox.exists()
    order_venue_canceled(order_id=tp.pk)
    sl = fresh(sl)
    assert sl.status == "pending_new"
    expected = {"ord_type": "limit", "price": "94"} if leg_type == "stop_limit" else {"ord_type": "market", "tif": "day"}
    assert sl.outbox.get().payload == expected
    assert_reservations_match(account)


def test_oco_on_an_existing_position(account, aapl):
    own_shares(account)
    parent = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                         time_in_force="gtc", qty="10", order_class="oco", take_profit={"limit_price": "110"},
                         stop_loss={"stop_price": "95"})
    (stop,) = Order.objects.filter(parent=parent)
    assert parent.status == "pending_new" and parent.limit_price == D("110") and parent.reserved_qty == 10
    assert stop.status == "accepted" and stop.side == "sell" and stop.reserved_qty == 0
    assert exits_at_venue(parent) == 1
    assert order_trigger(order_id=stop.pk, price="95", at=timezone.now()) == "waiting_sibling"
    assert fresh(parent).status == "pending_cancel"
    order_venue_canceled(order_id=parent.pk)
    stop = fresh(stop)
    assert stop.status == "pending_new" and stop.reserved_qty == 10
    assert exits_at_venue(fresh(parent)) == 1
    assert_reservations_match(account)


def test_oco_fill_cancels_the_stop_and_cancel_cancels_both(account, aapl):
    own_shares(account, qty="20")
    a = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                    time_in_force="gtc", qty="10", order_class="oco", take_profit={"limit_price": "110"},
                    stop_loss={"stop_price": "95"})
    fill(a, "10", "110", "T1")
    assert Order.objects.get(parent=a).status == "canceled"
    b = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                    time_in_force="gtc", qty="10", order_class="oco", take_profit={"limit_price": "110"},
                    stop_loss={"stop_price": "95"})
    order_cancel(account_id=account.pk, order_id=b.pk, actor="test")
    assert Order.objects.get(parent=b).status == "canceled" and fresh(b).status == "pending_cancel"
    order_venue_canceled(order_id=b.pk)
    assert_reservations_match(account)
    assert Position.objects.get(account=account).held_qty == 0


def test_oco_needs_a_position(account, aapl):
    with pytest.raises(Refused) as exc:
        order_place(account_id=account.pk, actor="test", symbol="AAPL", side="sell", order_type="limit",
                    time_in_force="gtc", qty="10", order_class="oco", take_profit={"limit_price": "110"},
                    stop_loss={"stop_price": "95"})
    assert exc.value.reason in ("oco_needs_position", "insufficient_qty")
    assert not Order.objects.exists()


def test_oto_with_a_stop_leg_holds_the_shares_on_the_stop(account, aapl):
    entry = order_place(account_id=account.pk, actor="test", symbol="AAPL", side="buy", order_type="market",
                        time_in_force="day", qty="10", order_class="oto", stop_loss={"stop_price": "95"})
    fill(entry, "10", "100", "E1")
    (stop,) = Order.objects.filter(parent=entry)
    stop = fresh(stop)
    assert stop.status == "accepted" and stop.reserved_qty == 10
    assert order_trigger(order_id=stop.pk, price="95", at=timezone.now()) == "routed"
    assert_reservations_match(account)


@pytest.mark.parametrize(("body", "reason"), [
    ({"order_class": "bracket", "take_profit": {"limit_price": "110"}}, "bracket_legs_required"),
    ({"order_class": "oto", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"}},
     "oto_leg_required"),
    ({"order_class": "bracket", "take_profit": {"limit_price": "90"}, "stop_loss": {"stop_price": "95"}},
     "take_profit_stop_loss_order"),
    ({"order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95",
                                                                                     "trail_price": "2"}},
     "stop_loss_invalid"),
    ({"order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"},
      "time_in_force": "ioc"}, "order_class_time_in_force"),
    ({"order_class": "bracket", "take_profit": {"limit_price": "110"}, "stop_loss": {"stop_price": "95"},
      "qty": "1.5", "time_in_force": "day"}, "order_class_whole_qty"),
    ({"order_class": "oco", "order_type": "market", "take_profit": {"limit_price": "110"},
      "stop_loss": {"stop_price": "95"}}, "oco_limit_only"),
    ({"take_profit": {"limit_price": "110"}}, "legs_need_order_class"),
])
def test_bad_order_class_requests_are_refused_and_write_nothing(account, aapl, body, reason):
    order = dict(symbol="AAPL", side="buy", order_type="market", time_in_force="gtc", qty="10")
    order.update(body)
    with pytest.raises(InvalidInput) as exc:
        order_place(account_id=account.pk, actor="test", **order)
    assert exc.value.reason == reason
    assert not Order.objects.exists()


def test_replacing_a_leg_is_refused(account, aapl):
    from orders.services import order_replace

    entry = bracket(account)
    fill(entry, "10", "100", "E1")
    _, sl = legs(entry)
    with pytest.raises(InvalidInput):
        order_replace(account_id=account.pk, order_id=sl.pk, actor="test", stop_price="96")


def test_stop_trigger_racing_the_take_profit_fill_never_leaves_both_exits_working(account, aapl):
    """Threads: the stop's trigger and the take-profit's complete fill on the same bracket. Either
    order of commits ends with one exit at most at a venue and the shares held once."""
    for round_ in range(4):
        entry = bracket(account, client_order_id=f"race-{round_}")
        fill(entry, "10", "100", f"E{round_}")
        tp, sl = legs(entry)
        at = timezone.now()
        results = run_in_threads(lambda op: op(), [
            (lambda: order_trigger(order_id=sl.pk, price="94", at=at),),
            (lambda: fill(tp, "10", "110", f"T{round_}"),),
        ], workers=2)
        assert [e for _, e in results if e is not None] == []
        tp, sl = fresh(tp), fresh(sl)
        assert tp.status == "filled" and sl.status == "canceled"
        assert not OutboxMessage.objects.filter(order=sl, kind="new").exists()
        assert_reservations_match(account)
    assert not Order.objects.filter(account=account, status__in=OPEN_STATUSES).exists()


def test_api_returns_legs_and_schema_describes_them(aapl):
    from rest_framework.test import APIClient

    from tests.factories import make_account_with_key

    account, key_id, secret = make_account_with_key()
    client = APIClient()
    client.credentials(HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    response = client.post("/v2/orders", {"symbol": "AAPL", "side": "buy", "type": "limit", "limit_price": "100",
                                          "qty": "5", "time_in_force": "gtc", "order_class": "bracket",
                                          "take_profit": {"limit_price": "110"},
                                          "stop_loss": {"stop_price": "95", "limit_price": "94"}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["order_class"] == "bracket" and len(body["legs"]) == 2
    assert {(leg["type"], leg["status"], leg["side"]) for leg in body["legs"]} == {
        ("limit", "held", "sell"), ("stop_limit", "held", "sell")}
    assert client.get(f"/v2/orders/{body['id']}").json()["legs"][0]["legs"] is None
    schema = client.get("/api/schema/?format=json").json()
    create = schema["components"]["schemas"]["OrderCreate"]["properties"]
    assert {"take_profit", "stop_loss"} <= set(create)
    assert "legs" in schema["components"]["schemas"]["Order"]["properties"]
