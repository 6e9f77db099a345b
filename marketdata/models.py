import uuid

from django.db import models

from tradex.fields import PriceField


class Asset(models.Model):
    """A tradable instrument (Alpaca's asset model). `last_price` is the last trade the broker has
    seen; the feed keeps it and the latest-quote cache current."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    symbol = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    exchange = models.CharField(max_length=16, default="NASDAQ")
    asset_class = models.CharField(max_length=16, default="us_equity")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)
    tradable = models.BooleanField(default=True)
    marginable = models.BooleanField(default=True)
    shortable = models.BooleanField(default=True)
    easy_to_borrow = models.BooleanField(default=True)
    fractionable = models.BooleanField(default=True)
    last_price = PriceField(null=True, blank=True)
    prev_close = PriceField(null=True, blank=True)

    def __str__(self) -> str:
        return self.symbol


# --- bars (marketdata/models_bars.py; owned by marketdata.bars) --------------------------------
from .models_bars import BarCursor, DailyBar, MinuteBar  # noqa: E402,F401
