"""Customer notifications with a pluggable backend: settings.TRADEX_NOTIFICATION_BACKEND names a
class with `send(*, user, kind, subject, body, data)`. The default sends e-mail through Django's
e-mail backend (EMAIL_BACKEND: SMTP in production, locmem in tests); every notification is also
pushed to the user's channel group (marketdata.groups.user_group) for the web terminal.

Called after commit only (a rolled-back margin call notifies nobody).
"""
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

from accounts.models import User

from .push import user_notify

log = logging.getLogger(__name__)


class EmailBackend:
    def send(self, *, user, kind: str, subject: str, body: str, data: dict) -> None:
        if user.email:
            send_mail(f"[TradeX] {subject}", body, settings.DEFAULT_FROM_EMAIL, [user.email])


class NullBackend:
    def send(self, **kwargs) -> None:
        pass


def backend():
    return import_string(settings.TRADEX_NOTIFICATION_BACKEND)()


def notify(*, user_id, kind: str, subject: str, body: str, data: dict) -> None:
    try:
        backend().send(user=User.objects.get(pk=user_id), kind=kind, subject=subject, body=body, data=data)
    except Exception:  # the event is committed and audited; a mail server down must not undo it
        log.exception("notification %s to user %s failed", kind, user_id)
    user_notify(user_id, kind, data)
