"""Login lockout (django-axes, tradex/settings/api.py): repeated wrong passwords or TOTP codes lock
the username, and separately the address; the right password is then refused until the lockout
ends; each lockout is an audit event."""
from datetime import timedelta

import pyotp
import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client

from accounts.models import TotpDevice
from compliance.models import AuditEvent
from tests.factories import make_account_with_key

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"


def make_user(totp: bool = False):
    account, _, _ = make_account_with_key()
    user = account.user
    user.set_password(PASSWORD)
    user.save()
    if totp:
        TotpDevice.objects.create(user=user, secret=pyotp.random_base32(), confirmed=True)
    return user


def login(user, password=PASSWORD, otp="", address="10.1.1.1"):
    return Client(REMOTE_ADDR=address).post("/login/", {"username": user.username, "password": password, "otp": otp})


def wrong_code(user) -> str:
    now = pyotp.TOTP(user.totp_device.secret).now()
    return "000000" if now != "000000" else "111111"


def end_lockouts():
    """The cool-off passes: the recorded attempts are made older than AXES_COOLOFF_TIME, and axes
    expires them at the next attempt, as it would after waiting."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))


def test_wrong_passwords_lock_the_account_and_the_right_one_is_refused_until_the_lockout_ends():
    """Regression: 60 wrong passwords in a row were all answered and the right one still worked."""
    user = make_user()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(user, "wrong-password").status_code == 200  # the form again, with its error
    assert login(user, "wrong-password").status_code == 429
    # locked: the right password, even from another address, is refused
    assert login(user, address="10.9.9.9").status_code == 429
    events = AuditEvent.objects.filter(action="auth.locked_out", entity_id=str(user.account.pk))
    assert events.count() == 1 and events.get().data["username"] == user.username

    end_lockouts()
    assert login(user).status_code == 302


def test_wrong_passwords_from_one_address_lock_that_address_for_every_username():
    users = [make_user() for _ in range(settings.AXES_FAILURE_LIMIT)]
    for user in users:
        assert login(user, "wrong-password", address="10.2.2.2").status_code in (200, 429)
    fresh = make_user()
    assert login(fresh, address="10.2.2.2").status_code == 429  # the address is locked
    assert login(fresh, address="10.3.3.3").status_code == 302  # the account is not
    assert AuditEvent.objects.filter(action="auth.locked_out", data__ip_address="10.2.2.2").count() == 1


def test_wrong_totp_codes_lock_the_account_too():
    """Regression: 60 wrong TOTP codes in a row were all answered and the right one still worked."""
    user = make_user(totp=True)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = login(user, otp=wrong_code(user))
        assert page.status_code == 200 and "wrong or was already used" in page.content.decode()
    assert login(user, otp=wrong_code(user)).status_code == 429
    right = pyotp.TOTP(user.totp_device.secret).now()
    assert login(user, otp=right, address="10.9.9.9").status_code == 429
    assert AuditEvent.objects.filter(action="auth.locked_out", entity_id=str(user.account.pk)).count() == 1

    end_lockouts()
    assert login(user, otp=right).status_code == 302


def test_a_successful_login_clears_the_failures():
    user = make_user()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(user, "wrong-password")
    assert login(user).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(user, "wrong-password").status_code == 200
