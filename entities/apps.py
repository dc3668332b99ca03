from django.apps import AppConfig


class EntitiesConfig(AppConfig):
    name = "entities"
    verbose_name = "Entities"
    default_auto_field = "django.db.models.BigAutoField"
