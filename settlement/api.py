"""TradeX extensions: GET /v2/account/settlement (the caller's settled and unsettled cash and
shares, pending obligations, the cash-account rules with their counts and any restriction) and
/v2/documents (the caller's confirmations, statements and tax reports, and their downloads)."""
import uuid

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.callers import caller_account
from core.api import ERRORS, TradeXAPIView, dec_str, parse_query
from core.errors import NotFound

from . import calendar, selectors
from .models import Document, Obligation
from .rules import restriction_days


class AccountSettlementView(TradeXAPIView):
    @extend_schema(operation_id="getAccountSettlement", responses={200: dict, **ERRORS},
                   description="Settled/unsettled cash and positions, pending obligations and the cash-account "
                               "rules (good faith, free riding) with this account's 12-month counts.")
    def get(self, request):
        account = caller_account(request)
        today = calendar.today()
        rules = selectors.cash_rule_status(account.pk, today=today)
        pending = (Obligation.objects.filter(account=account, status=Obligation.Status.PENDING)
                   .order_by("settle_date", "id")[:200])
        return Response({
            "settled_cash": dec_str(account.settled_cash),
            "unsettled_cash": dec_str(account.unsettled_cash),
            "positions": [{k: dec_str(v) if k != "symbol" else v for k, v in row.items()}
                          for row in selectors.settled_positions(account.pk)],
            "pending_obligations": [{"symbol": o.symbol, "side": o.side, "qty": dec_str(o.qty),
                                     "amount": dec_str(o.amount), "trade_date": o.trade_date.isoformat(),
                                     "settle_date": o.settle_date.isoformat()} for o in pending],
            "cash_account_rules": {
                "applies": not account.is_margin,
                "rule": (f"In a cash account, selling shares bought with unsettled sale proceeds before those "
                         f"proceeds settle is a good-faith violation; selling shares before paying for them is "
                         f"free riding. {rules.good_faith_limit} good-faith violations in 12 months, or "
                         f"{rules.free_riding_limit} free riding, restrict the account for "
                         f"{_days()} days."),
                "good_faith_violations_12m": rules.good_faith_12m,
                "good_faith_limit": rules.good_faith_limit,
                "free_riding_violations_12m": rules.free_riding_12m,
                "free_riding_limit": rules.free_riding_limit,
                "restricted_until": rules.restricted_until.isoformat() if rules.restricted_until else None,
                "violations": [{**v, "trade_date": v["trade_date"].isoformat(), "amount": dec_str(v["amount"])}
                               for v in rules.violations],
            },
        })


def _days() -> int:
    return restriction_days()


# ---------------------------------------------------------------- documents (TradeX extension)

def _document_json(d: Document) -> dict:
    return {"id": str(d.id), "type": d.kind, "period": d.period, "date": d.date.isoformat(), "format": d.format,
            "filename": d.filename, "created_at": d.created_at.isoformat().replace("+00:00", "Z"),
            "download_url": f"/v2/documents/{d.id}/download"}


class DocumentSerializer(serializers.Serializer):
    """What _document_json writes (the schema of GET /v2/documents and /v2/documents/{id})."""
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Document.Kind.choices)
    period = serializers.CharField()
    date = serializers.DateField()
    format = serializers.CharField()
    filename = serializers.CharField()
    created_at = serializers.DateTimeField()
    download_url = serializers.CharField()


class DocumentQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Document.Kind.values, required=False)


class DocumentsView(TradeXAPIView):
    @extend_schema(operation_id="getDocuments", responses={200: DocumentSerializer(many=True), **ERRORS},
                   parameters=[DocumentQuerySerializer],
                   description="The caller's documents: trade confirmations, monthly statements, tax reports. "
                               "Optional ?type=trade_confirmation|account_statement|tax_report.")
    def get(self, request):
        account = caller_account(request)
        kind = parse_query(DocumentQuerySerializer, request).get("type")
        rows = Document.objects.filter(account=account).defer("content").order_by("-date", "-created_at")
        if kind:
            rows = rows.filter(kind=kind)
        return Response([_document_json(d) for d in rows[:500]])


def _own_document(request, document_id) -> Document:
    account = caller_account(request)
    try:
        pk = uuid.UUID(str(document_id))
    except ValueError:
        raise NotFound("document not found", reason="document_not_found") from None
    # Another account's document is "not found", exactly like one that does not exist.
    document = Document.objects.filter(pk=pk, account=account).first()
    if document is None:
        raise NotFound("document not found", reason="document_not_found")
    return document


class DocumentDetailView(TradeXAPIView):
    @extend_schema(operation_id="getDocument", responses={200: DocumentSerializer, **ERRORS})
    def get(self, request, document_id):
        return Response(_document_json(_own_document(request, document_id)))


class DocumentDownloadView(TradeXAPIView):
    @extend_schema(operation_id="downloadDocument", responses={(200, "application/pdf"): bytes, **ERRORS})
    def get(self, request, document_id):
        document = _own_document(request, document_id)
        response = HttpResponse(bytes(document.content), content_type=document.content_type)
        response["Content-Disposition"] = f'attachment; filename="{document.filename}"'
        response["Cache-Control"] = "private, no-store"
        return response
