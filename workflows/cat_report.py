"""CAT-style daily order-event file, generated from the audit trail and the executions.

One file per CAT trading day D: the order events whose audit event was captured after 16:15 New
York time on the trading day before D and up to 16:15 on D (the CAT trading day's cut-off; events
of a weekend or holiday fall in the next trading day's file). JSON lines, one CAT record per line,
in the shape of the CAT Industry Member specification's order events (field names as there),
written to VAR_DIR/cat/<YYYYMMDD>/ with a manifest (row count per event type, SHA-256 of the
file, the completeness check and the clock flags).

Each record's `firmROEID` is `<YYYYMMDD>_<audit event id>_<event type>`: one audit event gives at
most one record of each type (a new order sent straight to a venue gives MENO and MEOR), so the
completeness check can prove that every order event of the day in the audit trail is in the file
exactly once, and nothing else is. AUDIT_TO_CAT maps every order action of the audit trail to
its records, or to none with the reason (tests/workflows/test_cat_report.py holds it to every
action the orders app writes).

Timestamps are nanoseconds since the Unix epoch (UTC); captured to the microsecond, the finest
that PostgreSQL's timestamptz keeps.
"""
import hashlib
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import orjson
from django.conf import settings

from compliance.models import AuditEvent
from compliance.services import audit_record_system
from core.clock import CLOCK_TOLERANCE_NS
from marketdata import calendar
from orders.models import Execution, Order

CUTOFF = time(16, 15)  # New York: the CAT trading day ends here
HOUSE_VENUE = "HOUSE"  # the firm's own desk (orders/services/fractional.py): an internal route
CHUNK = 5000
ORDER_FIELDS = ("id", "account_id", "symbol", "side", "order_type", "time_in_force", "qty", "filled_qty", "limit_price",
                "stop_price", "extended_hours", "venue", "located_qty", "submitted_at")

MENO, MEOR, MEIR, MEOM, MEOC, MEOF = "MENO", "MEOR", "MEIR", "MEOM", "MEOC", "MEOF"

# Every order action in the audit trail, and the CAT records it gives (an empty tuple: none, why).
AUDIT_TO_CAT: dict[str, tuple[tuple[str, ...], str]] = {
    "order.placed": ((MENO, MEOR), "a new order (MENO), routed at once when it names a venue (MEOR; "
                                   "MEIR to the firm's desk); a replacement is the modification (MEOM)"),
    "order.routed": ((MEOR,), "a held order (stop triggered, queued, bracket leg) sent to its venue"),
    "order.canceled": ((MEOC,), "the order is cancelled (by the customer, the firm or the venue)"),
    "order.partially_filled": ((MEOF,), "a fill, from the execution"),
    "order.filled": ((MEOF,), "the last fill, from the execution"),
    "order.replace_requested": ((), "reported as the replacement's MEOM"),
    "order.replaced": ((), "the venue's confirmation of the MEOM already reported"),
    "order.replacement_active": ((), "the venue's confirmation of the MEOM already reported"),
    "order.pending_cancel": ((), "a cancel request; the MEOC is reported when the order is cancelled"),
    "order.cancel_rejected": ((), "the order stays open: nothing to report"),
    "order.acknowledged": ((), "the venue's acknowledgement; the venue reports its own acceptance"),
    "order.rejected": ((), "the venue refused the route; the venue reports it"),
    "order.expired": ((), "expiry by time in force is implied by the order's timeInForce"),
    "order.resent": ((), "a retransmission of a route already reported, not a new route"),
    "order.unacknowledged": ((), "the FIX bridge's alarm, not an order event"),
    "order.reconciliation_break": ((), "a back-office finding, not an order event"),
    "order.held": ((), "the order waits at the broker: no route yet"),
    "order.activated": ((), "a bracket leg becomes live; its route, if any, is an order.routed"),
    "order.triggered": ((), "a stop triggers; its route is an order.routed"),
    "order.leg_reduced": ((), "an exit leg's quantity follows its sibling; not a customer modification"),
    "order.notional_qty_cut": ((), "the fractional part of a notional order's quantity, fixed at entry"),
    "order.split_adjusted": ((), "a corporate-action adjustment (MEOJ): not reported yet"),
}
REPORTED_ACTIONS = tuple(a for a, (types, _) in AUDIT_TO_CAT.items() if types)
EVENT_TYPES = (MENO, MEOR, MEIR, MEOM, MEOC, MEOF)

