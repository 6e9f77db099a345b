"""The tick store: every quote and trade the feed receives, append-only, by exchange time.

Three layouts, one set of columns (prices and sizes as integer millionths, exactly as on the
wire: `bigint` is 8 bytes where `numeric` would be 10-20, and the rows stay fixed-width so a batch
is COPY-encoded by one numpy call; `marketdata.ticks.query` turns them back into decimal text):

- TimescaleDB (extension installed): hypertables on `ts` with compression after a day
  (segmented by symbol) and a retention policy; chunks are created by TimescaleDB itself.
- PostgreSQL: native range partitions, one per UTC day, each with a BRIN index on `ts` (ticks
  arrive in time order, so a BRIN range map is tiny and prunes as well as a B-tree here).
  `partitions_ensure` creates the days a batch needs and `partitions_maintain` keeps
  TRADEX_TICK_PARTITIONS_AHEAD days ready and detaches and drops the ones past retention.
- SQLite (embedded mode): plain tables.

Columns: quotes (ts, symbol_id, venue_id, seq, bid, bid_size, ask, ask_size), trades (ts,
symbol_id, venue_id, seq, price, size). An empty side of a quote is 0/0. `(venue_id, seq)`
identifies a tick; the feed handler guarantees it is stored once (no unique index: it would cost
the ingest path a B-tree per partition, and the handler's sequence tracking is what prevents
duplicates, tested in tests/marketdata/test_feed_handler.py).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import numpy as np
from django.conf import settings
from django.db import connection

QUOTES, TRADES = "marketdata_quote_tick", "marketdata_trade_tick"
COLUMNS = {
    QUOTES: ("ts", "symbol_id", "venue_id", "seq", "bid", "bid_size", "ask", "ask_size"),
    TRADES: ("ts", "symbol_id", "venue_id", "seq", "price", "size"),
}
_TYPES = {"ts": "timestamptz", "symbol_id": "integer", "venue_id": "smallint", "seq": "bigint"}
_PARTITION = re.compile(r"^(marketdata_(?:quote|trade)_tick)_p(\d{8})$")
PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's timestamp zero

# Binary COPY tuples: a field count, then (length, value) per column, big-endian and packed.
_PG_TYPES = {"ts": ">i8", "symbol_id": ">i4", "venue_id": ">i2", "seq": ">i8"}


def _tuple_dtype(table: str) -> np.dtype:
    fields = [("nfields", ">i2")]
    for column in COLUMNS[table]:
        fmt = _PG_TYPES.get(column, ">i8")
        fields += [(f"len_{column}", ">i4"), (column, fmt)]
    return np.dtype(fields)


TUPLE_DTYPES = {table: _tuple_dtype(table) for table in COLUMNS}
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
COPY_TRAILER = (-1).to_bytes(2, "big", signed=True)


def column_sql(table: str) -> str:
    return ", ".join(f"{c} {_TYPES.get(c, 'bigint')} NOT NULL" for c in COLUMNS[table])


def timescale_available(conn=None) -> bool:
    conn = conn or connection
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
        return cursor.fetchone() is not None


def create_tables(schema_editor) -> None:
    """The migration's work: the layout this database supports."""
    conn = schema_editor.connection
    for table in COLUMNS:
        if conn.vendor != "postgresql":
            schema_editor.execute(f"CREATE TABLE {table} ({column_sql(table)})")
            schema_editor.execute(f"CREATE INDEX {table}_sym_ts ON {table} (symbol_id, ts)")
        elif timescale_available(conn):
            days = settings.TRADEX_TICK_RETENTION_DAYS
            schema_editor.execute(f"CREATE TABLE {table} ({column_sql(table)})")
            schema_editor.execute(f"SELECT create_hypertable('{table}', 'ts', chunk_time_interval => INTERVAL '1 day')")
            schema_editor.execute(f"ALTER TABLE {table} SET (timescaledb.compress, "
                                  f"timescaledb.compress_segmentby = 'symbol_id', timescaledb.compress_orderby = 'ts')")
            schema_editor.execute(f"SELECT add_compression_policy('{table}', INTERVAL '1 day')")
            schema_editor.execute(f"SELECT add_retention_policy('{table}', INTERVAL '{int(days)} days')")
        else:
            schema_editor.execute(f"CREATE TABLE {table} ({column_sql(table)}) PARTITION BY RANGE (ts)")
            # on the parent, so every partition gets its own
            schema_editor.execute(f"CREATE INDEX {table}_ts_brin ON {table} USING brin (ts)")


