"""The feed handler (`manage.py run_feed`): every venue's feed in, consolidated market data out.

Threads, so that nothing waits on anything slower than itself:

    venue clients (one each)  --records-->  hot loop  --columns-->  store loop
                                               |                      |
                       books, consolidated BBO, quote cache,         binary COPY into the tick
                       per-symbol groups (conflated), alerts,        store, one transaction per
                       price listeners                               batch; bars from the trades

The hot loop takes everything that has arrived as one batch (a burst makes a bigger batch, not a
longer queue), keeps each venue's top of book per symbol in numpy arrays and the consolidated
best bid and offer across venues, and hands the batch's rows to the store loop, which stores
whatever has accumulated in one COPY. Counters say what was received, stored and published.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import orjson
from django.db import close_old_connections, connection, transaction

from core.wire import feed_protocol as fp
from marketdata import quote_cache
from marketdata.alerts import AlertBook
from marketdata.bars import bars_close_due
from marketdata.indicators import indicators_latest
from marketdata.models import FeedSymbol, FeedVenue, PriceAlert
from marketdata.selectors import LAST_PRICE_KEY, QUOTE_KEY, TRADE_KEY
from marketdata.services import alerts_fire
from marketdata.ticks import TradeTick
from marketdata.ticks import store as tickstore

from ..messages import price_text, quote_message, rfc3339, trade_message
from .client import VenueFeedClient
from .publisher import ConflatingPublisher

log = logging.getLogger(__name__)

# The feed process hands each batch between threads (client -> hot loop -> publisher); Python's
# default GIL switch interval (5 ms) would be paid at each hand-off while another thread computes.
FEED_SWITCH_INTERVAL = 0.0005
STORE_MAX_ROWS = 200_000  # rows per COPY at most (a long backlog is stored in several)
# Streamed with every closed 1-minute bar (marketdata.indicators spec syntax).
STREAM_INDICATORS = "sma:20,ema:12,rsi:14,macd:12:26:9,bbands:20:2,vwap"


@dataclass
class HandlerCounters:
    batches: int = 0
    quotes_received: int = 0
    trades_received: int = 0
    quotes_stored: int = 0
    trades_stored: int = 0
    store_errors: int = 0
    alerts_fired: int = 0
    hot_seconds: float = 0.0    # time spent in batches (books, cache, publish, alerts, listeners)
    store_seconds: float = 0.0  # time spent writing the tick store


class FeedHandler:
    def __init__(self, venues: Iterable[tuple[str, str, int]], *, publisher: ConflatingPublisher | None = None,
                 listeners: Iterable = (), trade_sinks: Iterable[Callable[[list[TradeTick]], object]] = (),
                 store: bool = True):
        self.venues = list(venues)
        self.publisher = publisher or ConflatingPublisher()
        self.listeners = list(listeners)
        self.trade_sinks = list(trade_sinks)
        self.store_enabled = store
        self.counters = HandlerCounters()
        self.alerts = AlertBook()
        self._indicators: dict = {}  # symbol -> IndicatorSet (store thread only)
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._store_q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._symbols: list[str] = [""]           # handler id -> symbol (id 0 unused)
        self._symbol_ids: dict[str, int] = {}
        self._resolve_lock = threading.Lock()
        self._venue_ids = [v.id for v in (FeedVenue.objects.get_or_create(name=name)[0] for name, _, _ in self.venues)]
        nv = len(self.venues)
        self._cap = 0
        self._bid = self._bid_sz = self._ask = self._ask_sz = self._qts = np.zeros((nv, 0), dtype=np.int64)
        self._grow(1024)
        self.clients = [VenueFeedClient(i, name, host, port, sink=self._receive, resolve=self._resolve,
                                        on_disconnect=self._venue_down)
                        for i, (name, host, port) in enumerate(self.venues)]
        self._hot = threading.Thread(target=self._hot_loop, name="feed-hot", daemon=True)
        self._storer = threading.Thread(target=self._store_loop, name="feed-store", daemon=True)
        self.stored = threading.Condition()  # notified after every committed COPY

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FeedHandler:
        if self.store_enabled:
            tickstore.partitions_maintain()
        self.alerts.load()
        self._hot.start()
        self._storer.start()
        for client in self.clients:
            client.start()
        return self

    def stop(self) -> None:
        """Stop reading, then store everything already read (a clean stop loses nothing)."""
        for client in self.clients:
            client.stop()
        self._stop.set()
        self._inbox.put(None)
        self._hot.join(timeout=30)
        self._store_q.put(None)
        self._storer.join(timeout=60)
        self.publisher.wait_idle(5)
        for listener in self.listeners:
            close = getattr(listener, "close", None)
            if close is not None:
                close()

    def stats(self) -> dict:
        """Everything counted, by venue: what a drop would show up in."""
        return {"handler": asdict(self.counters), "publisher": asdict(self.publisher.counters),
                "venues": {c.name: {**asdict(c.counters), "connected": c.connected.is_set()} for c in self.clients},
                "alerts_active": len(self.alerts)}

    def wait_stored(self, quotes: int, trades: int = 0, timeout: float = 30) -> bool:
        with self.stored:
            return self.stored.wait_for(lambda: self.counters.quotes_stored >= quotes
                                        and self.counters.trades_stored >= trades, timeout)

    # ------------------------------------------------------------------ from the venue clients

    def _resolve(self, directory: dict[int, str]) -> dict[int, int]:
        """Venue symbol ids -> handler ids (FeedSymbol rows, created for new symbols)."""
        with self._resolve_lock:
            new = sorted(set(directory.values()) - set(self._symbol_ids))
            if new:
                FeedSymbol.objects.bulk_create([FeedSymbol(symbol=s) for s in new], ignore_conflicts=True)
                for fs in FeedSymbol.objects.filter(symbol__in=new):
                    while len(self._symbols) <= fs.id:
                        self._symbols.append("")
                    self._symbols[fs.id] = fs.symbol
                    self._symbol_ids[fs.symbol] = fs.id
                connection.close()  # a client thread: don't keep a connection per venue
            return {venue_id: self._symbol_ids[s] for venue_id, s in directory.items() if s in self._symbol_ids}

    def _receive(self, venue: int, records: np.ndarray, snapshot: bool) -> None:
        self._inbox.put((venue, records, snapshot))

    def _venue_down(self, venue: int) -> None:
        self._inbox.put((venue, None, False))

    # ------------------------------------------------------------------ hot loop

    def _hot_loop(self) -> None:
        while True:
            item = self._inbox.get()
            items = [item]
            while True:  # everything that has arrived is one batch
                try:
                    items.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            done = any(i is None for i in items)
            started = time.perf_counter()
            try:
                self._batch([i for i in items if i is not None])
            except Exception:
                log.exception("feed batch failed")
            self.counters.hot_seconds += time.perf_counter() - started
            if done:
                connection.close()
                return

    def _batch(self, items: list) -> None:
        self.counters.batches += 1
        touched_q, touched_t = [], []
        trades_out: list[tuple[int, np.ndarray]] = []
        rows_q, rows_t = [], []
        for venue, records, snapshot in items:
            if records is None:  # venue disconnected: its quotes no longer stand
                self._clear_venue(venue)
                continue
            if len(records) and int(records["symbol_id"].max()) >= self._cap:
                self._grow(int(records["symbol_id"].max()) + 1)
            quotes = records[records["kind"] == fp.QUOTE]
            trades = records[records["kind"] == fp.TRADE]
            if len(quotes):
                self._apply_quotes(venue, quotes)
                touched_q.append(quotes["symbol_id"])
            if len(trades):
                trades_out.append((venue, trades))
                touched_t.append(trades["symbol_id"])
            if not snapshot:  # a snapshot restates ticks, it is not new ones: never stored
                self.counters.quotes_received += len(quotes)
                self.counters.trades_received += len(trades)
                if len(quotes):
                    rows_q.append((venue, quotes))
                if len(trades):
                    rows_t.append((venue, trades))
        if rows_q or rows_t:
            self._store_q.put((rows_q, rows_t))
        moved_q = np.unique(np.concatenate(touched_q)) if touched_q else np.zeros(0, dtype=np.uint32)
        live_trades = [(v, t) for v, t in trades_out]
        self._publish(moved_q, live_trades)

    def _grow(self, need: int) -> None:
        cap = max(need, self._cap * 2, 1024)
        def grown(a):
            out = np.zeros((len(self.venues), cap), dtype=np.int64)
            out[:, :a.shape[1]] = a
            return out
        self._bid, self._bid_sz, self._ask, self._ask_sz, self._qts = map(
            grown, (self._bid, self._bid_sz, self._ask, self._ask_sz, self._qts))
        self._cap = cap

    def _apply_quotes(self, venue: int, quotes: np.ndarray) -> None:
        ids, idx = np.unique(quotes["symbol_id"][::-1], return_index=True)
        last = quotes[::-1][idx]  # each symbol's latest quote in this batch
        self._bid[venue, ids] = last["px"]
        self._bid_sz[venue, ids] = last["sz"]
        self._ask[venue, ids] = last["ask"]
        self._ask_sz[venue, ids] = last["ask_sz"]
        self._qts[venue, ids] = last["ts_ns"]

    def _clear_venue(self, venue: int) -> None:
        moved = np.nonzero(self._bid[venue] | self._ask[venue])[0].astype(np.uint32)
        for a in (self._bid, self._bid_sz, self._ask, self._ask_sz, self._qts):
            a[venue, :] = 0
        self._publish(moved, [])

    def consolidated(self, ids: np.ndarray) -> dict[str, np.ndarray]:
        """Best bid (highest) and offer (lowest non-empty) across venues, with venue and size."""
        bids = self._bid[:, ids]
        asks = np.where(self._ask[:, ids] > 0, self._ask[:, ids], np.iinfo(np.int64).max)
        bv = bids.argmax(axis=0)
        av = asks.argmin(axis=0)
        cols = np.arange(len(ids))
        ask = asks[av, cols]
        return {"bid": bids[bv, cols], "bid_sz": self._bid_sz[:, ids][bv, cols], "bid_venue": bv,
                "ask": np.where(ask == np.iinfo(np.int64).max, 0, ask), "ask_sz": self._ask_sz[:, ids][av, cols],
                "ask_venue": av, "ts": self._qts[:, ids].max(axis=0)}

    def _publish(self, moved_q: np.ndarray, trades: list[tuple[int, np.ndarray]]) -> None:
        updates: dict[str, dict] = {}
        cache_values: dict[str, str | dict] = {}
        names = [v[0] for v in self.venues]
        if len(moved_q):
            best = self.consolidated(moved_q)
            for i, sid in enumerate(moved_q.tolist()):
                symbol = self._symbols[sid]
                q = quote_message(symbol, names[best["bid_venue"][i]], int(best["bid"][i]), int(best["bid_sz"][i]),
                                  names[best["ask_venue"][i]], int(best["ask"][i]), int(best["ask_sz"][i]),
                                  int(best["ts"][i]))
                updates[symbol] = {"q": q, "t": [], "b": []}
                cache_values[QUOTE_KEY.format(symbol)] = _cached(q)
        last_trade: dict[str, dict] = {}
        ticks: list[TradeTick] = []
        for venue, rows in trades:
            name = names[venue]
            for r in rows.tolist():  # (seq, ts_ns, symbol_id, kind, flags, pad, px, sz, ask, ask_sz)
                symbol = self._symbols[r[2]]
                t = trade_message(symbol, name, r[0], r[6], r[7], r[1])
                updates.setdefault(symbol, {"q": None, "t": [], "b": []})["t"].append(t)
                last_trade[symbol] = t
                if self.trade_sinks:
                    ticks.append(TradeTick(symbol, name, Decimal(t["p"]), Decimal(t["s"]), _dt(r[1]), int(r[0])))
        last_prices = {symbol: Decimal(t["p"]) for symbol, t in last_trade.items()}
        for symbol, t in last_trade.items():
            cache_values[TRADE_KEY.format(symbol)] = _cached(t)
            cache_values[LAST_PRICE_KEY.format(symbol)] = t["p"]
        if cache_values:
            try:
                quote_cache.set_many(cache_values)
            except Exception:
                log.exception("quote cache not updated")
        self.publisher.offer(updates)
        self._check_alerts(last_prices, updates)
        if last_prices:
            for listener in self.listeners:
                try:
                    listener.on_prices(last_prices)
                except Exception:
                    log.exception("feed listener %r failed", listener)
            if ticks and self.trade_sinks:
                self._store_q.put(("trades", ticks))

    def _check_alerts(self, last_prices: dict[str, Decimal], updates: dict[str, dict]) -> None:
        self.alerts.refresh_if_changed()
        due = self.alerts.due(last_prices, PriceAlert.Source.LAST)
        if self.alerts.watches_quotes():  # Decimal quotes only when some alert watches a bid or ask
            quotes = [u["q"] for u in updates.values() if u["q"]]
            for source, key in ((PriceAlert.Source.BID, "bp"), (PriceAlert.Source.ASK, "ap")):
                due += self.alerts.due({q["S"]: Decimal(q[key]) for q in quotes if q[key] != "0"}, source)
        if due:
            fired = alerts_fire(due=due)
            self.alerts.remove(due)
            self.counters.alerts_fired += len(fired)

    # ------------------------------------------------------------------ store loop

    def _store_loop(self) -> None:
        while True:
            try:
                item = self._store_q.get(timeout=1.0)
            except queue.Empty:  # a quiet second: report bars whose minute ended with no later trade
                self._bars_due()
                continue
            items = [item]
            while True:
                try:
                    items.append(self._store_q.get_nowait())
                except queue.Empty:
                    break
            done = any(i is None for i in items)
            quotes = [r for i in items if i is not None and i[0] != "trades" for r in i[0]]
            trades = [r for i in items if i is not None and i[0] != "trades" for r in i[1]]
            ticks = [t for i in items if i is not None and i[0] == "trades" for t in i[1]]
            if self.store_enabled and (quotes or trades):
                started = time.perf_counter()
                self._store(quotes, trades)
                self.counters.store_seconds += time.perf_counter() - started
            if ticks:
                for sink in self.trade_sinks:
                    try:
                        self._publish_bars(sink(ticks))
                    except Exception:
                        log.exception("trade sink %r failed", sink)
            close_old_connections()
            if done:
                connection.close()
                return

    def _publish_bars(self, bars) -> None:
        """Closed (and corrected) 1-minute bars from a trade sink, to their symbols' groups, each
        closed bar with the symbol's streaming indicators after it ("i")."""
        updates: dict[str, dict] = {}
        for bar in bars or ():
            update = updates.setdefault(bar["S"], {"q": None, "t": [], "b": []})
            update["b"].append(bar)
            if bar["T"] == "b":
                values = self._indicator_values(bar)
                if values is not None:
                    update["i"] = values
        self.publisher.offer(updates)

    def _indicator_values(self, bar: dict) -> dict | None:
        """{"T": "i", "S", "t", "v": {spec: value}} after a closed 1-minute bar. The state is warmed
        up on the stored bars before this one the first time a symbol closes a bar."""
        symbol = bar["S"]
        try:
            state = self._indicators.get(symbol)
            if state is None:
                start = datetime.fromisoformat(bar["t"].replace("Z", "+00:00"))
                state = self._indicators[symbol] = indicators_latest(symbol, STREAM_INDICATORS,
                                                                     now=start - timedelta(microseconds=1))
            return {"T": "i", "S": symbol, "t": bar["t"], "v": state.update(bar)}
        except Exception:
            log.exception("indicators for %s not computed", symbol)
            return None

    def _bars_due(self) -> None:
        if not self.trade_sinks:
            return

        try:
            self._publish_bars(bars_close_due())
        except Exception:
            log.exception("closing due bars failed")

    def _store(self, quotes: list, trades: list) -> None:
        q_cols = self._columns(quotes, {"bid": "px", "bid_size": "sz", "ask": "ask", "ask_size": "ask_sz"})
        t_cols = self._columns(trades, {"price": "px", "size": "sz"})
        for attempt in range(3):
            try:
                tickstore_write(q_cols, t_cols)
                break
            except Exception:
                self.counters.store_errors += 1
                log.exception("tick store write failed (attempt %d)", attempt + 1)
                connection.close()
        else:
            return  # counted; the counters show stored < received
        with self.stored:
            self.counters.quotes_stored += len(q_cols["ts"]) if q_cols else 0
            self.counters.trades_stored += len(t_cols["ts"]) if t_cols else 0
            self.stored.notify_all()

    def _columns(self, parts: list[tuple[int, np.ndarray]], fields: dict[str, str]) -> dict[str, np.ndarray] | None:
        if not parts:
            return None
        records = np.concatenate([r for _, r in parts])
        venues = np.concatenate([np.full(len(r), self._venue_ids[v], dtype=np.int16) for v, r in parts])
        cols = {"ts": records["ts_ns"], "symbol_id": records["symbol_id"].astype(np.int32), "venue_id": venues,
                "seq": records["seq"].astype(np.int64)}
        for column, field in fields.items():
            cols[column] = records[field]
        return cols


