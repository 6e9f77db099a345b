import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from core import vocabulary
from core.fields import MoneyField, text_choices


class User(AbstractUser):
    """A person or institution. Trading happens through their Account."""


class Account(models.Model):
    # The words are core.vocabulary's (AccountStatus.CLOSED == Account.Status.CLOSED).
    Type = text_choices(vocabulary.AccountType, module=__name__, qualname="Account.Type")
    Status = text_choices(vocabulary.AccountStatus, module=__name__, qualname="Account.Status")
    Kyc = text_choices(vocabulary.KycStatus, module=__name__, qualname="Account.Kyc")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account_number = models.CharField(max_length=20, unique=True)
    user = models.OneToOneField(User, on_delete=models.PROTECT, related_name="account")
    account_type = models.CharField(max_length=8, choices=Type.choices, default=Type.CASH)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    kyc_status = models.CharField(max_length=10, choices=Kyc.choices, default=Kyc.APPROVED)
    # Cash balances are the ledger's (accounts.ledger); these columns are its running totals so the
    # hot path reads one row. `manage.py verify_ledger` proves they equal the journal.
    settled_cash = MoneyField()
    unsettled_cash = MoneyField()
    # Held for open orders: cash for cash accounts, initial margin for margin accounts.
    reserved_cash = MoneyField()
    currency = models.CharField(max_length=3, default="USD")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(reserved_cash__gte=0), name="account_reserved_cash_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.account_number} ({self.user.username})"

    @property
    def cash(self):
        return self.settled_cash + self.unsettled_cash

    @property
    def is_margin(self) -> bool:
        return self.account_type == self.Type.MARGIN


class ApiKey(models.Model):
    """An API key pair. The secret is shown once at creation and stored as SHA-256: it is 32 random
    bytes, so a slow password hash would add latency to every request without adding security."""

    key_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_keys")
    label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The key's REST rate limit tier (accounts.throttling); staff set it in the admin, audited.
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="requests per minute; empty: the default, TRADEX_API_RATE_LIMIT_PER_MINUTE")

    def __str__(self) -> str:
        return self.key_id


class JournalEntry(models.Model):
    """One movement of money: its legs sum to zero (double entry)."""

    class Kind(models.TextChoices):
        DEPOSIT = "CSD"
        WITHDRAWAL = "CSW"
        FILL = "FILL"
        SETTLEMENT = "SETTLE"
        FEE = "FEE"
        DIVIDEND = "DIV"

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="journal_entries")
    description = models.CharField(max_length=200, blank=True)
    # The execution, transfer or other source this entry records (for activities and audit).
    reference = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"
        indexes = [models.Index(fields=["account", "created_at"])]


class JournalLeg(models.Model):
    """A signed amount on one book. Customer books are liabilities of the firm: a positive amount
    is money the firm owes the customer."""

    class Book(models.TextChoices):
        CUSTOMER_SETTLED = "customer_settled"
        CUSTOMER_UNSETTLED = "customer_unsettled"
        FIRM_BANK = "firm_bank"  # money in and out of the firm's bank account
        FIRM_CLEARING = "firm_clearing"  # the street side of trades until settlement

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="legs")
    book = models.CharField(max_length=20, choices=Book.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    amount = models.DecimalField(max_digits=20, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["account", "book"])]


class Watchlist(models.Model):
    """Alpaca's watchlist: a named, ordered list of assets of one account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="watchlists")
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="watchlist_account_name_uniq")]

    def __str__(self) -> str:
        return self.name


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [models.UniqueConstraint(fields=["watchlist", "asset"], name="watchlist_item_asset_uniq")]


class KycProfile(models.Model):
    """What a sign-up gives for know-your-customer review; staff approve the account in the admin
    (Account.kyc_status). Kept apart from Account so the trading hot path never reads it."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="kyc_profile")
    legal_name = models.CharField(max_length=200)
    date_of_birth = models.DateField()
    address = models.CharField(max_length=300)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    tax_id_last4 = models.CharField(max_length=4, help_text="last four digits only; the full number is never stored")
    employment_status = models.CharField(max_length=20)
    funding_source = models.CharField(max_length=40)
    submitted_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.legal_name


class TotpDevice(models.Model):
    """Optional second factor for the web terminal (RFC 6238, pyotp). `confirmed` once the user
    has typed a valid code: an unconfirmed device does not guard the login yet."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="totp_device")
    secret = models.CharField(max_length=64)
    confirmed = models.BooleanField(default=False)
    last_used_step = models.BigIntegerField(default=0, help_text="a code is accepted once (replay)")
    created_at = models.DateTimeField(auto_now_add=True)
