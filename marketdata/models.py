import uuid

from django.db import models

from core.fields import PriceField


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


# ---------------------------------------------------------------- feed: tick-store codes, alerts

class FeedSymbol(models.Model):
    """A symbol's compact id in the tick store (an int4 column instead of text in every row). The
    feed handler adds symbols as venues list them; firehose symbols need no Asset."""

    id = models.AutoField(primary_key=True)
    symbol = models.CharField(max_length=16, unique=True)

    def __str__(self) -> str:
        return self.symbol


class FeedVenue(models.Model):
    id = models.SmallAutoField(primary_key=True)
    name = models.CharField(max_length=16, unique=True)

    def __str__(self) -> str:
        return self.name


class PriceAlert(models.Model):
    """Fires once when the watched price (`source`: the last trade, the best bid or the best ask of
    the consolidated market) crosses `price` in the direction of `condition`."""

    class Condition(models.TextChoices):
        ABOVE = "above"  # watched >= price
        BELOW = "below"  # watched <= price

    class Source(models.TextChoices):
        LAST = "last"
        BID = "bid"
        ASK = "ask"

    class Status(models.TextChoices):
        ACTIVE = "active"
        TRIGGERED = "triggered"
        CANCELED = "canceled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="price_alerts")
    symbol = models.CharField(max_length=16)
    condition = models.CharField(max_length=5, choices=Condition.choices)
    source = models.CharField(max_length=4, choices=Source.choices, default=Source.LAST)
    price = PriceField()
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)  # the feed reloads by this watermark
    triggered_at = models.DateTimeField(null=True, blank=True)
    triggered_price = PriceField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "symbol"], name="alert_status_symbol")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.condition} {self.price}"
# --- bars (marketdata/models_bars.py; owned by marketdata.bars) --------------------------------
from .models_bars import BarCursor, DailyBar, MinuteBar  # noqa: E402,F401
