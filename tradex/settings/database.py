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
    # A connection pool, not persistent connections: under daphne every request runs in its own
    # context, so CONN_MAX_AGE > 0 opened a new connection per request and left it open until
    # garbage collection ("too many clients" within seconds under load; found by `make bench`).
    # With the pool, a request borrows a connection and returns it when the request ends.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 2, "max_size": 20, "timeout": 10}
    # test_<database>: stacks and suites on one server keep apart by their DATABASE_URL alone.
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TRADEX_TEST_DB_NAME",
                                                           f"test_{DATABASES['default']['NAME']}")}
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
