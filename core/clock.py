"""The system clock's synchronisation state, recorded with each audit event at its capture.

Read from the kernel with adjtimex(2) in read-only mode (modes = 0): one system call, no process,
no network, so it is safe on the order path. The kernel's NTP discipline (driven by chronyd,
ntpd or systemd-timesyncd, whichever runs) tells whether the clock is synchronised (STA_UNSYNC
clear, state not TIME_ERROR) and its current offset from the reference (`offset`, in
microseconds, or nanoseconds when STA_NANO is set). Where the call is unavailable (not Linux) or
the clock is not disciplined, the state is UNSYNCHRONISED with the offset unknown.

The reading is cached for CACHE_SECONDS per process: the state changes on the scale of the sync
daemon's poll interval (tens of seconds), far slower than orders arrive.

CLOCK_TOLERANCE_NS is the 50 ms drift tolerance for business clocks of an industry member that
records order events (FINRA Rule 6820): the CAT report flags an event whose recorded offset
exceeds it, or whose offset is unknown.
"""
import ctypes
import ctypes.util
import threading
import time
from dataclasses import dataclass

CACHE_SECONDS = 5.0
CLOCK_TOLERANCE_NS = 50_000_000

SOURCE_KERNEL_NTP = "system, ntp-synchronised (adjtimex)"
SOURCE_UNSYNCHRONISED = "system, unsynchronised"

_STA_UNSYNC = 0x0040
_STA_NANO = 0x2000
_TIME_ERROR = 5


@dataclass(frozen=True)
class ClockState:
    source: str
    offset_ns: int | None  # None: unknown
    max_error_ns: int | None = None

    def within_tolerance(self) -> bool:
        return self.offset_ns is not None and abs(self.offset_ns) <= CLOCK_TOLERANCE_NS


UNSYNCHRONISED = ClockState(SOURCE_UNSYNCHRONISED, None)


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h> (Linux)."""
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time", _Timeval), ("tick", ctypes.c_long), ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long),
                ("shift", ctypes.c_int), ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long),
                ("calcnt", ctypes.c_long), ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long),
                ("tai", ctypes.c_int), ("_padding", ctypes.c_int * 11)]


def _adjtimex():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return libc.adjtimex
    except (OSError, AttributeError):  # no libc, or no adjtimex (not Linux)
        return None


_ADJTIMEX = _adjtimex()


def read_kernel_clock() -> ClockState:
    """The clock's state now, uncached. Never raises."""
    if _ADJTIMEX is None:
        return UNSYNCHRONISED
    tx = _Timex()  # modes = 0: read only, no privilege needed
    try:
        state = _ADJTIMEX(ctypes.byref(tx))
    except Exception:  # a foreign-call failure must never fail an order
        return UNSYNCHRONISED
    if state < 0 or state == _TIME_ERROR or tx.status & _STA_UNSYNC:
        return UNSYNCHRONISED
    offset_ns = tx.offset if tx.status & _STA_NANO else tx.offset * 1000
    return ClockState(SOURCE_KERNEL_NTP, int(offset_ns), int(tx.maxerror) * 1000)


_lock = threading.Lock()
_cached: tuple[float, ClockState] | None = None
# Tests and tools may replace the reader (e.g. to simulate a drifting clock).
reader = read_kernel_clock


def clock_state() -> ClockState:
    """The cached clock state (refreshed at most every CACHE_SECONDS)."""
    global _cached
    now = time.monotonic()
    cached = _cached
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    with _lock:
        if _cached is None or now - _cached[0] >= CACHE_SECONDS:
            _cached = (now, reader())
        return _cached[1]


def clock_cache_clear() -> None:
    global _cached
    _cached = None
