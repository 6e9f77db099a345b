"""The account as JSON, built once: GET /v2/account (portfolio.api.AccountView) and the pushed
account updates (portfolio.push) both use `account_json`, so the stream carries what the API
returns. alpaca-py's TradeAccount, from portfolio.selectors.AccountSnapshot, plus TradeX's cash split."""
from decimal import Decimal

from rest_framework import serializers

from accounts.models import Account
from core.api import DecimalString, dec_str
from core.values import money

from .selectors import AccountSnapshot, account_snapshot, position_json

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


def account_json(snap: AccountSnapshot) -> dict:
    """GET /v2/account's body for the snapshot (the id as a string, as it is on the wire)."""
    data = dict(TradeAccountSerializer(snap).data)
    data["id"] = str(data["id"])
    return data


def account_payload(account_id, *, positions: bool = True) -> dict:
    """The account as GET /v2/account shows it, with its positions as GET /v2/positions does."""
    snap = account_snapshot(account=Account.objects.get(pk=account_id))
    data = account_json(snap)
    if positions:
        data["positions"] = [position_json(v) for v in snap.positions]
    return data
