"""The margin monitor and live P&L pusher, a listener of the market-data feed.

The feed (`manage.py run_feed`) loads `settings.TRADEX_FEED_LISTENERS` (by default
`workflows.margin_calls.feed_listener`, which builds this monitor with the margin-call workflow)
and calls `on_prices({symbol: last trade price})` once per batch with the symbols that moved.
That call is the hot path and touches only memory:

- for each moved symbol, each account holding it gets its long or short market value and its
  maintenance requirement moved by qty x (new - old) and |qty| x (new - old) x rate: accounts not
  holding a moved symbol are not looked at, and nothing is recomputed from scratch;
- a margin account whose equity crosses its requirement (either way) is queued as an *event*;
- a watched account (someone listens to its `account_updates`) is queued for a push, conflated to
  at most TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND per account.

A worker thread (or `run_pending()` in tests and benches) does everything that touches the
database, off the hot path: each event goes to the `on_margin_event` callable the monitor was
built with (workflows.margin_calls, whose feed_listener builds the monitor the feed runs: it
re-checks under the account lock from the rows and issues, resolves or liquidates the call, in
its own transactions), every minute to its `enforce` callable (margin calls past their deadline);
and every TRADEX_MONITOR_REFRESH_SECONDS it reloads the accounts changed since its watermark. A
monitor built without them values and pushes only.

The arithmetic and the rule for a missing price are risk.margin's: a position is marked at its
last price, or at its average entry price while it has none; a feed price that is not positive
is no price and is ignored. The hot path applies the same per-symbol rates incrementally.

How the monitor learns of fills and cash moves (the watermark refresh): a fill updates the
position row (`updated_at`, indexed) and writes a journal entry (`created_at`, indexed); a deposit
writes a journal entry. Each refresh reads the ids of accounts with either since the last refresh
(minus REFRESH_OVERLAP, so a transaction that committed late is still seen), loads those accounts
(cash, type, positions: three queries however many), and hands them to the hot path, which swaps
them in and recomputes their figures at the current prices. So a fill is reflected within about
one refresh interval; pushes after a fill do not wait for it (position_apply_fill pushes on commit).
"""
import logging
import threading
import time
import uuid
from collections import deque
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import Account, JournalEntry
from core.api import dec_str
from core.realtime import publisher
from core.values import money
from marketdata.groups import account_group
from marketdata.selectors import last_prices
from risk.margin import (
    initial_requirement,
    is_price,
    long_market_value,
    maintenance_rate,
    mark,
    marks,
    short_market_value,
)

from .last_close import equity_at_last_close
from .margin import OPEN_CALL, house_rates
from .models import MarginCall, Position
from .push import account_message, watched_accounts

log = logging.getLogger(__name__)
ZERO = Decimal(0)
REFRESH_OVERLAP = timedelta(seconds=5)
# Status and type changes, and house rates, have no watermark: reload everything this often.
FULL_RELOAD_SECONDS = 300
ENFORCE_SECONDS = 60  # how often the worker liquidates margin calls past their deadline


