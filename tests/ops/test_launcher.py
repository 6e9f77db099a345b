"""`manage.py run_tradex` (what `make run` ends with): it says it is ready only once it is, it
restarts a role that dies, embedded mode pushes fills to the browser's streams, and it leaves no
process behind. The supervisor's own rules (backoff, crash loop) are in test_supervisor.py."""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from tradex.ready_wait import probe, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120
STOP_TIMEOUT = 30

pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead, it only waits for its parent to read its status
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Launcher:
    def __init__(self, tmp_path, *, redis: bool = False):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env["TRADEX_VAR_DIR"] = str(tmp_path)  # embedded mode: a throwaway SQLite file
        env.pop("WEB_CONCURRENCY", None)
        env["TRADEX_MARKET_CLOCK"] = "always_open"  # as `make run` sets it: market orders fill now
        # Ports of this stack's own (other stacks may run on this machine): one venue, its feed at
        # base + TRADEX_VENUE_FEED_OFFSET, and the embedded outbox doorbell.
        env.update({"TRADEX_VENUE_COUNT": "1", "TRADEX_VENUE_BASE_PORT": str(free_port()),
                    "TRADEX_OUTBOX_DOORBELL_PORT": str(free_port())})
        if redis:
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            env["WEB_CONCURRENCY"] = "2"  # two daphne workers sharing the launcher's socket
        # As `make run` does: migrate first. Without the tables, whichever role reads the database
        # first (the venues read the assets) would die and be restarted until they exist.
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                       timeout=120)
        # As `make run` does: the demo assets (what the venues quote, so /readyz can see quotes)
        # and the demo account, whose API key seed_demo prints.
        seeded = subprocess.run([sys.executable, "manage.py", "seed_demo", "--no-backfill"], cwd=ROOT, env=env,
                                check=True, timeout=120, capture_output=True, text=True).stdout
        self.key = re.search(r"APCA-API-KEY-ID=(\S+) APCA-API-SECRET-KEY=(\S+)", seeded).groups()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_tradex", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        # A reader thread keeps the pipe drained, so a chatty child can never block on a full pipe.
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def drain(self) -> str:
        """Everything the launcher printed (for a failure's message)."""
        self.proc.wait(timeout=STOP_TIMEOUT)
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        return "".join(self.output)

    def wait_for_line(self, pattern: str, deadline: float) -> re.Match:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            self.output.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"no line matching {pattern!r} in time; output:\n{''.join(self.output)}")

    def child_pids(self) -> dict[str, int]:
        """Each role's latest pid (a restarted role's new one)."""
        return {m[0]: int(m[1]) for m in re.findall(r"started (\w+) \(pid (\d+)\)", "".join(self.output))}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"APCA-API-KEY-ID": self.key[0], "APCA-API-SECRET-KEY": self.key[1],
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())

    def get(self, path: str, deadline: float) -> int:
        """GET until the server answers or the deadline passes (daphne binds a moment after start).
        A slow first answer (the schema is generated on first use, on a machine also starting the
        venues and the bridge) is waited for up to the deadline, not failed after a fixed 5 s."""
        while True:
            try:
                timeout = max(deadline - time.monotonic(), 1)
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as resp:
                    return resp.status
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    pytest.fail(f"{path} did not answer: {exc}; output:\n{''.join(self.output)}")
            try:  # returns at once if the launcher died; otherwise a short pause before retrying
                self.proc.wait(timeout=0.1)
                pytest.fail(f"launcher exited with {self.proc.returncode}; output:\n{''.join(self.output)}")
            except subprocess.TimeoutExpired:
                pass

    def kill(self):
        """Clean-up after a failed test: the children get SIGTERM from the kernel (PDEATHSIG)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def test_the_url_is_printed_once_ready_and_sigterm_stops_every_process(tmp_path):
    launcher = Launcher(tmp_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        launcher.wait_for_line(r"open http://127\.0\.0\.1:\d+/", deadline)
        # Printed only once /readyz said so: the bridge is logged on to every venue, quotes flow.
        ready = probe(launcher.url)
        assert ready.ready, ready.summary()
        assert set(ready.body["checks"]) == {"database", "redis", "venues", "quotes"}
        children = launcher.child_pids()
        # Embedded mode: no Celery worker (tasks run in-process); the FIX bridge and the feed run
        # inside the web process (one in-memory channel layer); the venues are their own process.
        assert set(children) == {"web", "venues"}
        assert "fixbridge (in the web process): sessions to SIMA" in "".join(launcher.output)
        assert "simulated, FIX 4.4" in "".join(launcher.output)
        assert launcher.get("/api/schema/", deadline) == 200

        launcher.proc.send_signal(signal.SIGTERM)
        assert launcher.proc.wait(timeout=STOP_TIMEOUT) == 0, launcher.drain()
        output = launcher.drain()
        assert output.count("stopping (SIGTERM)") == 1
        assert not [name for name, pid in children.items() if alive(pid)]
    finally:
        launcher.kill()


def frames(ws, deadline: float):
    """The trade-update stream's frames (text or binary JSON) until the deadline."""
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            yield json.loads(ws.recv(timeout=remaining))
        except TimeoutError:
            return


