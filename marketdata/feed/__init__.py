"""The market-data feed handler: venue feeds in; tick store, quote cache, channel groups, alerts,
bars and price listeners out (see handler.py)."""
