"""core.ttl_cache: entries good for a fixed time, on an injected clock; thread-safe."""
import threading

from core.ttl_cache import MISSING, TTLCache


class FakeClock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class Loader:
    def __init__(self, *values):
        self.values = list(values)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.values.pop(0)


def test_a_value_is_loaded_once_and_kept_for_its_seconds():
    clock = FakeClock()
    cache = TTLCache(1.0, clock=clock)
    load = Loader("a", "b")
    assert cache.get_or_load("k", load) == "a"
    clock.now += 0.999
    assert cache.get_or_load("k", load) == "a"
    assert load.calls == 1
    clock.now += 0.001  # exactly its seconds old: expired
    assert cache.get_or_load("k", load) == "b"
    assert load.calls == 2


def test_keys_are_kept_apart():
    cache = TTLCache(1.0, clock=FakeClock())
    assert cache.get_or_load("a", lambda: 1) == 1
    assert cache.get_or_load("b", lambda: 2) == 2
    assert cache.lookup("a") == 1 and cache.lookup("b") == 2


def test_a_value_keep_refuses_is_returned_but_not_stored():
    cache = TTLCache(1.0, clock=FakeClock())
    load = Loader(None, "found")
    assert cache.get_or_load("k", load, keep=lambda v: v is not None) is None
    assert cache.lookup("k") is MISSING and cache.keys() == set()
    assert cache.get_or_load("k", load, keep=lambda v: v is not None) == "found"
    assert cache.get_or_load("k", load, keep=lambda v: v is not None) == "found"
    assert load.calls == 2


def test_age_counts_from_before_the_load():
    clock = FakeClock()
    cache = TTLCache(1.0, clock=clock)

    def slow_load():
        clock.now += 0.6  # the load itself takes time
        return "v"

    cache.get_or_load("k", slow_load)
    assert cache.lookup("k") == "v"
    clock.now += 0.4
    assert cache.lookup("k") is MISSING


def test_lookup_with_a_shorter_max_age_and_put():
    clock = FakeClock()
    cache = TTLCache(60.0, clock=clock)
    assert cache.lookup("k") is MISSING
    cache.put("k", frozenset({"AAPL"}))
    clock.now += 2
    assert cache.lookup("k") == frozenset({"AAPL"})
    assert cache.lookup("k", max_age=1.0) is MISSING
    assert cache.lookup("k", max_age=3.0) == frozenset({"AAPL"})


def test_falsy_values_are_cached():
    cache = TTLCache(1.0, clock=FakeClock())
    load = Loader((), ())
    assert cache.get_or_load("k", load) == ()
    assert cache.get_or_load("k", load) == ()
    assert load.calls == 1


def test_clear_forgets_everything():
    cache = TTLCache(1.0, clock=FakeClock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.keys() == {"a", "b"}
    cache.clear()
    assert cache.lookup("a") is MISSING and cache.lookup("b") is MISSING
    assert cache.keys() == set()


def test_the_clock_can_be_replaced_on_a_live_cache():
    cache = TTLCache(1.0)
    cache.put("k", "v")
    cache.clock = lambda: float("inf")
    assert cache.lookup("k") is MISSING


def test_threads_see_one_consistent_value_per_key():
    cache = TTLCache(60.0)
    errors = []
    start = threading.Barrier(8)

    def worker(n):
        try:
            start.wait()
            for i in range(500):
                key = i % 7
                value = cache.get_or_load(key, lambda key=key: ("v", key))
                if value != ("v", key):
                    errors.append((key, value))
                if i % 50 == 0:
                    cache.clear()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
