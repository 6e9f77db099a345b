"""Accounts: creation, API keys, the double-entry cash ledger, and the cash held for open orders."""
import secrets
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from compliance.services import audit_record
from core import credentials
from core.errors import InvalidInput, NotFound, Refused
from core.fields import MONEY
from core.values import money, to_decimal

from .authentication import hash_secret
from .locks import lock_account
from .models import Account, ApiKey, JournalEntry, JournalLeg, User

Book = JournalLeg.Book
# Which Account column each customer book's running total lives in.
_BALANCE_COLUMN = {Book.CUSTOMER_SETTLED: "settled_cash", Book.CUSTOMER_UNSETTLED: "unsettled_cash"}


def ledger_post(*, account: Account, kind: str, legs: list[tuple[str, Decimal]], description: str = "",
                reference: str = "") -> JournalEntry:
    """Post one journal entry whose legs sum to zero, and move the account's running totals.

    Caller holds the account lock (accounts.locks.lock_account) and saves nothing else for it:
    this function updates the balance columns on the locked instance and saves them.
    """
    legs = [(book, money(amount)) for book, amount in legs if amount]
    if sum((amount for _, amount in legs), Decimal(0)) != 0:
        raise ValueError(f"journal entry legs do not balance: {legs}")
    entry = JournalEntry.objects.create(kind=kind, account=account, description=description, reference=reference)
    JournalLeg.objects.bulk_create(
        JournalLeg(entry=entry, book=book, amount=amount, account=account if book in _BALANCE_COLUMN else None)
        for book, amount in legs
    )
    changed = []
    for book, amount in legs:
        column = _BALANCE_COLUMN.get(book)
        if column:
            setattr(account, column, getattr(account, column) + amount)
            changed.append(column)
    if changed:
        account.save(update_fields=sorted(set(changed)))
    return entry


def cash_reserve(account: Account, amount: Decimal) -> None:
    """Hold `amount` of the account's cash for an open order (reserved_cash is not a ledger book:
    buying power subtracts it). Caller holds the account lock (accounts.locks.lock_account) and
    passes that locked instance; one UPDATE of reserved_cash, none when amount is 0."""
    assert amount >= 0, f"cannot reserve a negative amount: {amount}"
    if amount:
        account.reserved_cash += amount
        account.save(update_fields=["reserved_cash"])


def cash_release(account: Account, amount: Decimal) -> None:
    """Give back `amount` of the cash held for open orders. Caller holds the account lock, as for
    cash_reserve. reserved_cash never goes below zero: the database refuses it
    (account_reserved_cash_non_negative), so a release of more than was reserved fails the
    transaction."""
    assert amount >= 0, f"cannot release a negative amount: {amount}"
    if amount:
        account.reserved_cash -= amount
        account.save(update_fields=["reserved_cash"])


def ledger_post_many(*, accounts, kind: str, entries: list[tuple[object, list[tuple[str, Decimal]], str, str]]
                     ) -> dict:
    """Post many journal entries at once (batch jobs: settlement), at most one per account, each
    balancing: `entries` holds (account_id, legs, description, reference). Four statements
    whatever the count: the entries, their legs, and the running totals of every account in one
    UPDATE. Caller holds the lock of every account in `accounts` (the collection of locked pks
    from accounts.locks.lock_accounts_skip_locked). Returns {account_id: JournalEntry}."""
    prepared = []
    seen = set()
    for account_id, legs, description, reference in entries:
        legs = [(book, money(amount)) for book, amount in legs if amount]
        if sum((amount for _, amount in legs), Decimal(0)) != 0:
            raise ValueError(f"journal entry legs do not balance: {legs}")
        if account_id not in accounts:
            raise ValueError(f"account {account_id} is not locked by the caller")
        if account_id in seen:
            raise ValueError(f"two entries for account {account_id} in one call")
        seen.add(account_id)
        prepared.append((account_id, legs, description, reference))

    if connection.vendor == "postgresql":
        made = _entries_insert_pg(kind, prepared)
    else:  # SQLite (embedded mode)
        made = JournalEntry.objects.bulk_create(
            JournalEntry(kind=kind, account_id=account_id, description=description, reference=reference)
            for account_id, _, description, reference in prepared)
        JournalLeg.objects.bulk_create(
            JournalLeg(entry=entry, book=book, amount=amount, account_id=account_id if book in _BALANCE_COLUMN else None)
            for entry, (account_id, legs, _, _) in zip(made, prepared) for book, amount in legs)
    deltas = {}
    for account_id, legs, _, _ in prepared:
        d = deltas.setdefault(account_id, {"settled_cash": Decimal(0), "unsettled_cash": Decimal(0)})
        for book, amount in legs:
            if book in _BALANCE_COLUMN:
                d[_BALANCE_COLUMN[book]] += amount
    _totals_update(deltas)
    return {entry.account_id: entry for entry in made}