SIDE = {"buy": "B", "sell": "SL"}
ORDER_TYPE = {"market": "MKT", "limit": "LMT", "stop": "MKT", "stop_limit": "LMT", "trailing_stop": "MKT"}
HANDLING = {"stop": "Stop", "stop_limit": "Stop", "trailing_stop": "TS"}
TIF_EXTRA = {"opg": "OPEN", "cls": "CLOSE", "fok": "FOK"}


class CatReportIncomplete(Exception):
    """The file does not hold every order event of the day exactly once."""


def window(day: date) -> tuple[datetime, datetime]:
    """The CAT trading day `day`: (16:15 New York on the trading day before, 16:15 on `day`]."""
    if not calendar.sessions(day, day):
        raise ValueError(f"{day} is not a trading day")
    before = calendar.session_before(day).date
    return (datetime.combine(before, CUTOFF, calendar.NEW_YORK), datetime.combine(day, CUTOFF, calendar.NEW_YORK))


def cat_day_of(moment: datetime) -> date:
    """The CAT trading day an event captured at `moment` belongs to."""
    local = moment.astimezone(calendar.NEW_YORK)
    for session in calendar.sessions(local.date(), local.date() + timedelta(days=10)):
        if moment <= datetime.combine(session.date, CUTOFF, calendar.NEW_YORK):
            return session.date
    raise ValueError(f"no trading day after {moment}")


def previous_trading_day(today: date) -> date:
    return calendar.session_before(today).date


def _epoch_ns(moment: datetime) -> int:
    """Nanoseconds since the epoch, exactly (integer arithmetic, no float)."""
    epoch = datetime(1970, 1, 1, tzinfo=moment.tzinfo)
    delta = moment - epoch
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def report_dir(day: date) -> Path:
    return Path(settings.VAR_DIR) / "cat" / day.strftime("%Y%m%d")


def _dec(value) -> str | None:
    """A decimal as the spec's text: no exponent, no trailing zeros ("4.000000000" is "4")."""
    if value is None:
        return None
    text = format(Decimal(str(value)).normalize(), "f")
    return text


def cat_types_for(action: str, data: dict) -> tuple[str, ...]:
    """The CAT records one audit event (its action and data) gives."""
    types = AUDIT_TO_CAT.get(action, ((), ""))[0]
    if action == "order.placed":
        if data.get("replaces"):
            return (MEOM,)
        venue = data.get("venue")
        if not venue:
            return (MENO,)
        if venue == HOUSE_VENUE:
            # The desk's own counter-order (a fractional fill) is not routed anywhere.
            return (MENO,) if data.get("fractional_for") else (MENO, MEIR)
        return (MENO, MEOR)
    if action == "order.routed":
        return (MEIR,) if data.get("venue") == HOUSE_VENUE else (MEOR,)
    return types


@dataclass
class _Ctx:
    day: date
    imid: str = field(default_factory=lambda: settings.TRADEX_CAT_FIRM_IMID)
    crd: str = field(default_factory=lambda: settings.TRADEX_CAT_REPORTER_CRD)


