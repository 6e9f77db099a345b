"""Brokerage settings (TRADEX_*): house risk defaults, margin rates, precision.

Every TRADEX_* variable in the environment must be one of KNOWN_TRADEX_SETTINGS: a typo such as
TRADEX_MAX_ORDER_NOTINAL would otherwise leave a risk limit silently at its default.
"""
import os
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured


def _decimal(name: str, default: str) -> Decimal:
    raw = os.environ.get(name, default)
    try:
        return Decimal(raw)
    except Exception as exc:  # decimal.InvalidOperation and friends
        raise ImproperlyConfigured(f"{name}={raw!r} is not a decimal number") from exc


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


# Precision (decimal places) for stored values; the single rounding helper is core.values.
TRADEX_MONEY_PLACES = 2
TRADEX_PRICE_PLACES = 4
TRADEX_QTY_PLACES = 9

# House risk defaults; per-account overrides live in risk.RiskLimits (editable in the admin).
TRADEX_MAX_ORDER_NOTIONAL = _decimal("TRADEX_MAX_ORDER_NOTIONAL", "1000000")
TRADEX_MAX_ORDER_QTY = _decimal("TRADEX_MAX_ORDER_QTY", "100000")
TRADEX_MAX_POSITION_QTY = _decimal("TRADEX_MAX_POSITION_QTY", "1000000")
# Largest single-symbol position value as a multiple of account equity (2 = 200 %).
TRADEX_MAX_CONCENTRATION = _decimal("TRADEX_MAX_CONCENTRATION", "2")
TRADEX_MAX_OPEN_ORDERS_PER_SYMBOL = int(os.environ.get("TRADEX_MAX_OPEN_ORDERS_PER_SYMBOL", "1000"))
# A limit price more than this fraction through the last trade is refused (004 pitfall 3).
TRADEX_PRICE_COLLAR = _decimal("TRADEX_PRICE_COLLAR", "0.10")
# Market buys reserve last price plus this buffer, released at the fill.
TRADEX_MARKET_ORDER_BUFFER = _decimal("TRADEX_MARKET_ORDER_BUFFER", "0.05")

# Margin (Reg T initial, FINRA 4210 maintenance).
TRADEX_REG_T_INITIAL = _decimal("TRADEX_REG_T_INITIAL", "0.50")
TRADEX_SHORT_INITIAL = _decimal("TRADEX_SHORT_INITIAL", "1.50")
TRADEX_MAINTENANCE = _decimal("TRADEX_MAINTENANCE", "0.25")

# Day trading: FINRA amended Rule 4210 intraday margin (default) or legacy pattern-day-trader rule.
TRADEX_DAY_TRADING_POLICY = _choice("TRADEX_DAY_TRADING_POLICY", "intraday_margin", ("intraday_margin", "pdt"))
TRADEX_PDT_MIN_EQUITY = _decimal("TRADEX_PDT_MIN_EQUITY", "25000")

# Venues (the exchange simulator's, or real ones): NAME@host:port,... The FIX bridge opens one
# initiator session per venue; `run_venues` starts the simulator's acceptors on the same list.
TRADEX_VENUE_COUNT = int(os.environ.get("TRADEX_VENUE_COUNT", "3"))
TRADEX_VENUE_HOST = os.environ.get("TRADEX_VENUE_HOST", "127.0.0.1")
TRADEX_VENUE_BASE_PORT = int(os.environ.get("TRADEX_VENUE_BASE_PORT", "9870"))
# The address `run_venues` binds the simulator's FIX acceptors and feeds to: loopback unless set
# (0.0.0.0 opens them to the network).
TRADEX_VENUE_BIND_HOST = os.environ.get("TRADEX_VENUE_BIND_HOST", "127.0.0.1")


