from typing import Any

from django.core.management.base import BaseCommand

from entities.models import FunctionDefinition
from tools.functions import registry


class Command(BaseCommand):
    help = "Make or update a FunctionDefinition for each server-side function (to assign them)."

    def handle(self, *args: Any, **options: Any) -> None:
        for function in registry().values():
            _, created = FunctionDefinition.objects.update_or_create(
                name=function.name,
                defaults={"description": function.description, "parameters": function.parameters},
            )
            self.stdout.write(f"{'Created' if created else 'Updated'} {function.name}")
