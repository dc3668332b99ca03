from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self) -> None:
        from . import metrics  # noqa: F401 - connects its receiver of run deletions
