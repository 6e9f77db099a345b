"""/v2/account (Alpaca Trading API v2), TradeX's cash transfers, watchlists and price alerts. The
account's activities (fills and cash movements) are orders.activities_api: fills are orders' rows."""
