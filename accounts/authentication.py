"""APCA-API-KEY-ID / APCA-API-SECRET-KEY header authentication (Alpaca's scheme)."""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .selectors import ApiKeyRefused, api_key_verify, hash_secret

__all__ = ["AlpacaKeyAuthentication", "hash_secret"]


class AlpacaKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        key_id = request.headers.get("APCA-API-KEY-ID")
        secret = request.headers.get("APCA-API-SECRET-KEY")
        if not key_id and not secret:
            return None
        if not key_id or not secret:
            raise exceptions.AuthenticationFailed("both APCA-API-KEY-ID and APCA-API-SECRET-KEY are required")
        try:
            key = api_key_verify(key_id=key_id, secret=secret)
        except ApiKeyRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        request.account = key.account
        return (key.account.user, key)

    def authenticate_header(self, request):
        return "APCA-API-KEY-ID"


class AlpacaKeyScheme(OpenApiAuthenticationExtension):
    """Both headers together (an AND of two apiKey schemes), as alpaca-py sends them."""

    target_class = "accounts.authentication.AlpacaKeyAuthentication"
    name = ["apiKeyId", "apiSecretKey"]

    def get_security_definition(self, auto_schema):
        return [{"type": "apiKey", "in": "header", "name": "APCA-API-KEY-ID"},
                {"type": "apiKey", "in": "header", "name": "APCA-API-SECRET-KEY"}]
