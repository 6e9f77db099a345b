"""The launcher's supervisor cases (tests/ops/supervisor_cases.py) run in a pytest process of their
own. The supervisor owns its process's signals (SIGCHLD, SIGTERM, SIGINT, the wakeup fd) and reaps
any child; inside the suite's long-lived process, after hundreds of tests that leave their own
handlers, event loops and children, two cases failed in CI and a third case's SIGTERM, meant for
the supervisor, ended the whole test run. A fresh interpreter gives the supervisor the process it
is designed for, as `make run` does."""
import re
import subprocess
import sys
from pathlib import Path

CASES = Path(__file__).with_name("supervisor_cases.py")
ROOT = Path(__file__).resolve().parents[2]


def test_the_supervisor_cases_pass_in_a_process_of_their_own():
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"\b5 passed", run.stdout), run.stdout[-2000:]
