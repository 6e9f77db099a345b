"""Redis-backed channel layer, cache and Celery broker from REDIS_URL; in-memory and in-process
equivalents in embedded mode."""
import os

REDIS_URL = os.environ.get("REDIS_URL", "")

# TRADEX_CHANNEL_LAYER: "pubsub" (channels_redis.pubsub: one PUBLISH per group message, delivered
# once to each subscribed process; no per-channel capacity or expiry) or "core" (channels_redis.core:
# a copy of each group message per member channel, capacity 1000, expiry 30 s). pubsub by
# measurement (bench/stream.py, docs/marketdata-stream.md): at 1,000 clients x 20 symbols and 100
# updates/s, core delivered 32 % of the trades within 10 s of the end, p50 8.7 s; pubsub 100 %, p50 0.46 s.
TRADEX_CHANNEL_LAYER = os.environ.get("TRADEX_CHANNEL_LAYER", "pubsub")
if TRADEX_CHANNEL_LAYER not in ("core", "pubsub"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"TRADEX_CHANNEL_LAYER={TRADEX_CHANNEL_LAYER!r}: expected core or pubsub")

if REDIS_URL and TRADEX_CHANNEL_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 1000, "expiry": 30},
        }
    }
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    # In-memory, safe to send to from the threads of the roles that run in the web process.
    CHANNEL_LAYERS = {"default": {"BACKEND": "tradex.inmemory_layer.ThreadSafeInMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    # Embedded mode: tasks run in the calling process (after commit, see conventions).
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True

# The market-data stream (marketdata/stream, docs/marketdata-stream.md): per-connection limits.
TRADEX_STREAM_MAX_SYMBOLS = int(os.environ.get("TRADEX_STREAM_MAX_SYMBOLS", "1000"))  # distinct symbols
TRADEX_STREAM_MAX_MESSAGES_PER_SECOND = float(os.environ.get("TRADEX_STREAM_MAX_MESSAGES_PER_SECOND", "10"))
TRADEX_STREAM_MAX_FRAME_BYTES = int(os.environ.get("TRADEX_STREAM_MAX_FRAME_BYTES", "65536"))  # client frames
# Trades and bars held for a client whose socket is full (quotes: the latest per symbol only).
TRADEX_STREAM_MAX_PENDING = int(os.environ.get("TRADEX_STREAM_MAX_PENDING", "2000"))
# A client whose socket stays full this long is sent 407 "slow client" and disconnected.
TRADEX_STREAM_SLOW_CLIENT_SECONDS = float(os.environ.get("TRADEX_STREAM_SLOW_CLIENT_SECONDS", "5"))
TRADEX_STREAM_AUTH_TIMEOUT_SECONDS = float(os.environ.get("TRADEX_STREAM_AUTH_TIMEOUT_SECONDS", "10"))
# Connections one user may hold at once, across every web process (406 beyond; 0 = no cap):
# symbols are multiplexed over one connection, not one connection per subscription.
TRADEX_STREAM_MAX_CONNECTIONS_PER_USER = int(os.environ.get("TRADEX_STREAM_MAX_CONNECTIONS_PER_USER", "5"))