def test_embedded_mode_pushes_an_orders_new_and_fill_to_the_trade_updates_stream(tmp_path):
    """Embedded mode's fills never reached the browser: the bridge ran in a process of its own,
    with an in-memory channel layer nobody listened to."""
    launcher = Launcher(tmp_path)
    try:
        launcher.wait_for_line(r"open http://", time.monotonic() + START_TIMEOUT)
        with ws_connect(f"ws://127.0.0.1:{launcher.port}/stream", open_timeout=30) as ws:
            ws.send(json.dumps({"action": "auth", "key": launcher.key[0], "secret": launcher.key[1]}))
            ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            deadline = time.monotonic() + 30
            for frame in frames(ws, deadline):
                if frame.get("stream") == "listening":
                    break
            else:
                pytest.fail("the stream never said listening")

            order = launcher.api("POST", "/v2/orders", {"symbol": "AAPL", "qty": "1", "side": "buy",
                                                         "type": "market", "time_in_force": "day"})

            events = []
            for frame in frames(ws, time.monotonic() + 30):
                if frame.get("stream") == "trade_updates" and frame["data"]["order"]["id"] == order["id"]:
                    events.append(frame["data"]["event"])
                    if frame["data"]["event"] == "fill":
                        break
        assert "new" in events and events[-1] == "fill", events
        assert launcher.api("GET", f"/v2/orders/{order['id']}")["status"] == "filled"
    finally:
        launcher.kill()


def test_a_killed_role_is_restarted_and_the_stack_serves_again(tmp_path):
    """One dead role stopped the whole stack (the launcher stopped every role when one exited)."""
    launcher = Launcher(tmp_path)
    try:
        launcher.wait_for_line(r"open http://", time.monotonic() + START_TIMEOUT)
        venues = launcher.child_pids()["venues"]

        os.kill(venues, signal.SIGKILL)

        deadline = time.monotonic() + START_TIMEOUT
        launcher.wait_for_line(rf"venues \(pid {venues}\) exited with -9; restarting in 1\.0 s", deadline)
        restarted = int(launcher.wait_for_line(r"started venues \(pid (\d+)\)", deadline)[1])
        assert restarted != venues and alive(restarted)
        # The bridge (in the web process, which never stopped) logs on to the new venues.
        ready = wait_until_ready(launcher.url, deadline - time.monotonic())
        assert ready.ready, ready.summary()
        assert launcher.proc.poll() is None

        launcher.proc.send_signal(signal.SIGTERM)
        assert launcher.proc.wait(timeout=STOP_TIMEOUT) == 0, launcher.drain()
        assert not alive(restarted)
    finally:
        launcher.kill()


def test_with_redis_a_killed_web_worker_is_restarted_while_the_other_serves(tmp_path):
    launcher = Launcher(tmp_path, redis=True)
    try:
        launcher.wait_for_line(r"open http://", time.monotonic() + START_TIMEOUT)
        children = launcher.child_pids()
        assert set(children) == {"web1", "web2", "worker", "beat", "venues", "fixbridge", "feed"}
        assert (tmp_path / "celerybeat-schedule").exists() or any(tmp_path.glob("celerybeat-schedule*"))

        os.kill(children["web1"], signal.SIGKILL)

        deadline = time.monotonic() + START_TIMEOUT
        launcher.wait_for_line(rf"web1 \(pid {children['web1']}\) exited with -9; restarting in 1\.0 s", deadline)
        assert launcher.get("/api/schema/", deadline) == 200  # web2 (and soon web1 again) on the shared socket
        restarted = int(launcher.wait_for_line(r"started web1 \(pid (\d+)\)", deadline)[1])
        assert alive(restarted) and all(alive(children[n]) for n in ("web2", "worker", "beat", "fixbridge"))

        launcher.proc.send_signal(signal.SIGTERM)
        assert launcher.proc.wait(timeout=STOP_TIMEOUT) == 0, launcher.drain()
        assert not alive(restarted) and not alive(children["worker"]) and not alive(children["web2"])
    finally:
        launcher.kill()
