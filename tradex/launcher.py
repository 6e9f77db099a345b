"""Start and supervise TradeX's processes for `make run` (`manage.py run_tradex`).

Each role is a ProcessSpec in `process_specs()`. Every child runs in its own process group so the
terminal's Ctrl-C reaches only the launcher, which then stops each child exactly once with SIGTERM
and waits for it. A role that dies on its own is restarted with backoff (it recovers its own
half-done work on start: crash-only); one that keeps dying stops the stack with exit code 1. The
launcher blocks in select() on a self-pipe the signals write to, so nothing polls.
"""
import ctypes
import heapq
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

# After SIGTERM, a child gets this long to exit before SIGKILL.
STOP_TIMEOUT_SECONDS = 10
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]
    inherit: tuple[socket.socket, ...] = ()  # sockets the child inherits (held here, so they stay open)


def listen_socket(host: str, port: int) -> socket.socket:
    """The web role's listening socket (IPv4), bound once here and shared by every web worker."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def web_worker_count(redis_url: str) -> int:
    """WEB_CONCURRENCY, else one daphne per core when the channel layer is Redis. With the in-memory
    layer a WebSocket's group lives in one process, so embedded mode runs one."""
    if os.environ.get("WEB_CONCURRENCY"):
        return max(1, int(os.environ["WEB_CONCURRENCY"]))
    return (os.cpu_count() or 1) if redis_url else 1


def web_specs(sock: socket.socket, workers: int) -> list[ProcessSpec]:
    """daphne is one process and one thread for Django's sync code; a CPU-bound order path needs a
    process per core. Each worker accepts on the same inherited socket (prefork), so the kernel
    spreads connections across them."""
    daphne = str(Path(sys.executable).parent / "daphne")
    endpoint = f"fd:fileno={sock.fileno()}"  # daphne's fd endpoint adopts an AF_INET socket
    return [ProcessSpec(f"web{i + 1}" if workers > 1 else "web", [daphne, "-e", endpoint, "tradex.asgi:application"],
                        inherit=(sock,)) for i in range(workers)]


def process_specs(*, host: str, port: int, redis_url: str, embedded: bool, state_dir: Path) -> list[ProcessSpec]:
    """The processes of `make run`. The web socket is bound here, in the launcher, and inherited.
    Per-stack state files (Celery beat's schedule) go to `state_dir`, never a machine-wide place."""
    bin_dir = Path(sys.executable).parent  # the virtualenv's bin/, where daphne and celery live
    if ":" in host:  # IPv6: daphne's fd endpoint cannot adopt it, so one worker binds for itself
        specs = [ProcessSpec("web", [str(bin_dir / "daphne"), "-b", host, "-p", str(port), "tradex.asgi:application"])]
    else:
        specs = web_specs(listen_socket(host, port), web_worker_count(redis_url))
    if redis_url:
        # Embedded mode runs tasks in-process (CELERY_TASK_ALWAYS_EAGER), so a worker needs Redis.
        specs.append(ProcessSpec("worker", [str(bin_dir / "celery"), "-A", "tradex", "worker", "-l", "warning",
                                            "--concurrency", "1"]))
        # Beat schedules the back-office jobs (tradex/celery.py).
        specs.append(ProcessSpec("beat", [str(bin_dir / "celery"), "-A", "tradex", "beat", "-l", "warning",
                                          "-s", str(state_dir / "celerybeat-schedule")]))
    # The simulated venues (FIX acceptors) are always their own process, reached over TCP.
    manage = str(Path(__file__).resolve().parent.parent / "manage.py")
    specs.append(ProcessSpec("venues", [sys.executable, manage, "run_venues"]))
    if not embedded:
        # Embedded mode runs the FIX bridge and the feed inside the web process instead
        # (tradex/asgi.py): its in-memory channel layer and quote cache are the ones the web's
        # WebSockets and API read, so fills and quotes reach the browser there too.
        specs.append(ProcessSpec("fixbridge", [sys.executable, manage, "run_fixbridge"]))
        specs.append(ProcessSpec("feed", [sys.executable, manage, "run_feed"]))
    return specs


try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl  # Linux only
except (OSError, AttributeError):
    _prctl = None


