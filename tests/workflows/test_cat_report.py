"""The CAT-style daily file: every order event of the day exactly once, in nanoseconds, with the
route's destination; a dropped or duplicated row is caught; the clock at capture is recorded and
the 50 ms tolerance flagged."""
import hashlib
import re
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from compliance.models import AuditEvent
from core import clock
from core.jobs import JobRun
from orders.models import Order
from orders.services import (
    execution_apply,
    order_cancel,
    order_place,
    order_replace,
    order_venue_acknowledged,
    order_venue_canceled,
    order_venue_replaced,
)
from tests.factories import make_asset
from workflows import cat_report
from workflows.cat_report import AUDIT_TO_CAT, MENO, MEOC, MEOF, MEOM, MEOR, CatReportIncomplete, cat_types_for
from workflows.tasks import cat_report_task

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    clock.clock_cache_clear()
    yield
    clock.reader = clock.read_kernel_clock
    clock.clock_cache_clear()


def _place(account, symbol, qty="10", price="100"):
    return order_place(account_id=account.pk, actor="test", symbol=symbol, side="buy", order_type="limit",
                       time_in_force="day", qty=qty, limit_price=price)


def _fill(order, qty, price, exec_id):
    return execution_apply(venue=order.venue, exec_id=exec_id, order_id=order.pk, qty=qty, price=price,
                           transacted_at=timezone.now())


def _busy_day(account):
    for symbol in ("AAPL", "MSFT", "TSLA", "NVDA"):
        make_asset(symbol, price="100.00")
    a = _place(account, "AAPL")          # new, routed, partial then full fill
    order_venue_acknowledged(order_id=a.pk, venue=a.venue, venue_order_id="va")
    _fill(a, "4", "100", "x1")
    _fill(a, "6", "99.5", "x2")
    b = _place(account, "MSFT", qty="5")  # new, replaced at the venue
    order_venue_acknowledged(order_id=b.pk, venue=b.venue, venue_order_id="vb")
    replacement = order_replace(account_id=account.pk, order_id=b.pk, actor="test", qty="7", limit_price="101")
    order_venue_replaced(order_id=b.pk)
    c = _place(account, "TSLA", qty="3")  # new, canceled by the customer
    order_venue_acknowledged(order_id=c.pk, venue=c.venue, venue_order_id="vc")
    order_cancel(account_id=account.pk, order_id=c.pk, actor="test")
    order_venue_canceled(order_id=c.pk)
    d = _place(account, "NVDA", qty="2")  # new, one full fill
    _fill(d, "2", "100", "x3")
    return a, b, replacement, c, d


