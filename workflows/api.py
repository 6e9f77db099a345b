"""GET /v2/account and GET /v2/positions with `as_of` (TradeX): the account as it stood at a past
moment (workflows.reconstruction). Without `as_of` and `account_id` the requests go to the views
they extend (portfolio.api.AccountView, orders.positions_api.PositionsView), unchanged.

`account_id` (TradeX) names the account: staff may name any; anyone else only their own (another
account answers 404, as an order of another account does)."""
import uuid
import orjson
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account
from accounts.models import Account
from core.api import ERRORS, DecimalString, dec_str
from core.errors import InvalidInput, NotFound
from orders.positions_api import PositionsView
from portfolio.account_json import TradeAccountSerializer, account_json
from portfolio.api import AccountView, PositionSerializer
from portfolio.selectors import AccountSnapshot, account_snapshot, position_json, positions_valued

from .reconstruction import OrderAt, Reconstruction, parse_as_of, reconstruct

AS_OF = OpenApiParameter(
    "as_of", OpenApiTypes.DATETIME, required=False,
    description="TradeX: an RFC 3339 timestamp (with its offset) in the past, not before the account was "
                "opened: the account as it stood then, rebuilt from the cash ledger, the executions and the "
                "audit trail. 422 invalid_as_of / as_of_in_future / as_of_before_account otherwise.")
ACCOUNT_ID = OpenApiParameter(
    "account_id", OpenApiTypes.UUID, required=False,
    description="TradeX: the account (staff: any account; others: only their own, another answers 404).")


class OpenOrderAsOfSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_order_id = serializers.CharField()
    symbol = serializers.CharField()
    side = serializers.CharField()
    type = serializers.CharField(source="order_type")
    qty = DecimalString(allow_null=True)
    notional = DecimalString(allow_null=True)
    limit_price = DecimalString(allow_null=True)
    stop_price = DecimalString(allow_null=True)
    status = serializers.CharField(help_text="the order's status at as_of")
    filled_qty = DecimalString()
    filled_avg_price = DecimalString(allow_null=True)
    reserved_cash = DecimalString(help_text="cash (margin: initial margin) held for the order at as_of")
    reserved_qty = DecimalString(help_text="long shares held for the order at as_of")
    submitted_at = serializers.DateTimeField()


class AccountAsOfSerializer(TradeAccountSerializer):
    """GET /v2/account's body; with as_of, three more fields (TradeX)."""

    as_of = serializers.DateTimeField(required=False, help_text="TradeX, with as_of: the moment reconstructed")
    open_orders = OpenOrderAsOfSerializer(many=True, required=False,
                                          help_text="TradeX, with as_of: the orders open at as_of")
    price_sources = serializers.DictField(child=serializers.ChoiceField(choices=["trade", "bar", "entry_price"]),
                                          required=False,
                                          help_text="TradeX, with as_of: per held symbol, where its price at as_of "
                                                    "came from (the last trade tick, the last minute bar's close, "
                                                    "or none: marked at the average entry price)")


def _target(request) -> Account:
    """The caller's account, or the one `account_id` names if the caller may see it."""
    raw = request.query_params.get("account_id")
    own = caller_account(request) if not request.user.is_staff or raw is None else None
    if raw is None:
        return own
    try:
        account_id = uuid.UUID(raw)
    except ValueError:
        raise InvalidInput("invalid_account_id", "account_id must be a UUID") from None
    if own is not None and own.pk == account_id:
        return own
    account = Account.objects.filter(pk=account_id).first() if request.user.is_staff else None
    if account is None:
        raise NotFound(f"account does not exist: {raw}", reason="account_not_found")
    return account


def _as_of(request, account: Account):
    raw = request.query_params.get("as_of")
    return None if raw is None else parse_as_of(raw, account=account)


def _order_json(o: OrderAt) -> dict:
    return {"id": o.id, "client_order_id": o.client_order_id, "symbol": o.symbol, "side": o.side,
            "type": o.order_type, "qty": dec_str(o.qty), "notional": dec_str(o.notional),
            "limit_price": dec_str(o.limit_price), "stop_price": dec_str(o.stop_price), "status": o.status,
            "filled_qty": dec_str(o.filled_qty), "filled_avg_price": dec_str(o.filled_avg_price),
            "reserved_cash": dec_str(o.reserved_cash), "reserved_qty": dec_str(o.reserved_qty),
            "submitted_at": o.submitted_at.isoformat().replace("+00:00", "Z")}


def account_as_of_json(r: Reconstruction) -> dict:
    """GET /v2/account's fields for the reconstruction (last_equity is not rebuilt: null)."""
    snap = AccountSnapshot(account=r.account, positions=r.positions, figures=r.figures, last_equity=None,
                           daytrade_count=r.daytrade_count)
    data = account_json(snap)
    data["as_of"] = r.as_of.isoformat().replace("+00:00", "Z")
    data["open_orders"] = [_order_json(o) for o in r.open_orders]
    data["price_sources"] = r.price_sources
    return data


class AccountAsOfView(AccountView):
    @extend_schema(operation_id="account_retrieve", parameters=[AS_OF, ACCOUNT_ID],
                   responses={200: AccountAsOfSerializer, **ERRORS})
    def get(self, request):
        if "as_of" not in request.query_params and "account_id" not in request.query_params:
            return super().get(request)
        account = _target(request)
        as_of = _as_of(request, account)
        if as_of is None:
            return Response(account_json(account_snapshot(account=account)))
        return Response(account_as_of_json(reconstruct(account=account, as_of=as_of)))


class PositionsAsOfView(PositionsView):
    @extend_schema(operation_id="positions_list", parameters=[AS_OF, ACCOUNT_ID],
                   responses={200: PositionSerializer(many=True), **ERRORS})
    def get(self, request):
        if "as_of" not in request.query_params and "account_id" not in request.query_params:
            return super().get(request)
        account = _target(request)
        as_of = _as_of(request, account)
        values = positions_valued(account=account) if as_of is None else reconstruct(account=account, as_of=as_of).positions
        return HttpResponse(orjson.dumps([position_json(v) for v in values]), content_type="application/json")
