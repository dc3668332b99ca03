"""What an administrator deploys with: production settings, secrets from files, JSON logs."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.messages.storage.cookie import CookieStorage
from django.test import Client, RequestFactory

from entities.models import ApiKey, User

ROOT = Path(__file__).resolve().parent.parent


def python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh process with the settings a deployment's environment makes."""
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    environment.update({"DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path)})
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


CHECK_DEPLOY = (
    "import django, sys; django.setup(); from django.core.management import call_command; "
    "call_command('check', deploy=True, fail_level='WARNING')"
)


def test_check_deploy_is_clean_with_the_documented_production_environment(
    tmp_path: Path,
) -> None:
    production = {
        "HTTPS": "true",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "entities.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://entities.example.org",
    }

    clean = python(CHECK_DEPLOY, tmp_path, **production)
    without_https = python(CHECK_DEPLOY, tmp_path, **{**production, "HTTPS": "false"})

    assert clean.returncode == 0, clean.stderr
    assert "no issues" in clean.stdout
    assert without_https.returncode != 0
    assert "SECURE_SSL_REDIRECT" in without_https.stderr


def env_file(path: Path) -> dict[str, str]:
    """The variables of an environment file as systemd's EnvironmentFile= reads it."""
    lines = (line.strip() for line in path.read_text().splitlines())
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_check_deploy_is_clean_with_the_shipped_environment_file(tmp_path: Path) -> None:
    """deploy/entities.env.example as an administrator installs it: only the secret files
    under /etc/entities and DATA_DIR move to this test's directory."""
    shipped = env_file(ROOT / "deploy" / "entities.env.example")
    environment = {}
    for name, value in shipped.items():
        if value.startswith("/etc/entities/"):
            secret = tmp_path / Path(value).name
            secret.write_text(secrets.token_urlsafe(50))
            value = str(secret)
        environment[name] = value
    environment["DATA_DIR"] = str(tmp_path / "data")

    checked = python(CHECK_DEPLOY, tmp_path, **environment)

    assert shipped["HTTPS"] == "true" and shipped["DATABASE_URL"].startswith("postgres://")
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout


def test_secrets_may_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "database").write_text("postgres://entities:pw@db.example.org:5432/entities\n")
    (tmp_path / "secret").write_text("a-secret-key-from-a-file\n")
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['HOST'], s.DATABASES['default']['PASSWORD'], s.SECRET_KEY)"
    )

    shown = python(
        code,
        tmp_path,
        DATABASE_URL_FILE=str(tmp_path / "database"),
        SECRET_KEY_FILE=str(tmp_path / "secret"),
    )

    assert shown.stdout.split() == ["db.example.org", "pw", "a-secret-key-from-a-file"]


def test_logs_may_be_json_lines(tmp_path: Path) -> None:
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('entities.demo').warning('run %s failed', 'run_1')"
    )

    logged = python(code, tmp_path, LOG_FORMAT="json")

    (line,) = logged.stderr.strip().splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "WARNING",
        "entities.demo",
        "run run_1 failed",
    )


@pytest.mark.django_db
def test_a_new_api_key_never_travels_in_a_cookie(operator: User, bob: User) -> None:
    """The admin shows a new key once, in a message: kept in the session, not in a cookie."""
    console = Client()
    assert console.login(username="operator", password="s3cret-pass")

    added = console.post("/admin/entities/apikey/add/", {"user": bob.id, "name": "ci"})
    shown = console.get(added["Location"])

    prefix = ApiKey.objects.get(user=bob).prefix
    words = [word for m in shown.context["messages"] for word in str(m).split()]
    (raw,) = [word for word in words if word.startswith(prefix)]
    for response in (added, shown):
        request = RequestFactory().get("/")
        request.COOKIES = {name: morsel.value for name, morsel in response.cookies.items()}
        in_cookies = [*request.COOKIES.values(), *(str(m) for m in CookieStorage(request))]
        assert not [value for value in in_cookies if raw in value]
