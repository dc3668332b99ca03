"""``/health``: is this process serving, and can it reach its database?"""

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse


def health_view(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        database = {"status": "ok", "vendor": connection.vendor}
    except DatabaseError as exc:
        database = {"status": "error", "error": str(exc)}
    ok = database["status"] == "ok"
    return JsonResponse(
        {"status": "ok" if ok else "error", "database": database}, status=200 if ok else 503
    )
