"""The one settings module: every deployment difference comes from the environment.

The embedded default (no variables set) uses SQLite under ``DATA_DIR`` and django-q2's ORM
broker, so a fresh checkout runs at once. Team mode sets ``DATABASE_URL`` and ``REDIS_URL``.
Every variable is listed in README.md.
"""

import os
import sys
import tempfile
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


# --- Team deployment: secrets from files (issue 8, docs/deployment.md) ---------------------
def _secrets_from_files(*names: str) -> None:
    """NAME_FILE, a file holding the value (kept out of the environment, e.g. a systemd
    credential), stands for NAME when NAME itself is not set. SECRET_KEY_FILE: see below."""
    for name in names:
        path = os.environ.get(f"{name}_FILE")
        if path and not os.environ.get(name):
            os.environ[name] = Path(path).read_text().strip()


_secrets_from_files(
    "DATABASE_URL", "REDIS_URL", "INFERENCE_ENDPOINTS", "OLLAMA_HOSTS", "ENTITIES_ADMIN_PASSWORD"
)
# --- end of the secrets-from-files block -----------------------------------------------------

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
    "entities.api.middleware.DatabaseUnavailableMiddleware",
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
# Web processes close their connection at the end of each request: daphne (ASGI) serves each
# request in a thread of its own, which a kept connection would outlive (Django's advice: no
# persistent connections under ASGI). Workers (`manage.py qcluster`) are not ASGI and keep
# theirs between tasks: a new one would be ~1 ms of every run's time to first token.
IS_WORKER = sys.argv[1:2] == ["qcluster"]
DATABASES["default"].setdefault(
    "CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60 if IS_WORKER else 0)
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web and worker processes read while the other writes. IMMEDIATE takes the
    # write lock when a transaction begins, so two writers wait for each other (busy timeout)
    # instead of one failing with "database is locked" when it upgrades a read to a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    # Tests run workers in threads: they need a file, not a private memory DB; one per test run.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"entities-test-{os.getpid()}.sqlite3")
    }
else:
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

# --- Browser chat and its static files (issue 6) -------------------------------------------
# static/ holds the chat's own JS/CSS and the vendored libraries (static/vendor/README.md).
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files from their sources too, so a checkout works before any collectstatic.
WHITENOISE_USE_FINDERS = True
# People log in to the chat at /login/; the admin console keeps its own login page.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"
# --- end of the browser chat's settings ----------------------------------------------------

