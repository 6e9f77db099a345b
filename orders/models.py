import uuid

from django.db import models
from django.db.models import Q

from core import vocabulary
from core.fields import MoneyField, NotionalField, PercentField, PriceField, QtyField, text_choices

from .state import OPEN_STATUSES, Status


class Order(models.Model):
    """An order in Alpaca v2's model. Status moves only through orders.services.transition.move,
    which checks orders.state.TRANSITIONS."""

    # The words are core.vocabulary's (OrderSide.BUY == Order.Side.BUY).
    Side = text_choices(vocabulary.OrderSide, module=__name__, qualname="Order.Side")
    Type = text_choices(vocabulary.OrderType, module=__name__, qualname="Order.Type")
    TimeInForce = text_choices(vocabulary.TimeInForce, module=__name__, qualname="Order.TimeInForce")
    OrderClass = text_choices(vocabulary.OrderClass, module=__name__, qualname="Order.OrderClass")

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
    notional = NotionalField(null=True, blank=True, default=None)
    limit_price = PriceField(null=True, blank=True)
    stop_price = PriceField(null=True, blank=True)
    trail_price = PriceField(null=True, blank=True)
    trail_percent = PercentField(null=True, blank=True)
    extended_hours = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_NEW)
    filled_qty = QtyField(default=0)
    filled_avg_price = PriceField(null=True, blank=True)
    # What this order still holds: cash/margin on the account, shares on the position.
    reserved_cash = MoneyField()
    reserved_qty = QtyField(default=0)
    # Shares of a hard-to-borrow short sale reserved in portfolio.ShortLocate (released with the holds).
    located_qty = QtyField(default=0)
    venue = models.CharField(max_length=16, blank=True)
    venue_order_id = models.CharField(max_length=64, blank=True)
    reject_reason = models.CharField(max_length=200, blank=True)
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    # Order classes: a bracket/OTO entry's legs, or an OCO's stop leg, point at their parent (the
    # entry; for OCO the take-profit limit order). Legs wait as `held` until the parent fills.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="legs")
    # Broker-held orders (stops, opg/cls, orders queued while the market is closed): `hwm` is a
    # trailing stop's water mark (highest price for a sell, lowest for a buy) as last persisted
    # (at placement/activation and at the trigger; the trigger runner keeps the live one in
    # memory); `triggered_at`/`trigger_price` record the trigger; `hold_reason` says why an order
    # is still at the broker (waiting for a venue, for its sibling's cancel, for the open).
    hwm = PriceField(null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    trigger_price = PriceField(null=True, blank=True)
    hold_reason = models.CharField(max_length=200, blank=True)
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
            models.CheckConstraint(condition=Q(located_qty__gte=0), name="order_located_qty_non_negative"),
            models.CheckConstraint(condition=Q(filled_qty__gte=0), name="order_filled_qty_non_negative"),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="order_account_created_idx"),
            models.Index(
                fields=["account", "symbol"], condition=Q(status__in=sorted(OPEN_STATUSES)), name="order_open_idx"
            ),
            # The trigger runner's load of every broker-held order (orders/trigger_runner.py).
            models.Index(fields=["symbol"], condition=Q(status="accepted"), name="order_held_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.qty or self.notional} {self.symbol} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def alpaca_qty(self):
        """`qty` as Alpaca reports it: null for a notional order (whose qty TradeX decides at
        acceptance, docs/fractional.md, and keeps in `qty` for the fill path)."""
        return None if self.notional is not None else self.qty

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
    bridge claims rows in id order with SELECT ... FOR UPDATE SKIP LOCKED.

    A row is waiting (sent_at and parked_at empty), sent (sent_at: committed before the message
    is handed to QuickFIX, so what may have reached a venue is always known), or parked (its
    message cannot be built: parked_at and park_reason, audited, the order given an answer).
    """

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
    # Times the row was marked sent: a venue that still does not know it after a few is not sent
    # it again (orders/services/venue_reports.py, order_venue_resend).
    attempts = models.PositiveSmallIntegerField(default=0)
    parked_at = models.DateTimeField(null=True, blank=True)
    park_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["id"], condition=Q(sent_at__isnull=True, parked_at__isnull=True),
                                name="outbox_waiting_idx")]


class Venue(models.Model):
    """A venue the broker routes to, and the state of its FIX session as the bridge last saw it.
    Written by the FIX bridge (session up/down) and by staff (halt); read by routing."""

    class Session(models.TextChoices):
        UP = "up"
        DOWN = "down"

    name = models.CharField(max_length=16, primary_key=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    session = models.CharField(max_length=4, choices=Session.choices, default=Session.DOWN)
    session_changed_at = models.DateTimeField(null=True, blank=True)
    # Staff halt: no new orders are routed here; working orders stay (cancel them explicitly).
    halted = models.BooleanField(default=False)
    halt_reason = models.CharField(max_length=200, blank=True)
    # Routing prefers the cheapest venue; blank symbols means every symbol is listed.
    fee_per_share = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    symbols = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.session}{', halted' if self.halted else ''})"

    def lists(self, symbol: str) -> bool:
        return not self.symbols or symbol in self.symbols


class TradeUpdate(models.Model):
    """One event of an account's trade-updates stream, numbered 1, 2, 3 … per account with no gap.

    Written by orders.events.publish_trade_update in the transaction that made the change, under
    the account lock (held by every caller), so `seq` is max + 1 in one statement: it is dense (a
    rolled-back number is reused by the next commit, so a client sees no hole) and committed in seq
    order. The unique constraint turns a writer that forgot the lock into an error, not a duplicate.
    The stream (orders.consumers) replays rows after a client's last seq, so reconnects lose nothing.

    Retention: orders.events.trade_updates_prune deletes rows older than
    settings.TRADE_UPDATES_RETENTION_DAYS but always keeps each account's latest row, which carries
    the numbering on.
    """

    id = models.BigAutoField(primary_key=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    seq = models.BigIntegerField()
    event = models.CharField(max_length=32)
    # The `data` of the stream frame (Alpaca's trade update: event, order, timestamp, price, ...).
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "seq"], name="trade_update_account_seq_uniq")]

    def __str__(self) -> str:
        return f"{self.account_id} #{self.seq} {self.event}"
