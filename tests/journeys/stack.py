"""The whole TradeX stack, started the way `make run` starts it: `migrate`, `collectstatic`,
`seed_demo`, then `manage.py run_tradex`, in embedded mode (no DATABASE_URL/REDIS_URL: SQLite in a
temporary TRADEX_VAR_DIR, in-memory layer) or in production mode (a PostgreSQL database made for
the module and dropped after it, and the suite's Redis).

Everything the launcher and its children print is kept, in order; a journey marks where it is
(`mark()`) and waits for a line after that mark (`wait_for`), so no line is ever missed and
nothing sleeps. The launcher prints "started NAME (pid N)" for each role it starts (again when it
restarts one), which is how a journey finds the process to kill.
"""
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, "manage.py"]
START_TIMEOUT = 120  # launch to the "open http://" line, on a 2-core machine shared with other work
STOP_TIMEOUT = 40  # the launcher gives each child 10 s after SIGTERM, then kills it
COMMAND_TIMEOUT = 180
OPEN_LINE = r"TradeX: open (http://\S+?)/? "
STARTED = r"started (\w+) \(pid (\d+)\)"
# daphne's access log and Django's one-line warnings for 4xx answers
ACCESS_LOG = re.compile(r"^\S+:\d+ - - \[|^(Forbidden|Not Found|Unprocessable Entity): /")
VENUE_COUNT = 3  # as `make run`: SIMA, SIMB, SIMC (TRADEX_VENUE_COUNT's default)
VENUE_FEED_OFFSET = 100  # TRADEX_VENUE_FEED_OFFSET's default: each venue's feed port is its FIX port + 100
# Variables of the test process that must not reach the stack: the mode comes from the stack's own.
NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY", "DJANGO_ALLOW_ASYNC_UNSAFE", "TRADEX_TEST_DB_NAME")


