"""Running work on real threads, each with its own database connection."""
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import OperationalError, connections


def run_in_threads(fn, args_list, *, workers: int):
    """Call fn(*args) for each args on `workers` threads released together by a barrier.
    Returns [(result, exception)] in input order."""
    barrier = threading.Barrier(min(workers, len(args_list)))
    started = threading.local()

    def call(args):
        if not getattr(started, "done", False):
            started.done = True
            barrier.wait(timeout=30)
        try:
            return fn(*args), None
        except Exception as exc:  # collected and judged by the test
            return None, exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, args_list))


def is_deadlock(exc: BaseException) -> bool:
    while exc is not None:
        if getattr(exc, "sqlstate", None) == "40P01" or "deadlock detected" in str(exc):
            return True
        exc = exc.__cause__
    return False


def is_db_error(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) or is_deadlock(exc)
