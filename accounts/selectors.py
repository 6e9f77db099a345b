"""Reads over accounts and the ledger."""
import hashlib
import hmac
from decimal import Decimal

from django.db.models import Sum

from .models import Account, ApiKey, JournalEntry, JournalLeg

Book = JournalLeg.Book


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyRefused(Exception):
    """The key pair does not authenticate; str() is the message for the client."""


def api_key_verify(*, key_id: str, secret: str) -> ApiKey:
    """The live key with this id and secret, its account and user loaded (one query). Every
    transport that takes Alpaca's key pair (REST headers, the trade-updates stream) checks it here.
    Raises ApiKeyRefused for an unknown, revoked or wrong key, or an inactive user."""
    key = ApiKey.objects.select_related("account__user").filter(key_id=key_id, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        raise ApiKeyRefused("invalid API key")
    if not key.account.user.is_active:
        raise ApiKeyRefused("user is inactive")
    return key


def ledger_unbalanced_entries() -> list[int]:
    """Ids of journal entries whose legs do not sum to zero (must always be empty)."""
    rows = JournalLeg.objects.values("entry_id").annotate(total=Sum("amount")).exclude(total=0)
    return [r["entry_id"] for r in rows]


def ledger_balance_mismatches() -> list[tuple[str, str, Decimal, Decimal]]:
    """(account, column, stored, from ledger) for every account whose running totals differ from
    the sum of its journal legs (must always be empty)."""
    sums = {
        (r["account_id"], r["book"]): r["total"]
        for r in JournalLeg.objects.filter(account__isnull=False).values("account_id", "book").annotate(total=Sum("amount"))
    }
    mismatches = []
    for acc in Account.objects.only("id", "settled_cash", "unsettled_cash"):
        for book, column in ((Book.CUSTOMER_SETTLED, "settled_cash"), (Book.CUSTOMER_UNSETTLED, "unsettled_cash")):
            derived = sums.get((acc.pk, book), Decimal(0))
            if getattr(acc, column) != derived:
                mismatches.append((str(acc.pk), column, getattr(acc, column), derived))
    return mismatches


def journal_entries_for(account: Account, *, kinds=None):
    qs = JournalEntry.objects.filter(account=account).prefetch_related("legs").order_by("-created_at", "-id")
    if kinds:
        qs = qs.filter(kind__in=kinds)
    return qs
