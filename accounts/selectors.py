"""Reads over accounts and the ledger."""
import hashlib
import hmac
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.db.models import Sum
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from .models import Account, ApiKey, JournalEntry, JournalLeg, User

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


def api_key_user_id(*, key_id: str, secret: str):
    """The user id of the live key with this id and secret (as api_key_verify checks it), or None.
    What the market-data stream authenticates a key pair with (tradex/ws_routes.py)."""
    try:
        return api_key_verify(key_id=key_id, secret=secret).account.user_id
    except ApiKeyRefused:
        return None


def socket_credential_live(*, user_id, key_id: str | None = None, session_key: str | None = None) -> bool:
    """Whether a socket authenticated by this key or login session may stay open: the key is not
    revoked, the session still signs this user in with the current password (Django's session
    auth hash), the user is active and the account not closed. Checked by every socket after it
    has joined its credential groups (core.credentials), so an ending committed after this read
    reaches it as a message and one committed before is seen here."""
    row = (Account.objects.filter(user_id=user_id)
           .values_list("status", "user__is_active").first())
    if row is None or row[0] == Account.Status.CLOSED or not row[1]:
        return False
    if key_id is not None and not ApiKey.objects.filter(key_id=key_id, account__user_id=user_id,
                                                        revoked_at__isnull=True).exists():
        return False
    if session_key is not None:
        session = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
        if str(session.get(SESSION_KEY)) != str(user_id):
            return False
        user = User.objects.get(pk=user_id)
        if not constant_time_compare(session.get(HASH_SESSION_KEY, ""), user.get_session_auth_hash()):
            return False
    return True


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
