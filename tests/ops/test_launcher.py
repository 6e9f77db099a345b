"""`manage.py run_tradex` (what `make run` ends with): it serves, and it leaves no process behind."""
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

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
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
        if redis:
            env["REDIS_URL"] = os.environ["REDIS_URL"]
            env["WEB_CONCURRENCY"] = "2"  # two daphne workers sharing the launcher's socket
        # As `make run` does: migrate first. Without the tables, whichever role reads the database
        # first (the venues read the assets) would die depending on how far it got before SIGTERM.
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                       timeout=120)
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
        return {m[0]: int(m[1]) for m in re.findall(r"started (\w+) \(pid (\d+)\)", "".join(self.output))}

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


def test_launcher_serves_the_api_and_stops_every_process_on_sigterm(tmp_path):
    launcher = Launcher(tmp_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        launcher.wait_for_line(r"open http://127\.0\.0\.1:\d+/", deadline)
        children = launcher.child_pids()
        # Embedded mode: no Celery worker (tasks run in-process); the venues and the bridge run.
        assert set(children) == {"web", "venues", "fixbridge"}
        assert "simulated, FIX 4.4" in "".join(launcher.output)

        assert launcher.get("/api/schema/", deadline) == 200

        launcher.proc.send_signal(signal.SIGTERM)
        assert launcher.proc.wait(timeout=STOP_TIMEOUT) == 0, launcher.drain()
        assert not [name for name, pid in children.items() if alive(pid)]
    finally:
        launcher.kill()


def test_when_one_process_dies_the_launcher_stops_the_others_and_fails(tmp_path):
    launcher = Launcher(tmp_path, redis=True)
    try:
        launcher.wait_for_line(r"open http://", time.monotonic() + START_TIMEOUT)
        children = launcher.child_pids()
        assert set(children) == {"web1", "web2", "worker", "beat", "venues", "fixbridge", "feed"}
        assert launcher.get("/api/schema/", time.monotonic() + START_TIMEOUT) == 200

        os.kill(children["web1"], signal.SIGKILL)

        assert launcher.proc.wait(timeout=STOP_TIMEOUT) == 1
        assert not alive(children["worker"]) and not alive(children["beat"]) and not alive(children["web2"])
    finally:
        launcher.kill()