def _die_with_parent() -> None:
    """Runs in the child before exec: if the launcher is SIGKILLed, the kernel sends the child
    SIGTERM instead of leaving it orphaned."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class RestartPolicy:
    """A dead role is restarted after `base` seconds, doubling with each death still inside
    `window` seconds (up to `cap`); the `deaths`-th death inside the window stops the stack."""
    base: float = 1.0
    cap: float = 30.0
    deaths: int = 5
    window: float = 60.0

    def delay(self, recent_deaths: int) -> float:
        return min(self.base * 2 ** max(recent_deaths - 1, 0), self.cap)


class Supervisor:
    """Starts the roles, restarts one that dies (RestartPolicy), stops them all once on SIGINT or
    SIGTERM or when one keeps dying.

    One thread, one blocking call: select() on a self-pipe that the kernel's signal delivery
    writes to (signal.set_wakeup_fd) for SIGCHLD, SIGINT and SIGTERM, with a timeout that is the
    next due restart or the stop deadline. The Python-level handlers do nothing: all the work
    (reaping, restarting, printing) happens in the loop, never inside a handler."""

    def __init__(self, specs: list[ProcessSpec], *, env: dict[str, str], out: TextIO, banner: str = "",
                 policy: RestartPolicy | None = None, stop_timeout: float = STOP_TIMEOUT_SECONDS):
        self.specs = specs
        self.env = env
        self.out = out
        self.banner = banner  # printed once every process has been started (run_tradex passes "")
        self.policy = policy or RestartPolicy()
        self.stop_timeout = stop_timeout  # after SIGTERM, a child gets this long before SIGKILL
        self.children: dict[int, tuple[ProcessSpec, subprocess.Popen]] = {}
        self.deaths: dict[str, list[float]] = {}  # role -> monotonic times of its recent deaths
        self.restarts: list[tuple[float, int, ProcessSpec]] = []  # (due at, tie-break, role), a heap
        self.stopping = False
        self.exit_code = 0
        self._kill_at: float | None = None
        self._out_lock = threading.Lock()  # the readiness announcer (run_tradex) prints from a thread

    def say(self, line: str) -> None:
        with self._out_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def pids(self) -> dict[str, int]:
        return {spec.name: pid for pid, (spec, _) in self.children.items()}

    # --- starting and stopping ----------------------------------------------------------
    def _spawn(self, spec: ProcessSpec) -> bool:
        try:
            proc = subprocess.Popen(spec.argv, env=self.env, process_group=0, preexec_fn=_die_with_parent,
                                    pass_fds=[s.fileno() for s in spec.inherit])
        except OSError as exc:
            self.say(f"cannot start {spec.name}: {exc}")
            self.exit_code = 1
            self.stop(f"{spec.name} failed to start")
            return False
        self.children[proc.pid] = (spec, proc)
        self.say(f"started {spec.name} (pid {proc.pid}): {' '.join(spec.argv)}")
        return True

    def _signal_children(self, signum: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass  # already exited; the loop will reap it

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.restarts.clear()
        self.say(f"stopping ({reason})")
        self._signal_children(signal.SIGTERM)
        self._kill_at = time.monotonic() + self.stop_timeout

    def _kill_the_rest(self) -> None:
        names = ", ".join(spec.name for spec, _ in self.children.values())
        self.say(f"still running after {self.stop_timeout:g} s, killing: {names}")
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)  # the child's whole group: it may have its own children
            except ProcessLookupError:
                pass
        self._kill_at = None

    # --- deaths and restarts --------------------------------------------------------------
    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.children.pop(pid, None)
            if entry is not None:
                self._died(pid, *entry, os.waitstatus_to_exitcode(status))

    def _died(self, pid: int, spec: ProcessSpec, proc: subprocess.Popen, code: int) -> None:
        proc.returncode = code  # reaped here, not by Popen
        if self.stopping:
            self.say(f"{spec.name} (pid {pid}) exited with {code}")
            return
        now = time.monotonic()
        recent = [t for t in self.deaths.get(spec.name, []) if now - t < self.policy.window] + [now]
        self.deaths[spec.name] = recent
        if len(recent) >= self.policy.deaths:
            self.say(f"{spec.name} (pid {pid}) exited with {code}")
            self.say(f"{spec.name} died {len(recent)} times within {self.policy.window:g} s; it is not "
                     f"restarted again: fix what it printed above and run again")
            self.exit_code = 1
            self.stop(f"{spec.name} keeps dying")
            return
        delay = self.policy.delay(len(recent))
        self.say(f"{spec.name} (pid {pid}) exited with {code}; restarting in {delay:.1f} s")
        heapq.heappush(self.restarts, (now + delay, id(spec), spec))

    def _restart_due(self) -> None:
        now = time.monotonic()
        while self.restarts and self.restarts[0][0] <= now and not self.stopping:
            _, _, spec = heapq.heappop(self.restarts)
            self._spawn(spec)

    def _timeout(self) -> float | None:
        due = [t for t in (self._kill_at, self.restarts[0][0] if self.restarts else None) if t is not None]
        return max(min(due) - time.monotonic(), 0) if due else None

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> int:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        watched = (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, _note_only) for sig in watched}
        previous_fd = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            for spec in self.specs:
                # A signal during start-up is read below; start no more once one has come.
                if self._handle(_drain(wake_r)) or not self._spawn(spec):
                    break
            if not self.stopping and self.banner:
                self.say(self.banner)
            while self.children or (self.restarts and not self.stopping):
                ready, _, _ = select.select([wake_r], [], [], self._timeout())
                self._handle(_drain(wake_r) if ready else b"")
                if self._kill_at is not None and time.monotonic() >= self._kill_at:
                    self._kill_the_rest()
                self._restart_due()
        finally:
            signal.set_wakeup_fd(previous_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(wake_r)
            os.close(wake_w)
        self.say("all processes stopped")
        return self.exit_code

    def _handle(self, signals: bytes) -> bool:
        """Act on the signals that arrived; True once stopping."""
        for signum in signals:
            if signum in (signal.SIGINT, signal.SIGTERM) and not self.stopping:
                self.stop(signal.Signals(signum).name)
        self._reap()  # SIGCHLD, or a child that died before its handler was in place
        return self.stopping


def _note_only(_signum, _frame) -> None:
    """The handler of every watched signal: the wakeup fd carries the signal to the loop."""


def _drain(fd: int) -> bytes:
    data = b""
    while True:
        try:
            chunk = os.read(fd, 512)
        except BlockingIOError:
            return data
        if not chunk:
            return data
        data += chunk


# --- production mode's environment (`make run` with DATABASE_URL set) -------------------------
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
WILDCARD_HOSTS = {"0.0.0.0", "::"}
SECRET_FILE = "secret_key"
ARCHIVE_KEY_FILE = "archive_signing_key"


def state_secret_key(state_dir: Path, name: str = SECRET_FILE) -> tuple[str, bool]:
    """A secret of the stack (the Django secret by default) from `state_dir`, generated there once
    (mode 0600) if absent. Returns (key, generated now)."""
    path = state_dir / name
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip(), False
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key, True


def production_env(env: dict[str, str], *, host: str, state_dir: Path) -> tuple[dict[str, str], list[str]]:
    """The children's environment in production mode: tradex.settings.production, its secret
    (DJANGO_SECRET_KEY, else the state directory's), its allowed hosts (DJANGO_ALLOWED_HOSTS, else
    the address bound), and plain HTTP allowed only on a loopback address (TRADEX_INSECURE_HTTP=1)
    unless the operator says otherwise. Returns (env, notes to print)."""
    env = dict(env, DJANGO_SETTINGS_MODULE="tradex.settings.production")
    notes = []
    if not env.get("DJANGO_SECRET_KEY"):
        env["DJANGO_SECRET_KEY"], generated = state_secret_key(state_dir)
        notes.append(f"WARNING: DJANGO_SECRET_KEY is not set; using the key {'generated now in' if generated else 'in'} "
                     f"{state_dir / SECRET_FILE} (keep that file private, or set DJANGO_SECRET_KEY)")
    if not env.get("TRADEX_ARCHIVE_SIGNING_KEY"):
        # Audit archives must verify across restarts: the key is kept beside the secret.
        env["TRADEX_ARCHIVE_SIGNING_KEY"], generated = state_secret_key(state_dir, ARCHIVE_KEY_FILE)
        notes.append(f"WARNING: TRADEX_ARCHIVE_SIGNING_KEY is not set; using the key "
                     f"{'generated now in' if generated else 'in'} {state_dir / ARCHIVE_KEY_FILE} "
                     f"(keep that file private, or set TRADEX_ARCHIVE_SIGNING_KEY)")
    if not env.get("DJANGO_ALLOWED_HOSTS"):
        if host in LOOPBACK_HOSTS:
            hosts = ["127.0.0.1", "localhost", "[::1]"]
        elif host in WILDCARD_HOSTS:
            hosts = ["127.0.0.1", "localhost", socket.gethostname()]
            notes.append(f"listening on every interface: add the host name clients use to DJANGO_ALLOWED_HOSTS "
                         f"(now {','.join(hosts)})")
        else:
            hosts = [f"[{host}]" if ":" in host else host]
        env["DJANGO_ALLOWED_HOSTS"] = ",".join(hosts)
    if "TRADEX_INSECURE_HTTP" not in env:
        if host in LOOPBACK_HOSTS:
            env["TRADEX_INSECURE_HTTP"] = "1"
            notes.append("plain HTTP on loopback (TRADEX_INSECURE_HTTP=1): no HTTPS redirect, HSTS or Secure cookies; "
                         "set TRADEX_INSECURE_HTTP=0 behind a TLS proxy")
        else:
            notes.append("HTTPS only: requests are redirected to https:// unless a TLS proxy sets X-Forwarded-Proto "
                         "(TRADEX_INSECURE_HTTP=1 allows plain HTTP)")
    return env, notes
