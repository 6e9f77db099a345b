"""marketdata's REST views, mounted under /v2/ by tradex/api_urls.py:

    assets   /v2/assets, /v2/clock, /v2/calendar (Alpaca Trading API v2)
    stocks   /v2/stocks/...: bars, latest bars/quotes/trades, snapshots, indicators (Market Data API v2)
    ticks    /v2/stocks/trades, /v2/stocks/quotes: historical ticks from the tick store
"""
