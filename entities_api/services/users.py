"""Users (an extension of ours): admins create, change and delete them."""

from entities_api.pagination import Pager
from entities_api.transport import compact
from entities_api.types import Deleted, Thread, User

from .base import Service


class UserService(Service):
    def create_user(
        self,
        *,
        name: str,
        email: str | None = None,
        is_admin: bool | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> User:
        """Create a user (admins only); ``username``/``password`` give them an admin-console
        login."""
        body = compact(
            name=name, email=email, is_admin=is_admin, username=username, password=password
        )
        return User.from_dict(self._transport.post("users", body))

    def retrieve_user(self, user_id: str) -> User:
        return User.from_dict(self._transport.get(f"users/{user_id}"))

    def retrieve_me(self) -> User:
        """The user the API key belongs to."""
        return User.from_dict(self._transport.get("users/me"))

    def update_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        is_admin: bool | None = None,
    ) -> User:
        body = compact(name=name, email=email, is_admin=is_admin)
        return User.from_dict(self._transport.post(f"users/{user_id}", body))

    def delete_user(self, user_id: str) -> Deleted:
        return Deleted.from_dict(self._transport.delete(f"users/{user_id}"))

    def list_users(
        self,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[User]:
        """Every user (admins only), page after page as you iterate."""
        return self._pager(
            "users", User.from_dict, limit=limit, order=order, after=after, before=before
        )

    def list_user_threads(
        self,
        user_id: str,
        *,
        limit: int | None = None,
        order: str | None = None,
        after: str | None = None,
        before: str | None = None,
    ) -> Pager[Thread]:
        """The threads the user takes part in (that you may see)."""
        return self._pager(
            f"users/{user_id}/threads",
            Thread.from_dict,
            limit=limit,
            order=order,
            after=after,
            before=before,
        )
