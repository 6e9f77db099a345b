"""Start-up configuration and the operator commands (create_account, create_api_key, seed_demo)."""
import json
import os
import secrets
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import RequestFactory

from accounts.authentication import AlpacaKeyAuthentication, hash_secret
from accounts.models import Account, ApiKey
from compliance.models import AuditEvent
from marketdata.models import Asset

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)


def authenticate(key_id: str, secret: str):
    request = RequestFactory().get("/v2/account", HTTP_APCA_API_KEY_ID=key_id, HTTP_APCA_API_SECRET_KEY=secret)
    return AlpacaKeyAuthentication().authenticate(request)


def test_an_unknown_tradex_variable_stops_start_up():
    # A typo such as TRADEX_MAX_ORDER_NOTINAL would otherwise leave a risk limit at its default.
    result = manage("check", env={"TRADEX_BOGUS": "1"})

    assert result.returncode != 0
    assert "unknown TradeX settings in the environment: TRADEX_BOGUS" in result.stderr


def test_production_settings_pass_the_deploy_checks_without_warnings():
    result = manage("check", "--deploy", "--settings=tradex.settings.production", "--fail-level", "WARNING",
                    env={"DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "tradex.example.com",
                         "TRADEX_ARCHIVE_SIGNING_KEY": secrets.token_urlsafe(32)})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--settings=tradex.settings.production"], cwd=ROOT,
                            env={**env, "DJANGO_ALLOWED_HOSTS": "tradex.example.com"}, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_settings_refuse_to_start_without_an_archive_signing_key():
    # The development default signs nothing trustworthy: audit archives need a real key.
    env = {k: v for k, v in os.environ.items() if k != "TRADEX_ARCHIVE_SIGNING_KEY"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--settings=tradex.settings.production"], cwd=ROOT,
                            env={**env, "DJANGO_SECRET_KEY": "k" * 60, "DJANGO_ALLOWED_HOSTS": "tradex.example.com"},
                            capture_output=True, text=True, timeout=120)

    assert result.returncode != 0
    assert "TRADEX_ARCHIVE_SIGNING_KEY must be set" in result.stderr


@pytest.mark.django_db
def test_create_account_prints_a_key_whose_secret_authenticates():
    out = StringIO()
    call_command("create_account", "alice", "--cash", "2500", "--type", "margin", stdout=out)

    printed = json.loads(out.getvalue())
    account = Account.objects.get(pk=printed["account_id"])
    assert account.account_type == "margin" and account.cash == Decimal("2500")
    key = ApiKey.objects.get(key_id=printed["key_id"])
    assert key.secret_hash == hash_secret(printed["secret_key"])
    user, _ = authenticate(printed["key_id"], printed["secret_key"])
    assert user.username == "alice"


@pytest.mark.django_db
def test_create_api_key_adds_a_working_key_and_refuses_unknown_users():
    first = StringIO()
    call_command("create_account", "bob", stdout=first)
    out = StringIO()
    call_command("create_api_key", "bob", stdout=out)

    printed = json.loads(out.getvalue())
    assert printed["key_id"] != json.loads(first.getvalue())["key_id"]
    assert authenticate(printed["key_id"], printed["secret_key"])[0].username == "bob"
    with pytest.raises(CommandError, match="no account for user 'nobody'"):
        call_command("create_api_key", "nobody")


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_leaves_live_prices_alone(monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    first, second = StringIO(), StringIO()
    call_command("seed_demo", "--no-backfill", stdout=first)  # bars history: tests/marketdata/test_bars_backfill.py
    Asset.objects.filter(symbol="AAPL").update(last_price=Decimal("231.17"))  # as the feed would

    call_command("seed_demo", "--no-backfill", stdout=second)

    assert Asset.objects.count() >= 50
    assert set(Asset.objects.values_list("exchange", flat=True)) == {"NASDAQ", "NYSE", "ARCA"}
    assert not Asset.objects.filter(last_price__isnull=True).exists()
    assert not Asset.objects.filter(prev_close__isnull=True).exists()
    assert Asset.objects.filter(easy_to_borrow=False).count() >= 2
    assert Asset.objects.get(symbol="AAPL").last_price == Decimal("231.17")
    account = Account.objects.get(user__username="demo")
    assert account.account_type == "margin" and account.cash == Decimal("100000")
    assert account.user.check_password("demo-password-123")
    assert ApiKey.objects.filter(account=account).count() == 1
    assert AuditEvent.objects.filter(action="asset.seeded").count() == 1
    assert "APCA-API-SECRET-KEY=" in first.getvalue()
    assert "demo / demo-password-123" in second.getvalue()
    assert "create_api_key demo" in second.getvalue()
