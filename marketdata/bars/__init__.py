"""OHLCV bars: maintained from trades (apply), read back in Alpaca's shape (query), and backfilled
from the simulator's price model (backfill). See docs/marketdata-bars.md."""
from .apply import BarTracker, bars_apply_trades, bars_close_due, bar_message
from .query import TIMEFRAMES, Timeframe, bars_page, latest_daily_bars, latest_minute_bars, parse_timeframe
from .sessions import daily_start, session_date

__all__ = ["BarTracker", "TIMEFRAMES", "Timeframe", "bar_message", "bars_apply_trades", "bars_close_due",
           "bars_page", "daily_start", "latest_daily_bars", "latest_minute_bars", "parse_timeframe", "session_date"]
