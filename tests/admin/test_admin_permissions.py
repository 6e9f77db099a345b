"""Every custom admin view (a ModelAdmin's get_urls) checks its model permission, not only the staff
login: a staff user without it gets 403, one with it gets the page.

Regression it pins: a staff user with no permissions could open /admin/settlement/obligation/operations/."""
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.urls import reverse

pytestmark = pytest.mark.django_db

# name -> the permission it needs; the accounts cash page takes the account's id.
CUSTOM_VIEWS = {
    "settlement_operations": "settlement.view_obligation",
    "risk_tradinghalt_kill_switch": "risk.add_tradinghalt",
    "risk_tradinghalt_kill_switch_release": "risk.change_tradinghalt",
    "accounts_account_cash": "accounts.change_account",
}


def custom_view_names() -> set[str]:
    names = set()
    for model_admin in admin.site._registry.values():
        if type(model_admin).get_urls.__module__.startswith("django."):
            continue  # Django's own (UserAdmin's password change checks change_user itself)
        standard = {p.name for p in admin.ModelAdmin.get_urls(model_admin)}
        names |= {p.name for p in model_admin.get_urls() if p.name not in standard}
    return names


def test_every_custom_admin_view_is_listed_here_with_its_permission():
    """A new get_urls view must be added to CUSTOM_VIEWS, and so to the 403/200 tests below."""
    assert custom_view_names() == set(CUSTOM_VIEWS)


def staff(django_user_model, username: str, *perms: str):
    user = django_user_model.objects.create_user(username, password="pw-123456789", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return django_user_model.objects.get(pk=user.pk)  # no cached permissions


def view_url(name: str, account) -> str:
    return reverse(f"admin:{name}", args=[account.pk] if name == "accounts_account_cash" else [])


@pytest.mark.parametrize("name", list(CUSTOM_VIEWS))
def test_a_staff_user_without_the_permission_gets_403(client, django_user_model, account, name):
    others = [p for p in CUSTOM_VIEWS.values() if p != CUSTOM_VIEWS[name]]  # every other one: still 403
    client.force_login(staff(django_user_model, "no-perms", *others))
    url = view_url(name, account)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "x", "direction": "deposit", "amount": "5"}).status_code == 403


@pytest.mark.parametrize("name", list(CUSTOM_VIEWS))
def test_a_staff_user_with_the_permission_gets_the_page(client, django_user_model, account, name):
    client.force_login(staff(django_user_model, "permitted", CUSTOM_VIEWS[name]))
    assert client.get(view_url(name, account)).status_code == 200
