"""Make sure an admin login and an API key exist, and say what they are (for ``make run``)."""

import json
import os
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from entities.services.users import api_key_create, user_create, user_for_account


class Command(BaseCommand):
    help = "Ensure an admin login and API key exist and print them (kept in DATA_DIR)."

    def handle(self, *args: Any, **options: Any) -> None:
        username = os.environ.get("ENTITIES_ADMIN_USERNAME") or "admin"
        stored = settings.DATA_DIR / "admin-credentials.json"
        creds: dict[str, str] = json.loads(stored.read_text()) if stored.exists() else {}
        if creds.get("username") != username:
            creds = {}
        account = get_user_model().objects.filter(username=username).first()
        if account is None:
            password = os.environ.get("ENTITIES_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            user = user_create(name=username, is_admin=True, username=username, password=password)
            creds = {"username": username, "password": password}
        else:
            user = user_for_account(account)
        keys = user.api_keys.filter(revoked_at__isnull=True)
        if "api_key" not in creds or not keys.filter(prefix=creds["api_key"][:10]).exists():
            _, creds["api_key"] = api_key_create(user=user, name="make run")
        creds["username"] = username
        stored.write_text(json.dumps(creds))
        stored.chmod(0o600)
        password = creds.get("password", "(unchanged; reset it with: manage.py changepassword)")
        self.stdout.write(
            f"Admin login: {username} / {password}\n"
            f"API key:     {creds['api_key']}\n"
            f"(kept in {stored})"
        )
