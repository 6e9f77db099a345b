"""GET /v2/account/activities[/{activity_type}]: fills (orders.Execution) and cash movements
(accounts.JournalEntry) of the caller's account, merged into one stream and paged by keyset.

An activity id is "<UTC time, microseconds>::<execution uuid | journal entry id>", as Alpaca's are
"<time>::<uuid>"; page_token is the last id of the previous page. The stream is ordered by
(time, source, key), so a page boundary falls exactly between two activities even when several
share a timestamp.
"""
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import OuterRef, Prefetch, Q, Subquery, Sum
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account
from accounts.models import Account, JournalEntry, JournalLeg
from core.api import ERRORS, DecimalString, StrictIntegerField, TradeXAPIView, parse_query
from core.errors import InvalidInput
from marketdata.calendar import NEW_YORK

from .models import Execution
from .state import Status

# Alpaca's activity types (alpaca.trading.enums.ActivityType): any may be asked for.
ACTIVITY_TYPES = frozenset(
    "FILL ACATC ACATS CFEE CIL CSD CSW DIV DIVCGL DIVCGS DIVNRA DIVROC DIVTXEX DIVWH EXTRD FEE FXTRD INT INTPNL "
    "JNLC JNLS MA MEM NC OCT OPASN OPCSH OPEXC OPEXP OPTRD PTC REORG SPIN SPLIT SWP VOF WH".split()
)
# Journal kinds that are activities of their own. FILL entries are shown as their executions;
# SETTLE only moves cash from unsettled to settled, which Alpaca does not report.
Kind = JournalEntry.Kind
JOURNAL_ACTIVITIES = frozenset({Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.FEE, Kind.DIVIDEND})
JOURNAL, EXECUTION = 0, 1  # source rank: the tie-break between sources at the same microsecond
TIME_FORMAT = "%Y%m%d%H%M%S%f"
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class Cursor:
    time: datetime
    source: int
    key: object  # execution uuid or journal entry id

    @classmethod
    def parse(cls, token: str) -> "Cursor":
        try:
            stamp, key = token.split("::", 1)
            time = datetime.strptime(stamp, TIME_FORMAT).replace(tzinfo=dt_timezone.utc)
            return cls(time, JOURNAL, int(key)) if key.isdigit() else cls(time, EXECUTION, uuid.UUID(key))
        except ValueError:
            raise InvalidInput("invalid_parameter", f"page_token: not an activity id: {token!r}") from None


def activity_id(time: datetime, key) -> str:
    return f"{time.astimezone(dt_timezone.utc).strftime(TIME_FORMAT)}::{key}"


def _beyond(cursor: Cursor, source: int, time_field: str, ascending: bool) -> Q:
    """Rows of one source strictly after the cursor in (time, source, key) order (before, if
    descending)."""
    op = "gt" if ascending else "lt"
    later_time = Q(**{f"{time_field}__{op}": cursor.time})
    if source == cursor.source:
        return later_time | Q(**{time_field: cursor.time, f"id__{op}": cursor.key})
    source_after_cursor = source > cursor.source if ascending else source < cursor.source
    return (later_time | Q(**{time_field: cursor.time})) if source_after_cursor else later_time


def _window(qs, time_field: str, after, until, cursor, source: int, ascending: bool, limit: int):
    if after is not None:
        qs = qs.filter(**{f"{time_field}__gt": after})
    if until is not None:
        qs = qs.filter(**{f"{time_field}__lte": until})
    if cursor is not None:
        qs = qs.filter(_beyond(cursor, source, time_field, ascending))
    sign = "" if ascending else "-"
    return list(qs.order_by(f"{sign}{time_field}", f"{sign}id")[:limit])


def activities_page(*, account: Account, types: set[str], after: datetime | None, until: datetime | None,
                    ascending: bool, page_size: int, cursor: Cursor | None) -> list:
    """At most page_size activities of the account: at most one query per source."""
    rows = []
    if "FILL" in types:
        # Cumulative quantity of the order up to and including each fill, whatever the page.
        cum_qty = (Execution.objects.filter(order_id=OuterRef("order_id"))
                   .filter(Q(transacted_at__lt=OuterRef("transacted_at"))
                           | Q(transacted_at=OuterRef("transacted_at"), id__lte=OuterRef("id")))
                   .order_by().values("order_id").annotate(total=Sum("qty")).values("total"))
        fills = (Execution.objects.filter(account=account).select_related("order")
                 .annotate(cum_qty=Subquery(cum_qty)))
        rows += [(e.transacted_at, EXECUTION, e.pk, e) for e in
                 _window(fills, "transacted_at", after, until, cursor, EXECUTION, ascending, page_size)]
    kinds = sorted(types & JOURNAL_ACTIVITIES)
    if kinds:
        entries = (JournalEntry.objects.filter(account=account, kind__in=kinds)
                   .prefetch_related(Prefetch("legs", JournalLeg.objects.filter(account=account))))
        rows += [(j.created_at, JOURNAL, j.pk, j) for j in
                 _window(entries, "created_at", after, until, cursor, JOURNAL, ascending, page_size)]
    rows.sort(key=lambda row: row[:3], reverse=not ascending)
    return [row[3] for row in rows[:page_size]]


