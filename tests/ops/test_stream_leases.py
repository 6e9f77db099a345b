"""The per-user connection cap's bookkeeping (core/stream_leases.py), on Redis as the
web processes share it and on the dict of embedded mode: at most `limit` leases per user, a
release gives a place back, and the lease of a process that died lapses by itself."""
import uuid

import pytest

from core import stream_leases


@pytest.fixture(params=["redis", "embedded"])
def registry(request, settings):
    if request.param == "embedded":
        settings.REDIS_URL = ""
    registry = stream_leases._Registry("test")
    yield registry
    for lease in list(registry._live.values()):
        registry.release(lease)


def user() -> str:
    return uuid.uuid4().hex  # Redis outlives the test run: never reuse a user id


def test_at_most_limit_leases_per_user(registry):
    u1 = user()
    first, second = registry.acquire(u1, 2), registry.acquire(u1, 2)
    assert first and second and registry.acquire(u1, 2) is None
    assert registry.acquire(user(), 2) is not None  # per user
    registry.release(first)
    assert registry.acquire(u1, 2) is not None


def test_a_lease_nobody_renews_lapses(registry, monkeypatch):
    u3 = user()
    dead = registry.acquire(u3, 1)
    registry._live.pop(dead.connection_id)  # its process died: nobody renews it
    assert registry.acquire(u3, 1) is None
    later = stream_leases.time.time() + stream_leases.LEASE_SECONDS + 1
    monkeypatch.setattr(stream_leases.time, "time", lambda: later)
    assert registry.acquire(u3, 1) is not None


def test_renewal_keeps_live_leases(registry, monkeypatch):
    u4 = user()
    registry.acquire(u4, 1)
    start = stream_leases.time.time()
    monkeypatch.setattr(stream_leases.time, "time", lambda: start + stream_leases.LEASE_SECONDS * 0.9)
    assert registry.renew_all() == 1
    monkeypatch.setattr(stream_leases.time, "time", lambda: start + stream_leases.LEASE_SECONDS * 1.5)
    assert registry.acquire(u4, 1) is None  # renewed at 0.9 x LEASE: still held at 1.5 x