def _rows(manifest, day):
    path = cat_report.report_dir(day) / manifest["file"]
    return path, [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_busy_day_has_each_event_once(account):
    a, b, replacement, c, d = _busy_day(account)
    day = cat_report.cat_day_of(timezone.now())
    manifest = cat_report.cat_report_write(day)
    path, rows = _rows(manifest, day)

    assert manifest["completeness"]["complete"]
    assert manifest["by_type"] == {MENO: 4, MEOR: 4, MEOF: 3, MEOM: 1, MEOC: 1}
    assert manifest["rows"] == len(rows) == 13
    assert len({r["firmROEID"] for r in rows}) == len(rows)
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for r in rows:
        assert isinstance(r["eventTimestamp"], int) and r["eventTimestamp"] > 1_600_000_000 * 10**9
        assert r["CATReporterIMID"] == "TRDX"
        assert re.fullmatch(rf"{day:%Y%m%d}_\d+_{r['type']}", r["firmROEID"])
    routes = {r["orderID"]: r["destination"] for r in rows if r["type"] == MEOR}
    assert routes == {str(o.pk): Order.objects.get(pk=o.pk).venue for o in (a, b, c, d)}
    new_a = next(r for r in rows if r["type"] == MENO and r["orderID"] == str(a.pk))
    assert (new_a["symbol"], new_a["side"], new_a["quantity"], new_a["price"], new_a["orderType"],
            new_a["firmDesignatedID"]) == ("AAPL", "B", "10", "100", "LMT", str(account.pk))
    assert new_a["timeInForce"] == {"DAY": f"{day:%Y%m%d}"}
    fills = [r for r in rows if r["type"] == MEOF]
    assert sorted((f["orderID"], f["quantity"], f["tradeID"]) for f in fills) == sorted(
        [(str(a.pk), "4", "x1"), (str(a.pk), "6", "x2"), (str(d.pk), "2", "x3")])
    assert all(f["marketCenterID"] == Order.objects.get(pk=f["orderID"]).venue for f in fills)
    modify = next(r for r in rows if r["type"] == MEOM)
    assert (modify["orderID"], modify["priorOrderID"], modify["quantity"]) == (str(replacement.pk), str(b.pk), "7")
    cancel = next(r for r in rows if r["type"] == MEOC)
    assert cancel["orderID"] == str(c.pk) and Decimal(cancel["cancelQty"]) == 3
    # Every order event of the day in the audit trail gave its records, and nothing else did.
    reported = AuditEvent.objects.filter(action__in=cat_report.REPORTED_ACTIONS).count()
    assert reported == 4 + 1 + 1 + 3  # placed x4 (+ the replacement), canceled, fills x3
    assert cat_report.cat_report_verify(day)["complete"]


@pytest.mark.parametrize("tamper, kind", [("drop", "missing"), ("duplicate", "duplicated"), ("forge", "unexpected")])
def test_dropped_or_duplicated_row_is_caught(account, tamper, kind):
    _busy_day(account)
    day = cat_report.cat_day_of(timezone.now())
    manifest = cat_report.cat_report_write(day)
    path, rows = _rows(manifest, day)
    victim = next(r for r in rows if r["type"] == MEOF)
    lines = path.read_bytes().splitlines()
    line = orjson.dumps(victim)
    if tamper == "drop":
        lines.remove(line)
    elif tamper == "duplicate":
        lines.append(line)
    else:
        lines.append(orjson.dumps({**victim, "firmROEID": victim["firmROEID"].replace("_MEOF", "9_MEOF")}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    check = cat_report.cat_report_verify(day)
    assert not check["complete"] and not check["sha256_matches"]
    assert check["by_type"][MEOF][kind] == 1
    assert all(v[kind] == 0 for t, v in check["by_type"].items() if t != MEOF)


def test_incomplete_run_fails_loudly(account, monkeypatch):
    _busy_day(account)
    day = cat_report.cat_day_of(timezone.now())
    real = cat_report.cat_records

    def losing(day, expected=None):  # the old platform's loss: one event in ten never reaches the file
        for i, rec in enumerate(real(day, expected)):
            if i % 10 != 3:
                yield rec
    monkeypatch.setattr(cat_report, "cat_records", losing)
    with pytest.raises(CatReportIncomplete, match="incomplete"):
        cat_report_task.run(day=day.isoformat())
    run = JobRun.objects.get(job="workflows.cat_report")
    assert run.outcome == JobRun.Outcome.FAILED and "CatReportIncomplete" in run.detail["error"]
    event = AuditEvent.objects.get(action="cat.report_incomplete")
    assert event.entity_id == day.isoformat() and sum(
        p.get("missing", 0) for p in event.data["problems"].values()) == 1


def test_complete_run_is_recorded_and_idempotent(account):
    _busy_day(account)
    day = cat_report.cat_day_of(timezone.now())
    detail = cat_report_task.run(day=day.isoformat())
    assert detail["rows"] == 13
    assert cat_report_task.run(day=day.isoformat())["skipped"] == "already written"
    assert list(JobRun.objects.values_list("outcome", flat=True)) == [JobRun.Outcome.OK] * 2


def test_clock_recorded_and_tolerance_flagged(account):
    make_asset("AAPL", price="100.00")
    clock.reader = lambda: clock.ClockState("test-ntp", 2_000_000)  # 2 ms: within
    clock.clock_cache_clear()
    first = _place(account, "AAPL", qty="1")
    clock.reader = lambda: clock.ClockState("test-ntp", -80_000_000)  # 80 ms behind: over 50 ms
    clock.clock_cache_clear()
    second = _place(account, "AAPL", qty="2")
    clock.reader = lambda: clock.UNSYNCHRONISED
    clock.clock_cache_clear()
    _place(account, "AAPL", qty="3")
    events = list(AuditEvent.objects.filter(action="order.placed").order_by("id"))
    assert [(e.clock_source, e.clock_offset_ns) for e in events] == [
        ("test-ntp", 2_000_000), ("test-ntp", -80_000_000), ("system, unsynchronised", None)]
    day = cat_report.cat_day_of(timezone.now())
    manifest = cat_report.cat_report_write(day)
    flagged = manifest["clock"]["over_tolerance_firmROEIDs"]
    assert manifest["clock"]["tolerance_ns"] == 50_000_000
    assert sorted(flagged) == sorted(f"{day:%Y%m%d}_{events[1].pk}_{t}" for t in (MENO, MEOR))
    assert manifest["clock"]["offset_unknown"] == 2  # the third order's MENO and MEOR
    assert first.pk != second.pk


def test_clock_helper_caches_and_never_raises(monkeypatch):
    calls = []
    clock.reader = lambda: calls.append(1) or clock.ClockState("x", 1)
    clock.clock_cache_clear()
    for _ in range(100):
        clock.clock_state()
    assert len(calls) == 1
    state = clock.read_kernel_clock()  # the real kernel: synchronised or not, never an exception
    assert state.source in (clock.SOURCE_KERNEL_NTP, clock.SOURCE_UNSYNCHRONISED)


MAPPING = [
    ("order.placed", {"venue": "SIMA"}, (MENO, MEOR)),
    ("order.placed", {"venue": None}, (MENO,)),
    ("order.placed", {"venue": "HOUSE"}, (MENO, "MEIR")),
    ("order.placed", {"venue": "HOUSE", "fractional_for": "x"}, (MENO,)),
    ("order.placed", {"replaces": "x"}, (MEOM,)),
    ("order.routed", {"venue": "SIMB"}, (MEOR,)),
    ("order.routed", {"venue": "HOUSE"}, ("MEIR",)),
    ("order.canceled", {}, (MEOC,)),
    ("order.partially_filled", {}, (MEOF,)),
    ("order.filled", {}, (MEOF,)),
    ("order.replace_requested", {}, ()),
    ("order.replaced", {}, ()),
    ("order.replacement_active", {}, ()),
    ("order.pending_cancel", {}, ()),
    ("order.cancel_rejected", {}, ()),
    ("order.acknowledged", {}, ()),
    ("order.rejected", {}, ()),
    ("order.expired", {}, ()),
    ("order.resent", {}, ()),
    ("order.held", {}, ()),
    ("order.activated", {}, ()),
    ("order.triggered", {}, ()),
    ("order.split_adjusted", {}, ()),
]


@pytest.mark.parametrize("action, data, types", MAPPING)
def test_audit_event_to_cat_mapping(action, data, types):
    assert cat_types_for(action, data) == types


def test_every_order_action_the_orders_app_writes_is_classified():
    written = set()
    for path in (ROOT / "orders").rglob("*.py"):
        written |= set(re.findall(r'"(order\.[a-z_]+)"', path.read_text()))
    written -= {"order.status"}  # not an audit action (a trade-update name)
    assert written <= set(AUDIT_TO_CAT), sorted(written - set(AUDIT_TO_CAT))


def test_command_writes_and_verifies(account, capsys):
    _busy_day(account)
    day = cat_report.cat_day_of(timezone.now())
    call_command("cat_report", "--date", day.isoformat())
    assert "13 rows" in capsys.readouterr().out
    call_command("cat_report", "--date", day.isoformat(), "--verify")
    assert "complete=True sha256_matches=True" in capsys.readouterr().out
    path = next(cat_report.report_dir(day).glob("*.jsonl"))
    path.write_bytes(b"\n".join(path.read_bytes().splitlines()[1:]) + b"\n")
    with pytest.raises(CommandError, match="does not match"):
        call_command("cat_report", "--date", day.isoformat(), "--verify")
    with pytest.raises(CommandError, match="invalid_date"):
        call_command("cat_report", "--date", "2026-13-01")
