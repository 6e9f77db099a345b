"""Waking the outbox drainer when a row is committed, without a polling loop.

PostgreSQL: a statement trigger on the outbox table runs pg_notify('tradex_outbox') (migration
0003), delivered at commit to every bridge that LISTENs, on any machine. Embedded mode (SQLite,
one machine): the web process rings a UDP doorbell on 127.0.0.1 after commit (orders/signals.py).
Both waits have a timeout, which only paces the bridge's housekeeping (overdue acknowledgements).
"""
import socket

import psycopg
from django.conf import settings
from django.db import connection

CHANNEL = "tradex_outbox"


def doorbell_address() -> tuple[str, int]:
    return ("127.0.0.1", settings.TRADEX_OUTBOX_DOORBELL_PORT)


def ring() -> None:
    """Wake the drainers now (after a logon, or from a process that wrote outbox rows)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"NOTIFY {CHANNEL}")
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"1", doorbell_address())


class PostgresWaiter:
    def __init__(self):
        params = connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        params.pop("prepare_threshold", None)
        self._conn = psycopg.connect(**params, autocommit=True)
        self._conn.execute(f"LISTEN {CHANNEL}")

    def wait(self, timeout: float) -> bool:
        """True if woken by a notification, False on timeout."""
        woken = False
        for _ in self._conn.notifies(timeout=timeout, stop_after=1):
            woken = True
        return woken

    def close(self) -> None:
        self._conn.close()


class DoorbellWaiter:
    def __init__(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(doorbell_address())

    def wait(self, timeout: float) -> bool:
        self._sock.settimeout(timeout)
        try:
            self._sock.recv(64)
        except TimeoutError:
            return False
        self._sock.setblocking(False)
        try:  # coalesce rings that arrived meanwhile
            while self._sock.recv(64):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        self._sock.close()


def waiter():
    return PostgresWaiter() if connection.vendor == "postgresql" else DoorbellWaiter()