def _entries_insert_pg(kind: str, prepared: list) -> list[JournalEntry]:
    """The entries and their legs in two set-based statements (unnest of arrays): the ORM's
    bulk_create costs more in Python than the database spends on the rows."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_journalentry (kind, account_id, description, reference, created_at) "
            "SELECT %s, a, d, r, %s FROM unnest(%s::uuid[], %s::text[], %s::text[]) WITH ORDINALITY AS u(a, d, r, n) "
            "ORDER BY n RETURNING account_id, id",
            [kind, now, [p[0] for p in prepared], [p[2] for p in prepared], [p[3] for p in prepared]])
        by_account = dict(cursor.fetchall())  # one entry per account (checked by the caller)
        ids = [by_account[p[0]] for p in prepared]
        leg_entry, leg_book, leg_account, leg_amount = [], [], [], []
        for entry_id, (account_id, legs, _, _) in zip(ids, prepared):
            for book, amount in legs:
                leg_entry.append(entry_id)
                leg_book.append(book)
                leg_account.append(account_id if book in _BALANCE_COLUMN else None)
                leg_amount.append(amount)
        cursor.execute(
            "INSERT INTO accounts_journalleg (entry_id, book, account_id, amount) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::uuid[], %s::numeric[])",
            [leg_entry, leg_book, leg_account, leg_amount])
    return [JournalEntry(pk=entry_id, kind=kind, account_id=p[0], description=p[2], reference=p[3], created_at=now)
            for entry_id, p in zip(ids, prepared)]


def _totals_update(deltas: dict) -> None:
    if not deltas:
        return

    if connection.vendor == "postgresql":
        ids = list(deltas)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE accounts_account a SET settled_cash = a.settled_cash + d.s, "
                "unsettled_cash = a.unsettled_cash + d.u "
                "FROM unnest(%s::uuid[], %s::numeric[], %s::numeric[]) AS d(id, s, u) WHERE a.id = d.id",
                [ids, [deltas[i]["settled_cash"] for i in ids], [deltas[i]["unsettled_cash"] for i in ids]])
        return

    for account_id, d in deltas.items():  # SQLite (embedded mode): one UPDATE per account
        Account.objects.filter(pk=account_id).update(settled_cash=F("settled_cash") + d["settled_cash"],
                                                     unsettled_cash=F("unsettled_cash") + d["unsettled_cash"])

def _api_key_create_locked(*, account: Account, label: str, actor: str) -> tuple[ApiKey, str]:
    key_id = "TX" + secrets.token_hex(9).upper()
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(key_id=key_id, secret_hash=hash_secret(secret), account=account, label=label)
    audit_record(account=account, actor=actor, action="api_key.created", entity_type="api_key", entity_id=key_id,
                 data={"label": label})
    return key, secret


@transaction.atomic(durable=True)
def api_key_create(*, account_id, label: str = "", actor: str = "system") -> tuple[ApiKey, str]:
    """A new key pair. The secret is returned once and only its hash is stored."""
    return _api_key_create_locked(account=lock_account(account_id), label=label, actor=actor)


@transaction.atomic  # not durable: the admin calls it inside its own transaction
def api_key_revoke(*, key_id: str, actor: str) -> bool:
    """Revoke a key; False if it was already revoked."""
    key = ApiKey.objects.filter(key_id=key_id).values_list("account_id", "label").first()
    if key is None:
        raise NotFound("API key not found", reason="api_key_not_found")
    account = lock_account(key[0])
    if not ApiKey.objects.filter(key_id=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        return False
    audit_record(account=account, actor=actor, action="api_key.revoked", entity_type="api_key", entity_id=key_id,
                 data={"label": key[1]})
    credentials.end_after_commit(credentials.key_group(key_id), credentials.KEY_REVOKED)
    return True


MAX_RATE_LIMIT_PER_MINUTE = 100_000


@transaction.atomic  # not durable: the admin calls it inside its own transaction
def api_key_rate_limit_set(*, key_id: str, per_minute: int | None, actor: str) -> bool:
    """Set a key's rate limit tier (None: the default). False if it already had it."""
    if per_minute is not None and (type(per_minute) is not int or not 1 <= per_minute <= MAX_RATE_LIMIT_PER_MINUTE):
        raise InvalidInput("invalid_rate_limit", f"requests per minute must be 1 to {MAX_RATE_LIMIT_PER_MINUTE}")
    key = ApiKey.objects.filter(key_id=key_id).values_list("account_id", "rate_limit_per_minute").first()
    if key is None:
        raise NotFound("API key not found", reason="api_key_not_found")
    account = lock_account(key[0])
    if key[1] == per_minute:
        return False
    ApiKey.objects.filter(key_id=key_id).update(rate_limit_per_minute=per_minute)
    audit_record(account=account, actor=actor, action="api_key.rate_limit_changed", entity_type="api_key",
                 entity_id=key_id, data={"rate_limit_per_minute": [key[1], per_minute]})
    return True