def _bindable(port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_venue_base_port() -> int:
    """A base port whose venue FIX ports (base..base+2) and feed ports (base+100..) are all free."""
    offsets = [i for i in range(VENUE_COUNT)] + [VENUE_FEED_OFFSET + i for i in range(VENUE_COUNT)]
    for _ in range(200):
        base = random.randrange(20000, 60000)
        if all(_bindable(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free block of venue ports")


@contextmanager
def fresh_database():
    """A new PostgreSQL database next to the suite's (same server and user), dropped afterwards;
    yields its URL."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = f"tradex_journey_{uuid.uuid4().hex[:12]}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead; it only waits for its parent to read its status
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Stack:
    """One TradeX installation: its database (kept across launcher restarts) and its launcher."""

    def __init__(self, tmp: Path, *, database_url: str = "", redis_url: str = "", web_concurrency: int | None = None):
        self.mode = "production" if database_url else "embedded"
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        env.update({
            "TRADEX_VAR_DIR": str(tmp / "var"), "TRADEX_FIX_DIR": str(tmp / "fix"),
            "TRADEX_VENUE_BASE_PORT": str(free_venue_base_port()),
            "TRADEX_OUTBOX_DOORBELL_PORT": str(free_port(socket.SOCK_DGRAM)),
            "TRADEX_MARKET_CLOCK": "always_open",  # what `make run` picks unless told otherwise
            "PYTHONUNBUFFERED": "1",
        })
        if database_url:
            env["DATABASE_URL"] = database_url
        if redis_url:
            env["REDIS_URL"] = redis_url
        if web_concurrency:
            env["WEB_CONCURRENCY"] = str(web_concurrency)
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.run_mark = 0  # where the current launcher run's lines begin in self.output
        self.eof = True  # no launcher output is still to come
        self.output: list[str] = []  # every line of every launcher run, in order
        self.cond = threading.Condition()
        self.starts = 0
        self.demo_key: tuple[str, str] | None = None
        self.accounts: dict[str, dict] = {}
        self.at_open: dict = {}  # what the stack answered right after its "open http://" line

    # --- the commands `make run` runs before the launcher --------------------------------------
    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        started = time.monotonic()
        done = subprocess.run([*MANAGE, *args], cwd=ROOT, env=self.env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT)
        if check and done.returncode:
            pytest.fail(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        print(f"journeys: manage.py {args[0]} took {time.monotonic() - started:.1f} s")
        return done

    def prepare(self, accounts: dict[str, str], *, static: bool = True) -> None:
        """`make run`'s steps before the launcher (`collectstatic` only where a browser journey needs
        it; no bars backfill, which no journey reads), then one funded margin account per username
        (`accounts` maps each to its password): `create_account`'s own code, run once per account
        in one process (a Django start-up per account costs seconds on a loaded machine)."""
        self.manage("migrate", "--noinput", "-v", "0")
        if static:
            self.manage("collectstatic", "--noinput", "-v", "0")
        seeded = self.manage("seed_demo", "--no-backfill").stdout
        match = re.search(r"APCA-API-KEY-ID=(\S+) APCA-API-SECRET-KEY=(\S+)", seeded)
        assert match, f"seed_demo printed no demo key:\n{seeded}"
        self.demo_key = (match[1], match[2])
        script = "; ".join(["from django.core.management import call_command"] + [
            f"call_command('create_account', {name!r}, cash='1000000', account_type='margin', password={password!r})"
            for name, password in accounts.items()])
        # Only the JSON lines: `shell` may say more (Django 5.2 counts the objects it imports).
        created = [line for line in self.manage("shell", "-c", script).stdout.splitlines() if line.startswith("{")]
        for line in created:
            account = json.loads(line)
            self.accounts[account["username"]] = {**account, "password": accounts[account["username"]]}
        assert set(self.accounts) == set(accounts), f"create_account printed {created}"

    def verify(self) -> dict[str, subprocess.CompletedProcess]:
        """`manage.py verify_ledger` and `verify_audit`, side by side, against the stack's database."""
        procs = {cmd: subprocess.Popen([*MANAGE, cmd], cwd=ROOT, env=self.env, text=True, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT) for cmd in ("verify_ledger", "verify_audit")}
        return {cmd: subprocess.CompletedProcess(proc.args, proc.wait(timeout=COMMAND_TIMEOUT),
                                                 proc.communicate()[0]) for cmd, proc in procs.items()}

    # --- the launcher -----------------------------------------------------------------------------
    def start(self) -> None:
        """Launch `run_tradex` and return as soon as it prints "open http://" (nothing else waited for:
        the readiness journey checks what the stack answers at that moment)."""
        self.run_mark = mark = self.mark()
        self.eof = False
        self.starts += 1
        self.proc = subprocess.Popen([*MANAGE, "run_tradex", "--host", "127.0.0.1", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        started = time.monotonic()
        self.wait_for(OPEN_LINE, START_TIMEOUT, since=mark)
        print(f"journeys: {self.mode} launcher run {self.starts}: open line after {time.monotonic() - started:.1f} s")

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            with self.cond:
                self.output.append(line)
                self.cond.notify_all()
        with self.cond:
            if proc is self.proc:
                self.eof = True  # the launcher exited and every line it printed is in self.output
            self.cond.notify_all()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, context: str) -> None:
        """For a client whose request failed to connect: fail now if the launcher has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            with self.cond:
                self.cond.wait_for(lambda: self.eof, timeout=5)  # its last lines, which say why
            self.fail(f"the launcher exited with {self.proc.returncode} ({context})")

    def mark(self) -> int:
        with self.cond:
            return len(self.output)

    def wait_for(self, pattern: str, timeout: float, *, since: int = 0, what: str = "") -> re.Match:
        """The first line after `since` that matches; fails on timeout or if the launcher exits first."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        with self.cond:
            while True:
                for index in range(since, len(self.output)):
                    if match := regex.search(self.output[index]):
                        return match
                since = len(self.output)
                if self.eof:
                    self.fail(f"the launcher exited (code {self.proc.wait()}) before {what or repr(pattern)}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.fail(f"no line matching {what or repr(pattern)} within {timeout:.0f} s")
                self.cond.wait(remaining)

    def pids(self) -> dict[str, int]:
        """Each role's current pid: the latest "started NAME (pid N)" line of the current launcher run."""
        with self.cond:
            text = "".join(self.output[self.run_mark:])
        return {name: int(pid) for name, pid in re.findall(STARTED, text)}

    def kill_role(self, role: str) -> int:
        pid = self.pids().get(role)
        assert pid, f"the launcher started no {role!r}; it started {sorted(self.pids())}"
        os.kill(pid, signal.SIGKILL)
        return pid

    def seen(self, pattern: str, since: int) -> bool:
        """Whether a line after `since` matches, without waiting."""
        regex = re.compile(pattern)
        with self.cond:
            return any(regex.search(line) for line in self.output[since:])

    def stop(self) -> int:
        """SIGTERM the launcher (Ctrl-C's effect) and wait for it; returns its exit code."""
        children = self.pids()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"the launcher did not stop within {STOP_TIMEOUT} s of SIGTERM")
        left = [name for name, pid in children.items() if alive(pid)]
        assert not left, f"still running after the launcher stopped: {left}"
        return code

    def close(self) -> None:
        """Teardown: stop the launcher (SIGKILL if it will not stop; its children get SIGTERM from
        the kernel) and print the tail of the output, which pytest shows for a failed journey."""
        if self.running:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        print(self.tail(300))

    def tail(self, lines: int = 80) -> str:
        """The last lines, without daphne's access log (the journeys' own requests, hundreds)."""
        with self.cond:
            said = [line for line in self.output if not ACCESS_LOG.match(line)]
        return "".join(said[-lines:])

    def fail(self, message: str):
        pytest.fail(f"{self.mode} stack: {message}; launcher output (last lines):\n{self.tail()}", pytrace=False)
