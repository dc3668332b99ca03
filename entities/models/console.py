"""The operator console's permissions. Django keeps permissions on a model, so here is one."""

from django.db import models

# What each part of the console needs (``entities.<codename>``); a superuser has them all.
VIEW_CONSOLE = "view_console"
MANAGE_MODELS = "manage_models"
CANCEL_RUNS = "cancel_runs"
VIEW_USAGE = "view_usage"


class Console(models.Model):
    """No table: only its permissions, which staff are given in the admin (users or groups)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            (VIEW_CONSOLE, "Can see the console: Ollama's models, active runs, failures"),
            (MANAGE_MODELS, "Can pull and delete models on Ollama"),
            (CANCEL_RUNS, "Can cancel anyone's runs"),
            (VIEW_USAGE, "Can see every user's and assistant's usage"),
        ]

    def __str__(self) -> str:
        return "operator console"
