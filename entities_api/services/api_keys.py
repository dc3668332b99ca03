"""A user's API keys (an extension of ours). The key itself is shown once, at creation."""

from datetime import datetime

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import ApiKey

from .base import Service


class ApiKeyService(Service):
    def create_api_key(
        self, user_id: str, *, name: str | None = None, expires_at: int | datetime | None = None
    ) -> ApiKey:
        """A new key for the user; its ``key`` field holds the key, the only time it is sent."""
        if isinstance(expires_at, datetime):
            expires_at = int(expires_at.timestamp())
        body = compact(name=name, expires_at=expires_at)
        return ApiKey.from_dict(self._transport.post(f"users/{user_id}/api_keys", body))

    def retrieve_api_key(self, user_id: str, key_id: str) -> ApiKey:
        return ApiKey.from_dict(self._transport.get(f"users/{user_id}/api_keys/{key_id}"))

    def revoke_api_key(self, user_id: str, key_id: str) -> ApiKey:
        """The key stops working at once; it stays listed, with ``revoked_at`` set."""
        return ApiKey.from_dict(self._transport.delete(f"users/{user_id}/api_keys/{key_id}"))

    delete_api_key = revoke_api_key

    def list_api_keys(
        self,
        user_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[ApiKey]:
        return self._pager(
            f"users/{user_id}/api_keys",
            ApiKey.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )
