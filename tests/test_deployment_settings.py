"""What an administrator deploys with: production settings, secrets from files, JSON logs."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

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
