"""APCA-API-KEY-ID / APCA-API-SECRET-KEY header authentication (Alpaca's scheme)."""
import hashlib
import hmac

from rest_framework import authentication, exceptions

from .models import ApiKey


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AlpacaKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key_id = request.headers.get("APCA-API-KEY-ID")
        secret = request.headers.get("APCA-API-SECRET-KEY")
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            raise exceptions.AuthenticationFailed("both APCA-API-KEY-ID and APCA-API-SECRET-KEY are required")
        key = (
            ApiKey.objects.select_related("account__user")
            .filter(key_id=key_id, revoked_at__isnull=True)
            .first()
        )
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            raise exceptions.AuthenticationFailed("invalid API key")
        if not key.account.user.is_active:
            raise exceptions.AuthenticationFailed("user is inactive")
        request.account = key.account
        return (key.account.user, key)

    def authenticate_header(self, request):
        return "APCA-API-KEY-ID"
