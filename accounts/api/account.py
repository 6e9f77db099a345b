"""POST /v2/account/transfers (TradeX). GET /v2/account is portfolio's (portfolio.api)."""
from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account, caller_actor
from accounts.services import cash_deposit, cash_withdraw
from core.api import BODY_ERRORS, DecimalInputField, DecimalString, TradeXAPIView, parse_body
from core.fields import MONEY

ZERO = Decimal(0)


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
