"""Users, their logins and API keys."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from entities.errors import InvalidRequest
from entities.models import ApiKey, User
from entities.models.users import API_KEY_VISIBLE_CHARS, generate_api_key, hash_api_key


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


@transaction.atomic
def user_update(*, user: User, **fields: object) -> User:
    for field, value in fields.items():
        setattr(user, field, value)
    user.save(update_fields=list(fields))
    if "is_admin" in fields and user.account is not None:
        # An admin's login opens the admin console; taking admin away closes it.
        account = user.account
        account.is_staff = account.is_superuser = user.is_admin
        account.save(update_fields=["is_staff", "is_superuser"])
    return user


@transaction.atomic
def user_delete(*, user: User) -> None:
    if user.account is not None:
        user.account.delete()
    user.delete()


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


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
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
        # A conditional update: many requests at once write it once, and never per request.
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user
