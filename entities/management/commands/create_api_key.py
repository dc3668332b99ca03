from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from entities.models import User
from entities.services.users import api_key_create, user_create, user_update


class Command(BaseCommand):
    help = "Create an API key for a user (made if missing). The key is the last line printed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="The user's name.")
        parser.add_argument("--admin", action="store_true", help="Make the user an admin.")
        parser.add_argument("--name", default="", help="A label for the key.")

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["user"].strip()
        if not name:
            raise CommandError("--user needs a name.")
        user = User.objects.filter(name=name).order_by("id").first()
        if user is None:
            user = user_create(name=name, is_admin=options["admin"])
            self.stdout.write(f"Created user {user.name} ({user.id}).")
        elif options["admin"] and not user.is_admin:
            user_update(user=user, is_admin=True)
            self.stdout.write(f"{user.name} ({user.id}) is now an admin.")
        key, raw = api_key_create(user=user, name=options["name"])
        self.stdout.write(f"API key {key.id} for {user.name} ({user.id}); it is shown only now:")
        self.stdout.write(raw)
