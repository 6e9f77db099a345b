"""Logout closes the session's terminal WebSockets: a socket authenticated by a session must not
outlive it (frontend.consumers.TerminalConsumer.terminal_close)."""
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from orders.events import push_after_commit

from .consumers import session_group

@receiver(user_logged_out)
def close_terminal_sockets(sender, request, user, **kwargs):
    # Django sends this before it flushes the session, so the key is still the logged-in one.
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if not session_key:
        return
    # Through orders' one long-lived publishing loop (async_to_sync would bind the channel layer's
    # Redis connections to a throwaway loop); outside a transaction it is handed over at once, not
    # awaited: the logout never waits for Redis, and the socket cannot reconnect with the flushed
    # session anyway.
    push_after_commit(session_group(session_key), {"type": "terminal.close"})
