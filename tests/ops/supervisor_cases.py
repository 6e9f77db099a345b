"""The launcher's supervisor (tradex/launcher.py) with real child processes: a role that dies is
restarted with backoff, one that keeps dying stops the stack with exit code 1, SIGTERM stops
everything once. The supervisor runs in this test's main thread (it owns the signal handlers)."""
import os
import queue
import re
import signal
import socket
import sys
import threading

from tradex.launcher import ProcessSpec, RestartPolicy, Supervisor

TIMEOUT = 30
SLEEPER = [sys.executable, "-c", "import signal; signal.pause()"]  # runs until a signal ends it
QUICK = RestartPolicy(base=0.1, cap=0.4, deaths=3, window=60)


class Lines:
    """A text stream whose lines a helper thread can wait for."""

    def __init__(self):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._partial = ""

    def write(self, text: str) -> None:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            self.seen.append(line)
            self.lines.put(line)

    def flush(self) -> None:
        pass

    def wait_for(self, pattern: str) -> re.Match:
        while True:
            line = self.lines.get(timeout=TIMEOUT)
            if match := re.search(pattern, line):
                return match


def supervise_in_background(specs, out: Lines, script) -> tuple[Supervisor, threading.Thread, list]:
    """`script(supervisor)` runs on a helper thread while the supervisor runs here; what it raises
    is re-raised after the supervisor returns."""
    supervisor = Supervisor(specs, env=dict(os.environ), out=out, policy=QUICK)
    errors: list[BaseException] = []

    def run():
        try:
            script(supervisor)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
            errors.append(exc)
            os.kill(os.getpid(), signal.SIGTERM)  # stop the supervisor so the test can fail

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return supervisor, thread, errors


def test_a_killed_role_is_restarted_and_the_others_keep_running():
    out = Lines()
    pids = {}

    def script(supervisor):
        pids["a"] = int(out.wait_for(r"started a \(pid (\d+)\)")[1])
        pids["b"] = int(out.wait_for(r"started b \(pid (\d+)\)")[1])
        os.kill(pids["a"], signal.SIGKILL)
        out.wait_for(rf"a \(pid {pids['a']}\) exited with -9; restarting in 0\.1 s")
        pids["a2"] = int(out.wait_for(r"started a \(pid (\d+)\)")[1])
        os.kill(os.getpid(), signal.SIGTERM)

    supervisor, thread, errors = supervise_in_background(
        [ProcessSpec("a", SLEEPER), ProcessSpec("b", SLEEPER)], out, script)
    code = supervisor.run()
    thread.join(TIMEOUT)

    assert not errors, errors
    assert code == 0, out.seen
    assert pids["a2"] != pids["a"]
    text = "\n".join(out.seen)
    # b ran on, untouched, until the SIGTERM stopped both, each once.
    assert text.count("started b ") == 1 and text.count("stopping (SIGTERM)") == 1
    assert f"b (pid {pids['b']}) exited with -15" in text and f"a (pid {pids['a2']}) exited with -15" in text
    assert text.endswith("all processes stopped")


def test_a_second_sigterm_while_stopping_changes_nothing_and_a_stuck_role_is_killed():
    out = Lines()
    ready, ready_w = socket.socketpair()  # b says on it that it ignores SIGTERM now
    ready.settimeout(TIMEOUT)
    stubborn = [sys.executable, "-c", "import os, signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                f"os.write({ready_w.fileno()}, b'r'); signal.pause()"]

    def script(supervisor):
        assert ready.recv(1) == b"r"
        os.kill(os.getpid(), signal.SIGTERM)
        out.wait_for(r"stopping \(SIGTERM\)")
        os.kill(os.getpid(), signal.SIGTERM)

    supervisor, thread, errors = supervise_in_background(
        [ProcessSpec("a", SLEEPER), ProcessSpec("b", stubborn, inherit=(ready_w,))], out, script)
    supervisor.stop_timeout = 2.0  # b ignores SIGTERM (and is still there for the second one)
    code = supervisor.run()
    thread.join(TIMEOUT)

    assert not errors, errors
    text = "\n".join(out.seen)
    assert code == 0 and text.count("stopping (") == 1 and "restarting" not in text, text
    assert "still running after 2 s, killing: b" in text and re.search(r"b \(pid \d+\) exited with -9", text)
    assert text.endswith("all processes stopped")


def test_a_role_that_keeps_dying_stops_the_stack_with_exit_code_1():
    out = Lines()
    supervisor = Supervisor([ProcessSpec("sleeper", SLEEPER),
                             ProcessSpec("crasher", [sys.executable, "-c", "raise SystemExit(3)"])],
                            env=dict(os.environ), out=out, policy=QUICK)

    code = supervisor.run()

    text = "\n".join(out.seen)
    assert code == 1, text
    assert re.search(r"crasher \(pid \d+\) exited with 3; restarting in 0\.1 s", text)
    assert re.search(r"crasher \(pid \d+\) exited with 3; restarting in 0\.2 s", text)
    assert "crasher died 3 times within 60 s; it is not restarted again" in text
    assert text.count("started crasher") == 3
    assert "stopping (crasher keeps dying)" in text
    assert re.search(r"sleeper \(pid \d+\) exited with -15", text)  # the rest were stopped
    assert text.endswith("all processes stopped")


def test_a_role_that_cannot_start_stops_the_stack():
    out = Lines()
    supervisor = Supervisor([ProcessSpec("sleeper", SLEEPER), ProcessSpec("missing", ["/nonexistent/binary"])],
                            env=dict(os.environ), out=out, policy=QUICK)

    assert supervisor.run() == 1
    text = "\n".join(out.seen)
    assert "cannot start missing" in text and "stopping (missing failed to start)" in text


def test_deaths_outside_the_window_do_not_add_up():
    policy = RestartPolicy(base=1.0, cap=30.0, deaths=5, window=60)

    assert [policy.delay(n) for n in (1, 2, 3, 4, 5, 6, 7)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