def _venues() -> tuple[tuple[str, str, int], ...]:
    raw = os.environ.get("TRADEX_VENUES", "")
    if not raw:
        if not 1 <= TRADEX_VENUE_COUNT <= 15:
            raise ImproperlyConfigured("TRADEX_VENUE_COUNT must be between 1 and 15")
        return tuple((f"SIM{chr(ord('A') + i)}", TRADEX_VENUE_HOST, TRADEX_VENUE_BASE_PORT + i)
                     for i in range(TRADEX_VENUE_COUNT))
    venues = []
    for item in raw.split(","):
        try:
            name, address = item.strip().split("@")
            host, port = address.rsplit(":", 1)
            venues.append((name, host, int(port)))
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRADEX_VENUES: {item!r} is not NAME@host:port") from exc
    return tuple(venues)


TRADEX_VENUES = _venues()
# Each venue's market-data feed listens on its FIX port plus this offset (SIMA: 9870 -> 9970).
TRADEX_VENUE_FEED_OFFSET = int(os.environ.get("TRADEX_VENUE_FEED_OFFSET", "100"))
# Tick store: day partitions kept (older ones detached and dropped), and created ahead.
TRADEX_TICK_RETENTION_DAYS = int(os.environ.get("TRADEX_TICK_RETENTION_DAYS", "30"))
TRADEX_TICK_PARTITIONS_AHEAD = int(os.environ.get("TRADEX_TICK_PARTITIONS_AHEAD", "3"))
# Objects the feed hands each batch's moved prices to (dotted paths of factories, comma-separated):
# by default the margin monitor (portfolio/monitor.py, driving workflows/margin_calls.py).
TRADEX_FEED_LISTENERS = tuple(p for p in os.environ.get("TRADEX_FEED_LISTENERS", "workflows.margin_calls.feed_listener")
                              .split(",") if p)
# An order sent to a venue and not acknowledged within this many seconds is shown as
# unacknowledged to the user and to staff, and reconciled with the venue (never guessed).
TRADEX_ACK_TIMEOUT_SECONDS = int(os.environ.get("TRADEX_ACK_TIMEOUT_SECONDS", "10"))

# Circuit breaker (risk/circuit_breaker.py): a symbol whose last trade moves more than this
# fraction within the window is halted for the pause, then resumes by itself.
TRADEX_CIRCUIT_BREAKER_PCT = _decimal("TRADEX_CIRCUIT_BREAKER_PCT", "0.10")
TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS = int(os.environ.get("TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS", "300"))
TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS = int(os.environ.get("TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS", "300"))
if not 0 < TRADEX_CIRCUIT_BREAKER_PCT < 1 or TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS <= 0 \
        or TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS < 0:
    raise ImproperlyConfigured("TRADEX_CIRCUIT_BREAKER_PCT must be in (0, 1), the window positive, the pause >= 0")

# The session clock (marketdata/clock.py): `exchange` = the real NYSE sessions, regular and
# extended hours, from exchange_calendars; `always_open` = a demo market that never closes (the
# /v2/clock API says so; /v2/calendar still returns the real sessions). `make run` picks
# always_open unless the variable is set.
TRADEX_MARKET_CLOCK = _choice("TRADEX_MARKET_CLOCK", "exchange", ("exchange", "always_open"))

# CAT reporting (workflows/cat_report.py): the firm's identifiers on every reported event.
TRADEX_CAT_FIRM_IMID = os.environ.get("TRADEX_CAT_FIRM_IMID", "TRDX")
TRADEX_CAT_REPORTER_CRD = os.environ.get("TRADEX_CAT_REPORTER_CRD", "000000")
TRADEX_CAT_SUBMITTER_ID = os.environ.get("TRADEX_CAT_SUBMITTER_ID", "TRDX")
# Audit retention (compliance/retention.py, docs/compliance.md): books-and-records rules keep the
# trail six years (the regulatory minimum, never lowered), the first two readily accessible; the
# house keeps seven. Events older than the accessible window are exported to signed archives
# under VAR_DIR/archive/; only archived, verified, unheld events past retention may be deleted.
TRADEX_AUDIT_RETENTION_YEARS = int(os.environ.get("TRADEX_AUDIT_RETENTION_YEARS", "7"))
TRADEX_AUDIT_ACCESSIBLE_YEARS = int(os.environ.get("TRADEX_AUDIT_ACCESSIBLE_YEARS", "2"))
AUDIT_REGULATORY_MIN_YEARS = 6
if TRADEX_AUDIT_RETENTION_YEARS < AUDIT_REGULATORY_MIN_YEARS:
    raise ImproperlyConfigured(f"TRADEX_AUDIT_RETENTION_YEARS={TRADEX_AUDIT_RETENTION_YEARS}: the regulatory minimum "
                               f"is {AUDIT_REGULATORY_MIN_YEARS} years")
