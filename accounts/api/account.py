"""GET /v2/account (alpaca-py's TradeAccount) and POST /v2/account/transfers (TradeX)."""
from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.models import Account
from accounts.services import cash_deposit, cash_withdraw
from portfolio.selectors import account_snapshot
from accounts.callers import caller_account, caller_actor
from core.api import (
    BODY_ERRORS,
    ERRORS,
    DecimalInputField,
    DecimalString,
    TradeXAPIView,
    dec_str,
    parse_body,
)
from core.fields import MONEY
from core.values import money

ZERO = Decimal(0)


def _blocked(account: Account) -> bool:
    return account.status == Account.Status.CLOSED or account.kyc_status != Account.Kyc.APPROVED


class TradeAccountSerializer(serializers.Serializer):
    """alpaca-py's TradeAccount, from portfolio.selectors.AccountSnapshot, plus TradeX's cash split."""

    id = serializers.UUIDField(source="account.id")
    account_number = serializers.CharField(source="account.account_number")
    status = serializers.SerializerMethodField()
    currency = serializers.CharField(source="account.currency")
    cash = DecimalString(source="account.cash")
    buying_power = DecimalString()
    regt_buying_power = DecimalString(source="buying_power")
    daytrading_buying_power = serializers.SerializerMethodField()
    effective_buying_power = DecimalString(source="buying_power")
    non_marginable_buying_power = serializers.SerializerMethodField()
    accrued_fees = serializers.SerializerMethodField()
    pending_transfer_in = serializers.SerializerMethodField()
    pending_transfer_out = serializers.SerializerMethodField()
    portfolio_value = DecimalString(source="equity")
    equity = DecimalString()
    last_equity = DecimalString()
    long_market_value = DecimalString()
    short_market_value = DecimalString()
    initial_margin = DecimalString()
    maintenance_margin = DecimalString()
    last_maintenance_margin = DecimalString(source="maintenance_margin")
    sma = serializers.SerializerMethodField()
    multiplier = DecimalString()
    pattern_day_trader = serializers.BooleanField()
    daytrade_count = serializers.IntegerField()
    trading_blocked = serializers.SerializerMethodField()
    transfers_blocked = serializers.SerializerMethodField()
    account_blocked = serializers.SerializerMethodField()
    trade_suspended_by_user = serializers.SerializerMethodField()
    shorting_enabled = serializers.BooleanField(source="account.is_margin")
    created_at = serializers.DateTimeField(source="account.created_at")
    settled_cash = DecimalString(source="account.settled_cash", help_text="TradeX: settled cash")
    unsettled_cash = DecimalString(source="account.unsettled_cash", help_text="TradeX: cash from unsettled trades")
    reserved_cash = DecimalString(source="account.reserved_cash", help_text="TradeX: held for open orders")
    account_type = serializers.ChoiceField(source="account.account_type", choices=Account.Type.choices,
                                           help_text="TradeX: cash or margin")

    def get_status(self, snap) -> str:
        account = snap.account
        if account.status == Account.Status.CLOSED:
            return "ACCOUNT_CLOSED"
        if account.kyc_status == Account.Kyc.PENDING:
            return "APPROVAL_PENDING"
        if account.kyc_status == Account.Kyc.REJECTED:
            return "REJECTED"
        # RESTRICTED (closing trades only) has no Alpaca equivalent; LIMITED is the nearest.
        return "LIMITED" if account.status == Account.Status.RESTRICTED else "ACTIVE"

    def get_daytrading_buying_power(self, snap) -> str:
        return dec_str(snap.buying_power if snap.account.is_margin else ZERO)

    def get_non_marginable_buying_power(self, snap) -> str:
        return dec_str(money(snap.buying_power / snap.multiplier))

    def get_accrued_fees(self, snap) -> str:
        return "0"

    def get_pending_transfer_in(self, snap) -> str:
        return "0"  # transfers are booked at once

    def get_pending_transfer_out(self, snap) -> str:
        return "0"

    def get_sma(self, snap) -> str:
        return "0"

    def get_trading_blocked(self, snap) -> bool:
        return _blocked(snap.account)

    def get_transfers_blocked(self, snap) -> bool:
        return _blocked(snap.account)

    def get_account_blocked(self, snap) -> bool:
        return snap.account.status == Account.Status.CLOSED

    def get_trade_suspended_by_user(self, snap) -> bool:
        return False


class AccountView(TradeXAPIView):
    @extend_schema(operation_id="account_retrieve", responses={200: TradeAccountSerializer, **ERRORS})
    def get(self, request):
        return Response(TradeAccountSerializer(account_snapshot(account=caller_account(request))).data)


class TransferCreateSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=["INCOMING", "OUTGOING"])
    amount = DecimalInputField(limit=MONEY)


class TransferSerializer(serializers.Serializer):
    id = serializers.CharField()
    account_id = serializers.UUIDField()
    direction = serializers.ChoiceField(choices=["INCOMING", "OUTGOING"])
    amount = DecimalString()
    status = serializers.CharField(help_text="always COMPLETE: transfers are booked at once")
    created_at = serializers.DateTimeField()


class TransfersView(TradeXAPIView):
    @extend_schema(operation_id="account_transfers_create", request=TransferCreateSerializer,
                   description="TradeX: move cash in (INCOMING) or out (OUTGOING, settled cash only).",
                   responses={200: TransferSerializer, **BODY_ERRORS})
    def post(self, request):
        body = parse_body(TransferCreateSerializer, request.data)
        service = cash_deposit if body["direction"] == "INCOMING" else cash_withdraw
        entry = service(account_id=caller_account(request).pk, amount=body["amount"], actor=caller_actor(request))
        amount = sum((leg.amount for leg in entry.legs.all() if leg.account_id), ZERO)
        return Response(TransferSerializer({
            "id": str(entry.pk), "account_id": entry.account_id, "direction": body["direction"],
            "amount": abs(amount), "status": "COMPLETE", "created_at": entry.created_at,
        }).data)
