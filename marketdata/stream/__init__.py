"""The real-time stock data stream (Alpaca's protocol): consumer, per-process hub, rendering, flow
control. See docs/marketdata-stream.md."""
