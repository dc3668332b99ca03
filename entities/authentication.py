"""How API callers prove who they are: an API key, or a Django session from the browser."""

from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    get_authorization_header,
)
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from entities.models import User
from entities.services.users import api_key_authenticate, user_for_account


def _raw_key(request: Request) -> str | None:
    header = get_authorization_header(request).decode("latin-1").strip()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("The Authorization header must be 'Bearer <API key>'.")
        return token.strip()
    return request.META.get("HTTP_X_API_KEY") or None


class ApiKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        raw = _raw_key(request)
        if raw is None:
            return None
        user = api_key_authenticate(raw)
        if user is None:
            shown = raw[:6] + "…" if len(raw) > 6 else "…"
            raise AuthenticationFailed(
                f"Incorrect API key provided: {shown}. It is unknown, revoked or expired."
            )
        return user, raw

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials came.
        return 'Bearer realm="entities"'


class EntitiesSessionAuthentication(SessionAuthentication):
    """The Django login of the admin console and browser chat, seen as its entities user."""

    def authenticate(self, request: Request) -> tuple[User, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        account, _ = result
        return user_for_account(account), None


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Declares the key in the OpenAPI document, so Swagger UI offers 'Authorize'."""

    target_class = "entities.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An Entities API key."}


class EntitiesSessionScheme(SessionScheme):
    target_class = "entities.authentication.EntitiesSessionAuthentication"
