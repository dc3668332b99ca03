"""Users, their logins and API keys."""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from entities.errors import Conflict, InvalidRequest, NotFound
from entities.models import ApiKey, User
from entities.models.users import API_KEY_VISIBLE_CHARS, generate_api_key, hash_api_key
from entities.services.rows import update_row


@transaction.atomic
def user_create(
    *,
    name: str,
    email: str = "",
    is_admin: bool = False,
    username: str | None = None,
    password: str | None = None,
) -> User:
    """Create a user; with ``username`` it also gets a Django login (staff when an admin)."""
    account = None
    if username:
        Account = get_user_model()
        taken = InvalidRequest(f"The login '{username}' is taken.", param="username")
        if Account.objects.filter(username=username).exists():
            raise taken
        try:
            # Two creates at once both pass the check above; the unique username stops one.
            with transaction.atomic():
                account = Account.objects.create_user(
                    username=username,
                    email=email,
                    password=password,
                    is_staff=is_admin,
                    is_superuser=is_admin,
                )
        except IntegrityError:
            raise taken from None
    return User.objects.create(name=name, email=email, is_admin=is_admin, account=account)


@contextmanager
def an_admin_keeps_a_way_in() -> Iterator[None]:
    """Refuses (rolling back) a change that takes the last usable way in from every admin.

    A way in is an admin's API key that is neither revoked nor expired, or an active superuser
    login with a password. The admins are locked first, so two admins removing each other at
    once are taken one after the other. Only a change that had a way in before is refused:
    a server that never had one (a fresh install, a test database) can still be changed.
    """
    list(User.objects.select_for_update().filter(is_admin=True).values_list("pk", flat=True))
    before = _an_admin_can_get_in()
    yield
    if before and not _an_admin_can_get_in():
        raise Conflict(
            "This would leave no admin with a usable API key or login, and nobody could manage "
            "the server. Give another admin a key or a login first.",
            code="last_admin",
        )


def _an_admin_can_get_in() -> bool:
    now = timezone.now()
    keys = ApiKey.objects.filter(user__is_admin=True, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    logins = (
        get_user_model()
        .objects.filter(is_active=True, is_superuser=True)
        .exclude(password__startswith=UNUSABLE_PASSWORD_PREFIX)
        .exclude(password="")
    )
    return keys.exists() or logins.exists()


@transaction.atomic
def user_update(*, user: User, **fields: object) -> User:
    demoting = fields.get("is_admin") is False
    with an_admin_keeps_a_way_in() if demoting else nullcontext():
        update_row(user, "user", **fields)
        if "is_admin" in fields and user.account_id is not None:
            # An admin's login opens the admin console; taking admin away closes it.
            get_user_model().objects.filter(pk=user.account_id).update(
                is_staff=user.is_admin, is_superuser=user.is_admin
            )
    return user


@transaction.atomic
def user_delete(*, user: User, by: User | None = None) -> None:
    """Delete the user and their login. ``by`` is the admin asking (none from a command)."""
    if by is not None and by.pk == user.pk:
        raise Conflict(
            "You cannot delete your own user: another admin can.", code="cannot_delete_self"
        )
    with an_admin_keeps_a_way_in():
        if user.account_id is not None:
            get_user_model().objects.filter(pk=user.account_id).delete()
        deleted, _ = User.objects.filter(pk=user.pk).delete()
        if not deleted:
            raise NotFound(f"No user found with id '{user.pk}'.")


@transaction.atomic
def account_delete(*, account: AbstractBaseUser, by: AbstractBaseUser | None = None) -> None:
    """Delete a Django login alone (its entities user stays, with its keys)."""
    if by is not None and by.pk == account.pk:
        raise Conflict(
            "You cannot delete your own login: another admin can.", code="cannot_delete_self"
        )
    with an_admin_keeps_a_way_in():
        account.delete()


def user_for_account(account: AbstractBaseUser) -> User:
    """The entities user of a Django login, made on first use (e.g. for a ``createsuperuser``)."""
    user = User.objects.filter(account_id=account.pk).first()
    if user is None:
        user, _ = User.objects.get_or_create(
            account_id=account.pk,
            defaults={
                "name": account.get_username(),
                "email": getattr(account, "email", ""),
                "is_admin": getattr(account, "is_superuser", False),
            },
        )
    return user


def api_key_create(
    *, user: User, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key; the raw key is returned once here and never stored."""
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidRequest("expires_at must be in the future.", param="expires_at")
    raw = generate_api_key()
    key = ApiKey.objects.create(
        user=user,
        name=name,
        prefix=raw[:API_KEY_VISIBLE_CHARS],
        hashed_key=hash_api_key(raw),
        expires_at=expires_at,
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey) -> ApiKey:
    with an_admin_keeps_a_way_in():
        now = timezone.now()
        if not ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
            # Revoked by another request meanwhile (then it stays as that one left it), or gone.
            stored = ApiKey.objects.filter(pk=key.pk).values_list("revoked_at", flat=True).first()
            if stored is None:
                raise NotFound(f"No API key found with id '{key.pk}'.")
            now = stored
        key.revoked_at = now
    return key


def api_key_authenticate(raw: str) -> User | None:
    """The user a raw key belongs to, if the key is usable; records when it was last used."""
    key = (
        ApiKey.objects.select_related("user")
        .filter(hashed_key=hash_api_key(raw), revoked_at__isnull=True)
        .first()
    )
    if key is None or not key.is_usable:
        return None
    now = timezone.now()
    touch_after = timedelta(seconds=settings.API_KEY_TOUCH_SECONDS)
    if key.last_used_at is None or now - key.last_used_at >= touch_after:
        # Written at most once per API_KEY_TOUCH_SECONDS, not per request; and conditional: a key
        # revoked or deleted (with its user) since the read above touches no row, and is refused.
        touched = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(last_used_at=now)
        if not touched:
            return None
    return key.user
