"""Admin pages of the console. Staff only (``admin.site.admin_view``), and each page and action
needs its own permission (``entities.models.console``); a superuser has every one."""

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, time, timedelta
from functools import wraps
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from entities.api.errors import error_body
from entities.errors import EntitiesError
from entities.models import Run
from entities.models.console import CANCEL_RUNS, MANAGE_MODELS, VIEW_CONSOLE, VIEW_USAGE
from entities.services.runs import run_cancel
from inference import ollama_models
from inference.hosts import public_url
from inference.providers import ProviderError

from . import reports

View = Callable[..., HttpResponseBase]


CONSOLE_PERMISSIONS = (VIEW_CONSOLE, MANAGE_MODELS, CANCEL_RUNS, VIEW_USAGE)


def allowed(request: HttpRequest, codename: str) -> bool:
    return request.user.has_perm(f"entities.{codename}")


def needs(*codenames: str, answer: str = "page") -> Callable[[View], View]:
    """Staff with any one of ``codenames`` may use the view; others get a 403 (as a page, or as
    OpenAI's error body when ``answer="json"``, for the page's script)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not any(allowed(request, codename) for codename in codenames):
                if answer == "json":
                    message = "You do not have permission to do this in the console."
                    return JsonResponse(error_body(message, status_code=403), status=403)
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def _page(request: HttpRequest, template: str, title: str, **context: Any) -> HttpResponse:
    return render(
        request,
        template,
        {**admin.site.each_context(request), "title": title, **context},
    )


@needs(*CONSOLE_PERMISSIONS)
@require_GET
def console_index(request: HttpRequest) -> HttpResponse:
    return _page(request, "admin/console/index.html", "Operator console")


# --- models ----------------------------------------------------------------------------------


@needs(VIEW_CONSOLE)
@require_GET
def models_page(request: HttpRequest) -> HttpResponse:
    shown = ollama_models.host_catalogues()
    return _page(
        request,
        "admin/console/models.html",
        "Models",
        hosts=shown,
        choices=[host.url for host in shown if host.state != "disabled"],
    )


async def _pull_lines(name: str, host: str) -> AsyncIterator[str]:
    try:
        async for progress in ollama_models.pull(name, host):
            yield json.dumps(progress) + "\n"
    except ProviderError as exc:
        yield json.dumps({"error": exc.message}) + "\n"
    finally:
        await sync_to_async(ollama_models.host_refresh)(host)


@needs(MANAGE_MODELS, answer="json")
@require_POST
def model_pull(request: HttpRequest) -> HttpResponseBase:
    """Ollama's ``/api/pull`` progress, passed on line by line (NDJSON) as it comes."""
    try:
        name = ollama_models.model_name_checked(request.POST.get("name") or "")
    except ProviderError as exc:
        return JsonResponse(error_body(exc.message, status_code=400, param="name"), status=400)
    try:
        host = ollama_models.host_for((request.POST.get("host") or "").strip())
    except ProviderError as exc:
        return JsonResponse(error_body(exc.message, status_code=400, param="host"), status=400)
    response = StreamingHttpResponse(_pull_lines(name, host), content_type="application/x-ndjson")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@needs(MANAGE_MODELS)
@require_POST
def model_delete(request: HttpRequest) -> HttpResponse:
    try:
        name = ollama_models.model_name_checked(request.POST.get("name") or "")
        host = ollama_models.host_for((request.POST.get("host") or "").strip())
        ollama_models.delete(name, host)
    except ProviderError as exc:
        messages.error(request, exc.message)
    else:
        ollama_models.host_refresh(host)
        messages.success(request, f"Deleted {name} from Ollama at {public_url(host)}.")
    return HttpResponseRedirect(reverse("console:models"))


# --- runs ------------------------------------------------------------------------------------


@needs(VIEW_CONSOLE)
@require_GET
def runs_page(request: HttpRequest) -> HttpResponse:
    return _page(
        request,
        "admin/console/runs.html",
        "Runs",
        active=reports.active_runs(),
        failures=reports.recent_failures(),
    )


@needs(VIEW_CONSOLE, answer="json")
@require_GET
def runs_active(request: HttpRequest) -> JsonResponse:
    """The active runs as JSON; the runs page polls it."""
    return JsonResponse({"object": "list", "data": reports.active_runs()})


@needs(CANCEL_RUNS, answer="json")
@require_POST
def run_cancel_view(request: HttpRequest, run_id: str) -> JsonResponse:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return JsonResponse(
            error_body(f"No run found with id '{run_id}'.", status_code=404), status=404
        )
    try:
        run = run_cancel(run=run)
    except EntitiesError as exc:
        body = error_body(exc.message, status_code=exc.status_code, code=exc.code)
        return JsonResponse(body, status=exc.status_code)
    return JsonResponse({"id": run.id, "status": run.status})


# --- usage -----------------------------------------------------------------------------------

PERIODS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "all": ("All time", None),
    "custom": ("From … to …", None),
}


class PeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[(k, label) for k, (label, _) in PERIODS.items()], initial="7d", required=False
    )
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Included.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            self.add_error("until", "The end comes before the start.")
        return cleaned

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """``[since, until)`` of the chosen period; a custom one runs to the end of ``until``."""
        data = self.cleaned_data
        period = data.get("period") or "7d"
        if period != "custom":
            span = PERIODS[period][1]
            return (timezone.now() - span if span else None), None
        zone = timezone.get_current_timezone()
        since = data.get("since")
        until = data.get("until")
        return (
            datetime.combine(since, time.min, zone) if since else None,
            datetime.combine(until + timedelta(days=1), time.min, zone) if until else None,
        )


@needs(VIEW_USAGE)
@require_GET
def usage_page(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or {"period": "7d"})
    rows = reports.usage(*form.bounds()) if form.is_valid() else None
    return _page(request, "admin/console/usage.html", "Usage", form=form, rows=rows)
