"""Running venues: each a Venue behind its own QuickFIX acceptor on its own port, stepped by a
timer so the market moves and makers requote.

After a crash the Venue rebuilds its books from its journal; the fills it had produced but not
yet handed to QuickFIX (they wait out the venue's latency in memory) are found by comparing the
journal's fills with the ExecIDs in the session's file store, and sent again. A fill already
delivered is never re-sent as new (QuickFIX resends it as PossDup if asked), and the broker
dedupes on ExecID anyway: no fill is lost, none applied twice.
"""
from __future__ import annotations

import logging
import re
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import quickfix as fix

from . import events as ev
from .config import SymbolSpec, VenueConfig
from .feed import FeedPublisher
from core.wire.dropcopy import due_drop_copy, write_drop_copy
from .fix_acceptor import WILDCARD_HOSTS, VenueApplication, move_listener, settings_text
from .venue import Venue

log = logging.getLogger(__name__)
EXEC_ID_IN_STORE = re.compile(rb"\x0117=([^\x01]+)\x01")


def delivered_exec_ids(store_dir: Path) -> set[str]:
    """ExecIDs of every ExecutionReport QuickFIX persisted for this venue (its .body files)."""
    found: set[str] = set()
    for body in store_dir.glob("*.body"):
        found.update(m.decode() for m in EXEC_ID_IN_STORE.findall(body.read_bytes()))
    return found


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class VenueServer:
    def __init__(self, config: VenueConfig, specs: dict[str, SymbolSpec], *, dictionary: Path, state_dir: Path,
                 broker_comp_id: str = "TRADEX", heartbeat_seconds: int = 2, step_seconds: float = 0.25):
        self.config = config
        self.state_dir = Path(state_dir) / config.name
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.step_seconds = step_seconds
        self._public: list = []
        self._public_lock = threading.Lock()
        self.venue = Venue(config, specs)
        self.venue.add_listener(self._on_public)
        self.app = VenueApplication(self.venue, latency_ms=config.latency_ms)
        # QuickFIX cannot bind one address: it listens on a throwaway port until start() moves
        # its listener to (bind_host, port) (fix_acceptor.move_listener).
        self._quickfix_port = config.port if config.bind_host in WILDCARD_HOSTS else _free_port(config.bind_host)
        cfg = self.state_dir / "acceptor.cfg"
        cfg.write_text(settings_text(venue=config.name, port=self._quickfix_port, broker_comp_id=broker_comp_id,
                                     store_dir=self.state_dir, dictionary=Path(dictionary),
                                     heartbeat_seconds=heartbeat_seconds, host=config.bind_host))
        self._settings = fix.SessionSettings(str(cfg))
        self.acceptor = fix.ThreadedSocketAcceptor(self.app, fix.FileStoreFactory(self._settings), self._settings,
                                                   fix.FileLogFactory(self._settings))
        # The market-data feed (quotes and trades, binary over TCP); port 0 picks a free one.
        self.feed = (FeedPublisher(config.name, list(config.symbols), host=config.bind_host, port=config.feed_port,
                                   first_seq=self.venue.public_seq() + 1)
                     if config.feed_port is not None else None)
        self.drop_copy_dir = self.state_dir / "dropcopy"
        self._drop_copy_day = None
        self._stop = threading.Event()
        self._stepper = threading.Thread(target=self._step_loop, name=f"{config.name}-step", daemon=True)

    def start(self) -> None:
        self.acceptor.start()  # creates the sessions (onCreate) before anything is sent
        if self._quickfix_port != self.config.port:
            move_listener(self._quickfix_port, self.config.bind_host, self.config.port)
        if self.feed is not None:
            self.feed.start()
        self._resend_undelivered()
        self._stepper.start()
        log.info("%s: FIX acceptor on %s:%d, latency %d ms", self.config.name, self.config.bind_host,
                 self.config.port, self.config.latency_ms)

    def stop(self) -> None:
        self._stop.set()
        if self._stepper.is_alive():
            self._stepper.join(timeout=5)
        if self.feed is not None:
            self.feed.stop()
        if self.acceptor is None:
            return
        self.acceptor.stop()
        self.acceptor = None  # destroys the sessions: their SessionIDs are free for a restart
        self.app.sender.stop()
        self.venue.close()

    def _resend_undelivered(self) -> None:
        delivered = delivered_exec_ids(self.state_dir / "store")
        undelivered = [e for e in self.venue.replayed_fills() if e.exec_id not in delivered]
        for event in undelivered:
            self.app.deliver(event)
        if undelivered:
            log.warning("%s: re-sent %d fills produced before the restart but never delivered",
                        self.config.name, len(undelivered))

    def _on_public(self, event) -> None:
        with self._public_lock:
            self._public.append(event)

    def _step_loop(self) -> None:
        # A timer: the market moves every step_seconds whether or not anyone trades, on the
        # clock's multiples of step_seconds, so venues step together (within one walk interval
        # of each other their makers cannot cross, walk.py).
        while not self._stop.wait(self.step_seconds - time.time() % self.step_seconds):
            try:
                now = datetime.now(timezone.utc)
                for event in self.venue.step(now):
                    self.app.deliver(event)
                self.flush_public()
                day = due_drop_copy(now, self._drop_copy_day)
                if day is not None:  # end of the trading day: the drop copy for reconciliation
                    write_drop_copy(self.venue, day, self.drop_copy_dir)
                    self._drop_copy_day = day
            except Exception:
                log.exception("%s: step failed", self.config.name)

    def flush_public(self) -> None:
        with self._public_lock:
            batch, self._public = self._public, []
        if batch:
            self.app.publish([e for e in batch if isinstance(e, (ev.Trade, ev.Halted, ev.Resumed))])
            if self.feed is not None:
                self.feed.publish(batch)