class AccountState:
    """One account in memory. qty/avg: {symbol: Decimal}."""

    __slots__ = ("id", "user_id", "margin", "cash", "qty", "avg", "mv", "req", "cost",
                 "last_equity", "in_call", "below_level", "last_push")

    def __init__(self, id, user_id, margin, cash, qty, avg, last_equity=ZERO, in_call=False):
        self.id, self.user_id, self.margin, self.cash = id, user_id, margin, cash
        self.qty, self.avg = qty, avg
        # The previous close's equity (portfolio.last_close): fixed through the day, not revalued.
        self.last_equity = last_equity
        self.in_call, self.below_level, self.last_push = in_call, False, 0.0
        self.mv = self.req = self.cost = ZERO  # mv: net market value (shorts negative)

    def revalue(self, prices: dict, rates: dict, default_rate: Decimal) -> None:
        mv = req = cost = ZERO
        for symbol, q in self.qty.items():
            value = q * mark(prices.get(symbol), self.avg[symbol])
            mv += value
            req += abs(value) * maintenance_rate(symbol, rates, default_rate)
            cost += q * self.avg[symbol]
        self.mv, self.req, self.cost = mv, req, cost

    @property
    def equity(self) -> Decimal:
        return self.cash + self.mv

    def marks(self, prices: dict) -> dict:
        return marks(self.avg, prices)

    def _valued(self, marked: dict) -> dict:
        # A position marked at an entry price of 0 (no price, no cost) is worth nothing either way.
        return {s: q for s, q in self.qty.items() if is_price(marked[s])}

    def sides(self, prices: dict) -> tuple[Decimal, Decimal]:
        """Long and short market value (computed when pushed; the hot path keeps only the net)."""
        marked = self.marks(prices)
        held = self._valued(marked)
        return long_market_value(held, marked), short_market_value(held, marked)

    def figures(self, prices: dict, rates: dict, reg_t: Decimal, short_initial: Decimal) -> dict:
        """What a price-move push carries (Alpaca account field names, plus TradeX's margin ones),
        by GET /v2/account's arithmetic (risk.margin): the initial margin with the house rates."""
        equity = self.equity
        marked = self.marks(prices)
        held = self._valued(marked)
        long_mv, short_mv = long_market_value(held, marked), short_market_value(held, marked)
        initial = initial_requirement(held, marked, rates, reg_t_initial=reg_t, short_initial=short_initial)
        return {
            "id": str(self.id), "equity": dec_str(_cents(equity)), "portfolio_value": dec_str(_cents(equity)),
            "last_equity": dec_str(_cents(self.last_equity)), "cash": dec_str(_cents(self.cash)),
            "long_market_value": dec_str(_cents(long_mv)), "short_market_value": dec_str(_cents(short_mv)),
            "initial_margin": dec_str(_cents(initial)) if self.margin else "0",
            "maintenance_margin": dec_str(_cents(self.req)) if self.margin else "0",
            "margin_excess": dec_str(_cents(equity - self.req)) if self.margin else None,
            "unrealized_pl": dec_str(_cents(self.mv - self.cost)),
            "unrealized_intraday_pl": dec_str(_cents(equity - self.last_equity)),
            "as_of": timezone.now().isoformat().replace("+00:00", "Z"),
        }


CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


