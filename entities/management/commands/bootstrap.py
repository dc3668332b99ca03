"""Make sure an admin login and an API key exist, and say what they are (for ``make run``)."""

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from entities.models import ApiKey, User
from entities.models.users import hash_api_key
from entities.services.users import api_key_create, user_create, user_for_account, user_update

UNKNOWN_PASSWORD = "(unchanged; reset it with: manage.py changepassword {username})"


class Command(BaseCommand):
    help = "Ensure an admin login and API key exist and print them (kept in DATA_DIR)."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("ENTITIES_ADMIN_USERNAME") or "admin"
        wanted_password = os.environ.get("ENTITIES_ADMIN_PASSWORD") or None
        stored = Path(settings.DATA_DIR) / "admin-credentials.json"
        creds = self._read(stored)
        if creds.get("username") != username:
            creds = {}
        with transaction.atomic():
            account = get_user_model().objects.filter(username=username).first()
            if account is None:
                password = wanted_password or secrets.token_urlsafe(12)
                user = user_create(
                    name=username, is_admin=True, username=username, password=password
                )
                creds = {"username": username, "password": password}
            else:
                user = self._ensure_admin(account, wanted_password)
                if wanted_password is not None:
                    creds["password"] = wanted_password
                elif "password" in creds and not account.check_password(creds["password"]):
                    # Changed since we wrote it down: never print a password that does not work.
                    del creds["password"]
            if not self._usable_key(user, creds.get("api_key")):
                _, creds["api_key"] = api_key_create(user=user, name="make run")
            creds["username"] = username
            # Written inside the transaction: if it cannot be kept, nothing is created unseen.
            self._write(stored, creds)
        password = creds.get("password") or UNKNOWN_PASSWORD.format(username=username)
        self.stdout.write(
            f"Admin login: {username} / {password}\n"
            f"API key:     {creds['api_key']}\n"
            f"(kept in {stored})"
        )

    def _ensure_admin(self, account: Any, wanted_password: str | None) -> User:
        """An existing login of that name becomes (or stays) an admin with the wanted password."""
        changed = []
        if wanted_password is not None and not account.check_password(wanted_password):
            account.set_password(wanted_password)
            changed.append("password")
        for flag in ("is_staff", "is_superuser"):
            if not getattr(account, flag):
                setattr(account, flag, True)
                changed.append(flag)
        if changed:
            account.save(update_fields=changed)
        if not account.is_active:
            self.stderr.write(
                f"The login '{account.get_username()}' is deactivated; activate it in the admin."
            )
        user = user_for_account(account)
        if not user.is_admin:
            user_update(user=user, is_admin=True)
        return user

    @staticmethod
    def _usable_key(user: User, raw: str | None) -> bool:
        if not raw:
            return False
        key = ApiKey.objects.filter(user=user, hashed_key=hash_api_key(raw)).first()
        return key is not None and key.is_usable

    def _read(self, stored: Path) -> dict[str, str]:
        if not stored.exists():
            return {}
        try:
            creds = json.loads(stored.read_text())
        except ValueError:
            self.stderr.write(f"{stored} is not JSON; writing it anew.")
            return {}
        return creds if isinstance(creds, dict) else {}

    @staticmethod
    def _write(stored: Path, creds: dict[str, str]) -> None:
        """Replace the file at once; it is only ever readable by its owner (mode 0600)."""
        stored.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=stored.parent, prefix=".admin-credentials.")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(creds, fh)
            os.chmod(temporary, 0o600)
            os.replace(temporary, stored)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
