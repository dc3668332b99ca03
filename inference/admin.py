"""The operator's view of the Ollama hosts: add one, drain one, see what each last answered."""

from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from . import hosts
from .models import OllamaHost


def _url_problem(url: str) -> str | None:
    """Why the URL (as typed, stripped) cannot be an Ollama host, if it cannot: stored, a bad
    one would break every page and run that reads it (``urlsplit`` raises on a bad port)."""
    if not url.isprintable() or any(char.isspace() for char in url):
        return "The URL has a space or a control character."
    try:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        parts.port  # noqa: B018 - raises for a port that is not a number from 0 to 65535
    except ValueError as exc:
        if str(exc).startswith("Port"):
            return "The port must be a number from 0 to 65535."
        return "This is not a URL."
    if parts.scheme not in ("http", "https"):
        return "An Ollama URL starts with http:// or https://."
    if not parts.hostname:
        return "The URL names no host."
    return None


class OllamaHostForm(forms.ModelForm):
    class Meta:
        model = OllamaHost
        fields = ["url", "enabled"]

    def clean_url(self) -> str:
        problem = _url_problem(self.cleaned_data["url"].strip())
        if problem:
            raise forms.ValidationError(problem)
        url = hosts.normalize_url(self.cleaned_data["url"])
        limit = OllamaHost._meta.get_field("url").max_length
        if limit is not None and len(url) > limit:
            raise forms.ValidationError(f"An Ollama URL has at most {limit} characters.")
        if OllamaHost.objects.filter(url=url).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("This host is already there.")
        return url


@admin.register(OllamaHost)
class OllamaHostAdmin(admin.ModelAdmin):
    form = OllamaHostForm
    list_display = ["url", "enabled", "state", "source", "models_listed", "last_seen", "error"]
    list_filter = ["enabled", "state", "source"]
    readonly_fields = [
        "source",
        "state",
        "model_names",
        "checked_at",
        "last_seen",
        "last_error",
        "created_at",
    ]
    actions = ["check_now"]

    @admin.display(description="models")
    def models_listed(self, host: OllamaHost) -> str:
        return ", ".join(host.model_names)

    @admin.display(description="last error")
    def error(self, host: OllamaHost) -> str:
        return host.last_error[:120]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A host from OLLAMA_HOSTS changes with the environment; here it can only be disabled.
        extra = ["url"] if obj is not None and obj.source == OllamaHost.Source.ENVIRONMENT else []
        return [*extra, *self.readonly_fields]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.source == OllamaHost.Source.ENVIRONMENT:
            return False  # it would come back: OLLAMA_HOSTS still names it
        return super().has_delete_permission(request, obj)

    @admin.action(description="Ask the selected hosts for their models now", permissions=["change"])
    def check_now(self, request: HttpRequest, queryset: QuerySet[OllamaHost]) -> None:
        selected = list(queryset)
        hosts.refresh(selected, force=True)
        up = sum(1 for host in selected if host.state == OllamaHost.State.UP)
        level = messages.SUCCESS if up == len(selected) else messages.WARNING
        self.message_user(request, f"{up} of {len(selected)} hosts answered.", level)
