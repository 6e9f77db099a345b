"""Database: PostgreSQL from DATABASE_URL, else embedded SQLite in WAL mode with BEGIN IMMEDIATE.

SQLite has no row locks: BEGIN IMMEDIATE takes the write lock at the start of every transaction,
so the account-row critical section of invariant 1 is serialised there too.
"""
import os

import dj_database_url

from .base import VAR_DIR

DATABASE_URL = os.environ.get("DATABASE_URL", "")
EMBEDDED = not DATABASE_URL

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TRADEX_TEST_DB_NAME", "test_tradex")}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "tradex.sqlite3",
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
