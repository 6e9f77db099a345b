"""Wait until a TradeX stack's `GET /readyz` answers 200 (tradex/health.py): for `make run`'s
launcher (it prints the URL only then) and for tests that start a whole stack.

Standard library only, so any client can import it. Readiness spans processes (the bridge's FIX
logons, the venues' first quotes) and has no event to subscribe to, so the probe is asked again
again, at intervals growing from 0.1 s to `interval`, until it says ready, the deadline passes or
`stop` is set.
"""
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


@dataclass
class Readiness:
    ready: bool
    status: int | None = None  # the last HTTP status; None if nothing answered
    body: dict = field(default_factory=dict)  # the last JSON body
    error: str = ""  # why nothing answered (connection refused ...)

    def summary(self) -> str:
        """What is not ready, in one line."""
        if self.status is None:
            return f"/readyz did not answer ({self.error})"
        checks = self.body.get("checks", {})
        failing = self.body.get("failing") or [n for n, c in checks.items() if not c.get("ok")]
        return "; ".join(f"{name}: {checks.get(name, {}).get('error', 'not ok')}" for name in failing) or \
            f"/readyz answered {self.status}"


def probe(base_url: str, *, timeout: float = 5.0) -> Readiness:
    try:
        with urllib.request.urlopen(base_url.rstrip("/") + "/readyz", timeout=timeout) as resp:
            return Readiness(resp.status == 200, resp.status, json.loads(resp.read() or b"{}"))
    except urllib.error.HTTPError as exc:  # 503: not ready, with the failing checks
        try:
            body = json.loads(exc.read() or b"{}")
        except ValueError:
            body = {}
        return Readiness(False, exc.code, body)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Readiness(False, None, error=str(getattr(exc, "reason", exc)))


def wait_until_ready(base_url: str, timeout: float, *, interval: float = 1.0,
                     stop: threading.Event | None = None) -> Readiness:
    """The first ready answer, or the last answer once `timeout` seconds have passed (or `stop` was set)."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    pause = min(0.1, interval)
    while True:
        remaining = deadline - time.monotonic()
        result = probe(base_url, timeout=max(min(remaining, 5.0), 0.5))
        if result.ready or stop.is_set() or remaining <= 0:
            return result
        if stop.wait(min(pause, max(deadline - time.monotonic(), 0))):
            return result
        pause = min(pause * 2, interval)
