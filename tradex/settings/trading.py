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


# Precision (decimal places) for stored values; the single rounding helper is tradex.values.
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

KNOWN_TRADEX_SETTINGS = frozenset(
    {
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
    }
)


def refuse_unknown_tradex_settings() -> None:
    unknown = sorted(k for k in os.environ if k.startswith("TRADEX_") and k not in KNOWN_TRADEX_SETTINGS)
    if unknown:
        raise ImproperlyConfigured(f"unknown TradeX settings in the environment: {', '.join(unknown)}")