@transaction.atomic
def login_lockout_record(*, username: str | None, ip_address: str | None, failures: int | None) -> None:
    """Audit one lockout (django-axes locked a username or an address after repeated wrong
    passwords or TOTP codes): on the account's chain when the username is one, else the system's."""
    account_id = Account.objects.filter(user__username=username).values_list("pk", flat=True).first() \
        if username else None
    data = {"username": username, "ip_address": ip_address, "failures": failures}
    if account_id is None:
        audit_record(account_id=None, actor="system", action="auth.locked_out", entity_type="login",
                     entity_id=username or ip_address or "", data=data)
    else:
        audit_record(account=lock_account(account_id), actor="system", action="auth.locked_out",
                     entity_type="account", entity_id=account_id, data=data)


# Staff may change these in the admin; balances move only through the ledger.
EDITABLE_ACCOUNT_FIELDS = ("status", "kyc_status", "account_type")


@transaction.atomic  # not durable: the admin's change view already runs in a transaction
def account_update(*, account_id, actor: str, changes: dict) -> Account:
    """Change an account's status, KYC state or type, on the locked row, audited."""
    unknown = set(changes) - set(EDITABLE_ACCOUNT_FIELDS)
    if unknown:
        raise InvalidInput("field_not_editable", f"not editable: {', '.join(sorted(unknown))}")
    account = lock_account(account_id)
    before = {name: getattr(account, name) for name in changes}
    for name, value in changes.items():
        setattr(account, name, value)
    account.full_clean(exclude=["user", "account_number"])
    account.save(update_fields=list(changes))
    audit_record(account=account, actor=actor, action="account.changed", entity_type="account", entity_id=account.pk,
                 data={"changes": {name: [before[name], value] for name, value in changes.items()}})
    _end_sockets_if_closed(account, before.get("status"))
    return account


def _end_sockets_if_closed(account: Account, before: str | None) -> None:
    """A closed account's sockets end with it (invariant 11), whichever key or session opened them."""
    if account.status == Account.Status.CLOSED and before not in (None, Account.Status.CLOSED):
        credentials.end_after_commit(credentials.user_group(account.user_id), credentials.ACCOUNT_CLOSED)


