"""WebSocket routes. The trade-updates stream arrives with the FIX bridge issue."""

websocket_urlpatterns: list = []