def _order_fields(ctx: _Ctx, event: AuditEvent, order: Order) -> dict:
    data = event.data
    order_type = data.get("type") or order.order_type
    tif = data.get("time_in_force") or order.time_in_force
    key_date = _epoch_ns(order.submitted_at or event.occurred_at)
    limit = _dec(data.get("limit_price", order.limit_price))
    stop = _dec(data.get("stop_price", order.stop_price))
    handling = [h for h in (HANDLING.get(order_type), TIF_EXTRA.get(tif)) if h]
    if stop is not None:
        handling.append(f"StopPx={stop}")
    tif_value = {"GTC": ctx.day.strftime("%Y%m%d")} if tif == "gtc" else \
        {"IOC": True} if tif in ("ioc", "fok") else {"DAY": ctx.day.strftime("%Y%m%d")}
    side = data.get("side") or order.side
    return {
        "orderKeyDate": key_date,
        "orderID": str(order.pk),
        "symbol": data.get("symbol") or order.symbol,
        "side": "SS" if side == "sell" and order.located_qty else SIDE.get(side, side),
        "price": None if order_type in ("market", "stop", "trailing_stop") else limit,
        "quantity": _dec(data.get("qty", order.qty)),
        "orderType": ORDER_TYPE.get(order_type, order_type),
        "timeInForce": tif_value,
        "tradingSession": "ALL" if order.extended_hours else "REG",
        "handlingInstructions": "|".join(handling) or None,
        "custDspIntrFlag": False,
        "firmDesignatedID": str(order.account_id),
        "accountHolderType": "P" if data.get("fractional_for") else "I",
        "deptType": "O" if data.get("fractional_for") else "A",
        "representativeInd": "N",
    }


def _record(ctx: _Ctx, cat_type: str, event: AuditEvent, order: Order, execution: Execution | None,
            prior: Order | None = None) -> dict:
    base = {
        "type": cat_type,
        "actionType": "NEW",
        "firmROEID": f"{ctx.day:%Y%m%d}_{event.pk}_{cat_type}",
        "CATReporterIMID": ctx.imid,
        "CATReporterCRD": ctx.crd,
        "eventTimestamp": _epoch_ns(event.occurred_at),
    }
    fields = _order_fields(ctx, event, order)
    ids = {k: fields[k] for k in ("orderKeyDate", "orderID", "symbol")}
    if cat_type == MENO:
        return {**base, **fields}
    if cat_type in (MEOR, MEIR):
        venue = event.data.get("venue") or order.venue
        route = {**ids, "side": fields["side"], "price": fields["price"], "quantity": _dec(event.data.get("qty", fields["quantity"])),
                 "orderType": fields["orderType"], "timeInForce": fields["timeInForce"],
                 "tradingSession": fields["tradingSession"], "handlingInstructions": fields["handlingInstructions"],
                 "session": venue, "routedOrderID": str(order.pk), "routeRejectedFlag": False}
        if cat_type == MEIR:
            return {**base, **route, "receivingDeskType": "O", "deptType": "A"}
        return {**base, **route, "senderIMID": ctx.imid, "destination": venue, "destinationType": "E"}
    if cat_type == MEOM:
        prior_key = _epoch_ns(prior.submitted_at) if prior is not None and prior.submitted_at else None
        return {**base, **fields, "priorOrderID": str(event.data["replaces"]), "priorOrderKeyDate": prior_key,
                "initiator": "C", "leavesQty": fields["quantity"]}
    if cat_type == MEOC:
        leaves = None if order.qty is None else order.qty - order.filled_qty
        return {**base, **ids, "cancelQty": _dec(leaves), "leavesQty": "0",
                "initiator": "C" if event.actor not in ("venue", "system", "fixbridge") else "F"}
    if cat_type == MEOF:
        assert execution is not None
        return {**base, **ids, "eventTimestamp": _epoch_ns(execution.transacted_at), "side": fields["side"],
                "quantity": _dec(execution.qty), "price": _dec(execution.price), "tradeID": execution.exec_id,
                "marketCenterID": execution.venue, "fulfillmentLinkType": "Y" if execution.venue == HOUSE_VENUE else "E",
                "fillKeyDate": _epoch_ns(execution.transacted_at)}
    raise ValueError(cat_type)


def _day_events(day: date):
    start, end = window(day)
    return (AuditEvent.objects.filter(entity_type="order", action__in=REPORTED_ACTIONS,
                                      occurred_at__gt=start, occurred_at__lte=end).order_by("occurred_at", "id"))


def _chunks(day: date):
    """The day's reportable audit events in chunks, with their orders and executions."""
    chunk: list[AuditEvent] = []
    for event in _day_events(day).iterator(chunk_size=CHUNK):
        chunk.append(event)
        if len(chunk) == CHUNK:
            yield _with_rows(chunk)
            chunk = []
    if chunk:
        yield _with_rows(chunk)


