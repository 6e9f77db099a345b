"""`make run` with DATABASE_URL set runs tradex.settings.production (issue 14: it ran the
development settings, with the repository's SECRET_KEY, no HSTS and no Secure cookies)."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from tradex.launcher import production_env

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {k: v for k, v in os.environ.items()
            if k not in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "TRADEX_INSECURE_HTTP", "DJANGO_SETTINGS_MODULE")}
SHOW = ("import django, json; django.setup(); from django.conf import settings as s; print(json.dumps({k: getattr(s, k) "
        "for k in ('DEBUG', 'SECRET_KEY', 'ALLOWED_HOSTS', 'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
        "'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SETTINGS_MODULE')}))")


def child_settings(env: dict[str, str]) -> dict:
    """The settings a child of the launcher runs with, read in a process of its own."""
    result = subprocess.run([sys.executable, "-c", SHOW], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_on_loopback_the_children_run_production_settings_over_plain_http(tmp_path):
    env, notes = production_env(BASE_ENV, host="127.0.0.1", state_dir=tmp_path)

    shown = child_settings(env)
    key_file = tmp_path / "secret_key"
    assert shown["SETTINGS_MODULE"] == "tradex.settings.production" and shown["DEBUG"] is False
    assert shown["SECRET_KEY"] == key_file.read_text().strip() and len(shown["SECRET_KEY"]) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # The audit archives' signing key is kept the same way (production settings require one).
    archive_key = tmp_path / "archive_signing_key"
    assert env["TRADEX_ARCHIVE_SIGNING_KEY"] == archive_key.read_text().strip()
    assert stat.S_IMODE(archive_key.stat().st_mode) == 0o600
    assert shown["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost", "[::1]"]
    # Plain http:// on the machine itself: no redirect to https, no HSTS, cookies a browser sends over http.
    assert (shown["SECURE_SSL_REDIRECT"], shown["SECURE_HSTS_SECONDS"]) == (False, 0)
    assert (shown["SESSION_COOKIE_SECURE"], shown["CSRF_COOKIE_SECURE"]) == (False, False)
    assert any(n.startswith("WARNING: DJANGO_SECRET_KEY is not set; using the key generated now in") for n in notes)
    assert any("TRADEX_INSECURE_HTTP=1" in n for n in notes)


def test_the_generated_secret_is_kept_across_runs(tmp_path):
    first, _ = production_env(BASE_ENV, host="127.0.0.1", state_dir=tmp_path)
    second, notes = production_env(BASE_ENV, host="127.0.0.1", state_dir=tmp_path)

    assert first["DJANGO_SECRET_KEY"] == second["DJANGO_SECRET_KEY"]
    assert any(n.startswith("WARNING: DJANGO_SECRET_KEY is not set; using the key in") for n in notes)


def test_elsewhere_than_loopback_it_is_https_only_with_the_bound_host(tmp_path):
    env, notes = production_env({**BASE_ENV, "DJANGO_SECRET_KEY": "k" * 60}, host="192.0.2.10", state_dir=tmp_path)

    shown = child_settings(env)
    assert shown["SECRET_KEY"] == "k" * 60 and not (tmp_path / "secret_key").exists()
    assert shown["ALLOWED_HOSTS"] == ["192.0.2.10"]
    assert shown["SECURE_SSL_REDIRECT"] is True and shown["SECURE_HSTS_SECONDS"] == 31536000
    assert shown["SESSION_COOKIE_SECURE"] is True and shown["CSRF_COOKIE_SECURE"] is True
    assert any(n.startswith("HTTPS only") for n in notes)


def test_the_operators_choices_win(tmp_path):
    env, _ = production_env({**BASE_ENV, "DJANGO_ALLOWED_HOSTS": "tradex.example.com", "TRADEX_INSECURE_HTTP": "0"},
                            host="127.0.0.1", state_dir=tmp_path)

    shown = child_settings(env)
    assert shown["ALLOWED_HOSTS"] == ["tradex.example.com"] and shown["SECURE_SSL_REDIRECT"] is True
