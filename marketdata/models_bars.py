"""OHLCV bars (docs/marketdata-bars.md). Imported by marketdata/models.py; owned by marketdata.bars.

Two stored timeframes, 1 minute and 1 day, keyed (symbol, start) by a composite primary key (one
index, which also serves every range query). 5Min/15Min/1Hour/... are aggregated from the 1-minute
table at query time. `notional` is sum(price x size), exact, so `vwap` = notional / volume can be
recomputed exactly when a batch of trades is merged into a bar; `open_ts` / `close_ts` are the
timestamps of the trades that set open and close, so a late trade (an earlier exchange timestamp in
a later batch) moves open or close only if it really came first or last.
"""
from django.db import models

from core.fields import PriceField, QtyField


def NotionalField(**kwargs) -> models.DecimalField:  # noqa: N802 - price (6 dp) x qty (9 dp), exact
    return models.DecimalField(max_digits=40, decimal_places=15, **kwargs)


class _Bar(models.Model):
    pk = models.CompositePrimaryKey("symbol", "start")
    symbol = models.CharField(max_length=16)
    start = models.DateTimeField(help_text="UTC start of the bar (daily: New York midnight of the session)")
    open = PriceField()
    high = PriceField()
    low = PriceField()
    close = PriceField()
    volume = QtyField()
    trade_count = models.BigIntegerField()
    vwap = PriceField()
    notional = NotionalField()
    open_ts = models.DateTimeField()
    close_ts = models.DateTimeField()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.symbol} {self.start:%Y-%m-%d %H:%M}"


class MinuteBar(_Bar):
    class Meta:
        db_table = "marketdata_bar_1min"


class DailyBar(_Bar):
    class Meta:
        db_table = "marketdata_bar_1day"


class BarCursor(models.Model):
    """Per venue, the highest feed sequence number already folded into the bars: a replayed batch
    (seq at or below it) is skipped, so a feed that re-sends after a crash does not double volume."""

    venue = models.CharField(max_length=16, primary_key=True)
    seq = models.BigIntegerField()

    class Meta:
        db_table = "marketdata_bar_cursor"