class PortfolioMonitor:
    def __init__(self, *, publish=None, threaded: bool = False, push_per_second=None, refresh_seconds=None,
                 liquidation_level=None, on_margin_event=None, enforce=None):
        self.accounts: dict = {}  # account id -> AccountState
        # symbol -> {account id: (AccountState, qty, |qty| x rate)}: what a move of the symbol needs
        self.holders: dict[str, dict] = {}
        self.holder_states: dict[str, dict] = {}  # symbol -> {account id: AccountState}, for dict.update
        self.prices: dict[str, Decimal] = {}
        self.rates: dict[str, Decimal] = {}
        self.default_rate = settings.TRADEX_MAINTENANCE
        self.reg_t = settings.TRADEX_REG_T_INITIAL
        self.short_initial = settings.TRADEX_SHORT_INITIAL
        # on_margin_event(account_id, {symbol: mark}, below the second threshold): the margin-call
        # workflow, run by the worker; enforce(): margin calls past their deadline, every minute.
        self.on_margin_event, self.enforce = on_margin_event, enforce
        self.level = Decimal(liquidation_level if liquidation_level is not None
                             else settings.TRADEX_MARGIN_LIQUIDATION_LEVEL)
        rate = Decimal(push_per_second if push_per_second is not None else settings.TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND)
        self.push_interval = float(1 / rate)
        self.refresh_seconds = float(refresh_seconds if refresh_seconds is not None
                                     else settings.TRADEX_MONITOR_REFRESH_SECONDS)
        self.watched: set = set()
        self.publish = publish or _publish
        self.events: deque = deque()  # (account id, {symbol: price}, below second threshold)
        self.inbox: deque = deque()  # reloaded AccountStates from the refresh, swapped in by the hot path
        self.pending_push: set = set()
        self._push_lock = threading.Lock()
        self._wake = threading.Event()
        self.handled = threading.Event()  # set by the worker each time it has handled queued events
        self._stop = threading.Event()
        self._thread = None
        self._watermark = None
        self._last_full = 0.0
        self._reload_ids: set = set()
        self.stats = {"price_updates": 0, "account_updates": 0, "events": 0, "pushes": 0}
        if threaded:
            self._thread = threading.Thread(target=self._run, name="portfolio-monitor", daemon=True)

    # --- the hot path --------------------------------------------------------------------------

    def on_prices(self, prices: dict[str, Decimal]) -> None:
        """The feed's batch: {symbol: latest trade price}. Memory only; see the module docstring."""
        if self.inbox:
            self._swap_in()
        touched = {}
        holders_of, holder_states, current = self.holders, self.holder_states, self.prices
        for symbol, price in prices.items():
            old = current.get(symbol)
            if old == price or not is_price(price):
                continue
            current[symbol] = price
            self.stats["price_updates"] += 1
            holders = holders_of.get(symbol)
            if not holders:
                continue
            if old is None:  # first price seen: positions were marked at their entry price
                for state, q, weight in holders.values():
                    delta = price - state.avg[symbol]
                    state.mv += q * delta
                    state.req += weight * delta
                    touched[state.id] = state
                continue
            delta = price - old
            # The loop every price move pays, per holder: two multiply-adds.
            for state, q, weight in holders.values():
                state.mv += q * delta
                state.req += weight * delta
            touched.update(holder_states[symbol])
        self.stats["account_updates"] += len(touched)
        self._after_move(touched)

    def _after_move(self, touched: dict) -> None:
        events = False
        level = self.level
        for account_id, state in touched.items():
            if not state.margin:
                continue
            equity = state.cash + state.mv
            below = equity < state.req
            if below != state.in_call or (below and not state.below_level and equity < state.req * level):
                deep = below and equity < state.req * level
                state.in_call, state.below_level = below, deep
                self.events.append((account_id, state.marks(self.prices), deep))
                self.stats["events"] += 1
                events = True
        if self.watched:
            watched = self.watched
            self.pending_push.update(touched.keys() & watched if len(watched) < len(touched) else
                                     (a for a in watched if a in touched))
        if self.pending_push:
            self.flush_pushes()
        if events:
            self._wake.set()

    def flush_pushes(self, now: float | None = None) -> int:
        """Push every pending account whose last push is at least push_interval old; the others
        stay pending (conflated: they carry the latest figures when their turn comes)."""
        now = time.monotonic() if now is None else now
        messages = []
        with self._push_lock:
            for account_id in list(self.pending_push):
                state = self.accounts.get(account_id)
                if state is None:
                    self.pending_push.discard(account_id)
                elif now - state.last_push >= self.push_interval:
                    self.pending_push.discard(account_id)
                    state.last_push = now
                    messages.append((account_id, state.figures(self.prices, self.rates, self.reg_t,
                                                               self.short_initial)))
        if messages:
            self.stats["pushes"] += len(messages)
            self.publish(messages)
        return len(messages)

    # --- account states --------------------------------------------------------------------------

    def account_set(self, state: AccountState) -> None:
        """Install (or replace) an account's state, valued at the current prices."""
        old = self.accounts.get(state.id)
        if old is not None:
            for symbol in old.qty:
                self.holders.get(symbol, {}).pop(state.id, None)
                self.holder_states.get(symbol, {}).pop(state.id, None)
            state.last_push = old.last_push
        state.revalue(self.prices, self.rates, self.default_rate)
        equity = state.equity
        rates, default = self.rates, self.default_rate
        if old is not None and state.margin:
            # The database knows best whether a call is open; keep the monitor's view otherwise.
            state.below_level = old.below_level
        self.accounts[state.id] = state
        for symbol, q in state.qty.items():
            self.holders.setdefault(symbol, {})[state.id] = (state, q, abs(q) * maintenance_rate(symbol, rates, default))
            self.holder_states.setdefault(symbol, {})[state.id] = state
        # Rounded as margin calls round (risk.margin.margin_figures), so a reloaded account agrees with the database.
        below = money(equity) < money(state.req, up=True)
        if state.margin and below != state.in_call:
            deep = below and equity < state.req * self.level
            state.in_call, state.below_level = below, deep
            self.events.append((state.id, state.marks(self.prices), deep))
            self._wake.set()

    def _swap_in(self) -> None:
        while self.inbox:
            self.account_set(self.inbox.popleft())

    # --- off the hot path ------------------------------------------------------------------------

    def load(self) -> None:
        """Every account with a position or a margin account, and the latest prices (one batch
        cache read). Runs before the feed starts calling on_prices."""
        self.rates = house_rates()
        self._watermark = timezone.now()
        states = _load_states(None)
        symbols = {s for state in states for s in state.qty}
        self.prices.update(last_prices(symbols))
        for state in states:
            self.account_set(state)
        self.watched = _watched()
        self._last_full = time.monotonic()

    def refresh(self) -> int:
        """Reload the accounts changed since the watermark (and the ones an event looked at);
        they are swapped in by the next on_prices. Returns how many were reloaded."""
        if self._watermark is None:
            self.load()
            return len(self.accounts)
        now = timezone.now()
        since = self._watermark - REFRESH_OVERLAP
        ids = set(Position.objects.filter(updated_at__gte=since).values_list("account_id", flat=True).distinct())
        ids |= set(JournalEntry.objects.filter(created_at__gte=since).values_list("account_id", flat=True).distinct())
        ids |= self._reload_ids
        self._reload_ids = set()
        self._watermark = now
        full = time.monotonic() - self._last_full >= FULL_RELOAD_SECONDS
        if full:
            # Every state is reloaded below and revalued at these rates when it is swapped in.
            self.rates = house_rates()
        states = _load_states(None if full else ids) if (ids or full) else []
        if full:
            self._last_full = time.monotonic()
        self.inbox.extend(states)
        self.watched = _watched()
        return len(states)

    def run_pending(self) -> None:
        """Swap in reloaded accounts, then handle every queued event (margin calls issued,
        resolved, liquidated) and pending push. Tests and the worker thread call it."""
        self._swap_in()
        while self.events:
            account_id, prices, deep = self.events.popleft()
            self._handle(account_id, prices, deep)
        self.flush_pushes()

    def _handle(self, account_id, prices, deep: bool) -> None:
        if self.on_margin_event is None:
            return
        try:
            self.on_margin_event(account_id, prices, deep)
        except Exception:
            log.exception("margin event of account %s failed", account_id)
        self._reload_ids.add(account_id)  # the transaction may have seen what we had not

    def _run(self) -> None:
        next_refresh = next_enforce = 0.0
        while not self._stop.is_set():
            self._wake.wait(timeout=min(self.push_interval, self.refresh_seconds))
            self._wake.clear()
            try:
                close_old_connections()
                if self.events:
                    self._process_events()
                    self.handled.set()
                if time.monotonic() >= next_refresh:
                    self.refresh()
                    next_refresh = time.monotonic() + self.refresh_seconds
                if self.enforce is not None and time.monotonic() >= next_enforce:
                    # Deadlines, also where no Celery beat runs (embedded mode); idempotent.
                    self.enforce()
                    next_enforce = time.monotonic() + ENFORCE_SECONDS
                self.flush_pushes()
            except Exception:
                log.exception("portfolio monitor worker")
            finally:
                close_old_connections()

    def _process_events(self) -> None:
        while self.events:
            account_id, prices, deep = self.events.popleft()
            self._handle(account_id, prices, deep)

    def start(self) -> "PortfolioMonitor":
        if self._thread is not None and not self._thread.is_alive():
            self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)


