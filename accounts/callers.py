"""Who a REST request acts for: the account its queries are scoped to, and the actor the audit
trail records."""
from core.errors import Refused

from .models import Account


def caller_account(request) -> Account:
    """The account every query of the request is scoped to."""
    account = getattr(request, "account", None)  # set by AlpacaKeyAuthentication
    if account is not None:
        return account
    try:
        return request.user.account
    except Account.DoesNotExist:
        raise Refused("no_account", "this user has no trading account") from None


def caller_actor(request) -> str:
    """Who the audit trail records: the API key, or the signed-in user."""
    key_id = getattr(request.auth, "key_id", None)
    return f"api:{key_id}" if key_id else f"user:{request.user.username}"
