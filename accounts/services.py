"""Accounts: creation, API keys, and the double-entry cash ledger."""
import secrets
from decimal import Decimal

from django.db import transaction

from compliance.services import audit_record
from tradex.errors import InvalidInput, Refused
from tradex.values import money, to_decimal

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


def api_key_create(*, account: Account, label: str = "") -> tuple[ApiKey, str]:
    """A new key pair. The secret is returned once and only its hash is stored."""
    key_id = "TX" + secrets.token_hex(9).upper()
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(key_id=key_id, secret_hash=hash_secret(secret), account=account, label=label)
    return key, secret


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
    audit_record(account_id=account.pk, actor=actor, action="account.created", entity_type="account",
                 entity_id=account.pk, data={"username": username, "account_type": account_type})
    key, secret = api_key_create(account=account, label="default")
    if cash:
        _deposit_locked(account=account, amount=to_decimal(cash, field="cash"), actor=actor, description="initial deposit")
    return account, key, secret


def _deposit_locked(*, account: Account, amount: Decimal, actor: str, description: str) -> JournalEntry:
    if amount <= 0:
        raise InvalidInput("invalid_amount", "amount must be positive")
    entry = ledger_post(account=account, kind=JournalEntry.Kind.DEPOSIT, description=description,
                        legs=[(Book.CUSTOMER_SETTLED, amount), (Book.FIRM_BANK, -amount)])
    audit_record(account_id=account.pk, actor=actor, action="cash.deposited", entity_type="account",
                 entity_id=account.pk, data={"amount": money(amount), "entry": entry.pk})
    return entry


@transaction.atomic(durable=True)
def cash_deposit(*, account_id, amount: Decimal, actor: str, description: str = "deposit") -> JournalEntry:
    account = lock_account(account_id)
    return _deposit_locked(account=account, amount=to_decimal(amount, field="amount"), actor=actor,
                           description=description)


@transaction.atomic(durable=True)
def cash_withdraw(*, account_id, amount: Decimal, actor: str, description: str = "withdrawal") -> JournalEntry:
    """Only settled cash not held for open orders can leave the firm."""
    amount = to_decimal(amount, field="amount")
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
    audit_record(account_id=account.pk, actor=actor, action="cash.withdrawn", entity_type="account",
                 entity_id=account.pk, data={"amount": money(amount), "entry": entry.pk})
    return entry