def _with_rows(events):
    ids = {e.entity_id for e in events} | {e.data["replaces"] for e in events if e.data.get("replaces")}
    orders = Order.objects.only(*ORDER_FIELDS).in_bulk(ids)
    exec_ids = {e.data.get("execution_id") for e in events if e.action in ("order.filled", "order.partially_filled")}
    executions = Execution.objects.in_bulk({x for x in exec_ids if x})
    orders = {str(k): v for k, v in orders.items()}
    executions = {str(k): v for k, v in executions.items()}
    return events, orders, executions


@dataclass
class Expected:
    """What the audit trail says the file must hold: every firmROEID once, by type."""
    keys: dict[str, str] = field(default_factory=dict)  # firmROEID -> type
    clock_over: list[str] = field(default_factory=list)
    clock_unknown: int = 0
    clock_sources: dict[str, int] = field(default_factory=dict)


def cat_records(day: date, expected: Expected | None = None):
    """The day's CAT records, in event-time order of their audit events."""
    ctx = _Ctx(day)
    for events, orders, executions in _chunks(day):
        for event in events:
            order = orders.get(event.entity_id)
            if order is None:  # an order is never deleted (PROTECT); its event outlives nothing else
                raise CatReportIncomplete(f"audit event {event.pk}: order {event.entity_id} not found")
            execution = executions.get(str(event.data.get("execution_id")))
            for cat_type in cat_types_for(event.action, event.data):
                if cat_type == MEOF and execution is None:
                    raise CatReportIncomplete(f"audit event {event.pk}: execution {event.data.get('execution_id')} "
                                              f"not found")
                rec = _record(ctx, cat_type, event, order, execution, orders.get(str(event.data.get("replaces"))))
                if expected is not None:
                    expected.keys[rec["firmROEID"]] = cat_type
                    source = event.clock_source or "not recorded"
                    expected.clock_sources[source] = expected.clock_sources.get(source, 0) + 1
                    if event.clock_offset_ns is None:
                        expected.clock_unknown += 1
                    elif abs(event.clock_offset_ns) > CLOCK_TOLERANCE_NS:
                        expected.clock_over.append(rec["firmROEID"])
                yield rec


def expected_keys(day: date) -> dict[str, str]:
    """firmROEID -> type of every record the audit trail calls for (computed afresh, without
    building the records)."""
    keys = {}
    prefix = f"{day:%Y%m%d}_"
    for pk, action, data in _day_events(day).values_list("id", "action", "data").iterator(chunk_size=CHUNK):
        for cat_type in cat_types_for(action, data):
            keys[f"{prefix}{pk}_{cat_type}"] = cat_type
    return keys


