"""Beat schedule of the portfolio's jobs: a plain dict merged by tradex/celery.py."""
import os

from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Intraday equity snapshots for /v2/account/portfolio/history. The variable is read here, not
    # through settings: tradex/celery.py imports this while the tradex package itself is loading,
    # before Django's settings can be; trading.py validates the same variable at start-up.
    "portfolio-equity-intraday": {"task": "portfolio.tasks.equity_snapshot_intraday",
                                  "schedule": float(os.environ.get("TRADEX_EQUITY_SNAPSHOT_SECONDS", "300"))},
    # After the 16:00 ET close in both EST and EDT (21:00 / 20:00 UTC).
    "portfolio-equity-eod": {"task": "portfolio.tasks.equity_snapshot_eod", "schedule": crontab(hour=21, minute=15)},
}
