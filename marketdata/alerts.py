"""Price alerts in the feed's memory: per price source (last trade, best bid, best ask) and symbol,
sorted thresholds, so checking a price costs a bisection, never a query. The book is loaded at start (alerts survive a restart) and reloaded by
watermark when the API bumps ALERTS_VERSION_KEY in the cache (one cache read per batch)."""
from __future__ import annotations

from decimal import Decimal

from django.core.cache import cache
from django.db import connection
from sortedcontainers import SortedList

from .models import PriceAlert

ALERTS_VERSION_KEY = "md:alerts:version"


class AlertBook:
    def __init__(self):
        # {(source, symbol): SortedList of (price, id)}: fire when the source's price >= / <= price
        self._above: dict[tuple[str, str], SortedList] = {}
        self._below: dict[tuple[str, str], SortedList] = {}
        self._where: dict[str, tuple[tuple[str, str], Decimal, str]] = {}  # id -> ((source, symbol), price, condition)
        self._quote_alerts = 0  # active alerts watching a bid or an ask
        self._watermark = None
        self._version = None

    def __len__(self) -> int:
        return len(self._where)

    def load(self) -> None:
        self._version = cache.get(ALERTS_VERSION_KEY)
        self._apply(PriceAlert.objects.order_by("updated_at"))
        connection.close()

    def refresh_if_changed(self) -> None:
        version = cache.get(ALERTS_VERSION_KEY)
        if version != self._version:
            self._version = version
            qs = PriceAlert.objects.order_by("updated_at")
            if self._watermark is not None:
                qs = qs.filter(updated_at__gte=self._watermark)  # >=: same-microsecond writes
            self._apply(qs)

    def _apply(self, alerts) -> None:
        for alert in alerts.only("id", "symbol", "condition", "source", "price", "status", "updated_at"):
            key = str(alert.id)
            self._discard(key)
            if alert.status == PriceAlert.Status.ACTIVE:
                side = self._above if alert.condition == PriceAlert.Condition.ABOVE else self._below
                watched = (alert.source, alert.symbol)
                side.setdefault(watched, SortedList()).add((alert.price, key))
                self._where[key] = (watched, alert.price, alert.condition)
                self._quote_alerts += alert.source != PriceAlert.Source.LAST
            self._watermark = alert.updated_at

    def watches_quotes(self) -> bool:
        """Whether any active alert watches a bid or an ask (else quotes need no checking)."""
        return self._quote_alerts > 0

    def _discard(self, key: str) -> None:
        where = self._where.pop(key, None)
        if where is not None:
            watched, price, condition = where
            self._quote_alerts -= watched[0] != PriceAlert.Source.LAST
            side = self._above if condition == PriceAlert.Condition.ABOVE else self._below
            side[watched].discard((price, key))

    def due(self, prices: dict[str, Decimal], source: str = PriceAlert.Source.LAST) -> list[tuple[str, Decimal]]:
        """(alert id, the price that crossed it) for every alert on `source` the prices reach."""
        out = []
        for symbol, price in prices.items():
            above = self._above.get((source, symbol))
            if above:
                out += [(key, price) for _, key in above.irange(maximum=(price, "\uffff"))]
            below = self._below.get((source, symbol))
            if below:
                out += [(key, price) for _, key in below.irange(minimum=(price, ""))]
        return out

    def remove(self, due: list[tuple[str, Decimal]]) -> None:
        for key, _ in due:
            self._discard(key)