# Messages live in the session, never in a cookie: the admin shows a new API key in one.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

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
    # JSON only, as in OpenAI's API (multipart where a file is uploaded): the parsers refuse
    # text that cannot be stored, and a form field's JSON-as-text would slip past them.
    "DEFAULT_PARSER_CLASSES": ["entities.api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "entities.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "entities.api.schema.EntitiesAutoSchema",
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
    # Clients send JSON (uploads are multipart, declared by their view); the form parsers are
    # there for the browsable API, not a format to generate clients for.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
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
# A unit of work whose database connection was lost (a failover, a terminated backend, a
# PgBouncer restart) is done again on a new one for this long; then the database is taken for
# away. A worker then waits up to RUN_DATABASE_WAIT_SECONDS for it, to store why its run failed.
DATABASE_RECONNECT_SECONDS = env.float("DATABASE_RECONNECT_SECONDS", default=5.0)
RUN_DATABASE_WAIT_SECONDS = env.float("RUN_DATABASE_WAIT_SECONDS", default=600.0)

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
    "poll": env.float("Q_POLL_SECONDS", default=0.01),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

OLLAMA_HOST = env.str("OLLAMA_HOST", default="http://127.0.0.1:11434")
# The deadlines of a call to Ollama, one per phase (docs/runs.md, "Deadlines"); a deadline
# passed is not tried again. A connection is taken within OLLAMA_PROBE_TIMEOUT_SECONDS (below).
# A model's lookup (/api/show before a run asks anything, /api/tags of the catalogue):
OLLAMA_LOOKUP_TIMEOUT_SECONDS = env.float("OLLAMA_LOOKUP_TIMEOUT_SECONDS", default=30.0)
# A chat's first byte, which Ollama sends with the first token (a cold model load and a long
# prompt's evaluation come before it):
OLLAMA_TIMEOUT_SECONDS = env.float("OLLAMA_TIMEOUT_SECONDS", default=300.0)
# Then each next line of the answer (tokens come many a second; a stall is a hung runner):
OLLAMA_CHUNK_TIMEOUT_SECONDS = env.float("OLLAMA_CHUNK_TIMEOUT_SECONDS", default=120.0)
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

# --- Code interpreter sandbox (tools/sandbox/, docs/code-interpreter.md) -----------------------
# The Python that runs model-written code (numpy, pandas, matplotlib; built by `make sandbox`).
SANDBOX_PYTHON = Path(
    env.str("SANDBOX_PYTHON", default=str(BASE_DIR / ".sandbox-venv" / "bin" / "python"))
)
SANDBOX_BWRAP = env.str("SANDBOX_BWRAP", default="bwrap")
# Without bubblewrap, run code with resource limits only. Never on a shared or public server.
SANDBOX_UNSAFE_DEV_MODE = env.bool("SANDBOX_UNSAFE_DEV_MODE", default=False)
# The unprivileged host uid/gid sandboxes run as when the worker is root (never 0).
SANDBOX_UID = env.int("SANDBOX_UID", default=65534)
SANDBOX_GID = env.int("SANDBOX_GID", default=SANDBOX_UID)
# Limits of one execution (per process where the kernel counts per process).
SANDBOX_CPU_SECONDS = env.int("SANDBOX_CPU_SECONDS", default=30)
SANDBOX_WALL_SECONDS = env.float("SANDBOX_WALL_SECONDS", default=60.0)
SANDBOX_MEMORY_BYTES = env.int("SANDBOX_MEMORY_BYTES", default=1024 * 1024 * 1024)
SANDBOX_PROCESSES = env.int("SANDBOX_PROCESSES", default=64)
SANDBOX_FILE_SIZE_BYTES = env.int("SANDBOX_FILE_SIZE_BYTES", default=100 * 1024 * 1024)
SANDBOX_OPEN_FILES = env.int("SANDBOX_OPEN_FILES", default=256)
SANDBOX_OUTPUT_BYTES = env.int("SANDBOX_OUTPUT_BYTES", default=64 * 1024)
SANDBOX_TMP_BYTES = env.int("SANDBOX_TMP_BYTES", default=64 * 1024 * 1024)
# Files the code writes to /mnt/data that come back: how many, and how large each.
SANDBOX_MAX_FILES = env.int("SANDBOX_MAX_FILES", default=20)
SANDBOX_MAX_FILE_BYTES = env.int("SANDBOX_MAX_FILE_BYTES", default=50 * 1024 * 1024)
# --- end of the code interpreter sandbox block ---------------------------------------------------

# --- Team deployment and scale-out (issue 8, docs/deployment.md) ----------------------------
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "entities",
        }
    }
    # A cluster takes at most this many tasks beyond those it runs, so idle clusters get work
    # and a killed one loses little (inference.redelivery requeues what it lost).
    Q_CLUSTER["queue_limit"] = env.int("Q_QUEUE_LIMIT", default=1)
else:
    # django-q2 keeps each cluster's heartbeat in a cache: a file one, so that /health in the
    # web process sees the worker's.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "q2": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache" / "q2"),
        },
    }
    Q_CLUSTER["cache"] = "q2"

# Several Ollama servers: runs go to one that has the model, the least busy (inference.hosts).
# More can be added in the admin. Unset, OLLAMA_HOST is the one host.
OLLAMA_HOSTS = env.list("OLLAMA_HOSTS", default=[])
# How long a host's model list (/api/tags) is trusted, and when a host that did not answer
# is asked again; how long to wait for that answer.
OLLAMA_TAGS_TTL_SECONDS = env.float("OLLAMA_TAGS_TTL_SECONDS", default=10.0)
OLLAMA_HOST_RETRY_SECONDS = env.float("OLLAMA_HOST_RETRY_SECONDS", default=15.0)
OLLAMA_PROBE_TIMEOUT_SECONDS = env.float("OLLAMA_PROBE_TIMEOUT_SECONDS", default=3.0)
# A run queued this long while the broker's queue is empty lost its task (its worker was
# killed holding it): it is enqueued again (inference.redelivery, every minute).
RUN_REDELIVER_SECONDS = env.float("RUN_REDELIVER_SECONDS", default=60.0)

# Production behind an HTTPS proxy (deploy/nginx): secure cookies, HSTS, redirect to https.
# `python manage.py check --deploy` is clean with HTTPS=true and the env of docs/deployment.md.
if env.bool("HTTPS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and Prometheus may ask the web process directly, over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # An intranet name cannot be on the browsers' preload list, so nothing to warn about.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# LOG_FORMAT=json: one JSON object per line, for journald or a log collector.
if env.str("LOG_FORMAT", default="plain") == "json":
    LOGGING["formatters"] = {"json": {"()": "config.logs.JsonFormatter"}}
    LOGGING["handlers"] = {"console": {"class": "logging.StreamHandler", "formatter": "json"}}
# --- end of the team deployment block -------------------------------------------------------
