"""What the inference app keeps: the Ollama hosts runs go to, and counters for ``/metrics``."""

from django.db import models
from django.utils import timezone


class OllamaHost(models.Model):
    """An Ollama server, and what the routing last learned about it.

    Hosts come from ``OLLAMA_HOSTS`` (or ``OLLAMA_HOST``), kept here so every process shares
    their state, or are added by an operator in the admin. ``inference.hosts`` chooses among
    them and keeps ``state``, ``models``, ``last_seen`` and ``last_error`` current.
    """

    class Source(models.TextChoices):
        ENVIRONMENT = "environment", "OLLAMA_HOSTS / OLLAMA_HOST"
        ADMIN = "admin", "added in the admin"

    class State(models.TextChoices):
        UNKNOWN = "unknown"
        UP = "up"
        DOWN = "down"

    url = models.CharField(
        max_length=255,
        unique=True,
        help_text="Where Ollama listens, e.g. http://gpu1.example.org:11434",
    )
    enabled = models.BooleanField(
        default=True,
        help_text="Runs go only to enabled hosts. Disabling drains a host: runs already "
        "streaming from it finish, new ones go elsewhere.",
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, default=Source.ADMIN, editable=False
    )
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.UNKNOWN, editable=False
    )
    model_names = models.JSONField(
        default=list, blank=True, editable=False, help_text="The models its /api/tags lists."
    )
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_seen = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When it last answered."
    )
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["url"]
        verbose_name = "Ollama host"

    def __str__(self) -> str:
        return self.url


class MetricCounter(models.Model):
    """A counter shared by every process (workers come and go), read by ``/metrics``."""

    name = models.CharField(max_length=64)
    label = models.CharField(max_length=64, blank=True)
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["name", "label"], name="metric_counter_name_label")
        ]

    def __str__(self) -> str:
        return f"{self.name}{{{self.label}}} = {self.value}"
