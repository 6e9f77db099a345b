from django.db import models
from django.db.models import Q

from tradex.fields import MoneyField, PriceField, QtyField


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

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty}"

    @property
    def cost_basis(self):
        return self.qty * self.avg_entry_price
