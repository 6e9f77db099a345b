"""Settlement obligations, cash-account rule violations and restrictions, and job runs.

Only settlement's services write these tables (settlement/services/).
"""
import uuid

from django.db import models
from django.db.models import Q

from core import vocabulary
from core.fields import MoneyField, PriceField, QtyField, text_choices


class Obligation(models.Model):
    """What one execution owes, due on its settlement date. Created in the execution's own
    transaction (orders.services.venue_reports.execution_apply -> obligation_create), so every execution
    has exactly one (unique execution) and no execution is ever without one.

    `amount` is the customer's signed cash movement (a buy is negative): it sits in the
    customer_unsettled book from the fill until the obligation settles, when one batch
    transaction moves it to customer_settled and marks the row settled (`entry` is that batch's
    journal entry for the account). So at every moment, for every account:
    unsettled_cash == sum(amount of its pending obligations), and a position's unsettled shares
    are the signed qty of its pending obligations.
    """

    Status = text_choices(vocabulary.ObligationStatus, module=__name__, qualname="Obligation.Status")

    id = models.BigAutoField(primary_key=True)
    execution = models.OneToOneField("orders.Execution", on_delete=models.PROTECT, related_name="obligation")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    qty = QtyField()
    price = PriceField()
    amount = MoneyField()
    market = models.CharField(max_length=8, default="XNYS")
    trade_date = models.DateField()
    settle_date = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    settled_at = models.DateTimeField(null=True, blank=True)
    # The batch's journal entry that settled this obligation (one per account per batch).
    entry = models.ForeignKey("accounts.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", db_index=False)
    batch_id = models.BigIntegerField(null=True, blank=True)
    # Cash-account rules (settlement/rules.py), for buys: the part of the cost paid with unsettled
    # sale proceeds and when those proceeds settle; the part paid with no funds at all; and the
    # shares of this buy sold before it was paid for (good faith / free riding).
    unsettled_funded = MoneyField()
    funds_settle_on = models.DateField(null=True, blank=True)
    unfunded = MoneyField()
    sold_early_qty = QtyField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The batch claim: pending rows in id order (settle_date filtered on the way).
            models.Index(fields=["id"], condition=Q(status="pending"), name="obligation_pending_idx"),
            models.Index(fields=["settle_date", "status"], name="obligation_date_status_idx"),
            models.Index(fields=["account", "symbol"], condition=Q(status="pending"), name="obligation_acct_pending_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status="pending") | Q(settled_at__isnull=False) | Q(status="failed"),
                                   name="obligation_settled_has_time"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty} {self.symbol} T={self.trade_date} S={self.settle_date} ({self.status})"

    @property
    def signed_qty(self):
        return self.qty if self.side == vocabulary.OrderSide.BUY else -self.qty


class SettlementBatch(models.Model):
    """One committed batch: written in the batch's transaction, so a batch killed mid-way leaves
    no row and no settled obligation (its claims roll back and the next run takes them)."""

    id = models.BigAutoField(primary_key=True)
    as_of = models.DateField()
    obligations = models.PositiveIntegerField()
    accounts = models.PositiveIntegerField()
    worker = models.CharField(max_length=64, blank=True)
    committed_at = models.DateTimeField(auto_now_add=True, db_index=True)


class CashRuleViolation(models.Model):
    """A good-faith violation or free-riding in a cash account (settlement/rules.py)."""

    class Kind(models.TextChoices):
        GOOD_FAITH = "good_faith"
        FREE_RIDING = "free_riding"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The buy that was paid with unsettled (or no) funds, and the sale that sold it too early.
    buy_obligation = models.ForeignKey(Obligation, on_delete=models.PROTECT, related_name="+")
    sell_execution = models.ForeignKey("orders.Execution", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=16)
    trade_date = models.DateField()
    amount = MoneyField()  # value of the early-sold shares at the buy price
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["buy_obligation", "kind"], name="violation_once_per_buy")]
        indexes = [models.Index(fields=["account", "trade_date"], name="violation_account_date_idx")]


