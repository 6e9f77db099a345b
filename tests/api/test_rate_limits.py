"""REST rate limits (accounts.throttling): Alpaca's 200 requests a minute per key, X-RateLimit-*
headers on every answer and a JSON 429 beyond; staff-set tiers; the terminal's session per user."""
import math
import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKey
from accounts.throttling import _Buckets, buckets
from compliance.models import AuditEvent
from tests.api.conftest import Trader

pytestmark = pytest.mark.django_db
HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def until_refused(client, path="/v2/clock", cap=1000):
    """(answers allowed before the first 429, that 429, seconds taken)."""
    started = time.monotonic()
    for allowed in range(cap):
        response = client.get(path)
        if response.status_code == 429:
            return allowed, response, time.monotonic() - started
        assert response.status_code == 200, response.content
    raise AssertionError(f"no 429 in {cap} requests")


def assert_refused(response, limit: int):
    assert response.json()["code"] == 42910000 and response.json()["reason"] == "rate_limited"
    assert response["Content-Type"] == "application/json"
    assert response["X-RateLimit-Limit"] == str(limit) and response["X-RateLimit-Remaining"] == "0"
    assert int(response["X-RateLimit-Reset"]) > time.time() and int(response["Retry-After"]) >= 1


def test_the_201st_request_in_a_minute_is_refused_with_the_headers_and_another_key_is_not():
    """Regression: 210 orders in 12 s and 250 reads in 7 s from one key got no 429."""
    alice, bob = Trader(), Trader()
    first = alice.client.get("/v2/clock")
    assert first.status_code == 200 and first["X-RateLimit-Limit"] == "200"
    assert first["X-RateLimit-Remaining"] == "199" and int(first["X-RateLimit-Reset"]) >= time.time()

    allowed, refused, seconds = until_refused(alice.client)
    # a bucket of 200 refilled at 200 a minute: the burst of 200, plus what refilled meanwhile
    assert 199 <= allowed <= 199 + math.ceil(seconds * 200 / 60) + 1
    assert_refused(refused, 200)

    other = bob.client.get("/v2/clock")
    assert other.status_code == 200 and other["X-RateLimit-Remaining"] == "199"


def test_errors_carry_the_headers_too():
    alice = Trader()
    response = alice.client.get("/v2/orders/not-an-order")
    assert response.status_code == 404 and all(h in response for h in HEADERS)


def test_a_tier_set_by_staff_in_the_admin_changes_the_limit_and_is_audited(admin_client):
    alice = Trader()
    key = ApiKey.objects.get(key_id=alice.key_id)
    page = admin_client.post(reverse("admin:accounts_apikey_change", args=[key.pk]), {"rate_limit_per_minute": "5"})
    assert page.status_code == 302, page.content[:3000]
    assert ApiKey.objects.get(pk=key.pk).rate_limit_per_minute == 5
    event = AuditEvent.objects.get(action="api_key.rate_limit_changed", entity_id=alice.key_id)
    assert event.data == {"rate_limit_per_minute": [None, 5]}

    allowed, refused, _ = until_refused(alice.client)
    assert allowed == 5  # a token every 12 s: none comes back within these few requests
    assert_refused(refused, 5)


def test_the_terminals_session_calls_are_limited_per_user(settings):
    settings.TRADEX_API_SESSION_RATE_LIMIT_PER_MINUTE = 4
    alice = Trader()
    buckets.forget(f"user:{alice.account.user_id}")
    client = Client()
    client.force_login(alice.account.user)
    allowed, refused, _ = until_refused(client)
    assert allowed == 4
    assert_refused(refused, 4)
    # a second browser of the same user shares the allowance; the key's own is untouched
    other = Client()
    other.force_login(alice.account.user)
    assert other.get("/v2/clock").status_code == 429
    assert alice.client.get("/v2/clock")["X-RateLimit-Limit"] == "200"


def test_unauthenticated_requests_are_not_counted():
    response = Client().get("/v2/clock")
    assert response.status_code == 401 and "X-RateLimit-Limit" not in response


def test_the_in_process_bucket_of_embedded_mode(settings):
    settings.REDIS_URL = ""
    buckets = _Buckets()
    taken = [buckets.take("k", 3) for _ in range(4)]
    assert [d.allowed for d in taken] == [True, True, True, False]
    assert [d.remaining for d in taken] == [2, 1, 0, 0]
    assert taken[-1].retry_after >= 1 and taken[-1].headers()["X-RateLimit-Limit"] == "3"
    assert buckets.take("another", 3).allowed
