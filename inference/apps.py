from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"

    def ready(self) -> None:
        from django_q.signals import post_spawn

        from . import metrics  # noqa: F401 - connects its receiver of run deletions
        from .shutdown import on_worker_spawn

        post_spawn.connect(on_worker_spawn, dispatch_uid="entities-worker-sigterm")
