"""Login lockout (django-axes) in front of Django's password check."""
from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a locked-out username or address before the password is checked. A call without a
    request (code, not a visitor: Django's test client, management commands) has no address to
    count and nothing to lock, and is let through to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
