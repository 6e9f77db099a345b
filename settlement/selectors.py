"""Reads of settlement state: settled/unsettled cash and shares, cash-account rule status, and
the operations figures (status by date, T+1 deadline misses, job runs)."""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Max, Q, Sum
from django.db.models.functions import TruncDate

from core.models import JobRun
from core.vocabulary import OrderSide
from portfolio.models import Position

from . import rules
from .models import AccountRestriction, CashRuleViolation, Obligation

ZERO = Decimal(0)
NEW_YORK = ZoneInfo("America/New_York")


def pending_cash(account_id) -> Decimal:
    """The sum of the account's pending obligations: equals its unsettled_cash column at every
    committed moment (both move in the same transactions)."""
    return Obligation.objects.filter(account_id=account_id, status=Obligation.Status.PENDING).aggregate(
        s=Sum("amount"))["s"] or ZERO


def unsettled_shares(account_id) -> dict[str, Decimal]:
    """{symbol: signed shares bought (+) or sold (-) and not yet settled}."""
    out: dict[str, Decimal] = {}
    rows = Obligation.objects.filter(account_id=account_id, status=Obligation.Status.PENDING).values(
        "symbol", "side").annotate(q=Sum("qty"))
    for row in rows:
        out[row["symbol"]] = out.get(row["symbol"], ZERO) + (row["q"] if row["side"] == OrderSide.BUY else -row["q"])
    return {s: q for s, q in out.items() if q}


def settled_positions(account_id) -> list[dict]:
    """Each position's quantity split into settled and unsettled shares."""
    pending = unsettled_shares(account_id)
    rows = []
    for p in Position.objects.filter(account_id=account_id).order_by("symbol"):
        unsettled = pending.get(p.symbol, ZERO)
        if p.qty or unsettled:
            rows.append({"symbol": p.symbol, "qty": p.qty, "settled_qty": p.qty - unsettled, "unsettled_qty": unsettled})
    return rows


@dataclass(frozen=True)
class CashRuleStatus:
    good_faith_12m: int
    free_riding_12m: int
    good_faith_limit: int
    free_riding_limit: int
    restricted_until: date | None
    violations: list


def cash_rule_status(account_id, *, today: date) -> CashRuleStatus:
    since = today - timedelta(days=rules.WINDOW_DAYS)
    recent = CashRuleViolation.objects.filter(account_id=account_id, trade_date__gt=since)
    counts = dict(recent.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    restriction = (AccountRestriction.objects.filter(account_id=account_id, ends_on__gte=today)
                   .aggregate(e=Max("ends_on"))["e"])
    return CashRuleStatus(
        good_faith_12m=counts.get(CashRuleViolation.Kind.GOOD_FAITH, 0),
        free_riding_12m=counts.get(CashRuleViolation.Kind.FREE_RIDING, 0),
        good_faith_limit=rules.gfv_limit(), free_riding_limit=rules.free_riding_limit(),
        restricted_until=restriction,
        violations=list(recent.order_by("-trade_date", "-id").values(
            "kind", "symbol", "trade_date", "amount", "detail")[:50]))


def status_by_date(*, start: date, end: date, today: date) -> list[dict]:
    """Per settlement date: due, settled (on time / late), pending, failed, and the T+1 misses
    (settled after their date, or still pending after it)."""
    rows = (Obligation.objects.filter(settle_date__range=(start, end)).values("settle_date")
            .annotate(due=Count("id"),
                      settled=Count("id", filter=Q(status=Obligation.Status.SETTLED)),
                      pending=Count("id", filter=Q(status=Obligation.Status.PENDING)),
                      failed=Count("id", filter=Q(status=Obligation.Status.FAILED)))
            .order_by("-settle_date"))
    late = dict(Obligation.objects.filter(settle_date__range=(start, end), status=Obligation.Status.SETTLED)
                .annotate(day=TruncDate("settled_at", tzinfo=NEW_YORK)).values("settle_date")
                .filter(day__gt=F("settle_date")).annotate(n=Count("id")).values_list("settle_date", "n"))
    out = []
    for row in rows:
        overdue = row["pending"] if row["settle_date"] < today else 0
        out.append({**row, "late": late.get(row["settle_date"], 0) + overdue})
    return out


def deadline_misses(*, today: date) -> int:
    return sum(r["late"] for r in status_by_date(start=date(2000, 1, 1), end=today, today=today))


def job_last_runs() -> list[JobRun]:
    latest = JobRun.objects.values("job").annotate(last=Max("id")).values_list("last", flat=True)
    return list(JobRun.objects.filter(id__in=list(latest)).order_by("job"))

