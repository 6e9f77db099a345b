"""Content-Security-Policy: every page answers with the policy, and nothing on a page is inline (an
inline script, style attribute or on*= handler would be refused by the browser under it)."""
import base64
import hashlib
import re

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from tests.factories import make_account

pytestmark = pytest.mark.django_db

PASSWORD = "s3cret-pass-word"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=\"", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.I)


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy"
    return {d.split()[0]: d.split()[1:] for d in header.split(";") if d.strip()}


def assert_strict(response):
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'", settings.CHART_LOGO_STYLE]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    if response["Content-Type"].startswith("text/html"):
        html = response.content.decode()
        path = response.request["PATH_INFO"]
        assert not INLINE_SCRIPT.search(html), f"{path}: inline script"
        assert not INLINE_STYLE.search(html), f"{path}: inline style"
        assert not HANDLER.search(html), f"{path}: inline event handler"


@pytest.fixture
def trader(aapl):
    account = make_account(cash="5000", username="trader")
    account.user.set_password(PASSWORD)
    account.user.save()
    return account


TERMINAL_PAGES = ["/", "/watchlists/", "/symbol/AAPL/", "/orders/", "/alerts/", "/documents/", "/security/"]
ANONYMOUS_PAGES = ["/login/", "/signup/", "/password-reset/", "/password-reset/sent/", "/reset/done/",
                   "/reset/x/y/", "/no-such-page/"]


def test_every_terminal_page_carries_the_policy_and_nothing_inline(trader):
    client = Client()
    assert client.login(username="trader", password=PASSWORD)
    for path in TERMINAL_PAGES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_strict(response)
    client.post("/security/", {"action": "begin"})  # the set-up page shows the key and otpauth URI
    assert_strict(client.get("/security/"))


def test_every_anonymous_page_and_the_api_carry_the_policy(client, trader):
    for path in ANONYMOUS_PAGES:
        assert_strict(client.get(path))
    assert_strict(client.get("/v2/account"))  # 401 JSON
    assert_strict(client.get("/api/schema/"))


def test_the_api_docs_page_allows_inline_styles_only(admin_client):
    """The docs page's Swagger UI comes from this site (no CDN) and its script is a file."""
    page = admin_client.get(reverse("api-docs"))
    directives = policy(page)
    assert directives["script-src"] == ["'self'"] and "'unsafe-inline'" in directives["style-src"]
    html = page.content.decode()
    assert not INLINE_SCRIPT.search(html) and "cdn." not in html
    script = admin_client.get(reverse("api-docs"), {"script": ""})
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m.__name__)
def test_every_admin_list_and_add_page_carries_the_policy_and_nothing_inline(admin_client, model):
    prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert_strict(admin_client.get(reverse(f"{prefix}_changelist")))
    add = admin_client.get(reverse(f"{prefix}_add"))
    if add.status_code == 200:
        assert_strict(add)


def test_the_admin_index_and_login_carry_the_policy(admin_client, client):
    assert_strict(admin_client.get("/admin/"))
    assert_strict(client.get("/admin/login/"))


def test_the_chart_logo_style_hash_is_the_vendored_library_s():
    """The one inline style allowed is the <style> text the vendored lightweight-charts inserts."""
    source = open(finders.find("frontend/vendor/lightweight-charts.standalone.production.js")).read()
    inserted = re.findall(r'createElement\("style"\),this\.\w+\.innerText="([^"]*)"', source)
    assert len(inserted) == 1
    digest = base64.b64encode(hashlib.sha256(inserted[0].encode()).digest()).decode()
    assert settings.CHART_LOGO_STYLE == f"'sha256-{digest}'"
