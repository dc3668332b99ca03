"""The one settings module: every deployment difference comes from the environment.

The embedded default (no variables set) uses SQLite under ``DATA_DIR`` and django-q2's ORM
broker, so a fresh checkout runs at once. Team mode sets ``DATABASE_URL`` and ``REDIS_URL``.
Every variable is listed in README.md.
"""

import os
import tempfile
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment (or ``SECRET_KEY_FILE``), else one kept in DATA_DIR."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    if key_file := env.str("SECRET_KEY_FILE", default=""):
        return Path(key_file).read_text().strip()
    stored = DATA_DIR / "secret_key"
    if not stored.exists():
        from django.core.management.utils import get_random_secret_key

        stored.write_text(get_random_secret_key())
        stored.chmod(0o600)
    return stored.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_q",
    "entities",
    "inference",
    "tools",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "entities.api.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web and worker processes read while the other writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", "timeout": 20}
    )
    # Tests run workers in threads: they need a file, not a private memory DB; one per test run.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"entities-test-{os.getpid()}.sqlite3")
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = DATA_DIR / "files"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/admin/login/"

# Request bodies above this many bytes are answered 413 (file uploads excepted).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=4 * 1024 * 1024)
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "entities.authentication.ApiKeyAuthentication",
        "entities.authentication.EntitiesSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "entities.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Entities API",
    "DESCRIPTION": "OpenAI Assistants API v2 wire format for local LLMs, plus users and API keys.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/v1",
}

REDIS_URL = env.str("REDIS_URL", default="")

# Live events. Embedded: in memory in the web process, which workers reach over a Unix socket.
# Team mode: channels-redis, shared by every web and worker process.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "entities"},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "inference.channel_layer.EmbeddedChannelLayer",
            "CONFIG": {"socket_path": str(DATA_DIR / "events.sock"), "capacity": 100_000},
        }
    }

# How long one run may take in a worker before django-q2 stops it (the reaper then ends it).
RUN_TIMEOUT_SECONDS = env.int("RUN_TIMEOUT_SECONDS", default=900)
# The worker marks a running run alive this often; the reaper takes runs silent for longer
# than RUN_STALE_SECONDS, checking every REAPER_INTERVAL_SECONDS.
RUN_HEARTBEAT_SECONDS = env.float("RUN_HEARTBEAT_SECONDS", default=5.0)
RUN_STALE_SECONDS = env.float("RUN_STALE_SECONDS", default=30.0)
REAPER_INTERVAL_SECONDS = env.float("REAPER_INTERVAL_SECONDS", default=10.0)
# How often a worker looks for a cancel of the run it is streaming.
RUN_CANCEL_CHECK_SECONDS = env.float("RUN_CANCEL_CHECK_SECONDS", default=0.25)

Q_CLUSTER = {
    "name": "entities",
    "workers": env.int("WORKERS", default=4),
    "timeout": RUN_TIMEOUT_SECONDS,
    "retry": RUN_TIMEOUT_SECONDS + 60,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    # The ORM broker polls; a short pause keeps the wait for a worker small.
    "poll": env.float("Q_POLL_SECONDS", default=0.02),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

OLLAMA_HOST = env.str("OLLAMA_HOST", default="http://127.0.0.1:11434")
# Seconds without a byte from Ollama before a run fails (a cold model load can take a while).
OLLAMA_TIMEOUT_SECONDS = env.float("OLLAMA_TIMEOUT_SECONDS", default=300.0)
OLLAMA_KEEP_ALIVE = env.str("OLLAMA_KEEP_ALIVE", default="5m")
# Context window asked of Ollama (num_ctx); unset, Ollama's own default and the model's size rule.
OLLAMA_NUM_CTX = env.int("OLLAMA_NUM_CTX", default=None)
# Other OpenAI-compatible servers, by name: a model "NAME/MODEL" goes to endpoint NAME.
# JSON: {"vllm": {"base_url": "http://gpu:8000/v1", "api_key": "..."}}
INFERENCE_ENDPOINTS: dict = env.json("INFERENCE_ENDPOINTS", default={})

# How long a run may wait (queued or requires_action) before it expires, as OpenAI's 10 minutes.
RUN_EXPIRES_SECONDS = env.int("RUN_EXPIRES_SECONDS", default=600)

# API keys: last_used_at is written at most this often per key, not on every request.
API_KEY_TOUCH_SECONDS = env.int("API_KEY_TOUCH_SECONDS", default=60)

# Function calling: modules whose @server_function callables the worker may run, and limits.
SERVER_FUNCTION_MODULES = env.list("SERVER_FUNCTION_MODULES", default=[])
SERVER_FUNCTION_TIMEOUT_SECONDS = env.float("SERVER_FUNCTION_TIMEOUT_SECONDS", default=10.0)
MAX_TOOL_ROUNDS = env.int("MAX_TOOL_ROUNDS", default=10)
MAX_TOOL_ARGUMENT_ERRORS = env.int("MAX_TOOL_ARGUMENT_ERRORS", default=3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
