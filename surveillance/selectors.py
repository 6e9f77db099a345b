"""What the scan reads: new order events past the cursor, and the orders and executions of the
(trading day, symbol) pairs they touch. Reads only; the owners of these tables are orders and
accounts."""
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KT

from marketdata.calendar import NEW_YORK, sessions
from orders.models import Execution, Order, TradeUpdate

from .models import OwnerLink
from .rules import ExecEv, OrderEv

FILL_EVENTS = ("fill", "partial_fill")


def ny_date(at: datetime) -> date:
    return at.astimezone(NEW_YORK).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), NEW_YORK)
    return start, datetime.combine(day + timedelta(days=1), time(0), NEW_YORK)


def session_close(day: date) -> datetime | None:
    found = sessions(day, day)
    return found[0].close if found else None


def new_updates(after_id: int, *, upto: datetime, limit: int) -> list[tuple]:
    """(id, created_at, event, order id, symbol) of order events after `after_id`, written before `upto`."""
    return list(TradeUpdate.objects.filter(id__gt=after_id, created_at__lte=upto).order_by("id")
                .values_list("id", "created_at", "event", KT("payload__order__id"), KT("payload__order__symbol"))
                [:limit])


def execution_days(order_ids) -> set[tuple[date, str]]:
    """(trading day, symbol) of every execution of these orders (a fill may be reported for an
    earlier time than its event's). One array parameter, one row per pair."""
    if connection.vendor != "postgresql":  # embedded SQLite: small, the ORM's IN list will do
        rows = Execution.objects.filter(order_id__in=list(order_ids)).values_list("transacted_at", "symbol")
        return {(ny_date(at), symbol) for at, symbol in rows}
    sql = (f"SELECT DISTINCT (transacted_at AT TIME ZONE 'America/New_York')::date, symbol "
           f"FROM {Execution._meta.db_table} WHERE order_id = ANY(%s::uuid[])")
    with connection.cursor() as cursor:
        cursor.execute(sql, [[str(o) for o in order_ids]])
        return {(day, symbol) for day, symbol in cursor.fetchall()}


def owners() -> dict[str, str]:
    """Account id → beneficial owner, for the accounts in a staff-maintained owner group."""
    return {str(a): f"group:{g}" for a, g in OwnerLink.objects.values_list("account_id", "group_id")}


def load_day(day: date, symbols: list[str], linked: dict[str, str]) -> tuple[list[OrderEv], list[ExecEv]]:
    """The orders (placed or cancelled that day, or filled by one of its executions) and the
    executions of `symbols` on trading day `day`. An account's owner is its group, else its user."""
    start, end = day_bounds(day)
    exec_rows = list(Execution.objects.filter(symbol__in=symbols, transacted_at__gte=start, transacted_at__lt=end)
                     .values_list("id", "order_id", "account_id", "account__user_id", "symbol", "side", "qty",
                                  "price", "transacted_at"))
    in_day = Q(symbol__in=symbols) & (Q(created_at__gte=start, created_at__lt=end)
                                      | Q(canceled_at__gte=start, canceled_at__lt=end))
    fields = ("id", "account_id", "account__user_id", "symbol", "side", "qty", "limit_price", "order_type",
              "created_at", "canceled_at", "filled_qty")
    order_rows = list(Order.objects.filter(in_day).values_list(*fields))
    # Orders placed on an earlier day (good-till-cancelled) that one of the day's executions filled.
    missing = {row[1] for row in exec_rows} - {row[0] for row in order_rows}
    if missing:
        order_rows += Order.objects.filter(id__in=missing).values_list(*fields)
    owner_of: dict = {}

    def owner(account_id, user_id) -> str:
        found = owner_of.get(account_id)
        if found is None:
            found = owner_of[account_id] = linked.get(str(account_id)) or f"user:{user_id}"
        return found

    orders = [OrderEv(str(i), str(a), owner(a, u), s, side, q, lp, t, c, x, f)
              for i, a, u, s, side, q, lp, t, c, x, f in order_rows]
    execs = [ExecEv(str(i), str(o), str(a), owner(a, u), s, side, q, p, at)
             for i, o, a, u, s, side, q, p, at in exec_rows]
    return orders, execs


def evidence_rows(order_ids, execution_ids) -> tuple[dict, dict]:
    """The orders and executions behind an alert, by id, as they are now."""
    orders = {str(o["id"]): o for o in Order.objects.filter(id__in=list(order_ids)).values(
        "id", "account_id", "symbol", "side", "order_type", "qty", "limit_price", "status", "filled_qty",
        "created_at", "canceled_at", "filled_at")}
    execs = {str(e["id"]): e for e in Execution.objects.filter(id__in=list(execution_ids)).values(
        "id", "order_id", "account_id", "venue", "exec_id", "side", "qty", "price", "transacted_at")}
    return orders, execs