if not 2 <= TRADEX_AUDIT_ACCESSIBLE_YEARS <= TRADEX_AUDIT_RETENTION_YEARS:
    raise ImproperlyConfigured("TRADEX_AUDIT_ACCESSIBLE_YEARS must be at least 2 (readily accessible) and at most "
                               "TRADEX_AUDIT_RETENTION_YEARS")
# HMAC-SHA256 key that signs archive manifests. Production settings require it from the
# environment; this default is for development and tests only and signs nothing trustworthy.
DEV_ARCHIVE_SIGNING_KEY = "INSECURE-development-archive-signing-key"
TRADEX_ARCHIVE_SIGNING_KEY = os.environ.get("TRADEX_ARCHIVE_SIGNING_KEY", DEV_ARCHIVE_SIGNING_KEY)

KNOWN_TRADEX_SETTINGS = frozenset(
    {
        "TRADEX_AUDIT_RETENTION_YEARS",
        "TRADEX_AUDIT_ACCESSIBLE_YEARS",
        "TRADEX_ARCHIVE_SIGNING_KEY",
        "TRADEX_MARKET_CLOCK",
        "TRADEX_ALLOWED_ORIGINS",  # tradex/settings/security.py
        "TRADEX_CIRCUIT_BREAKER_PCT",
        "TRADEX_CIRCUIT_BREAKER_WINDOW_SECONDS",
        "TRADEX_CIRCUIT_BREAKER_PAUSE_SECONDS",
        "TRADEX_VENUES",
        "TRADEX_VENUE_COUNT",
        "TRADEX_VENUE_HOST",
        "TRADEX_VENUE_BASE_PORT",
        "TRADEX_VENUE_BIND_HOST",
        "TRADEX_VENUE_FEED_OFFSET",
        "TRADEX_TICK_RETENTION_DAYS",
        "TRADEX_TICK_PARTITIONS_AHEAD",
        "TRADEX_FEED_LISTENERS",
        "TRADEX_ACK_TIMEOUT_SECONDS",
        "TRADEX_OUTBOX_DOORBELL_PORT",
        "TRADEX_FIX_DIR",
        "TRADEX_FIX_HEARTBEAT_SECONDS",
        "TRADEX_VAR_DIR",
        "TRADEX_TEST_DB_NAME",
        "TRADEX_MAX_ORDER_NOTIONAL",
        "TRADEX_MAX_ORDER_QTY",
        "TRADEX_MAX_POSITION_QTY",
        "TRADEX_MAX_CONCENTRATION",
        "TRADEX_MAX_OPEN_ORDERS_PER_SYMBOL",
        "TRADEX_PRICE_COLLAR",
        "TRADEX_MARKET_ORDER_BUFFER",
        "TRADEX_REG_T_INITIAL",
        "TRADEX_SHORT_INITIAL",
        "TRADEX_MAINTENANCE",
        "TRADEX_DAY_TRADING_POLICY",
        "TRADEX_PDT_MIN_EQUITY",
        "TRADEX_MARGIN_CALL_DEADLINE_SECONDS",
        "TRADEX_MARGIN_LIQUIDATION_LEVEL",
        "TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND",
        "TRADEX_MONITOR_REFRESH_SECONDS",
        "TRADEX_EQUITY_SNAPSHOT_SECONDS",
        "TRADEX_NOTIFICATION_BACKEND",
        "TRADEX_STREAM_MAX_SYMBOLS",
        "TRADEX_STREAM_MAX_MESSAGES_PER_SECOND",
        "TRADEX_STREAM_MAX_FRAME_BYTES",
        "TRADEX_STREAM_MAX_PENDING",
        "TRADEX_STREAM_SLOW_CLIENT_SECONDS",
        "TRADEX_STREAM_AUTH_TIMEOUT_SECONDS",
        "TRADEX_STREAM_MAX_CONNECTIONS_PER_USER",
        "TRADEX_CHANNEL_LAYER",
        "TRADEX_READY_QUOTE_SECONDS",
        "TRADEX_INSECURE_HTTP",
        # REST rate limits and login lockout (tradex/settings/api.py)
        "TRADEX_API_RATE_LIMIT_PER_MINUTE",
        "TRADEX_API_SESSION_RATE_LIMIT_PER_MINUTE",
        "TRADEX_LOGIN_FAILURE_LIMIT",
        "TRADEX_LOGIN_LOCKOUT_MINUTES",
        # CAT reporting (above)
        "TRADEX_CAT_FIRM_IMID",
        "TRADEX_CAT_REPORTER_CRD",
        "TRADEX_CAT_SUBMITTER_ID",
    }
)