def _load_states(account_ids) -> list[AccountState]:
    """Account states from the database: three queries whatever the number of accounts."""
    positions = Position.objects.exclude(qty=0).select_related(None)
    accounts = Account.objects.all()
    if account_ids is not None:
        positions = positions.filter(account_id__in=account_ids)
        accounts = accounts.filter(pk__in=account_ids)
    else:
        accounts = accounts.filter(account_type=Account.Type.MARGIN) | Account.objects.filter(
            pk__in=Position.objects.exclude(qty=0).values("account_id"))
    by_account: dict = {}
    for account_id, symbol, qty, avg, prev in positions.values_list("account_id", "symbol", "qty", "avg_entry_price",
                                                                    "asset__prev_close"):
        entry = by_account.setdefault(account_id, ({}, {}, {}))  # qty, prev close, avg entry
        entry[0][symbol], entry[2][symbol] = qty, avg
        if prev is not None:
            entry[1][symbol] = prev
    calls = MarginCall.objects.filter(status__in=OPEN_CALL)
    if account_ids is not None:
        calls = calls.filter(account_id__in=account_ids)
    in_call = set(calls.values_list("account_id", flat=True))
    rows = list(accounts.values_list("pk", "user_id", "account_type", "settled_cash", "unsettled_cash"))
    holdings = {pk: (settled + unsettled, *by_account.get(pk, ({}, {}, {}))) for pk, _, _, settled, unsettled in rows}
    last_equity = equity_at_last_close(holdings=holdings, now=timezone.now(), every_account=account_ids is None)
    states = []
    for pk, user_id, kind, _, _ in rows:
        cash, qty, _, avg = holdings[pk]
        states.append(AccountState(pk, user_id, kind == Account.Type.MARGIN, cash, qty, avg, last_equity[pk],
                                   in_call=pk in in_call))
    return states


def _watched() -> set:
    result = set()
    for raw in watched_accounts():
        try:
            result.add(uuid.UUID(raw))
        except ValueError:
            pass
    return result


def _publish(messages: list[tuple]) -> None:
    publisher.send_many([(account_group(account_id), account_message(data)) for account_id, data in messages])