class AccountRestriction(models.Model):
    """The account may buy only with settled cash until `ends_on` (inclusive)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=12, choices=CashRuleViolation.Kind.choices)
    starts_on = models.DateField()
    ends_on = models.DateField()
    violations = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "ends_on"], name="restriction_account_end_idx")]


class CorporateAction(models.Model):
    """A split or a cash dividend, entered by staff in the admin, applied by the corporate-actions
    job (workflows/corporate_actions.py) exactly once per account. A split of `new_shares` for
    `old_shares` (2-for-1: 2 for 1; 1-for-10 reverse: 1 for 10) takes effect on ex_date; a
    dividend of `cash_per_share` goes to holders as of ex_date (the position at the job's first
    run on or after it, before the open) and is paid on pay_date."""

    class Kind(models.TextChoices):
        SPLIT = "split"
        DIVIDEND = "dividend"

    class Status(models.TextChoices):
        PENDING = "pending"  # entered, not yet effective
        ENTITLED = "entitled"  # dividend: holders recorded, waiting for the pay date
        APPLIED = "applied"  # every account done
        CANCELED = "canceled"

    symbol = models.CharField(max_length=16)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    new_shares = models.PositiveIntegerField(null=True, blank=True, help_text="split: shares after, per old_shares")
    old_shares = models.PositiveIntegerField(null=True, blank=True, help_text="split: shares before")
    cash_per_share = PriceField(null=True, blank=True, help_text="dividend: cash per share")
    ex_date = models.DateField()
    record_date = models.DateField(null=True, blank=True)
    pay_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    applied_at = models.DateTimeField(null=True, blank=True)
    notes = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # (IS NOT NULL spelled out: a CHECK whose condition is NULL passes.)
            models.CheckConstraint(name="ca_split_has_ratio", condition=~Q(kind="split") | (
                Q(new_shares__isnull=False, old_shares__isnull=False, new_shares__gt=0, old_shares__gt=0))),
            models.CheckConstraint(name="ca_dividend_has_cash", condition=~Q(kind="dividend") | (
                Q(cash_per_share__isnull=False, cash_per_share__gt=0, pay_date__isnull=False))),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.SPLIT:
            return f"{self.symbol} {self.new_shares}-for-{self.old_shares} split on {self.ex_date}"
        return f"{self.symbol} dividend {self.cash_per_share}/share ex {self.ex_date} pay {self.pay_date}"


class CorporateActionApplication(models.Model):
    """One account's share of a corporate action: written in the transaction that adjusted the
    account (split) or paid it (dividend), so the unique constraint makes it exactly once."""

    action = models.ForeignKey(CorporateAction, on_delete=models.PROTECT, related_name="applications")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    qty_before = QtyField(default=0)
    qty_after = QtyField(default=0)
    cash = MoneyField()  # cash in lieu, or the dividend
    entry = models.ForeignKey("accounts.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    orders_adjusted = models.PositiveIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)  # dividends: null until paid

    class Meta:
        constraints = [models.UniqueConstraint(fields=["action", "account"], name="ca_once_per_account")]


class ReconciliationRun(models.Model):
    """One comparison of a venue's end-of-day drop copy with the broker's executions."""

    class Result(models.TextChoices):
        CLEAN = "clean"
        BREAKS = "breaks"
        NO_FILE = "no_file"  # the venue's drop copy is missing: itself a break to look into

    venue = models.CharField(max_length=16)
    trade_date = models.DateField()
    result = models.CharField(max_length=8, choices=Result.choices)
    venue_executions = models.PositiveIntegerField(default=0)
    broker_executions = models.PositiveIntegerField(default=0)
    breaks = models.PositiveIntegerField(default=0)
    source = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["trade_date", "venue"], name="recon_run_date_venue_idx")]

    def __str__(self) -> str:
        return f"{self.venue} {self.trade_date}: {self.result}"


class ReconciliationBreak(models.Model):
    """A difference between the venue and the broker, queued for staff review in the admin.
    Nothing corrects it automatically: staff resolve it with a note (audited)."""

    class Kind(models.TextChoices):
        MISSING = "missing"  # the venue executed it, the broker has no execution
        EXTRA = "extra"  # the broker has an execution the venue does not
        QTY = "qty"  # same execution, different quantity
        PRICE = "price"  # same execution, different price
        DETAIL = "detail"  # same execution, different symbol or side

    class Status(models.TextChoices):
        OPEN = "open"
        RESOLVED = "resolved"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="break_rows")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    venue = models.CharField(max_length=16)
    exec_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=16, blank=True)
    venue_qty = QtyField(null=True, blank=True)
    broker_qty = QtyField(null=True, blank=True)
    venue_price = PriceField(null=True, blank=True)
    broker_price = PriceField(null=True, blank=True)
    execution = models.ForeignKey("orders.Execution", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    detail = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolution = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "run"], name="recon_break_status_idx")]


class Document(models.Model):
    """A generated document of one account: a trade confirmation, a monthly statement or a year's
    tax report (PDF, and CSV for the tax report). Stored in the database with the rest of the
    account's records; downloadable only by the account's owner (settlement/api.py). Unique per
    (account, kind, period, format): the generating jobs can run twice and make each one once."""

    class Kind(models.TextChoices):
        CONFIRMATION = "trade_confirmation"
        STATEMENT = "account_statement"
        TAX_REPORT = "tax_report"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The confirmation's execution id, the statement's month (YYYY-MM) or the report's year.
    period = models.CharField(max_length=40)
    date = models.DateField(help_text="trade date, last day of the month, or 31 December")
    format = models.CharField(max_length=4, default="pdf")
    filename = models.CharField(max_length=120)
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "kind", "period", "format"], name="document_once")]
        indexes = [models.Index(fields=["account", "-date"], name="document_account_date_idx")]

    @property
    def content_type(self) -> str:
        return "application/pdf" if self.format == "pdf" else "text/csv"
