"""QuickFIX callbacks of the broker's initiator sessions.

Crash-only on failure: QuickFIX counts an incoming message as received only after `fromApp`
returns. If applying a report fails for a reason other than the report itself (the database is
down, say), the process exits at once, before that count is stored; on restart the session asks
the venue to resend from the first unapplied message, and fills are idempotent on ExecID. So a
fill is never lost and never applied twice, whatever moment the bridge dies at (SIGKILL included).
"""
import logging
import os
import threading

import quickfix as fix
from django.db import close_old_connections, connection

from ..models import Order
from ..state import TERMINAL_STATUSES
from .inbound import report_apply
from .reports import order_id_of, parse, parse_trades

log = logging.getLogger(__name__)
EXIT_APPLY_FAILED = 70


class BridgeApplication(fix.Application):
    def __init__(self, *, on_logon, on_logout, on_prices, on_security_status):
        super().__init__()
        self._on_logon, self._on_logout = on_logon, on_logout
        self._on_prices, self._on_security_status = on_prices, on_security_status
        self.sessions: dict[str, fix.SessionID] = {}
        self.logged_on: set[str] = set()
        # Logged on and the logon's status requests are out: the outbox may send to these venues
        # (the venue answers each request before it sees what is sent after it).
        self.ready: set[str] = set()
        self.lock = threading.RLock()  # re-entered by wait_for predicates that ask is_logged_on
        self.changed = threading.Condition(self.lock)  # notified after each session event and report
        self.applied: dict[str, int] = {}  # outcome -> count, for logs and tests

    @staticmethod
    def venue_of(session_id) -> str:
        return session_id.getTargetCompID().getValue()

    def is_logged_on(self, venue: str) -> bool:
        with self.lock:
            return venue in self.logged_on

    def ready_venues(self) -> list[str]:
        with self.lock:
            return sorted(self.ready)

    def mark_ready(self, venue: str) -> None:
        with self.lock:
            if venue in self.logged_on:
                self.ready.add(venue)
            self.changed.notify_all()

    def onCreate(self, session_id):
        self.sessions[self.venue_of(session_id)] = session_id

    def onLogon(self, session_id):
        venue = self.venue_of(session_id)
        with self.lock:
            self.logged_on.add(venue)
        self._guarded(self._on_logon, venue)
        with self.lock:
            self.changed.notify_all()

    def onLogout(self, session_id):
        venue = self.venue_of(session_id)
        with self.lock:
            self.logged_on.discard(venue)
            self.ready.discard(venue)
            self.changed.notify_all()
        self._guarded(self._on_logout, venue)

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        if message.getHeader().getField(35) == "3":  # session-level Reject of something we sent
            log.error("%s rejected our message: %s", self.venue_of(session_id), message.toString().replace("\x01", "|"))

    def toApp(self, message, session_id):
        header = message.getHeader()
        if header.isSetField(43) and header.getField(43) == "Y" and header.getField(35) == "D":
            self._resend_or_not(message)

    @staticmethod
    def _resend_or_not(message) -> None:
        """QuickFIX resends what it stored when the venue asks (after a crash or a reconnect). A
        NewOrderSingle for an order that ended meanwhile (expired, canceled or rejected while the
        bridge was away) must not reach the venue: DoNotSend turns it into a gap fill. An order
        that cannot be looked up is resent: the venue dedups ClOrdIDs and the logon asks anyway."""
        try:
            order_id = order_id_of(message.getField(11))
            close_old_connections()
            status = Order.objects.filter(pk=order_id).values_list("status", flat=True).first()
        except Exception:
            log.exception("fixbridge: could not look up a resent order; resending it")
            return
        finally:
            connection.close()
        if status in TERMINAL_STATUSES:
            log.warning("fixbridge: not resending the NewOrderSingle of order %s: it is %s", order_id, status)
            raise fix.DoNotSend()

    def fromApp(self, message, session_id):
        venue = self.venue_of(session_id)
        msg_type = message.getHeader().getField(35)
        if msg_type in ("8", "9"):
            self._guarded(self._apply, venue, message)
        elif msg_type == "X":
            self._on_prices(venue, parse_trades(message))
        elif msg_type == "f":
            self._guarded(self._on_security_status, venue, message.getField(55), message.getField(326),
                          message.getField(58) if message.isSetField(58) else "")
        else:
            raise fix.UnsupportedMessageType()

    def _apply(self, venue: str, message) -> None:
        outcome = report_apply(venue, parse(message))
        with self.lock:
            self.applied[outcome] = self.applied.get(outcome, 0) + 1
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float) -> bool:
        """Block until predicate() is true, re-checked after each session event or report (used by
        tests and tools to wait on the event itself, never on time)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout=timeout)

    def _guarded(self, func, *args) -> None:
        close_old_connections()
        try:
            func(*args)
        except Exception:
            log.exception("fixbridge: could not apply a venue message; exiting so the session resends it")
            logging.shutdown()
            os._exit(EXIT_APPLY_FAILED)
        finally:
            # Give the connection back (to the pool, or closed) between messages: QuickFIX's
            # threads hold none while they wait on the network.
            connection.close()

