"""``/health``: is this process serving, and can it reach its database?"""

import logging

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse

logger = logging.getLogger(__name__)


def health_view(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = {"status": "ok", "vendor": connection.vendor}
    except DatabaseError as exc:
        # Anyone may ask, so the answer names the kind of failure; the log has its details
        # (a driver's message can carry the database host and user).
        logger.error("Health check: the database is unreachable: %s", exc)
        database = {"status": "error", "error": type(exc).__name__}
    ok = database["status"] == "ok"
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": database}, status=200 if ok else 503
    )
