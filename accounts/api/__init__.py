"""/v2/account and its activities (Alpaca Trading API v2), and TradeX's cash transfers."""
