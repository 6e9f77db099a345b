"""Start and supervise TradeX's processes for `make run` (`manage.py run_tradex`).

Each role is a ProcessSpec in `process_specs()`; the FIX bridge, feed and venues join that list
when they exist. Every child runs in its own process group so the terminal's Ctrl-C reaches only
the launcher, which then stops each child exactly once with SIGTERM and waits for it. The launcher
blocks in os.wait() — signal handlers run while it waits — so nothing polls.
"""
import ctypes
import os
import signal
import socket
import subprocess
import sys
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


def process_specs(*, host: str, port: int, redis_url: str) -> list[ProcessSpec]:
    """The processes of `make run`. The web socket is bound here, in the launcher, and inherited."""
    bin_dir = Path(sys.executable).parent  # the virtualenv's bin/, where daphne and celery live
    if ":" in host:  # IPv6: daphne's fd endpoint cannot adopt it, so one worker binds for itself
        specs = [ProcessSpec("web", [str(bin_dir / "daphne"), "-b", host, "-p", str(port), "tradex.asgi:application"])]
    else:
        specs = web_specs(listen_socket(host, port), web_worker_count(redis_url))
    if redis_url:
        # Embedded mode runs tasks in-process (CELERY_TASK_ALWAYS_EAGER), so a worker needs Redis.
        specs.append(ProcessSpec("worker", [str(bin_dir / "celery"), "-A", "tradex", "worker", "-l", "warning",
                                            "--concurrency", "1"]))
        # Beat schedules the back-office jobs (tradex/celery.py); its schedule file in the temp dir.
        import tempfile

        specs.append(ProcessSpec("beat", [str(bin_dir / "celery"), "-A", "tradex", "beat", "-l", "warning",
                                          "-s", str(Path(tempfile.gettempdir()) / "tradex-celerybeat-schedule")]))
    # The simulated venues (FIX acceptors) and the bridge to them; the bridge reconnects on its
    # own, so the start order does not matter. Next: "feed" (market data).
    manage = str(Path(__file__).resolve().parent.parent / "manage.py")
    specs.append(ProcessSpec("venues", [sys.executable, manage, "run_venues"]))
    specs.append(ProcessSpec("fixbridge", [sys.executable, manage, "run_fixbridge"]))
    if redis_url or os.environ.get("DATABASE_URL"):  # else: tradex/asgi.py
        # Embedded mode runs the feed inside the web process instead (tradex/asgi.py): its
        # in-memory channel layer and cache are the ones the web's WebSockets and API read.
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


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], *, env: dict[str, str], out: TextIO, banner: str = ""):
        self.specs = specs
        self.env = env
        self.out = out
        self.banner = banner  # printed once every process has been started
        self.children: dict[int, tuple[ProcessSpec, subprocess.Popen]] = {}
        self.stopping = False
        # Signal handlers never print (a handler interrupting a buffered write would re-enter it):
        # they leave notes that the main loop prints.
        self.notes: list[str] = []

    def say(self, line: str) -> None:
        while self.notes:
            self.out.write(self.notes.pop(0) + "\n")
        self.out.write(line + "\n")
        self.out.flush()

    def _signal_children(self, signum: int) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass  # already exited; os.wait() will collect it

    def stop(self, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        self.notes.append(f"stopping ({reason})")
        self._signal_children(signal.SIGTERM)
        signal.alarm(STOP_TIMEOUT_SECONDS)  # SIGALRM -> _on_alarm kills whatever is left

    def _on_signal(self, signum, _frame) -> None:
        self.stop(signal.Signals(signum).name)

    def _on_alarm(self, _signum, _frame) -> None:
        names = ", ".join(spec.name for spec, _ in self.children.values())
        self.notes.append(f"still running after {STOP_TIMEOUT_SECONDS}s, killing: {names}")
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)  # the child's whole group: it may have its own children
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGALRM, self._on_alarm)
        exit_code = 0
        for spec in self.specs:
            if self.stopping:
                break
            try:
                proc = subprocess.Popen(spec.argv, env=self.env, process_group=0, preexec_fn=_die_with_parent,
                                        pass_fds=[s.fileno() for s in spec.inherit])
            except OSError as exc:
                self.say(f"cannot start {spec.name}: {exc}")
                exit_code = 1
                self.stop(f"{spec.name} failed to start")
                break
            self.children[proc.pid] = (spec, proc)
            self.say(f"started {spec.name} (pid {proc.pid}): {' '.join(spec.argv)}")
        if not self.stopping and self.banner:
            self.say(self.banner)
        if self.stopping:
            # A signal that arrived between Popen() and the bookkeeping above missed that child.
            self._signal_children(signal.SIGTERM)
        while self.children:
            pid, status = os.wait()  # blocks until a child exits; handlers above run meanwhile
            entry = self.children.pop(pid, None)
            if entry is None:
                continue
            spec, proc = entry
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            self.say(f"{spec.name} (pid {pid}) exited with {proc.returncode}")
            if not self.stopping:
                exit_code = 1  # a role died on its own: the system is incomplete, stop the rest
                self.stop(f"{spec.name} died")
        signal.alarm(0)
        self.say("all processes stopped")
        return exit_code