def completeness(day: date, path: Path) -> dict:
    """Every order event of the day in the audit trail in the file exactly once, nothing else;
    and every execution created in the day's window has its fill record. Per event type:
    expected, in_file, missing, duplicated, unexpected."""
    expected = expected_keys(day)
    seen: dict[str, int] = {}
    file_types: dict[str, str] = {}
    with open(path, "rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            rec = orjson.loads(line)
            key = rec.get("firmROEID", "")
            seen[key] = seen.get(key, 0) + 1
            file_types[key] = rec.get("type", "?")
    by_type = {t: {"expected": 0, "in_file": 0, "missing": 0, "duplicated": 0, "unexpected": 0}
               for t in EVENT_TYPES}
    examples: dict[str, list[str]] = {"missing": [], "duplicated": [], "unexpected": []}

    def note(kind, t, key):
        by_type.setdefault(t, {k: 0 for k in ("expected", "in_file", "missing", "duplicated", "unexpected")})
        by_type[t][kind] += 1
        if kind in examples and len(examples[kind]) < 20:
            examples[kind].append(key)

    for key, t in expected.items():
        note("expected", t, key)
        if key not in seen:
            note("missing", t, key)
    for key, count in seen.items():
        t = file_types[key]
        for _ in range(count):
            by_type.setdefault(t, {k: 0 for k in ("expected", "in_file", "missing", "duplicated", "unexpected")})
            by_type[t]["in_file"] += 1
        if key not in expected or expected[key] != t:
            note("unexpected", t, key)
        elif count > 1:
            note("duplicated", t, key)
    # The other side: an execution with no fill event at all in the audit trail.
    start, end = window(day)
    fill_exec_ids = {str(x) for x in AuditEvent.objects.filter(
        entity_type="order", action__in=("order.filled", "order.partially_filled"),
        occurred_at__gt=start - timedelta(minutes=1), occurred_at__lte=end + timedelta(minutes=1),
    ).values_list("data__execution_id", flat=True)}
    unaudited = [str(pk) for pk in Execution.objects.filter(created_at__gt=start, created_at__lte=end)
                 .values_list("pk", flat=True) if str(pk) not in fill_exec_ids]
    complete = not unaudited and all(not (v["missing"] or v["duplicated"] or v["unexpected"]) for v in by_type.values())
    return {"complete": complete, "by_type": by_type, "examples": examples,
            "executions_without_fill_event": unaudited[:20], "executions_without_fill_event_count": len(unaudited)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cat_report_write(day: date) -> dict:
    """Write the day's file and manifest (replacing any earlier ones atomically); check the file
    against the audit trail. Returns the manifest; raises CatReportIncomplete (after recording a
    `cat.report_incomplete` audit event) when the check fails."""
    directory = report_dir(day)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{settings.TRADEX_CAT_FIRM_IMID}_{day:%Y%m%d}_OrderEvents.jsonl"
    path, tmp = directory / name, directory / f".{name}.tmp"
    expected = Expected()
    counts: dict[str, int] = {}
    rows = 0
    with open(tmp, "wb") as fh:
        for rec in cat_records(day, expected):
            fh.write(orjson.dumps(rec) + b"\n")
            counts[rec["type"]] = counts.get(rec["type"], 0) + 1
            rows += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    check = completeness(day, path)
    start, end = window(day)
    manifest = {
        "trading_day": day.isoformat(), "window": [start.isoformat(), end.isoformat()],
        "file": name, "rows": rows, "bytes": path.stat().st_size, "sha256": _sha256(path), "by_type": counts,
        "firm": {"CATReporterIMID": settings.TRADEX_CAT_FIRM_IMID, "CATReporterCRD": settings.TRADEX_CAT_REPORTER_CRD,
                 "CATSubmitterID": settings.TRADEX_CAT_SUBMITTER_ID},
        "clock": {"tolerance_ns": CLOCK_TOLERANCE_NS, "sources": expected.clock_sources,
                  "offset_unknown": expected.clock_unknown, "over_tolerance": len(expected.clock_over),
                  "over_tolerance_firmROEIDs": expected.clock_over[:100]},
        "completeness": check,
    }
    manifest_path = directory / "manifest.json"
    manifest_tmp = directory / ".manifest.json.tmp"
    manifest_tmp.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    os.replace(manifest_tmp, manifest_path)
    if not check["complete"]:
        _record_incomplete(day, manifest)
    return manifest


def _record_incomplete(day: date, manifest: dict) -> None:
    check = manifest["completeness"]
    problems = {t: {k: v[k] for k in ("missing", "duplicated", "unexpected") if v[k]}
                for t, v in check["by_type"].items() if v["missing"] or v["duplicated"] or v["unexpected"]}
    audit_record_system(actor="cat_report", action="cat.report_incomplete", entity_type="cat_report",
                        entity_id=day.isoformat(),
                        data={"file": manifest["file"], "sha256": manifest["sha256"], "problems": problems,
                              "executions_without_fill_event": check["executions_without_fill_event_count"]})
    raise CatReportIncomplete(f"CAT file for {day} incomplete: {problems} "
                              f"(executions without fill event: {check['executions_without_fill_event_count']})")


def cat_report_verify(day: date) -> dict:
    """Check an already written file again (the file may have been altered since): its SHA-256
    against the manifest, and its content against the audit trail."""
    directory = report_dir(day)
    manifest = orjson.loads((directory / "manifest.json").read_bytes())
    path = directory / manifest["file"]
    check = completeness(day, path)
    check["sha256_matches"] = _sha256(path) == manifest["sha256"]
    return check
