"""People and their API keys."""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from .ids import public_id_field

API_KEY_PREFIX = "ek_"
API_KEY_VISIBLE_CHARS = 10


class User(models.Model):
    """Someone who owns assistants and takes part in threads, through the API or a browser.

    ``account`` links a Django login (admin, browser chat); API-only users have none.
    """

    id = public_id_field("user")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    is_admin = models.BooleanField(
        default=False, help_text="Admins manage users and see every assistant and thread."
    )
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="entity",
        help_text="The Django login of this person, for the admin console and browser chat.",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    # DRF and Django permission code treat request.user as a login: this is always one.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False


def hash_api_key(raw: str) -> str:
    # Keys are 256 random bits, so a fast hash is as strong as a slow one and keeps lookups cheap.
    return hashlib.sha256(raw.encode()).hexdigest()


def generate_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKey(models.Model):
    """A bearer key of one user. Only its hash and a visible prefix are stored."""

    id = public_id_field("key")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=16, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()
