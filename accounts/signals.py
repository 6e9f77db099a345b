"""Login lockouts are audited (django-axes' user_locked_out, accounts.services.login_lockout_record).

Sockets end with the login that opened them (invariant 11, core.credentials): logout
ends the session's sockets, a password change every session-authenticated socket of the user
(Django invalidates those sessions: their auth hash no longer matches), and deactivating a user
every socket of theirs, API keys included. API key revocation and account closure are services
(accounts.services), which end their sockets themselves."""
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from core import credentials

from .models import User
from .services import login_lockout_record


@receiver(user_locked_out)
def audit_lockout(sender, request, username, ip_address, **kwargs):
    # axes also sends this for each attempt refused during a lockout; only the attempt that locked
    # has its failure count set (axes' handler sets it when it records a failure).
    failures = getattr(request, "axes_failures_since_start", None)
    if failures is not None:
        login_lockout_record(username=username, ip_address=ip_address, failures=failures)


@receiver(user_logged_out)
def end_session_sockets(sender, request, user, **kwargs):
    # Django sends this before it flushes the session, so the key is still the logged-in one.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        credentials.end_after_commit(credentials.session_group(session_key), credentials.LOGGED_OUT)


@receiver(pre_save, sender=User)
def _note_credential_change(sender, instance, update_fields=None, raw=False, **kwargs):
    """Remember whether this save changes the password or deactivates the user (one read of the
    stored row; logins save last_login only, named in update_fields, and skip it)."""
    instance._credential_change = None
    if raw or instance.pk is None or (update_fields is not None
                                      and not {"password", "is_active"} & set(update_fields)):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    if stored is None:
        return
    if stored[1] and not instance.is_active:
        instance._credential_change = (credentials.user_group(instance.pk), credentials.USER_INACTIVE)
    elif stored[0] != instance.password:
        instance._credential_change = (credentials.logins_group(instance.pk), credentials.PASSWORD_CHANGED)


@receiver(post_save, sender=User)
def _end_sockets_of_changed_credential(sender, instance, **kwargs):
    change = getattr(instance, "_credential_change", None)
    if change is not None:
        instance._credential_change = None
        credentials.end_after_commit(*change)
