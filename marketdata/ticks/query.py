"""Historical trades and quotes from the tick store, a page at a time (Alpaca's
/v2/stocks/{trades,quotes}). Symbols in alphabetical order, each in (ts, venue, seq) order; the page
token names the last row returned, so the next page starts strictly after it."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

from django.db import connection

from core.errors import InvalidInput

from ..messages import price_text
from ..models import FeedSymbol, FeedVenue
from . import store as tickstore

KINDS = {"trades": tickstore.TRADES, "quotes": tickstore.QUOTES}
MAX_LIMIT = 10_000


def encode_token(symbol: str, ts: datetime, venue_id: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{ts.isoformat()}|{venue_id}|{seq}".encode()).decode()


def decode_token(token: str) -> tuple[str, datetime, int, int]:
    try:
        symbol, iso, venue_id, seq = base64.urlsafe_b64decode(token.encode()).decode().split("|")
        ts = datetime.fromisoformat(iso)
        if ts.tzinfo is None:
            raise ValueError
        return symbol, ts, int(venue_id), int(seq)
    except Exception:  # noqa: BLE001 - any malformed token is the client's error
        raise InvalidInput("invalid_page_token", "page_token is not one this server issued") from None


def _ts(value):
    """The database's ts back to an aware datetime (SQLite keeps fixed-width UTC text)."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _param(value: datetime):
    return tickstore.sqlite_ts(value) if connection.vendor == "sqlite" else value


def _rfc3339(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ticks_page(*, kind: str, symbols: list[str], start: datetime, end: datetime, limit: int, desc: bool = False,
               page_token: str | None = None) -> tuple[dict[str, list[dict]], str | None]:
    """({symbol: [Alpaca trade or quote dicts, prices as decimal strings]}, next_page_token)."""
    table = KINDS[kind]
    after = decode_token(page_token) if page_token else None
    ids = dict(FeedSymbol.objects.filter(symbol__in=symbols).values_list("symbol", "id"))
    venues = dict(FeedVenue.objects.values_list("id", "name"))
    columns = ", ".join(tickstore.COLUMNS[table])
    order, cmp = ("DESC", "<") if desc else ("ASC", ">")
    out: dict[str, list[dict]] = {}
    remaining, token = limit, None
    for symbol in sorted(symbols):
        if after is not None and symbol < after[0] or symbol not in ids:
            continue
        sql = f"SELECT {columns} FROM {table} WHERE symbol_id = %s AND ts >= %s AND ts <= %s"
        params: list = [ids[symbol], _param(start), _param(end)]
        if after is not None and symbol == after[0]:
            sql += f" AND (ts, venue_id, seq) {cmp} (%s, %s, %s)"
            params += [_param(after[1]), after[2], after[3]]
        sql += f" ORDER BY ts {order}, venue_id {order}, seq {order} LIMIT %s"
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, remaining + 1])
            rows = cursor.fetchall()
        more = len(rows) > remaining
        rows = rows[:remaining]
        if rows:
            out[symbol] = [_row(kind, r, venues) for r in rows]
            remaining -= len(rows)
        if more or (remaining == 0 and rows):
            last = rows[-1]
            token = encode_token(symbol, _ts(last[0]), last[2], last[3])
            break
    return out, token


def _row(kind: str, r: tuple, venues: dict[int, str]) -> dict:
    ts, _symbol_id, venue_id, seq, *values = r
    venue = venues.get(venue_id, "")
    if kind == "trades":
        price, size = values
        return {"t": _rfc3339(_ts(ts)), "x": venue, "p": price_text(price), "s": price_text(size), "i": seq,
                "c": ["@"], "z": "C"}
    bid, bid_size, ask, ask_size = values
    return {"t": _rfc3339(_ts(ts)), "bx": venue if bid else "", "bp": price_text(bid), "bs": price_text(bid_size),
            "ax": venue if ask else "", "ap": price_text(ask), "as": price_text(ask_size), "c": ["R"], "z": "C"}
