"""Logout closes the session's terminal WebSockets: a socket authenticated by a session must not
outlive it (frontend.consumers.TerminalConsumer.terminal_close)."""
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from .consumers import session_group

log = logging.getLogger(__name__)


@receiver(user_logged_out)
def close_terminal_sockets(sender, request, user, **kwargs):
    # Django sends this before it flushes the session, so the key is still the logged-in one.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    try:
        async_to_sync(get_channel_layer().group_send)(session_group(session_key), {"type": "terminal.close"})
    except Exception:  # the logout itself must succeed; the socket then closes on its next reconnect
        log.exception("could not close the terminal sockets of a logged-out session")
