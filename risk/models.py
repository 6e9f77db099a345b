from django.db import models
from django.db.models import Q

from core.fields import MoneyField, QtyField


class RiskLimits(models.Model):
    """Per-account overrides of the house limits (settings.TRADEX_*); a blank field means the
    house default applies."""

    account = models.OneToOneField("accounts.Account", on_delete=models.CASCADE, related_name="risk_limits")
    max_order_notional = MoneyField(null=True, blank=True, default=None)
    max_order_qty = QtyField(null=True, blank=True)
    max_position_qty = QtyField(null=True, blank=True)
    max_concentration = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    max_open_orders_per_symbol = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "risk limits"

    def __str__(self) -> str:
        return f"limits for {self.account_id}"


class TradingHalt(models.Model):
    """A halt of trading, by scope (DESIGN: risk owns halts, circuit breakers and the kill switch):

    - symbol set, no account: that symbol, for everyone (staff, a circuit breaker, or a venue);
    - account set, symbol blank: everything that account trades;
    - neither: everything, firm-wide (the kill switch).

    A halt is active while `lifted_at` is null and `resume_at` (the auto-lift time of a circuit-breaker
    halt) is null or still ahead: the checks read exactly that condition (risk.inputs.ACTIVE), so an
    expired halt stops refusing orders at its resume_at with no job running; halt_lift_expired then
    writes its lifted_at for the record. Halts are history: written and lifted only by risk.services,
    never deleted. At most one active halt per (scope, source, venue): setting an equal one returns it.
    """

    class Source(models.TextChoices):
        STAFF = "staff"
        CIRCUIT_BREAKER = "circuit_breaker"
        VENUE = "venue"

    symbol = models.CharField(max_length=16, blank=True)
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="trading_halts")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.STAFF)
    venue = models.CharField(max_length=16, blank=True, help_text="the venue that reported the halt")
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    resume_at = models.DateTimeField(null=True, blank=True, help_text="lifted automatically at this time")
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(account__isnull=True) | Q(symbol=""), name="halt_account_or_symbol",
                                  violation_error_message="halt a symbol or an account, not both"),
            # One active halt per scope, source and venue (also the indexes of the checks' lookups).
            models.UniqueConstraint(fields=["symbol", "source", "venue"], name="halt_market_active_uniq",
                                    condition=Q(lifted_at__isnull=True, account__isnull=True)),
            models.UniqueConstraint(fields=["account", "source", "venue"], name="halt_account_active_uniq",
                                    condition=Q(lifted_at__isnull=True, account__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"halt {self.scope}: {self.reason}"

    @property
    def scope(self) -> str:
        if self.account_id:
            return f"account {self.account_id}"
        return self.symbol or "ALL"


class DayTradeCount(models.Model):
    """Day trades per account per trading day: a maintained counter, so the pattern-day-trader check
    reads five rows instead of scanning order history."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    trade_date = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "trade_date"], name="daytrade_account_date_uniq")]