def _next_account_number() -> str:
    return "TX" + "".join(secrets.choice("0123456789") for _ in range(10))


@transaction.atomic(durable=True)
def account_create(*, username: str, password: str | None = None, email: str = "", cash: Decimal = Decimal(0),
                   account_type: str = Account.Type.CASH, actor: str = "system") -> tuple[Account, ApiKey, str]:
    """Create a user, an approved account, an API key pair and (if cash > 0) the first deposit."""
    if account_type not in Account.Type.values:
        raise InvalidInput("invalid_account_type", f"account type must be one of {', '.join(Account.Type.values)}")
    if User.objects.filter(username=username).exists():
        raise InvalidInput("username_taken", f"user {username!r} already exists")
    user = User(username=username, email=email)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    account = Account.objects.create(user=user, account_type=account_type, account_number=_next_account_number())
    audit_record(account=account, actor=actor, action="account.created", entity_type="account",
                 entity_id=account.pk, data={"username": username, "account_type": account_type})
    key, secret = _api_key_create_locked(account=account, label="default", actor=actor)
    if cash:
        _deposit_locked(account=account, amount=to_decimal(cash, field="cash"), actor=actor, description="initial deposit")
    return account, key, secret


def _deposit_locked(*, account: Account, amount: Decimal, actor: str, description: str) -> JournalEntry:
    if amount <= 0:
        raise InvalidInput("invalid_amount", "amount must be positive")
    entry = ledger_post(account=account, kind=JournalEntry.Kind.DEPOSIT, description=description,
                        legs=[(Book.CUSTOMER_SETTLED, amount), (Book.FIRM_BANK, -amount)])
    audit_record(account=account, actor=actor, action="cash.deposited", entity_type="account",
                 entity_id=account.pk, data={"amount": money(amount), "entry": entry.pk})
    return entry


@transaction.atomic(durable=True)
def cash_deposit(*, account_id, amount: Decimal, actor: str, description: str = "deposit") -> JournalEntry:
    account = lock_account(account_id)
    return _deposit_locked(account=account, amount=to_decimal(amount, field="amount", limit=MONEY), actor=actor,
                           description=description)


@transaction.atomic(durable=True)
def cash_withdraw(*, account_id, amount: Decimal, actor: str, description: str = "withdrawal") -> JournalEntry:
    """Only settled cash not held for open orders can leave the firm."""
    amount = to_decimal(amount, field="amount", limit=MONEY)
    if amount <= 0:
        raise InvalidInput("invalid_amount", "amount must be positive")
    account = lock_account(account_id)
    withdrawable = account.settled_cash - account.reserved_cash
    if account.unsettled_cash < 0:
        withdrawable += account.unsettled_cash
    if amount > withdrawable:
        raise Refused("insufficient_funds", f"withdrawable cash is {money(max(withdrawable, Decimal(0)))}")
    entry = ledger_post(account=account, kind=JournalEntry.Kind.WITHDRAWAL, description=description,
                        legs=[(Book.CUSTOMER_SETTLED, -amount), (Book.FIRM_BANK, amount)])
    audit_record(account=account, actor=actor, action="cash.withdrawn", entity_type="account",
                 entity_id=account.pk, data={"amount": money(amount), "entry": entry.pk})
    return entry


def account_status_set_locked(*, account: Account, status: str, actor: str, reason: str) -> bool:
    """Change the status of an account whose lock the caller holds, on the caller's locked
    instance (so the transaction's later audit events keep one chain head), audited. Used by
    settlement's cash-account rules (restriction and its expiry). False if nothing changed."""
    if status not in Account.Status.values:
        raise InvalidInput("invalid_status", f"status must be one of {', '.join(Account.Status.values)}")
    before = account.status
    if before == status:
        return False
    account.status = status
    account.save(update_fields=["status"])
    audit_record(account=account, actor=actor, action="account.changed", entity_type="account", entity_id=account.pk,
                 data={"changes": {"status": [before, status]}, "reason": reason})
    _end_sockets_if_closed(account, before)
    return True
