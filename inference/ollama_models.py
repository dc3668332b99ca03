"""Managing Ollama's models for operators: the catalogue with capabilities, pull, delete.

Runs only read models (``inference.providers.ollama``); the operator's console changes them
through here, with the same official client and the same error wording.
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import ollama
from django.conf import settings

from . import hosts
from .models import OllamaHost
from .providers import ProviderError
from .providers.ollama import OllamaProvider, new_client


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    family: str
    parameter_size: str
    quantization: str
    size: int
    modified_at: str | None
    capabilities: tuple[str, ...] = ()
    context_length: int | None = None
    loaded: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HostCatalogue:
    """One Ollama host as the console shows it: its state and, when it answers, its models."""

    url: str  # without credentials: the form's value, and what the page shows
    state: str  # up, down or disabled
    last_seen: datetime | None
    last_error: str
    entries: list[CatalogueEntry]
    problem: str | None


# Ollama's grammar (types/model/name.go): [host/][namespace/]model[:tag][@digest]; each part
# starts with a letter, digit or '_', a namespace has no '.', only a host has ':' (its port).
_PART = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"
_MODEL_NAME = re.compile(
    rf"(?:[A-Za-z0-9_][A-Za-z0-9_.:-]{{0,349}}/)?(?:[A-Za-z0-9_][A-Za-z0-9_-]{{0,79}}/)?"
    rf"{_PART}(?::{_PART})?(?:@sha256[:-][0-9a-f]{{64}})?"
)


def model_name_checked(name: str) -> str:
    """The name, stripped, when Ollama would take it; else a ProviderError that says why.

    The client would raise pydantic's ValidationError for an empty one, and Ollama answer a
    bare 400 (or a confusing 404) for the rest.
    """
    name = name.strip()
    if not name:
        raise ProviderError("Name the model.", permanent=True)
    if not _MODEL_NAME.fullmatch(name):
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise ProviderError(
            f"'{shown}' is not a model name Ollama accepts: [host/][namespace/]model[:tag], "
            "each part letters, digits, '_', '-' or '.' (at most 80).",
            permanent=True,
        )
    return name


def _unreachable(host: str, exc: Exception) -> ProviderError:
    return ProviderError(
        f"Ollama is not reachable at {hosts.public_url(host)} ({exc.__class__.__name__}: {exc}). "
        "Check that it is running and that OLLAMA_HOST points at it.",
        permanent=False,
    )


def _loaded_names(host: str) -> set[str]:
    try:
        with new_client(host, timeout=10) as client:
            return {m.model or "" for m in client.ps().models}
    except (ollama.ResponseError, httpx.HTTPError, ConnectionError):
        return set()  # the catalogue still shows without it


def catalogue(host: str | None = None) -> list[CatalogueEntry]:
    """``/api/tags`` with each model's capabilities from ``/api/show``, and whether it is loaded."""
    provider = OllamaProvider(host)
    loaded = _loaded_names(provider.host)
    entries = []
    for model in provider.list_models():
        details = model.details or {}
        problems = []
        try:
            info = provider.model_info(model.name)
            capabilities, context = info.capabilities, info.max_context_length
        except ProviderError as exc:
            capabilities, context = (), None
            problems.append(exc.message)
        entries.append(
            CatalogueEntry(
                name=model.name,
                family=details.get("family") or "",
                parameter_size=details.get("parameter_size") or "",
                quantization=details.get("quantization_level") or "",
                size=model.size or 0,
                modified_at=model.modified_at,
                capabilities=tuple(capabilities),
                context_length=context,
                loaded=model.name in loaded,
                problems=problems,
            )
        )
    return sorted(entries, key=lambda e: e.name)


def host_catalogues() -> list[HostCatalogue]:
    """Every known host (``OLLAMA_HOSTS`` or ``OLLAMA_HOST``, and the admin's) with its models."""
    shown = []
    for state in hosts.host_states(refresh_due=True):
        url = hosts.public_url(state.url)
        last_error = state.last_error.replace(state.url, url)
        entries: list[CatalogueEntry] = []
        problem = None
        if not state.enabled:
            problem = "Disabled in the admin."
        elif state.state == hosts.DOWN:
            problem = f"Ollama is not reachable at {url} ({last_error})."
        else:
            try:
                entries = catalogue(state.url)
            except ProviderError as exc:  # the provider's wording names the URL as configured
                problem = exc.message.replace(state.url, url)
        shown.append(
            HostCatalogue(
                url=url,
                state=state.state if state.enabled else "disabled",
                last_seen=state.last_seen,
                last_error=last_error,
                entries=entries,
                problem=problem,
            )
        )
    return shown


def host_for(chosen: str) -> str:
    """The URL (with any credentials) of the enabled host the console names by its public URL;
    with no choice made, the only one. Raises ProviderError when that names none."""
    enabled = [state.url for state in hosts.host_states() if state.enabled]
    if not chosen:
        if len(enabled) == 1:
            return enabled[0]
        raise ProviderError("Choose the Ollama host.", permanent=True)
    for url in enabled:
        if hosts.public_url(url) == chosen:
            return url
    raise ProviderError(f"No enabled Ollama host is {chosen}.", permanent=True)


def host_refresh(url: str) -> None:
    """Read the host's model list again now, so routing sees a pull or delete at once."""
    hosts.refresh(list(OllamaHost.objects.filter(url=url)), force=True)


async def pull(name: str, host: str | None = None) -> AsyncIterator[dict[str, Any]]:
    """Ollama's progress lines for pulling ``name`` (``status``, ``total``, ``completed``...).

    Raises ProviderError when Ollama refuses (an unknown name) or cannot be reached.
    """
    name = model_name_checked(name)
    host = host or settings.OLLAMA_HOST
    client = ollama.AsyncClient(host=host, timeout=settings.OLLAMA_TIMEOUT_SECONDS)
    try:
        async for progress in await client.pull(name, stream=True):
            yield progress.model_dump(exclude_none=True)
    except ollama.ResponseError as exc:
        raise ProviderError(f"Ollama could not pull '{name}': {exc.error}") from exc
    except (httpx.HTTPError, ConnectionError) as exc:
        raise _unreachable(host, exc) from exc
    finally:
        await client.close()


def delete(name: str, host: str | None = None) -> None:
    name = model_name_checked(name)
    host = host or settings.OLLAMA_HOST
    shown = hosts.public_url(host)
    try:
        with new_client(host, timeout=30) as client:
            client.delete(name)
    except ollama.ResponseError as exc:
        if exc.status_code == 404:
            raise ProviderError(f"Ollama at {shown} has no model '{name}'.") from exc
        raise ProviderError(f"Ollama at {shown} answered {exc.status_code}: {exc.error}") from exc
    except (httpx.HTTPError, ConnectionError) as exc:
        raise _unreachable(host, exc) from exc
