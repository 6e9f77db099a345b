"""Halts by scope (symbol, account, everything; staff, circuit breaker, venue) and venue halts:
what each refuses through the real order path, what it audits, and how it ends."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from compliance.selectors import audit_chain_breaks
from orders.models import Order, Venue
from orders.services import order_place
from orders.services.venue_halts import venue_halt, venue_resume
from risk.models import TradingHalt
from risk.services import (
    circuit_breaker_trip,
    halt_from_venue,
    halt_lift,
    halt_lift_expired,
    halt_lift_from_venue,
    halt_set,
    kill_switch_engage,
    kill_switch_release,
)
from tests.concurrency import run_in_threads
from tests.factories import make_account, make_asset
from core.errors import InvalidInput, Refused

pytestmark = pytest.mark.django_db
D = Decimal
ORDER = dict(side="buy", order_type="limit", time_in_force="day", qty="1", limit_price="100")


@pytest.fixture
def market(aapl):
    make_asset("MSFT", price="100")


@pytest.fixture
def other_account(db):
    return make_account(cash="10000")


def refusal(account, symbol: str) -> str | None:
    """The refusal code of a 1-share buy of `symbol`, or None if it was accepted."""
    try:
        order_place(account_id=account.pk, actor="test", symbol=symbol, **ORDER)
    except Refused as exc:
        return exc.reason
    return None


def set_halt(scope: str, account, actor="staff:test") -> TradingHalt:
    kwargs = {"symbol": {"symbol": "AAPL"}, "account": {"account_id": account.pk}, "all": {}}[scope]
    return halt_set(**kwargs, reason="test", source="staff", actor=actor)


@pytest.mark.parametrize(("scope", "expected"), [
    # given a halt of <scope>, when each (account, symbol) places an order, then refused with
    ("symbol", {("halted", "AAPL"): "symbol_halted", ("halted", "MSFT"): None,
                ("other", "AAPL"): "symbol_halted", ("other", "MSFT"): None}),
    ("account", {("halted", "AAPL"): "account_halted", ("halted", "MSFT"): "account_halted",
                 ("other", "AAPL"): None, ("other", "MSFT"): None}),
    ("all", {("halted", "AAPL"): "trading_halted", ("halted", "MSFT"): "trading_halted",
             ("other", "AAPL"): "trading_halted", ("other", "MSFT"): "trading_halted"}),
])
def test_a_halt_refuses_new_orders_in_its_scope_only_until_lifted(market, account, other_account, scope, expected):
    accounts = {"halted": account, "other": other_account}
    halt = set_halt(scope, account)

    assert {(who, symbol): refusal(accounts[who], symbol) for who, symbol in expected} == expected

    halt_lift(halt_id=halt.pk, actor="staff:test")
    assert {(who, symbol): refusal(accounts[who], symbol) for who, symbol in expected} == dict.fromkeys(expected)


@pytest.mark.parametrize(("scope", "chain_of_account"), [("symbol", False), ("account", True), ("all", False)])
def test_setting_and_lifting_a_halt_are_audited_on_the_right_chain(account, scope, chain_of_account):
    halt = set_halt(scope, account, actor="admin:alice")
    halt_lift(halt_id=halt.pk, actor="admin:bob")

    events = list(AuditEvent.objects.filter(entity_type="tradinghalt", entity_id=str(halt.pk)).order_by("id"))
    assert [(e.action, e.actor) for e in events] == [("tradinghalt.created", "admin:alice"),
                                                     ("tradinghalt.lifted", "admin:bob")]
    assert {e.chain for e in events} == {str(account.pk) if chain_of_account else ""}
    assert events[0].data["source"] == "staff" and events[0].data["reason"] == "test"
    assert audit_chain_breaks() == []


def test_an_equal_active_halt_is_not_duplicated_but_another_source_is_its_own_halt(account):
    first = halt_set(symbol="aapl", reason="news pending", source="staff", actor="admin:a")
    again = halt_set(symbol="AAPL", reason="news pending, again", source="staff", actor="admin:b")
    from_venue = halt_from_venue(venue="SIMA", symbol="AAPL", reason="LULD")

    assert again.pk == first.pk and first.symbol == "AAPL"
    assert from_venue.pk != first.pk and (from_venue.source, from_venue.venue) == ("venue", "SIMA")
    assert AuditEvent.objects.filter(action="tradinghalt.created").count() == 2


def test_lifting_twice_writes_one_event(account):
    halt = set_halt("symbol", account)
    halt_lift(halt_id=halt.pk, actor="a")
    halt_lift(halt_id=halt.pk, actor="b")
    assert AuditEvent.objects.filter(action="tradinghalt.lifted").count() == 1


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"symbol": "AAPL", "account_id": "ACCOUNT"}, "invalid_halt_scope"),
    ({"symbol": "AAPL", "source": "nobody"}, "invalid_halt_source"),
    ({"symbol": "AAPL", "source": "venue"}, "invalid_halt_source"),  # a venue halt names its venue
    ({"symbol": "AAPL", "reason": "  "}, "invalid_reason"),
    ({"symbol": "AAPL", "resume_at": timezone.now().replace(tzinfo=None)}, "invalid_resume_at"),
])
def test_a_bad_halt_is_refused_and_writes_nothing(account, kwargs, code):
    kwargs = {"reason": "r", "source": "staff", "actor": "t", **kwargs}
    if kwargs.get("account_id") == "ACCOUNT":
        kwargs["account_id"] = account.pk
    with pytest.raises(InvalidInput) as exc:
        halt_set(**kwargs)
    assert exc.value.reason == code
    assert not TradingHalt.objects.exists() and not AuditEvent.objects.filter(entity_type="tradinghalt").exists()


def test_kill_switch_refuses_everything_and_its_release_restores_trading(market, account):
    kill_switch_engage(reason="runaway algo", actor="admin:ops")
    kill_switch_engage(reason="pressed twice", actor="admin:ops")
    assert refusal(account, "AAPL") == "trading_halted"
    assert TradingHalt.objects.filter(lifted_at__isnull=True).count() == 1

    assert kill_switch_release(actor="admin:ops") == 1
    assert refusal(account, "AAPL") is None
    assert list(AuditEvent.objects.filter(entity_type="tradinghalt").order_by("id").values_list("action", flat=True)) \
        == ["tradinghalt.created", "tradinghalt.lifted"]


# --- automatic resume --------------------------------------------------------------------------


def test_a_halt_past_its_resume_at_no_longer_refuses_and_is_lifted_for_the_record_at_that_time(market, account):
    """Given a circuit-breaker halt, when its resume_at passes, orders are accepted with no job
    having run; the expiry service then records the lift at resume_at, audited."""
    at = timezone.now()
    halt = circuit_breaker_trip(symbol="AAPL", reference_price=D("100"), price=D("111"), at=at)
    assert halt.resume_at == at + timedelta(seconds=300)
    assert refusal(account, "AAPL") == "symbol_halted"

    past = timezone.now() - timedelta(seconds=1)
    TradingHalt.objects.filter(pk=halt.pk).update(resume_at=past)  # as if five minutes went by
    assert refusal(account, "AAPL") is None
    halt.refresh_from_db()
    assert halt.lifted_at is None

    assert halt_lift_expired() == 1
    assert halt_lift_expired() == 0  # safe to run twice
    halt.refresh_from_db()
    assert halt.lifted_at == past
    event = AuditEvent.objects.get(action="tradinghalt.lifted", entity_id=str(halt.pk))
    assert event.actor == "system:halt_expiry" and event.data["expired"] is True


@pytest.mark.parametrize(("minutes_ago", "expected"), [(0, "symbol_halted"), (4, "symbol_halted"), (6, None)])
def test_a_circuit_breaker_halt_lasts_the_pause_from_its_trip(market, account, minutes_ago, expected):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    circuit_breaker_trip(symbol="AAPL", reference_price=D("100"), price=D("89"), at=at)
    assert refusal(account, "AAPL") == expected


def test_a_second_trip_of_an_active_halt_is_the_same_halt_and_a_trip_after_expiry_is_a_new_one(account):
    at = timezone.now()
    first = circuit_breaker_trip(symbol="AAPL", reference_price=D("100"), price=D("111"), at=at)
    second = circuit_breaker_trip(symbol="AAPL", reference_price=D("100"), price=D("112"), at=at)
    assert second.pk == first.pk
    assert "+11.00%" in first.reason

    TradingHalt.objects.filter(pk=first.pk).update(resume_at=timezone.now() - timedelta(seconds=1))
    newer = circuit_breaker_trip(symbol="AAPL", reference_price=D("100"), price=D("111"), at=timezone.now())
    assert newer.pk != first.pk
    first.refresh_from_db()
    assert first.lifted_at is not None  # recorded as lifted before the new halt took its place
    assert TradingHalt.objects.filter(lifted_at__isnull=True).count() == 1


# --- venue-reported halts and venue halts --------------------------------------------------------


def test_a_venue_reported_halt_refuses_the_symbol_until_that_venue_lifts_it(market, account):
    staff = halt_set(symbol="MSFT", reason="staff", source="staff", actor="admin:a")
    halt_from_venue(venue="SIMA", symbol="AAPL", reason="T1 news pending")
    halt_from_venue(venue="SIMA", symbol="MSFT", reason="T1 news pending")
    assert (refusal(account, "AAPL"), refusal(account, "MSFT")) == ("symbol_halted", "symbol_halted")

    assert halt_lift_from_venue(venue="SIMB", symbol="AAPL") == 0  # another venue cannot lift it
    assert halt_lift_from_venue(venue="SIMA", symbol="AAPL") == 1
    assert halt_lift_from_venue(venue="SIMA", symbol="MSFT") == 1
    assert refusal(account, "AAPL") is None
    assert refusal(account, "MSFT") == "symbol_halted"  # the staff halt stays
    staff.refresh_from_db()
    assert staff.lifted_at is None
    actors = set(AuditEvent.objects.filter(entity_type="tradinghalt").values_list("actor", flat=True))
    assert actors == {"admin:a", "venue:SIMA"}


def test_routing_skips_a_halted_venue_and_resumes_it(market, account, django_capture_on_commit_callbacks):
    venues = list(Venue.objects.order_by("name").values_list("name", flat=True))
    for name in venues[1:]:
        with django_capture_on_commit_callbacks(execute=True):
            assert venue_halt(venue=name, reason="maintenance", actor="admin:ops")
    order_place(account_id=account.pk, actor="test", symbol="AAPL", **ORDER)
    with django_capture_on_commit_callbacks(execute=True):
        assert not venue_halt(venue=venues[1], reason="again", actor="admin:ops")  # already halted: no-op

    assert set(Order.objects.values_list("venue", flat=True)) == {venues[0]}
    assert AuditEvent.objects.filter(action="venue.halted", chain="").count() == len(venues) - 1

    with django_capture_on_commit_callbacks(execute=True):
        for name in venues[1:]:
            assert venue_resume(venue=name, actor="admin:ops")
    assert AuditEvent.objects.filter(action="venue.resumed", actor="admin:ops").count() == len(venues) - 1
    assert not Venue.objects.filter(halted=True).exists()


def test_halting_the_only_venue_refuses_orders_with_venue_halted(market, account, django_capture_on_commit_callbacks):
    only = Venue.objects.order_by("name").first()
    Venue.objects.exclude(pk=only.pk).delete()
    with django_capture_on_commit_callbacks(execute=True):
        venue_halt(venue=only.pk, reason="staff", actor="admin:ops")
    assert refusal(account, "AAPL") == "venue_halted"

    with django_capture_on_commit_callbacks(execute=True):
        venue_resume(venue=only.pk, actor="admin:ops")
    assert refusal(account, "AAPL") is None


def test_the_venue_halt_clears_this_process_routing_cache_only_after_commit(market, account, monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    # The routing cache's clock stands still: only the clear after commit can make it re-read venues.
    monkeypatch.setattr("orders.venue_selection._venues.clock", lambda: 1000.0)
    only = Venue.objects.order_by("name").first()
    Venue.objects.exclude(pk=only.pk).delete()
    assert refusal(account, "AAPL") is None  # routing cache now holds the venue as open
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        venue_halt(venue=only.pk, reason="staff", actor="admin:ops")
    assert refusal(account, "AAPL") is None  # not committed yet: the cached venue list still routes
    for callback in callbacks:
        callback()
    assert refusal(account, "AAPL") == "venue_halted"


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_equal_halts_make_one_halt_and_one_event():
    results = run_in_threads(lambda: halt_set(symbol="GME", reason="r", source="staff", actor="t").pk,
                             [()] * 6, workers=6)
    assert [exc for _, exc in results if exc] == []
    assert len({pk for pk, _ in results}) == 1
    assert TradingHalt.objects.count() == 1
    assert AuditEvent.objects.filter(action="tradinghalt.created").count() == 1