# What this process knows of the tick store's layout: partitioned or not, days known to exist.
_layout: dict = {"partitioned": None, "days": set()}


def tickstore_write(quotes: dict | None, trades: dict | None) -> None:
    """One transaction: both COPYs, partitions created first for the days the rows fall on."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                if _layout["partitioned"] is None:
                    _layout["partitioned"] = tickstore.partitioned()
                if _layout["partitioned"]:
                    days = set()
                    for cols in (quotes, trades):
                        if cols is not None:
                            days |= {datetime.fromtimestamp(int(d) * 86400, timezone.utc).date()
                                     for d in np.unique(cols["ts"] // 86_400_000_000_000)}
                    if days - _layout["days"]:  # a day this process has not made sure of yet
                        tickstore.partitions_ensure(cursor, days)
                        _layout["days"] |= days
                for table, cols in ((tickstore.QUOTES, quotes), (tickstore.TRADES, trades)):
                    if cols is None:
                        continue
                    for start in range(0, len(cols["ts"]), STORE_MAX_ROWS):
                        part = {k: v[start:start + STORE_MAX_ROWS] for k, v in cols.items()}
                        with cursor.copy(f"COPY {table} ({', '.join(tickstore.COLUMNS[table])}) "
                                         f"FROM STDIN (FORMAT BINARY)") as copy:
                            copy.write(tickstore.encode_copy(table, part))
        else:
            with connection.cursor() as cursor:
                for table, cols in ((tickstore.QUOTES, quotes), (tickstore.TRADES, trades)):
                    if cols is None:
                        continue
                    columns = tickstore.COLUMNS[table]
                    cursor.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                       f"({', '.join(['%s'] * len(columns))})", tickstore.rows_for_sqlite(table, cols))


def _cached(message: dict) -> str:
    """The cache's form of a stream message: the REST fields as JSON text (selectors.latest_*)."""
    return orjson.dumps({k: v for k, v in message.items() if k not in ("T", "S")}).decode()


def _dt(ts_ns: int) -> datetime:
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, timezone.utc).replace(microsecond=ts_ns // 1000 % 1_000_000)


__all__ = ["FeedHandler", "tickstore_write", "price_text", "rfc3339"]
