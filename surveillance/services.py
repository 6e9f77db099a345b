"""Surveillance writes: the incremental scan that turns new order events and executions into
alerts, and the case workflow staff work them through. Every alert raised and every case step is
audited (compliance.services) in the transaction that makes it."""
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from compliance.services import audit_record_system
from core.errors import Conflict, InvalidInput, NotFound

from . import selectors
from .models import Alert, AlertNote, OwnerGroup, OwnerLink, RuleConfig, ScanCursor
from .rules import DEFAULTS, Finding, effective_params, evaluate

CURSOR = "default"
# Order events written less than this long ago wait for the next scan: ids are taken before
# commit, so a row with a lower id can become visible after a higher one; a transaction of the
# order path lasts milliseconds, so seconds of lag are enough for the cursor never to pass one.
DEFAULT_LAG_SECONDS = 5
DEFAULT_BATCH = 100_000


def rule_params() -> dict[str, dict | None]:
    """Each rule's effective parameters (None: switched off). A rule with no row runs on its defaults."""
    rows = {r.rule: r for r in RuleConfig.objects.all()}
    params: dict[str, dict | None] = {}
    for rule in DEFAULTS:
        row = rows.get(rule)
        params[rule] = None if row is not None and not row.enabled else effective_params(rule, row.params if row else {})
    return params


def scan(*, now: datetime | None = None, lag_seconds: int = DEFAULT_LAG_SECONDS, batch: int = DEFAULT_BATCH,
         max_batches: int | None = None) -> dict:
    """Read the order events past the cursor (batch by batch until none is left), re-evaluate the
    rules over each (trading day, symbol) they touch, store new findings as alerts and move the
    cursor, one transaction per batch. A second scan running at the same time returns at once."""
    upto = (now or timezone.now()) - timedelta(seconds=lag_seconds)
    totals = {"events": 0, "batches": 0, "keys": 0, "findings": 0, "alerts": 0, "seconds": 0.0}
    started = time.perf_counter()
    ScanCursor.objects.get_or_create(name=CURSOR)
    while max_batches is None or totals["batches"] < max_batches:
        with transaction.atomic():
            cursor = ScanCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR).first()
            if cursor is None:
                totals["skipped"] = "another scan is running"
                break
            updates = selectors.new_updates(cursor.last_update_id, upto=upto, limit=batch)
            if not updates:
                break
            found, keys = _evaluate(updates)
            totals["alerts"] += len(alerts_raise(found))
            cursor.last_update_id = updates[-1][0]
            cursor.events_scanned += len(updates)
            cursor.scanned_at = timezone.now()
            cursor.save()
        totals["events"] += len(updates)
        totals["batches"] += 1
        totals["keys"] += keys
        totals["findings"] += len(found)
        if len(updates) < batch:
            break
    totals["seconds"] = round(time.perf_counter() - started, 3)
    return totals


def _evaluate(updates: list[tuple]) -> tuple[list[Finding], int]:
    touched: set[tuple] = set()
    filled = set()
    for _id, created_at, event, order_id, symbol in updates:
        touched.add((selectors.ny_date(created_at), symbol))
        if event in selectors.FILL_EVENTS:
            filled.add(order_id)
    if filled:
        touched |= selectors.execution_days(filled)
    params = rule_params()
    linked = selectors.owners()
    by_day = defaultdict(set)
    for day, symbol in touched:
        by_day[day].add(symbol)
    found: list[Finding] = []
    for day, symbols in by_day.items():
        orders, execs = selectors.load_day(day, sorted(symbols), linked)
        close = selectors.session_close(day)
        start, end = selectors.day_bounds(day)

        def day_of(at, start=start, end=end):
            return start <= at < end

        per_symbol_orders, per_symbol_execs = defaultdict(list), defaultdict(list)
        for o in orders:
            per_symbol_orders[o.symbol].append(o)
        for e in execs:
            per_symbol_execs[e.symbol].append(e)
        for symbol in symbols:
            found += evaluate(per_symbol_orders[symbol], per_symbol_execs[symbol], params, day, close, day_of)
    return found, len(touched)


