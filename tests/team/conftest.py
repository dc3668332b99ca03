"""Team mode only: these tests need PostgreSQL (``DATABASE_URL``) and Redis (``REDIS_URL``).

``make test-team`` sets both. Under plain ``make test`` (neither set) they are deselected, as
a run of another mode; they never skip. Asked for by path without them, or with either not
answering, the run fails at once and says why.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from tests.team.stack import TeamStack

HERE = Path(__file__).resolve().parent
WHAT = (
    "tests/team needs PostgreSQL and Redis: DATABASE_URL=postgres://… and REDIS_URL=redis://… "
    "(make test-team sets them)"
)


def team_mode() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith("postgres") and bool(
        os.environ.get("REDIS_URL")
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if team_mode():
        return
    ours = [item for item in items if HERE in item.path.parents]
    if not ours:
        return
    if any(str(HERE) in str(Path(arg).resolve()) for arg in config.args):
        raise pytest.UsageError(WHAT)
    config.hook.pytest_deselected(items=ours)
    items[:] = [item for item in items if item not in ours]


@pytest.fixture(scope="session")
def services() -> tuple[str, str]:
    """PostgreSQL's and Redis's URLs, once both answered."""
    database_url, redis_url = os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"PostgreSQL at DATABASE_URL does not answer: {exc}", pytrace=False)
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=5).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at REDIS_URL does not answer: {exc}", pytrace=False)
    return database_url, redis_url


@pytest.fixture
def team_stack(
    tmp_path_factory: pytest.TempPathFactory, services: tuple[str, str]
) -> Iterator[TeamStack]:
    """A stack not yet started (each test says how many processes), stopped and dropped after."""
    database_url, redis_url = services
    stack = TeamStack(
        tmp_path_factory.mktemp("team"),
        database_url=database_url,
        redis_url=redis_url,
        RUN_STALE_SECONDS="3",
        RUN_HEARTBEAT_SECONDS="0.5",
        REAPER_INTERVAL_SECONDS="0.5",
        RUN_REDELIVER_SECONDS="3",
        OLLAMA_TAGS_TTL_SECONDS="2",
        OLLAMA_HOST_RETRY_SECONDS="2",
        WORKERS="4",
    )
    try:
        yield stack
    finally:
        stack.stop()
