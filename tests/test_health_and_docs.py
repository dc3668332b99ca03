"""What a deployment is probed and read by: ``/health``, the OpenAPI document, the Swagger UI."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from entities.models import User

# Anything fetched from elsewhere than this server: a CDN, unpkg, jsdelivr, any absolute URL.
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)
CDN_NAMES = ("cdn", "unpkg", "jsdelivr", "cdnjs", "googleapis")


# --- /health -----------------------------------------------------------------------------------


def test_health_answers_ok_with_the_database_status_without_a_key(db: None) -> None:
    response = Client().get("/health")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["status"] == "ok"
    assert body["database"]["vendor"]


def test_health_ignores_a_wrong_key(db: None) -> None:
    # Load balancers may pass whatever headers; health is not an API call.
    response = Client().get("/health", HTTP_AUTHORIZATION="Bearer ek_not_a_key")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- the OpenAPI document ----------------------------------------------------------------------


@pytest.fixture
def schema(alice: User, client_for: Callable[[User], APIClient]) -> dict:
    response = client_for(alice).get("/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    return response.json()


def test_the_openapi_document_is_valid_openapi_3(schema: dict) -> None:
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Entities API"
    validate_schema(schema)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/v1/assistants", {"get", "post"}),
        ("/v1/assistants/{assistant_id}", {"get", "post", "delete"}),
        ("/v1/threads", {"post"}),
        ("/v1/threads/{thread_id}/messages", {"get", "post"}),
        ("/v1/threads/{thread_id}/runs", {"get", "post"}),
        ("/v1/threads/{thread_id}/runs/{run_id}/cancel", {"post"}),
        ("/v1/threads/{thread_id}/runs/{run_id}/submit_tool_outputs", {"post"}),
        ("/v1/users", {"get", "post"}),
        ("/v1/users/me", {"get"}),
    ],
)
def test_the_openapi_document_describes_the_api(schema: dict, path: str, methods: set[str]) -> None:
    assert path in schema["paths"], sorted(schema["paths"])
    assert methods <= set(schema["paths"][path])


def test_operation_ids_are_unique_and_unnumbered(schema: dict) -> None:
    ids = [op["operationId"] for item in schema["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert [i for i in ids if re.search(r"_\d+$", i)] == []


def test_the_openapi_document_is_open_but_a_wrong_key_is_the_apis_401(db: None) -> None:
    anonymous = APIClient().get("/v1/openapi.json", HTTP_ACCEPT="application/json")
    assert anonymous.status_code == 200
    assert "/v1/assistants" in anonymous.json()["paths"]
    wrong = APIClient().get(
        "/v1/openapi.json", HTTP_ACCEPT="application/json", HTTP_AUTHORIZATION="Bearer ek_wrong"
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert wrong.json()["error"]["code"] == "invalid_api_key"


def test_openapi_json_is_json_without_asking(db: None) -> None:
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    assert response.json()["openapi"].startswith("3.")


def test_the_openapi_document_declares_the_bearer_key(schema: dict) -> None:
    schemes = schema.get("components", {}).get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())
    assert schema["paths"]["/v1/assistants"]["get"].get("security")


# --- the Swagger UI ----------------------------------------------------------------------------


def test_docs_is_the_swagger_ui_with_nothing_from_a_cdn(db: None) -> None:
    response = Client().get("/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert 'id="swagger-ui"' in page
    assert "SwaggerUIBundle" in page
    assert "/v1/openapi.json" in page
    assert not EXTERNAL.findall(page), EXTERNAL.findall(page)
    lowered = page.lower()
    assert not [name for name in CDN_NAMES if name in lowered]


def static_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["'](/static/[^"']+)["']""", page)


def test_the_swagger_ui_assets_are_served_by_this_server(db: None) -> None:
    page = Client().get("/docs").content.decode()
    urls = static_urls(page)
    assert any(u.endswith("swagger-ui-bundle.js") for u in urls), urls
    assert any(u.endswith("swagger-ui.css") for u in urls), urls
    for url in urls:
        assert finders.find(url.removeprefix("/static/")), f"{url} is in no static folder"
    # Tests run without collectstatic, so let WhiteNoise look in the apps' static folders, as
    # `make run` has it look in the collected STATIC_ROOT: the same middleware, the same URLs.
    with override_settings(WHITENOISE_USE_FINDERS=True):
        browser = Client()
        for url in urls:
            response = browser.get(url)
            assert response.status_code == 200, url
            body = b"".join(response.streaming_content)  # type: ignore[attr-defined]
            assert body, url
            if url.endswith(".js"):
                assert response["Content-Type"].startswith(("text/javascript", "application/"))
        assert browser.get("/static/drf_spectacular_sidecar/nothing-here.js").status_code == 404


def test_the_schema_generates_without_a_warning(tmp_path: Path) -> None:
    from django.core.management import call_command

    # --fail-on-warn: any view drf-spectacular cannot describe fails the suite.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/v1/models" in (tmp_path / "s.yml").read_text()