class TradeActivitySerializer(serializers.Serializer):
    """alpaca-py's TradeActivity, from an Execution."""

    id = serializers.SerializerMethodField()
    account_id = serializers.UUIDField()
    activity_type = serializers.SerializerMethodField()
    transaction_time = serializers.DateTimeField(source="transacted_at")
    type = serializers.SerializerMethodField()
    price = DecimalString()
    qty = DecimalString()
    side = serializers.CharField()
    symbol = serializers.CharField()
    leaves_qty = serializers.SerializerMethodField()
    order_id = serializers.UUIDField()
    cum_qty = DecimalString()
    order_status = serializers.CharField(source="order.status")

    def get_id(self, e) -> str:
        return activity_id(e.transacted_at, e.pk)

    def get_activity_type(self, e) -> str:
        return "FILL"

    def _leaves(self, e):
        return max(e.order.qty - e.cum_qty, 0) if e.order.qty is not None else None

    def get_type(self, e) -> str:
        leaves = self._leaves(e)
        if leaves is None:  # a notional order: complete when filled and this is its last fill
            done = e.order.status == Status.FILLED and e.cum_qty == e.order.filled_qty
        else:
            done = leaves == 0
        return "fill" if done else "partial_fill"

    def get_leaves_qty(self, e) -> str:
        leaves = self._leaves(e)
        return DecimalString().to_representation(leaves if leaves is not None else 0)


class NonTradeActivitySerializer(serializers.Serializer):
    """alpaca-py's NonTradeActivity, from a JournalEntry."""

    id = serializers.SerializerMethodField()
    account_id = serializers.UUIDField()
    activity_type = serializers.CharField(source="kind")
    date = serializers.SerializerMethodField()
    net_amount = serializers.SerializerMethodField()
    description = serializers.CharField()
    status = serializers.SerializerMethodField()

    def get_id(self, j) -> str:
        return activity_id(j.created_at, j.pk)

    def get_date(self, j) -> str:
        return j.created_at.astimezone(NEW_YORK).date().isoformat()

    def get_net_amount(self, j) -> str:
        return DecimalString().to_representation(sum(leg.amount for leg in j.legs.all()))

    def get_status(self, j) -> str:
        return "executed"


ActivitySchema = PolymorphicProxySerializer(
    component_name="Activity", resource_type_field_name=None,
    serializers=[TradeActivitySerializer, NonTradeActivitySerializer], many=True,
)


class ActivitiesQuerySerializer(serializers.Serializer):
    activity_types = serializers.CharField(required=False, help_text="comma-separated, e.g. FILL,CSD")
    date = serializers.DateField(required=False, help_text="activities on this day (New York)")
    after = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    direction = serializers.ChoiceField(choices=["asc", "desc"], default="desc")
    page_size = StrictIntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=MAX_PAGE_SIZE)
    page_token = serializers.CharField(required=False, help_text="the id of the last activity of the previous page")


def _types(requested: str | None) -> set[str]:
    if not requested:
        return set(ACTIVITY_TYPES)
    types = {t.strip().upper() for t in requested.split(",") if t.strip()}
    unknown = sorted(types - ACTIVITY_TYPES)
    if unknown:
        raise InvalidInput("invalid_parameter", f"activity_types: unknown activity type(s): {', '.join(unknown)}")
    return types


def _respond(request, requested_types: str | None):
    query = parse_query(ActivitiesQuerySerializer, request)
    after, until = query.get("after"), query.get("until")
    if "date" in query:  # one New York day, intersected with after/until
        start = datetime.combine(query["date"], datetime.min.time(), NEW_YORK)
        day_after, day_until = start - timedelta(microseconds=1), start + timedelta(days=1) - timedelta(microseconds=1)
        after = max(after, day_after) if after else day_after
        until = min(until, day_until) if until else day_until
    token = query.get("page_token")
    page = activities_page(account=caller_account(request), types=_types(requested_types), after=after, until=until,
                           ascending=query["direction"] == "asc", page_size=query["page_size"],
                           cursor=Cursor.parse(token) if token else None)
    return Response([(TradeActivitySerializer if isinstance(a, Execution) else NonTradeActivitySerializer)(a).data
                     for a in page])


_TYPE_ALTERNATIVES = "|".join(sorted(ACTIVITY_TYPES))
# The schema's account of what _types accepts: known types, comma-separated.
ACTIVITY_TYPES_PARAM = OpenApiParameter(
    "activity_types", {"type": "string", "pattern": f"^({_TYPE_ALTERNATIVES})(,({_TYPE_ALTERNATIVES}))*$"},
    description="comma-separated, e.g. FILL,CSD")


class ActivitiesView(TradeXAPIView):
    @extend_schema(operation_id="account_activities_list", parameters=[ActivitiesQuerySerializer, ACTIVITY_TYPES_PARAM],
                   responses={200: ActivitySchema, **ERRORS})
    def get(self, request):
        return _respond(request, request.query_params.get("activity_types"))


class ActivitiesByTypeView(TradeXAPIView):
    @extend_schema(operation_id="account_activities_by_type",
                   parameters=[ActivitiesQuerySerializer, OpenApiParameter(
                       "activity_type", str, OpenApiParameter.PATH, enum=sorted(ACTIVITY_TYPES))],
                   responses={200: ActivitySchema, **ERRORS})
    def get(self, request, activity_type: str):
        return _respond(request, activity_type)
