from django.db import models
from django.db.models import Q

from core import vocabulary
from core.fields import MoneyField, PriceField, QtyField, text_choices


class Position(models.Model):
    """Signed quantity (negative = short), average entry price, realized P&L.

    held_qty: shares of a long position promised to open sell orders, so the same shares cannot be
    sold twice. day_*: today's opening and closing quantities, the maintained exposure the
    day-trading rules read.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="positions")
    symbol = models.CharField(max_length=16)
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    qty = QtyField(default=0)
    avg_entry_price = PriceField(default=0)
    realized_pl = MoneyField()
    held_qty = QtyField(default=0)
    activity_date = models.DateField(null=True, blank=True)
    day_opened_qty = QtyField(default=0)
    day_closed_qty = QtyField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "symbol"], name="position_account_symbol_uniq"),
            models.CheckConstraint(condition=Q(held_qty__gte=0), name="position_held_qty_non_negative"),
        ]
        # The margin monitor reloads the accounts whose positions changed since its watermark.
        indexes = [models.Index(fields=["updated_at"], name="position_updated_idx")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty}"

    @property
    def cost_basis(self):
        return self.qty * self.avg_entry_price


class TaxLot(models.Model):
    """Shares opened by one execution: a buy opens a long lot, a short sale a short lot. Closing
    fills consume lots FIFO (oldest first) unless the closing order named lots (LotSelection).
    The position's qty, average entry price and cost basis are those of its open lots."""

    Side = text_choices(vocabulary.PositionSide, module=__name__, qualname="TaxLot.Side")

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="tax_lots")
    position = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="lots")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=5, choices=Side.choices)
    opened_at = models.DateTimeField()
    execution_id = models.UUIDField(null=True, blank=True)
    order_id = models.UUIDField(null=True, blank=True)
    qty = QtyField()  # as opened (after any split)
    remaining_qty = QtyField()
    price = PriceField()  # per share (after any split)
    # Losses disallowed by the wash-sale rule on earlier sales, added to this replacement lot's
    # tax basis (reported at year end; the position's economic cost basis is unchanged).
    wash_sale_adjustment = MoneyField()

    class Meta:
        indexes = [models.Index(fields=["position", "opened_at"], name="taxlot_position_open_idx",
                                condition=Q(remaining_qty__gt=0)),
                   models.Index(fields=["account", "symbol", "opened_at"], name="taxlot_account_symbol_idx")]
        constraints = [models.CheckConstraint(condition=Q(remaining_qty__gte=0), name="taxlot_remaining_non_negative")]

    def __str__(self) -> str:
        return f"{self.side} {self.remaining_qty}/{self.qty} {self.symbol} @ {self.price}"


class LotClosure(models.Model):
    """Shares of one lot closed by one execution, with the P&L they realized (the year-end report's
    rows). A loss on a long lot with a purchase of the same symbol within 30 days before or after
    is flagged as a wash sale and the disallowed part recorded."""

    id = models.BigAutoField(primary_key=True)
    lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, related_name="closures")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=5, choices=TaxLot.Side.choices)
    qty = QtyField()
    open_price = PriceField()
    close_price = PriceField()
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField()
    execution_id = models.UUIDField(null=True, blank=True)
    order_id = models.UUIDField(null=True, blank=True)
    realized_pl = MoneyField()
    wash_sale = models.BooleanField(default=False)
    wash_sale_disallowed = MoneyField()
    replacement_lot = models.ForeignKey(TaxLot, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["account", "symbol", "closed_at"], name="lotclosure_account_idx")]


class LotSelection(models.Model):
    """Specific-lot identification for a closing order: lots to close, in this order, before FIFO
    takes over for any rest."""

    order_id = models.UUIDField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    lot_ids = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)


class SymbolMargin(models.Model):
    """A house maintenance requirement stricter than the default for one symbol (volatile or
    concentrated names). The effective rate is max(TRADEX_MAINTENANCE, this)."""

    symbol = models.CharField(max_length=16, unique=True)
    maintenance = models.DecimalField(max_digits=6, decimal_places=4)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(maintenance__gt=0) & Q(maintenance__lte=1),
                                              name="symbolmargin_rate_range")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.maintenance}"


class MarginCall(models.Model):
    Status = text_choices(vocabulary.MarginCallStatus, module=__name__, qualname="MarginCall.Status")

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="margin_calls")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    issued_at = models.DateTimeField()
    due_at = models.DateTimeField()
    equity = MoneyField()
    requirement = MoneyField()
    deficit = MoneyField()
    prices = models.JSONField(default=dict)  # the prices the call was computed on
    prior_status = models.CharField(max_length=12, default="ACTIVE")
    resolved_at = models.DateTimeField(null=True, blank=True)
    liquidation = models.JSONField(default=list)  # [{"symbol", "side", "qty", "order_id"}]

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account"], condition=Q(status__in=["open", "liquidating"]),
                                               name="margincall_one_open_per_account")]
        indexes = [models.Index(fields=["status", "due_at"], name="margincall_status_due_idx")]


class EquitySnapshot(models.Model):
    """An account's equity at a moment, recorded by Celery (end of day and intraday) for
    GET /v2/account/portfolio/history."""

    class Kind(models.TextChoices):
        INTRADAY = "intraday"
        EOD = "eod"

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()
    equity = MoneyField()
    cash = MoneyField()
    long_market_value = MoneyField()
    short_market_value = MoneyField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "kind", "at"], name="equitysnapshot_uniq")]


class ShortLocate(models.Model):
    """The hard-to-borrow list: shares of a symbol the stock-loan desk can locate today. Easy-to-
    borrow symbols (marketdata.Asset.easy_to_borrow) need no locate; a short sale of a hard-to-
    borrow symbol is refused pre-trade beyond what is listed here (risk.checks.short_sale). An
    accepted short order reserves its short shares here (Order.located_qty), so two orders cannot
    both count on the same located shares; its fills draw the pool down and release as much."""

    symbol = models.CharField(max_length=16, unique=True)
    shares_available = QtyField(default=0)
    shares_reserved = QtyField(default=0)  # promised to open short orders (sum of their located_qty)
    as_of = models.DateField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(shares_available__gte=0), name="shortlocate_non_negative"),
                       models.CheckConstraint(condition=Q(shares_reserved__gte=0), name="shortlocate_reserved_non_negative")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.shares_available} ({self.as_of})"
