"""Alpaca's `last_equity`: an account's equity at the previous session's close, fixed through the
day, so `equity - last_equity` is today's profit or loss.

TradeX keeps no end-of-day copy of every account (embedded mode runs no beat), so the figure is
worked back from today's state: cash less today's trading cash movements, and each position less
today's lot openings and closings, valued at the symbol's previous close. Deposits and
withdrawals made today are left in (they are not profit), as is a position opened today at its
own cost: buying a share moves cash and position by the same amount, so `last_equity` stays put.

Before this, positions opened today were valued at yesterday's close against cash that had
already paid today's price, so a same-day buy moved `last_equity`.
"""
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, CharField, DecimalField, F, Sum, Value, When
from django.db.models.functions import Coalesce

from accounts.models import JournalEntry, JournalLeg
from marketdata.calendar import NEW_YORK, session_before
from marketdata.models import Asset

from .models import LotClosure, TaxLot

ZERO = Decimal(0)
# Trading moves cash; transfers do not count against today's profit or loss.
_TRANSFERS = (JournalEntry.Kind.DEPOSIT, JournalEntry.Kind.WITHDRAWAL)
_CUSTOMER_BOOKS = (JournalLeg.Book.CUSTOMER_SETTLED, JournalLeg.Book.CUSTOMER_UNSETTLED)
_QTY = DecimalField(max_digits=28, decimal_places=9)


def last_close_time(now: datetime) -> datetime:
    """The close of the last NYSE session before today (New York's date): the moment whose prices
    `Asset.prev_close` holds through today."""
    return session_before(now.astimezone(NEW_YORK).date()).close


def day_changes(account_ids, since: datetime) -> tuple[dict, dict]:
    """What each account's cash and positions did since `since` (account_ids None: every
    account), in one query: ({account_id: cash change}, {(account_id, symbol): signed quantity change})."""
    accounts = {} if account_ids is None else {"account_id__in": account_ids}
    signed_open = Case(When(side=TaxLot.Side.LONG, then=F("qty")), default=-F("qty"), output_field=_QTY)
    signed_close = Case(When(side=TaxLot.Side.LONG, then=-F("qty")), default=F("qty"), output_field=_QTY)
    opened = (TaxLot.objects.filter(**accounts, opened_at__gte=since)
              .values("account_id", "symbol").annotate(delta=Sum(signed_open)).values_list("account_id", "symbol", "delta"))
    closed = (LotClosure.objects.filter(**accounts, closed_at__gte=since)
              .values("account_id", "symbol").annotate(delta=Sum(signed_close))
              .values_list("account_id", "symbol", "delta"))
    cash = (JournalLeg.objects.filter(**accounts, book__in=_CUSTOMER_BOOKS, entry__created_at__gte=since)
            .exclude(entry__kind__in=_TRANSFERS)
            .values("account_id").annotate(symbol=Value("", output_field=CharField()),
                                           delta=Coalesce(Sum("amount", output_field=_QTY), Value(ZERO, output_field=_QTY)))
            .values_list("account_id", "symbol", "delta"))
    cash_changes: dict = {}
    qty_changes: dict = {}
    for account_id, symbol, delta in opened.union(closed, cash, all=True):
        if symbol == "":
            cash_changes[account_id] = cash_changes.get(account_id, ZERO) + delta
        else:
            qty_changes[(account_id, symbol)] = qty_changes.get((account_id, symbol), ZERO) + delta
    return cash_changes, qty_changes


def equity_at_last_close(*, holdings: dict, now: datetime, every_account: bool = False) -> dict:
    """holdings: {account_id: (cash, {symbol: qty}, {symbol: prev_close or None}, {symbol: avg entry})}
    as held now (every_account: holdings covers every account, so no id list is sent). Returns
    {account_id: equity at the previous close}. A symbol with no close yet is valued at its average
    entry price, as valuation does."""
    if not holdings:
        return {}
    cash_changes, qty_changes = day_changes(None if every_account else list(holdings), last_close_time(now))
    changed: dict = {}  # account_id -> {symbol: signed change}
    for (account_id, symbol), delta in qty_changes.items():
        if account_id not in holdings:
            continue
        changed.setdefault(account_id, {})[symbol] = delta
    # A position closed out today is no longer held: its previous close comes from its asset.
    missing = {symbol for account_id, today in changed.items() for symbol in today if symbol not in holdings[account_id][1]}
    closes = dict(Asset.objects.filter(symbol__in=missing).values_list("symbol", "prev_close")) if missing else {}
    result = {}
    for account_id, (cash, qty, prev, avg) in holdings.items():
        total = cash - cash_changes.get(account_id, ZERO)
        today = changed.get(account_id, {})
        for symbol in set(qty) | set(today):
            held = qty.get(symbol, ZERO) - today.get(symbol, ZERO)
            if held:
                price = prev.get(symbol) if symbol in qty else closes.get(symbol)
                total += held * (price if price is not None else avg.get(symbol, ZERO))
        result[account_id] = total
    return result
