"""TimescaleDB path for bars: only where the extension is installed (SELECT 1 FROM pg_extension
WHERE extname = 'timescaledb'); on plain PostgreSQL and SQLite this migration does nothing.

The 1-minute table becomes a hypertable (7-day chunks, the (symbol, start) primary key contains the
time column as Timescale requires) and 5-minute, 15-minute and 1-hour continuous aggregates are
kept by refresh policies. The query path (marketdata/bars/query.py) still aggregates with date_bin,
which is correct either way; reading the aggregates is an optimisation for a Timescale deployment.
Not exercised here: no TimescaleDB on this machine (docs/marketdata-bars.md).
"""
from django.db import migrations

AGGREGATES = (("5min", "5 minutes", "1 hour"), ("15min", "15 minutes", "1 hour"), ("1hour", "1 hour", "4 hours"))


def _has_timescale(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        return cur.fetchone() is not None


def forwards(apps, schema_editor):
    if not _has_timescale(schema_editor):
        return
    execute = schema_editor.execute
    execute("SELECT create_hypertable('marketdata_bar_1min', 'start', chunk_time_interval => INTERVAL '7 days', "
            "migrate_data => true, if_not_exists => true)")
    for name, width, lag in AGGREGATES:
        execute(f"""
            CREATE MATERIALIZED VIEW IF NOT EXISTS marketdata_bar_{name}
            WITH (timescaledb.continuous) AS
            SELECT symbol, time_bucket(INTERVAL '{width}', start) AS start,
                   first(open, start) AS open, max(high) AS high, min(low) AS low, last(close, start) AS close,
                   sum(volume) AS volume, sum(trade_count) AS trade_count, sum(notional) AS notional,
                   round(sum(notional) / sum(volume), 6) AS vwap
            FROM marketdata_bar_1min GROUP BY symbol, time_bucket(INTERVAL '{width}', start)
            WITH NO DATA""")
        execute(f"SELECT add_continuous_aggregate_policy('marketdata_bar_{name}', start_offset => INTERVAL '400 days', "
                f"end_offset => INTERVAL '{lag}', schedule_interval => INTERVAL '1 minute', if_not_exists => true)")


def backwards(apps, schema_editor):
    if not _has_timescale(schema_editor):
        return
    for name, _, _ in AGGREGATES:
        schema_editor.execute(f"DROP MATERIALIZED VIEW IF EXISTS marketdata_bar_{name}")


class Migration(migrations.Migration):
    dependencies = [("marketdata", "0002_bars")]
    operations = [migrations.RunPython(forwards, backwards)]
