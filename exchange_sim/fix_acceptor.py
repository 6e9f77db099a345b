"""A venue's FIX 4.4 acceptor: QuickFIX session handling (sequence numbers, resend, heartbeats,
file store) in front of the venue's matching engines.

Incoming: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G),
OrderStatusRequest (H), OrderMassStatusRequest (AF), MarketDataRequest (V, trades only).
Outgoing: ExecutionReport (8), OrderCancelReject (9), SecurityStatus (f) on halts and resumes,
MarketDataIncrementalRefresh (X) with the trades of each step to subscribed sessions.

Every field is written and read as a string: prices and quantities stay Decimal end to end (the
Python bindings' typed fields would pass them through float). The data dictionary validates each
incoming message before `fromApp` sees it, so a malformed one is rejected at the session level.

Replies leave after the venue's configured latency through one delay queue per venue (a timed
condition wait, not a sleep), in the order they were produced.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

import quickfix as fix

from . import events as ev

log = logging.getLogger(__name__)

# FIX code tables (FIX 4.4).
SIDES = {"1": "buy", "2": "sell", "5": "sell"}  # 5 = sell short: the venue matches it as a sell
SIDE_CODES = {"buy": "1", "sell": "2"}
ORD_TYPES = {"1": "market", "2": "limit"}
TIFS = {"0": "day", "1": "gtc", "3": "ioc", "4": "fok"}
ORD_STATUS = {ev.NEW: "0", ev.PARTIALLY_FILLED: "1", ev.FILLED: "2", ev.CANCELED: "4"}
MASS_STATUS_ALL = "7"


def fix_time(ts: datetime | None = None) -> str:
    ts = ts or datetime.now(timezone.utc)
    return ts.strftime("%Y%m%d-%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


def settings_text(*, venue: str, port: int, broker_comp_id: str, store_dir: Path, dictionary: Path,
                  heartbeat_seconds: int, host: str = "127.0.0.1") -> str:
    """The acceptor's QuickFIX settings. It listens on `host` only (loopback unless configured:
    without SocketAcceptHost QuickFIX binds every interface)."""
    return "\n".join([
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"FileStorePath={store_dir / 'store'}",
        f"FileLogPath={store_dir / 'log'}",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        f"HeartBtInt={heartbeat_seconds}",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary}",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "ResetOnLogon=N",
        "PersistMessages=Y",
        "SocketReuseAddress=Y",
        "",
        "[SESSION]",
        "BeginString=FIX.4.4",
        f"SenderCompID={venue}",
        f"TargetCompID={broker_comp_id}",
        f"SocketAcceptHost={host}",
        f"SocketAcceptPort={port}",
        "",
    ])


WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})


def move_listener(from_port: int, host: str, port: int) -> None:
    """Make a started acceptor listen on (host, port) only.

    QuickFIX 1.16 binds its acceptors to every interface (it reads no SocketAcceptHost), so the
    acceptor is configured on a throwaway port and its listening descriptor is then pointed
    (dup2) at a socket bound to `host`. A connection to the throwaway port wakes an accept()
    already blocked on the old socket, so QuickFIX's accept loop goes on with the new one; the
    old socket closes with that. Linux (/proc/self/fd)."""
    fd = _listening_fd(from_port)
    listener = socket.create_server((host, port), backlog=64)
    try:
        os.dup2(listener.fileno(), fd)
    finally:
        listener.close()  # QuickFIX's descriptor is the only one left: its stop() closes it
    try:
        socket.create_connection(("127.0.0.1", from_port), timeout=1).close()
    except OSError:
        pass  # nothing was blocked on the old socket: it is closed already


def _listening_fd(port: int) -> int:
    for name in os.listdir("/proc/self/fd"):
        try:
            sock = socket.socket(fileno=os.dup(int(name)))
        except OSError:
            continue  # not a socket
        try:
            if (sock.type == socket.SOCK_STREAM and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                    and sock.getsockname()[1] == port):
                return int(name)
        except OSError:
            pass
        finally:
            sock.close()
    raise RuntimeError(f"no listening socket on port {port} in this process")


def _get(message, tag: int, default=None):
    return message.getField(tag) if message.isSetField(tag) else default


def _decimal(message, tag: int) -> Decimal | None:
    raw = _get(message, tag)
    if raw is None:
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:
        raise fix.IncorrectDataFormat(tag) from exc


class DelayedSender:
    """Sends messages after a fixed latency, in order, from one thread."""

    def __init__(self, latency_ms: int, name: str):
        self._latency = latency_ms / 1000
        self._queue: list = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"{name}-sender", daemon=True)
        self._thread.start()

    def send(self, message, session_id) -> None:
        with self._cond:
            heapq.heappush(self._queue, (time.monotonic() + self._latency, next(self._seq), message, session_id))
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._cond.wait(None if not self._queue else self._queue[0][0] - time.monotonic())
                if self._stopped:
                    return
                _, _, message, session_id = heapq.heappop(self._queue)
            try:
                fix.Session.sendToTarget(message, session_id)
            except fix.SessionNotFound:
                log.warning("session %s gone; reply dropped (the broker reconciles on logon)", session_id)


class VenueApplication(fix.Application):
    """QuickFIX callbacks for one venue. The owner of an order is the counterparty's CompID, so
    each broker session sees only its own orders."""

    def __init__(self, venue, *, latency_ms: int):
        super().__init__()
        self.venue = venue
        self.name = venue.config.name
        self.sender = DelayedSender(latency_ms, self.name)
        self.sessions: dict[str, fix.SessionID] = {}
        self.logged_on: set[str] = set()
        self.md_subscribers: set[str] = set()
        self._lock = threading.Lock()
        self.session_rejects: list[str] = []  # session-level Rejects the counterparty sent us
        self._rejected = threading.Condition(self._lock)

    # --- session events -------------------------------------------------------------------
    def onCreate(self, session_id):
        self.sessions[session_id.getTargetCompID().getValue()] = session_id

    def onLogon(self, session_id):
        owner = session_id.getTargetCompID().getValue()
        with self._lock:
            self.logged_on.add(owner)
        log.info("%s: %s logged on", self.name, owner)

    def onLogout(self, session_id):
        owner = session_id.getTargetCompID().getValue()
        with self._lock:
            self.logged_on.discard(owner)
            self.md_subscribers.discard(owner)
        log.info("%s: %s logged out", self.name, owner)

    def toAdmin(self, message, session_id):
        pass

    def fromAdmin(self, message, session_id):
        if message.getHeader().getField(35) == "3":
            with self._lock:
                self.session_rejects.append(message.toString().replace("\x01", "|"))
                self._rejected.notify_all()

    def wait_for_session_reject(self, timeout: float) -> bool:
        with self._rejected:
            return self._rejected.wait_for(lambda: self.session_rejects, timeout=timeout)

    def toApp(self, message, session_id):
        pass

    # --- application messages -------------------------------------------------------------
    def fromApp(self, message, session_id):
        owner = session_id.getTargetCompID().getValue()
        msg_type = message.getHeader().getField(fix.MsgType().getField())
        handler = {
            fix.MsgType_NewOrderSingle: self._new_order,
            fix.MsgType_OrderCancelRequest: self._cancel,
            fix.MsgType_OrderCancelReplaceRequest: self._replace,
            fix.MsgType_OrderStatusRequest: self._status,
            fix.MsgType_OrderMassStatusRequest: self._mass_status,
            fix.MsgType_MarketDataRequest: self._market_data_request,
        }.get(msg_type)
        if handler is None:
            raise fix.UnsupportedMessageType()
        for event in handler(owner, message):
            self.deliver(event)

    def _side(self, message) -> str:
        side = SIDES.get(message.getField(54))
        if side is None:
            raise fix.IncorrectTagValue(54)
        return side

    def _new_order(self, owner, message):
        ord_type = ORD_TYPES.get(message.getField(40))
        if ord_type is None:
            raise fix.IncorrectTagValue(40)
        tif = TIFS.get(_get(message, 59, "0"))
        if tif is None:
            raise fix.IncorrectTagValue(59)
        return self.venue.new_order(owner=owner, cl_ord_id=message.getField(11), symbol=message.getField(55),
                                    side=self._side(message), ord_type=ord_type, qty=_decimal(message, 38),
                                    price=_decimal(message, 44), tif=tif)

    def _cancel(self, owner, message):
        return self.venue.cancel(owner=owner, cl_ord_id=message.getField(11), orig_cl_ord_id=message.getField(41))

    def _replace(self, owner, message):
        return self.venue.replace(owner=owner, cl_ord_id=message.getField(11), orig_cl_ord_id=message.getField(41),
                                  qty=_decimal(message, 38), price=_decimal(message, 44))

    def _status(self, owner, message):
        return [self.venue.order_status(owner=owner, cl_ord_id=message.getField(11))]

    def _mass_status(self, owner, message):
        if message.getField(585) != MASS_STATUS_ALL:
            raise fix.IncorrectTagValue(585)
        request_id = message.getField(584)
        statuses = self.venue.open_orders(owner)
        session_id = self.sessions[owner]
        for n, status in enumerate(statuses, 1):
            er = execution_report(status, venue=self.name, exec_id=f"{self.name}-S{request_id}-{n}")
            er.setField(584, request_id)
            er.setField(911, str(len(statuses)))
            er.setField(912, "Y" if n == len(statuses) else "N")
            self.sender.send(er, session_id)
        return []

    def _market_data_request(self, owner, message):
        with self._lock:
            if message.getField(263) == "2":  # unsubscribe
                self.md_subscribers.discard(owner)
            else:
                self.md_subscribers.add(owner)
        return []

    # --- outgoing -------------------------------------------------------------------------
    def deliver(self, event) -> None:
        """Send one private event to its owner's session (after the venue's latency)."""
        session_id = self.sessions.get(event.owner)
        if session_id is None:
            return  # market makers and owners without a FIX session
        if isinstance(event, ev.CancelRejected):
            message = cancel_reject(event)
        else:
            message = execution_report(event, venue=self.name)
        self.sender.send(message, session_id)

    def publish(self, market_events) -> None:
        """Trades to market-data subscribers (one X per batch), halts and resumes to everyone."""
        trades = [e for e in market_events if isinstance(e, ev.Trade)]
        with self._lock:
            subscribers = [self.sessions[o] for o in self.md_subscribers if o in self.sessions]
            everyone = [self.sessions[o] for o in self.logged_on if o in self.sessions]
        if trades and subscribers:
            for session_id in subscribers:
                self.sender.send(trades_message(trades), session_id)
        for event in market_events:
            if isinstance(event, (ev.Halted, ev.Resumed)):
                for session_id in everyone:
                    self.sender.send(security_status(event), session_id)


def _message(msg_type: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(fix.BeginString(fix.BeginString_FIX44))
    message.getHeader().setField(fix.MsgType(msg_type))
    return message


_EXEC = {  # event type -> (ExecType, OrdStatus)
    ev.Accepted: ("0", "0"),
    ev.Rejected: ("8", "8"),
    ev.Canceled: ("4", "4"),
    ev.Replaced: ("5", "0"),
}
_non_fill_ids = itertools.count(1)


def execution_report(event, *, venue: str, exec_id: str | None = None) -> fix.Message:
    er = _message(fix.MsgType_ExecutionReport)
    er.setField(11, event.cl_ord_id)
    er.setField(37, getattr(event, "order_id", None) or "NONE")
    er.setField(55, event.symbol if hasattr(event, "symbol") else "")
    er.setField(60, fix_time(getattr(event, "ts", None)))
    if isinstance(event, ev.Fill):
        er.setField(17, event.exec_id)
        er.setField(150, "F")
        er.setField(39, "2" if event.leaves_qty == 0 else "1")
        er.setField(54, SIDE_CODES[event.side])
        er.setField(32, str(event.last_qty))
        er.setField(31, str(event.last_px))
        er.setField(14, str(event.cum_qty))
        er.setField(151, str(event.leaves_qty))
        er.setField(6, str(event.avg_px))
        er.setField(12, str(event.fee))
        er.setField(13, "3")  # CommType 3: an absolute amount
        return er
    # Non-fill reports carry an ExecID too (FIX requires one); the broker dedupes only fills.
    er.setField(17, exec_id or f"{venue}-X{int(time.time() * 1e6)}-{next(_non_fill_ids)}")
    if isinstance(event, ev.OrderStatus):
        er.setField(150, "I")
        er.setField(39, ORD_STATUS.get(event.status, "0"))
        er.setField(54, SIDE_CODES[event.side])
        er.setField(38, str(event.qty))
        if event.price is not None:
            er.setField(44, str(event.price))
        er.setField(14, str(event.cum_qty))
        er.setField(151, str(event.leaves_qty))
        er.setField(6, str(event.avg_px))
        return er
    exec_type, ord_status = _EXEC[type(event)]
    er.setField(150, exec_type)
    er.setField(39, ord_status)
    er.setField(54, SIDE_CODES.get(getattr(event, "side", "buy"), "1"))
    if isinstance(event, ev.Accepted):
        er.setField(38, str(event.qty))
        if event.price is not None:
            er.setField(44, str(event.price))
        er.setField(14, "0")
        er.setField(151, str(event.qty))
        er.setField(6, "0")
    elif isinstance(event, ev.Rejected):
        er.setField(14, "0")
        er.setField(151, "0")
        er.setField(6, "0")
        er.setField(103, "5" if event.reason == "unknown_order" else "99")
        er.setField(58, f"{event.reason}: {event.text}" if event.text else event.reason)
        if event.reason == "unknown_order":
            er.setField(150, "I")  # an OrderStatusRequest for an order the venue does not know
    elif isinstance(event, ev.Canceled):
        if event.orig_cl_ord_id and event.orig_cl_ord_id != event.cl_ord_id:
            er.setField(41, event.orig_cl_ord_id)
        er.setField(14, str(event.cum_qty))
        er.setField(151, "0")
        er.setField(6, "0")
        er.setField(58, event.reason)
    elif isinstance(event, ev.Replaced):
        er.setField(41, event.orig_cl_ord_id)
        er.setField(38, str(event.qty))
        er.setField(44, str(event.price))
        er.setField(14, str(event.cum_qty))
        er.setField(151, str(event.leaves_qty))
        er.setField(6, "0")
        er.setField(39, "1" if event.cum_qty > 0 else "0")
    return er


def cancel_reject(event: ev.CancelRejected) -> fix.Message:
    message = _message(fix.MsgType_OrderCancelReject)
    message.setField(37, "NONE")
    message.setField(11, event.cl_ord_id)
    message.setField(41, event.orig_cl_ord_id)
    message.setField(39, "8")
    message.setField(434, "2" if event.reason == "not_replaceable" else "1")
    message.setField(102, "1" if event.reason == "unknown_order" else "0")
    message.setField(58, f"{event.reason}: {event.text}" if event.text else event.reason)
    return message


def trades_message(trades) -> fix.Message:
    message = _message(fix.MsgType_MarketDataIncrementalRefresh)
    message.setField(268, str(len(trades)))
    for trade in trades:
        group = fix.Group(268, 279)
        group.setField(279, "0")  # new
        group.setField(269, "2")  # trade
        group.setField(55, trade.symbol)
        group.setField(270, str(trade.price))
        group.setField(271, str(trade.qty))
        group.setField(273, trade.ts.strftime("%H:%M:%S.") + f"{trade.ts.microsecond // 1000:03d}")
        message.addGroup(group)
    return message


def security_status(event) -> fix.Message:
    message = _message(fix.MsgType_SecurityStatus)
    message.setField(55, event.symbol)
    message.setField(326, "2" if isinstance(event, ev.Halted) else "3")  # 2 trading halt, 3 resume
    if isinstance(event, ev.Halted):
        message.setField(58, event.reason)
    return message
