"""Sign-up (pending KYC approval, approved by staff in the admin), optional TOTP at login, and
password reset by email, through the pages a browser posts."""
import re
from datetime import date

import pyotp
import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Account, KycProfile, TotpDevice, User
from compliance.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-9"
APPLICATION = {"username": "newbie", "email": "newbie@example.com", "password": PASSWORD, "legal_name": "Ada Newbie",
               "date_of_birth": "1990-04-01", "address": "1 Main St, Springfield", "country": "us",
               "tax_id_last4": "1234", "employment_status": "employed", "funding_source": "savings"}


def test_sign_up_creates_an_account_pending_approval_that_staff_approve(admin_client):
    response = Client().post("/signup/", APPLICATION)

    assert response.status_code == 200 and "pending approval" in response.content.decode()
    account = Account.objects.get(user__username="newbie")
    assert account.kyc_status == "pending" and account.cash == 0
    profile = KycProfile.objects.get(account=account)
    assert profile.country == "US" and profile.date_of_birth == date(1990, 4, 1) and profile.tax_id_last4 == "1234"
    assert AuditEvent.objects.filter(action="account.signed_up", entity_id=str(account.pk)).exists()

    client = Client()
    assert client.login(username="newbie", password=PASSWORD)
    blocked = client.get("/v2/account").json()
    assert blocked["status"] != "ACTIVE" and blocked["trading_blocked"] is True

    assert admin_client.get(reverse("admin:accounts_kycprofile_changelist")).status_code == 200
    approve = admin_client.post(reverse("admin:accounts_account_change", args=[account.pk]),
                                {"status": "ACTIVE", "kyc_status": "approved", "account_type": "cash",
                                 "api_keys-TOTAL_FORMS": "0", "api_keys-INITIAL_FORMS": "0",
                                 "api_keys-MIN_NUM_FORMS": "0", "api_keys-MAX_NUM_FORMS": "1000"})
    assert approve.status_code == 302, approve.content.decode()[:1500]
    assert client.get("/v2/account").json()["trading_blocked"] is False


@pytest.mark.parametrize("change, message", [
    ({"date_of_birth": date.today().replace(year=date.today().year - 17).isoformat()}, "at least 18"),
    ({"password": "123"}, "too short"),
    ({"tax_id_last4": "12a4"}, "last four digits"),
    ({"country": "U1"}, "two-letter"),
    ({"legal_name": ""}, "required"),
])
def test_a_bad_application_is_refused_and_creates_nothing(change, message):
    response = Client().post("/signup/", {**APPLICATION, **change})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(username="newbie").exists() and not KycProfile.objects.exists()


def test_the_username_must_be_free(account):
    response = Client().post("/signup/", {**APPLICATION, "username": account.user.username.upper()})
    assert response.status_code == 400 and "taken" in response.content.decode()


def _user(account):
    account.user.set_password(PASSWORD)
    account.user.email = "trader@example.com"
    account.user.save()
    return account.user


def _login(client, user, otp=""):
    return client.post("/login/", {"username": user.username, "password": PASSWORD, "otp": otp})


def test_totp_guards_the_login_once_confirmed_and_a_code_works_once(account):
    user = _user(account)
    client = Client()
    assert _login(client, user).status_code == 302
    client.post("/security/", {"action": "begin"})
    secret = TotpDevice.objects.get(user=user).secret
    assert secret in client.get("/security/").content.decode()  # shown for the app, not yet required
    client.post("/logout/")
    assert _login(Client(), user).status_code == 302  # unconfirmed: not required yet

    client = Client()
    _login(client, user)
    totp = pyotp.TOTP(secret)
    assert client.post("/security/", {"action": "confirm", "code": "000000" if totp.now() != "000000" else "111111"},
                       follow=True).content.decode().count("not valid") == 1
    code = totp.now()
    client.post("/security/", {"action": "confirm", "code": code})
    assert TotpDevice.objects.get(user=user).confirmed
    client.post("/logout/")

    assert "Enter the 6-digit code" in _login(Client(), user).content.decode()
    assert "wrong or was already used" in _login(Client(), user, code).content.decode()  # replay refused
    device = TotpDevice.objects.get(user=user)
    next_code = totp.generate_otp(device.last_used_step + 1)
    assert _login(Client(), user, next_code).status_code == 302


def test_password_reset_by_email(account, mailoutbox):
    user = _user(account)
    client = Client()
    response = client.post("/password-reset/", {"email": "trader@example.com"})
    assert response.status_code == 302 and response.url == "/password-reset/sent/"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["trader@example.com"]
    link = re.search(r"http://testserver(/reset/\S+/\S+/)", mailoutbox[0].body)[1]

    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-brand-new-pass-77", "new_password2": "a-brand-new-pass-77"})
    assert done.status_code == 302 and done.url == "/reset/done/"
    assert Client().login(username=user.username, password="a-brand-new-pass-77")
    assert not Client().login(username=user.username, password=PASSWORD)
    assert len(mail.outbox) == 1