def _evidence(finding: Finding) -> dict:
    """The orders and executions behind a finding and their timeline, as they are now."""
    orders, execs = selectors.evidence_rows(finding.order_ids, finding.execution_ids)
    timeline = []
    for o in orders.values():
        what = f"{o['side']} {o['qty']} {o['order_type']}" + (f" @ {o['limit_price']}" if o["limit_price"] else "")
        timeline.append({"at": o["created_at"], "event": "placed", "order_id": o["id"], "account_id": o["account_id"],
                         "detail": what})
        if o["canceled_at"]:
            timeline.append({"at": o["canceled_at"], "event": "canceled", "order_id": o["id"],
                             "account_id": o["account_id"], "detail": f"filled {o['filled_qty']} of {o['qty']}"})
    for e in execs.values():
        timeline.append({"at": e["transacted_at"], "event": "executed", "order_id": e["order_id"],
                         "execution_id": e["id"], "account_id": e["account_id"],
                         "detail": f"{e['side']} {e['qty']} @ {e['price']} ({e['venue']} {e['exec_id']})"})
    timeline.sort(key=lambda t: t["at"])
    return _jsonable({"orders": [orders[i] for i in finding.order_ids if i in orders],
                      "executions": [execs[i] for i in finding.execution_ids if i in execs],
                      "timeline": timeline})


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def alerts_raise(findings: list[Finding]) -> list[Alert]:
    """Store the findings not stored before (by their key) as open alerts, each with its evidence
    and an audit event. Call inside a transaction."""
    unique = {f.key: f for f in findings}
    seen = set(Alert.objects.filter(dedup_key__in=list(unique)).values_list("dedup_key", flat=True))
    made = []
    for key, f in unique.items():
        if key in seen:
            continue
        alert = Alert.objects.create(
            rule=f.rule, dedup_key=key, account_id=f.account_id, accounts=f.accounts or [f.account_id], owner=f.owner,
            symbol=f.symbol, trade_date=f.trade_date, window_start=f.window_start, window_end=f.window_end,
            score=f.score, metrics=_jsonable(f.metrics), evidence=_evidence(f))
        audit_record_system(actor="surveillance", action="surveillance.alert_raised", entity_type="alert",
                            entity_id=alert.pk, data={"rule": f.rule, "symbol": f.symbol, "accounts": alert.accounts,
                                                      "trade_date": f.trade_date, "score": f.score,
                                                      "orders": f.order_ids, "executions": f.execution_ids})
        made.append(alert)
    return made


@transaction.atomic
def owner_group_create(*, name: str, account_ids: list, actor: str, notes: str = "") -> OwnerGroup:
    """Group accounts under one beneficial owner (the wash-trade rule sees them as one party)."""
    group = OwnerGroup.objects.create(name=name, notes=notes)
    for account_id in account_ids:
        OwnerLink.objects.create(group=group, account_id=account_id)
    audit_record_system(actor=actor, action="surveillance.owner_group_created", entity_type="ownergroup",
                        entity_id=group.pk, data={"name": name, "accounts": [str(a) for a in account_ids]})
    return group


# ---- the case workflow -------------------------------------------------------------------------

TRANSITIONS = {
    Alert.Status.OPEN: {Alert.Status.ASSIGNED, Alert.Status.ESCALATED, Alert.Status.CLOSED},
    Alert.Status.ASSIGNED: {Alert.Status.ASSIGNED, Alert.Status.ESCALATED, Alert.Status.CLOSED},
    Alert.Status.ESCALATED: {Alert.Status.ASSIGNED, Alert.Status.CLOSED},
    Alert.Status.CLOSED: set(),
}


def _locked(alert_id) -> Alert:
    alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def _step(alert: Alert, to: str, *, kind: str, user, actor: str, text: str = "", **changes) -> Alert:
    if to not in TRANSITIONS[alert.status]:
        raise Conflict("alert_transition", f"a {alert.status} alert cannot be {to}")
    before = alert.status
    alert.status = to
    for name, value in changes.items():
        setattr(alert, name, value)
    alert.save()
    AlertNote.objects.create(alert=alert, kind=kind, author=user, text=text)
    audit_record_system(actor=actor, action=f"surveillance.alert_{kind}", entity_type="alert", entity_id=alert.pk,
                        data={"from": before, "to": to, "text": text, "user": getattr(user, "username", None),
                              **{k: getattr(v, "username", v) for k, v in changes.items()}})
    return alert


@transaction.atomic
def alert_assign(*, alert_id, user, actor: str) -> Alert:
    return _step(_locked(alert_id), Alert.Status.ASSIGNED, kind="assigned", user=user, actor=actor, assignee=user)


@transaction.atomic
def alert_annotate(*, alert_id, user, text: str, actor: str) -> AlertNote:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("note_empty", "a note needs text")
    alert = _locked(alert_id)
    note = AlertNote.objects.create(alert=alert, kind="note", author=user, text=text)
    alert.save(update_fields=["updated_at"])
    audit_record_system(actor=actor, action="surveillance.alert_note", entity_type="alert", entity_id=alert.pk,
                        data={"status": alert.status, "text": text, "user": getattr(user, "username", None)})
    return note


@transaction.atomic
def alert_escalate(*, alert_id, user, text: str, actor: str) -> Alert:
    if not (text or "").strip():
        raise InvalidInput("reason_required", "an escalation needs a reason")
    return _step(_locked(alert_id), Alert.Status.ESCALATED, kind="escalated", user=user, actor=actor, text=text.strip())


@transaction.atomic
def alert_close(*, alert_id, user, reason: str, text: str, actor: str) -> Alert:
    if reason not in Alert.CloseReason.values:
        raise InvalidInput("close_reason", f"the reason must be one of {', '.join(Alert.CloseReason.values)}")
    if not (text or "").strip():
        raise InvalidInput("reason_required", "closing an alert needs a written explanation")
    return _step(_locked(alert_id), Alert.Status.CLOSED, kind="closed", user=user, actor=actor, text=text.strip(),
                 close_reason=reason, closed_at=timezone.now())
