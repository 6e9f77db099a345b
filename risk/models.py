from django.db import models
from django.db.models import Q

from tradex.fields import MoneyField, QtyField


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
    """A halt on one symbol, or on everything (symbol blank: the kill switch)."""

    symbol = models.CharField(max_length=16, blank=True, db_index=True)
    reason = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["symbol"], condition=Q(lifted_at__isnull=True), name="halt_active_idx")]

    def __str__(self) -> str:
        return f"halt {self.symbol or 'ALL'}: {self.reason}"


class DayTradeCount(models.Model):
    """Day trades per account per trading day: a maintained counter, so the pattern-day-trader check
    reads five rows instead of scanning order history (the seed's Issue 1)."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    trade_date = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "trade_date"], name="daytrade_account_date_uniq")]
