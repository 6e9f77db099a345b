import uuid

from django.db import models
from django.db.models import Q

from tradex.fields import MoneyField, PriceField, QtyField

from .state import OPEN_STATUSES, Status


class Order(models.Model):
    """An order in Alpaca v2's model. Status moves only through orders.state.transition()."""

    class Side(models.TextChoices):
        BUY = "buy"
        SELL = "sell"

    class Type(models.TextChoices):
        MARKET = "market"
        LIMIT = "limit"
        STOP = "stop"
        STOP_LIMIT = "stop_limit"
        TRAILING_STOP = "trailing_stop"

    class TimeInForce(models.TextChoices):
        DAY = "day"
        GTC = "gtc"
        IOC = "ioc"
        FOK = "fok"
        OPG = "opg"
        CLS = "cls"

    class OrderClass(models.TextChoices):
        SIMPLE = "simple"
        BRACKET = "bracket"
        OCO = "oco"
        OTO = "oto"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    client_order_id = models.CharField(max_length=128)
    # SHA-256 of the canonical request body: a retry with the same client_order_id and the same
    # body returns the first order; a different body is refused.
    request_hash = models.CharField(max_length=64)
    asset = models.ForeignKey("marketdata.Asset", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4, choices=Side.choices)
    order_type = models.CharField(max_length=14, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices)
    order_class = models.CharField(max_length=8, choices=OrderClass.choices, default=OrderClass.SIMPLE)
    qty = QtyField(null=True, blank=True)
    notional = MoneyField(null=True, blank=True, default=None)
    limit_price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    trail_price = PriceField(null=True, blank=True)
    trail_percent = models.DecimalField(max_digits=8, decimal_places=4, null=True, blank=True)
    extended_hours = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_NEW)
    filled_qty = QtyField(default=0)
    filled_avg_price = PriceField(null=True, blank=True)
    # What this order still holds: cash/margin on the account, shares on the position.
    reserved_cash = MoneyField()
    reserved_qty = QtyField(default=0)
    venue = models.CharField(max_length=16, blank=True)
    venue_order_id = models.CharField(max_length=64, blank=True)
    reject_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="order_client_order_id_uniq"),
            models.CheckConstraint(condition=Q(reserved_cash__gte=0), name="order_reserved_cash_non_negative"),
            models.CheckConstraint(condition=Q(reserved_qty__gte=0), name="order_reserved_qty_non_negative"),
            models.CheckConstraint(condition=Q(filled_qty__gte=0), name="order_filled_qty_non_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="order_account_created_idx"),
            models.Index(
                fields=["account", "symbol"], condition=Q(status__in=sorted(OPEN_STATUSES)), name="order_open_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty or self.notional} {self.symbol} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def leaves_qty(self):
        return (self.qty - self.filled_qty) if self.qty is not None else None


class Execution(models.Model):
    """A fill reported by a venue. Unique on (venue, exec_id): a replay is a no-op (invariant 3)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="executions")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    venue = models.CharField(max_length=16)
    exec_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=16)
    side = models.CharField(max_length=4)
    qty = QtyField()
    price = PriceField()
    transacted_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["venue", "exec_id"], name="execution_venue_exec_id_uniq")]
        indexes = [models.Index(fields=["account", "transacted_at"], name="execution_account_time_idx")]


class OutboxMessage(models.Model):
    """A message for the venues, written in the same transaction as the order change. The FIX
    bridge claims rows in id order with SELECT ... FOR UPDATE SKIP LOCKED."""

    class Kind(models.TextChoices):
        NEW = "new"
        CANCEL = "cancel"
        REPLACE = "replace"

    id = models.BigAutoField(primary_key=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="outbox")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["id"], condition=Q(sent_at__isnull=True), name="outbox_unsent_idx")]