def drop_tables(schema_editor) -> None:
    for table in COLUMNS:
        schema_editor.execute(f"DROP TABLE IF EXISTS {table}")


def partitioned(conn=None) -> bool:
    conn = conn or connection
    if conn.vendor != "postgresql":
        return False
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                       "WHERE c.relname = %s", [QUOTES])
        return cursor.fetchone()[0] == 1


def partition_name(table: str, day: date) -> str:
    return f"{table}_p{day:%Y%m%d}"


def existing_partitions(cursor) -> dict[str, set[date]]:
    cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                   "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(%s)", [list(COLUMNS)])
    found: dict[str, set[date]] = {table: set() for table in COLUMNS}
    for (name,) in cursor.fetchall():
        m = _PARTITION.match(name)
        if m:
            found[m.group(1)].add(datetime.strptime(m.group(2), "%Y%m%d").date())
    return found


def partitions_ensure(cursor, days) -> list[str]:
    """Create the day partitions missing for `days` (UTC dates). IF NOT EXISTS plus the catalog
    check make two feed handlers racing to create the same day harmless. Returns what it created."""
    have = existing_partitions(cursor)
    created = []
    for table in COLUMNS:
        for day in sorted(set(days) - have[table]):
            name = partition_name(table, day)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} "
                           f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + timedelta(days=1)).isoformat()}')")
            created.append(name)
    return created


def partitions_maintain(*, today: date | None = None) -> dict[str, list[str]]:
    """Days ahead created, days past retention detached and dropped (the Celery beat job and the
    feed's start call this). No-op on TimescaleDB (its policies do it) and on SQLite."""
    if not partitioned():
        return {"created": [], "dropped": []}
    today = today or datetime.now(timezone.utc).date()
    ahead = settings.TRADEX_TICK_PARTITIONS_AHEAD
    keep_from = today - timedelta(days=settings.TRADEX_TICK_RETENTION_DAYS)
    dropped = []
    with connection.cursor() as cursor:
        created = partitions_ensure(cursor, [today + timedelta(days=i) for i in range(-1, ahead + 1)])
        for table, days in existing_partitions(cursor).items():
            for day in sorted(d for d in days if d < keep_from):
                name = partition_name(table, day)
                # CONCURRENTLY needs autocommit; a plain DETACH takes a brief lock on the parent
                cursor.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                cursor.execute(f"DROP TABLE {name}")
                dropped.append(name)
    return {"created": created, "dropped": dropped}


def encode_copy(table: str, columns: dict[str, np.ndarray]) -> bytes:
    """Binary COPY payload (header, tuples, trailer) for `table` from column arrays; `ts` in Unix
    nanoseconds. One vectorised pass: no per-row Python."""
    n = len(columns["ts"])
    rows = np.empty(n, dtype=TUPLE_DTYPES[table])
    rows["nfields"] = len(COLUMNS[table])
    for column in COLUMNS[table]:
        rows[f"len_{column}"] = np.dtype(_PG_TYPES.get(column, ">i8")).itemsize
        if column == "ts":
            rows["ts"] = columns["ts"] // 1000 - PG_EPOCH_US
        else:
            rows[column] = columns[column]
    return COPY_HEADER + rows.tobytes() + COPY_TRAILER


def sqlite_ts(value: datetime) -> str:
    """Embedded mode stores ts as fixed-width UTC text, so text order is time order."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def rows_for_sqlite(table: str, columns: dict[str, np.ndarray]) -> list[tuple]:
    ts = [sqlite_ts(datetime.fromtimestamp(int(t) // 1_000_000_000, timezone.utc)
                    .replace(microsecond=int(t) // 1000 % 1_000_000)) for t in columns["ts"]]
    rest = [columns[c].tolist() for c in COLUMNS[table][1:]]
    return list(zip(ts, *rest))
