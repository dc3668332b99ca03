"""A Django view that streams a conversation to the browser as server-sent events.

The original README's Flask helper, for Django: the view adds the user's message to a
thread, starts a run and relays the answer as it streams::

    data: {"run_id": "run_…"}
    data: {"chunk": "Of "}
    data: {"chunk": "course"}
    …
    data: [DONE]                (or data: [ERROR] if the run failed)

Use it in your project: copy this module (it needs ``pip install .`` of this repository for
``entities_api``), set ``ENTITIES_BASE_URL`` and ``ENTITIES_API_KEY`` for the web process, and
route it::

    # urls.py
    from django.urls import path
    from yourapp.django_sse_view import conversation

    urlpatterns = [path("conversation/<str:thread_id>", conversation)]

Or try it on its own, next to ``make run``::

    ENTITIES_API_KEY=ek_… python examples/django_sse_view.py runserver 8001
    curl -N http://127.0.0.1:8001/conversation/THREAD_ID \\
         -d '{"message": "Can you solve 32768 squared?", "assistant_id": "asst_…"}'

The body may also name ``model`` and ``user_id`` (the sender, when the key is an admin's).
The view is CSRF-exempt because it is called as an API; behind a login, protect it as the rest
of your views.
"""

import json
import sys
from collections.abc import Iterator
from functools import cache

from django.http import HttpRequest, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from entities_api import EntitiesError, InferenceFactory, OllamaClient
from entities_api.services.logging_service import LoggingUtility

logging_utility = LoggingUtility()


@cache
def entities() -> OllamaClient:
    """One client per process (ENTITIES_BASE_URL and ENTITIES_API_KEY)."""
    return OllamaClient()


def sse(data: object) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


@csrf_exempt
@require_POST
def conversation(request: HttpRequest, thread_id: str) -> HttpResponseBase:
    try:
        body = json.loads(request.body or b"{}")
        user_message, assistant_id = body["message"], body["assistant_id"]
    except (ValueError, KeyError):
        return JsonResponse({"error": "send JSON with 'message' and 'assistant_id'"}, status=400)
    client = entities()
    try:
        message = client.message_service.create_message(
            thread_id=thread_id, content=user_message, role="user", sender_id=body.get("user_id")
        )
        run = client.run_service.create_run(
            thread_id=thread_id, assistant_id=assistant_id, model=body.get("model")
        )
    except EntitiesError as exc:
        status = getattr(exc, "status_code", 502)
        return JsonResponse({"error": str(exc)}, status=status)

    def generate_chunks() -> Iterator[str]:
        inference = InferenceFactory(client).get_inference(inference_type="local")
        yield sse({"run_id": run.id})
        try:
            for chunk in inference.runner.process_conversation(
                thread_id=thread_id,
                message_id=message.id,
                run_id=run.id,
                assistant_id=assistant_id,
                model=run.model,
            ):
                logging_utility.debug(f"Received chunk: {chunk}")
                yield sse({"chunk": chunk})
            yield sse("[DONE]")
        except EntitiesError as exc:
            logging_utility.error(f"Error during conversation: {exc}")
            yield sse("[ERROR]")

    response = StreamingHttpResponse(generate_chunks(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each chunk on at once
    return response


if __name__ == "__main__":  # a one-file Django project around the view
    from django.conf import settings
    from django.core.management import execute_from_command_line
    from django.urls import path

    settings.configure(
        DEBUG=True,
        SECRET_KEY="example-only",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=[],
    )
    urlpatterns = [path("conversation/<str:thread_id>", conversation)]
    execute_from_command_line(sys.argv)
