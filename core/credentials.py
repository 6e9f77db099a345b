"""Credentials end everywhere at once (invariant 11): a socket authenticated by an API key,
a login session or a user must not outlive it, in any web process.

Every socket joins, when it authenticates, the channel-layer groups of what it was authenticated
by; the service that ends a credential sends one `cred.close` message to its group after commit,
and every member, in whatever process, closes:

    cred.key.<key_id>          sockets authenticated by that API key         (key revoked)
    cred.session.<hash>        sockets of one login session                  (logout)
    cred.logins.<user_id>      every session-authenticated socket of a user  (password changed)
    cred.user.<user_id>        every socket of a user, keys and sessions     (account closed,
                                                                              user deactivated)

Message: {"type": "cred.close", "group": <the group>, "reason": <why>}: consumers with a channel
of their own handle it in `cred_close`; the market-data hub, the one member per process for all
its connections, uses "group" to find which of them to close.

A socket joins before it checks its credential (core.credentials.groups_of, then the check), so
an ending committed after the check reaches it, and one committed before makes the check fail:
no window in which a socket is let in and missed.
"""
from __future__ import annotations

import hashlib
import re

from .realtime import push_after_commit

CLOSE = "cred.close"

KEY_REVOKED = "api_key_revoked"
LOGGED_OUT = "logged_out"
PASSWORD_CHANGED = "password_changed"
ACCOUNT_CLOSED = "account_closed"
USER_INACTIVE = "user_inactive"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def key_group(key_id: str) -> str:
    return "cred.key." + _UNSAFE.sub("_", key_id)[:64]


def session_group(session_key: str) -> str:
    """The key is hashed: group names end up in Redis, and a session key is a bearer secret."""
    return "cred.session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]


def logins_group(user_id) -> str:
    return f"cred.logins.{user_id}"


def user_group(user_id) -> str:
    return f"cred.user.{user_id}"


def groups_of(*, user_id, key_id: str | None = None, session_key: str | None = None) -> list[str]:
    """The groups a socket joins: those of its key or its session, and its user's."""
    groups = [user_group(user_id)]
    if key_id:
        groups.append(key_group(key_id))
    if session_key:
        groups += [session_group(session_key), logins_group(user_id)]
    return groups


def end_after_commit(group: str, reason: str) -> None:
    """Close every socket in `group`, in every process, once the current transaction commits
    (at once outside one). A lost message leaves a socket open until it reconnects: the channel
    layer is the same Redis every socket's updates come through, so it fails with them."""
    push_after_commit(group, {"type": CLOSE, "group": group, "reason": reason})