def refuse_unknown_tradex_settings() -> None:
    unknown = sorted(k for k in os.environ if k.startswith("TRADEX_") and k not in KNOWN_TRADEX_SETTINGS)
    if unknown:
        raise ImproperlyConfigured(f"unknown TradeX settings in the environment: {', '.join(unknown)}")

# Embedded mode (SQLite) only: the UDP port on 127.0.0.1 where the web process rings the FIX
# bridge after committing outbox rows (PostgreSQL uses LISTEN/NOTIFY instead).
TRADEX_OUTBOX_DOORBELL_PORT = int(os.environ.get("TRADEX_OUTBOX_DOORBELL_PORT", "9869"))
# Directory of the bridge's QuickFIX file stores (sequence numbers, sent messages) and logs.
TRADEX_FIX_DIR = os.environ.get("TRADEX_FIX_DIR", "")
TRADEX_FIX_HEARTBEAT_SECONDS = int(os.environ.get("TRADEX_FIX_HEARTBEAT_SECONDS", "2"))


# Portfolio (docs/portfolio.md); its margin monitor is the feed's listener (TRADEX_FEED_LISTENERS).
# A margin call not met within this many seconds is liquidated; equity below this fraction of the
# maintenance requirement (the second threshold) is liquidated at once.
TRADEX_MARGIN_CALL_DEADLINE_SECONDS = int(os.environ.get("TRADEX_MARGIN_CALL_DEADLINE_SECONDS", str(2 * 24 * 3600)))
TRADEX_MARGIN_LIQUIDATION_LEVEL = _decimal("TRADEX_MARGIN_LIQUIDATION_LEVEL", "0.80")
# Price-move account pushes are conflated to at most this many per second per account.
TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND = _decimal("TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND", "4")
# The margin monitor reloads accounts whose positions or cash changed this often (seconds).
TRADEX_MONITOR_REFRESH_SECONDS = _decimal("TRADEX_MONITOR_REFRESH_SECONDS", "1")
# Intraday equity snapshots for GET /v2/account/portfolio/history (end of day is always taken).
TRADEX_EQUITY_SNAPSHOT_SECONDS = int(os.environ.get("TRADEX_EQUITY_SNAPSHOT_SECONDS", "300"))
TRADEX_NOTIFICATION_BACKEND = os.environ.get("TRADEX_NOTIFICATION_BACKEND", "portfolio.notifications.EmailBackend")
if not 0 < TRADEX_MARGIN_LIQUIDATION_LEVEL <= 1 or TRADEX_ACCOUNT_PUSH_MAX_PER_SECOND <= 0 \
        or TRADEX_MONITOR_REFRESH_SECONDS <= 0 or TRADEX_EQUITY_SNAPSHOT_SECONDS <= 0:
    raise ImproperlyConfigured("TRADEX_MARGIN_LIQUIDATION_LEVEL must be in (0, 1]; push rate, monitor refresh and "
                               "snapshot interval positive")

# Readiness (tradex/health.py): /readyz wants a quote at most this many seconds old.
TRADEX_READY_QUOTE_SECONDS = float(os.environ.get("TRADEX_READY_QUOTE_SECONDS", "10"))
