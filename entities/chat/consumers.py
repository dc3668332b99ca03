"""``/ws/threads/{thread_id}/``: one thread's new messages and its runs' events, live.

Run events are read through :func:`inference.stream.run_events`, the reader behind the SSE
responses, and passed on as stored: a websocket client sees the objects, names and numbers an
SSE client sees, and resumes after any number it has. Messages posted to the thread (by anyone,
through any interface) arrive through the thread's group. The protocol is in docs/chat.md.

Who may connect: a Django session (the browser), or an API key offered as the subprotocol
``key.<API key>`` beside ``entities`` (never in the URL, which proxies log). Only the thread's
participants and admins join; others are closed with 4403, strangers with 4401.
"""

import asyncio
import contextlib
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import transaction
from rest_framework.exceptions import APIException

from entities import selectors
from entities.api.errors import database_unavailable_body, error_body, exception_handler
from entities.api.inputs import MessageInput
from entities.api.parsers import check_json
from entities.api.wire import RunSerializer
from entities.database import UNAVAILABLE
from entities.errors import EntitiesError, InvalidRequest
from entities.models import Run, User
from entities.services import runs as run_services
from entities.services import threads as thread_services
from entities.services.users import api_key_authenticate, user_for_account
from inference.live import thread_group
from inference.stream import Event, RunStreamError, run_events

log = logging.getLogger(__name__)

SUBPROTOCOL = "entities"
KEY_SUBPROTOCOL_PREFIX = "key."
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403

# Keys of a message.create frame that are not the message's own fields.
_FRAME_KEYS = {"type", "id", "assistant_id"}


def authenticate(scope: dict[str, Any]) -> User | None:
    """The entities user behind the connection: an offered API key, else the session's login.

    A key that does not work refuses the connection even with a session beside it.
    """
    for protocol in scope.get("subprotocols") or []:
        if protocol.startswith(KEY_SUBPROTOCOL_PREFIX):
            return api_key_authenticate(protocol[len(KEY_SUBPROTOCOL_PREFIX) :])
    account = scope.get("user")
    if account is not None and account.is_authenticated and account.is_active:
        return user_for_account(account)
    return None


def _joined(user: User, thread_id: str) -> dict[str, Any] | None:
    """The ``joined`` frame, or None when the user may not see the thread."""
    thread = selectors.threads_visible_to(user).filter(pk=thread_id).first()
    if thread is None:
        return None
    active = thread.runs.filter(status__in=Run.ACTIVE_STATUSES).first()
    return {
        "type": "joined",
        "thread_id": thread.id,
        "user_id": user.id,
        "active_run": RunSerializer(active).data if active else None,
    }


@transaction.atomic
def _post(user: User, thread_id: str, frame: dict[str, Any]) -> tuple[str, str | None]:
    """Add the user's message and, with an ``assistant_id``, start a run: both or neither."""
    thread = selectors.thread_get(user, thread_id)
    assistant_id = frame.get("assistant_id")
    if assistant_id is not None and not isinstance(assistant_id, str):
        raise InvalidRequest("assistant_id must be an assistant's id.", param="assistant_id")
    assistant = selectors.assistant_get(user, assistant_id) if assistant_id else None
    fields = {k: v for k, v in frame.items() if k not in _FRAME_KEYS}
    data = MessageInput(data={"role": "user", **fields})
    data.is_valid(raise_exception=True)
    message = thread_services.message_create(thread=thread, author=user, **data.validated_data)
    if assistant is None:
        return message.id, None
    run = run_services.run_create(thread=thread, assistant=assistant, created_by=user)
    return message.id, run.id


def _cancel(user: User, thread_id: str, run_id: Any) -> Run:
    if not isinstance(run_id, str) or not run_id:
        raise InvalidRequest("Missing required parameter: 'run_id'.", param="run_id")
    run = selectors.run_get(selectors.thread_get(user, thread_id), run_id)
    return run_services.run_cancel(run=run)


def _run_to_follow(user: User, thread_id: str, run_id: Any) -> str:
    """The run a ``subscribe`` names, or the thread's latest one."""
    thread = selectors.thread_get(user, thread_id)
    if run_id is None:
        latest = selectors.thread_runs(thread).order_by("-id").first()
        if latest is None:
            raise InvalidRequest("This thread has no run to subscribe to.", param="run_id")
        return latest.id
    if not isinstance(run_id, str):
        raise InvalidRequest("run_id must be a run's id.", param="run_id")
    return selectors.run_get(thread, run_id).id


def _after(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidRequest(
            "after must be an event number (an integer, 0 or more).", param="after"
        )
    return value


def run_event_frame(run_id: str, event: Event) -> str:
    """A run event as a text frame; its data is the stored JSON, passed on byte for byte."""
    head = json.dumps(
        {"type": "run.event", "run_id": run_id, "seq": event.seq, "event": event.event}
    )
    return f'{head[:-1]}, "data": {event.data}}}'


def _stream_error(exc: Exception) -> dict[str, Any]:
    """Why a run's stream to the page stopped, as the SSE stream says it (OpenAI's body)."""
    if isinstance(exc, RunStreamError):  # the run's worker cannot store its events
        return exc.body
    if isinstance(exc, UNAVAILABLE):
        return database_unavailable_body()
    return error_body(
        "The server stopped streaming this run because of an error. Subscribe again to resume.",
        status_code=500,
        code="server_error",
    )


class SocketGone(Exception):
    """The client went away while a frame was being sent to it."""


class ThreadConsumer(AsyncJsonWebsocketConsumer):
    user: User | None = None
    thread_id: str = ""

    async def connect(self) -> None:
        self.streams: dict[str, asyncio.Task[None]] = {}
        # Every run streamed on this connection: a late "new run" notice for one is not replayed.
        self.followed: set[str] = set()
        offered = self.scope.get("subprotocols") or []
        # Accept first, then close with our code: a refused handshake reaches a browser as 1006.
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self.user = await database_sync_to_async(authenticate)(self.scope)
        if self.user is None:
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                "Log in, or offer the subprotocols 'entities' and 'key.<API key>'.",
                status_code=401,
                code="unauthenticated",
            )
            return
        thread_id = self.scope["url_route"]["kwargs"]["thread_id"]
        joined = await database_sync_to_async(_joined)(self.user, thread_id)
        if joined is None:
            await self._refuse(
                CLOSE_FORBIDDEN,
                f"You do not take part in a thread with id '{thread_id}'.",
                status_code=403,
                code="not_a_participant",
            )
            return
        self.thread_id = thread_id
        await self.channel_layer.group_add(thread_group(thread_id), self.channel_name)
        await self.send_json(joined)

    async def _refuse(self, close_code: int, message: str, *, status_code: int, code: str) -> None:
        await self.send_json(
            {"type": "error", **error_body(message, status_code=status_code, code=code)}
        )
        await self.close(code=close_code)

    async def disconnect(self, code: int) -> None:
        for task in self.streams.values():
            task.cancel()
        self.streams = {}
        if self.thread_id:
            await self.channel_layer.group_discard(thread_group(self.thread_id), self.channel_name)

    # --- client -> server ------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.thread_id:
            return  # refused; the close is on its way
        try:
            frame = json.loads(text_data or "")
        except (ValueError, RecursionError):
            frame = None
        if not isinstance(frame, dict):
            await self._error(InvalidRequest("Each frame is a JSON object with a 'type'."), None)
            return
        try:
            check_json(frame)  # as a REST body is checked: text that cannot be stored, depth
        except APIException as exc:
            await self._error(exc, frame.get("id"))
            return
        await self.receive_json(frame)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        handler = {
            "message.create": self._message_create,
            "run.cancel": self._run_cancel,
            "subscribe": self._subscribe,
        }.get(content.get("type"))  # type: ignore[arg-type]
        if handler is None:
            error = InvalidRequest(
                "type must be 'message.create', 'run.cancel' or 'subscribe'.", param="type"
            )
            await self._error(error, content.get("id"))
            return
        try:
            await handler(content)
        except Exception as exc:
            await self._error(exc, content.get("id"))

    async def _message_create(self, frame: dict[str, Any]) -> None:
        assert self.user is not None
        message_id, run_id = await database_sync_to_async(_post)(self.user, self.thread_id, frame)
        await self.send_json(
            {"type": "ack", "id": frame.get("id"), "message_id": message_id, "run_id": run_id}
        )
        if run_id is not None:
            # Other participants' pages follow it too: run_create announces every new run.
            self._follow(run_id, after=0)

    async def _run_cancel(self, frame: dict[str, Any]) -> None:
        assert self.user is not None
        run = await database_sync_to_async(_cancel)(self.user, self.thread_id, frame.get("run_id"))
        await self.send_json(
            {"type": "ack", "id": frame.get("id"), "run_id": run.id, "status": run.status}
        )

    async def _subscribe(self, frame: dict[str, Any]) -> None:
        assert self.user is not None
        after = _after(frame.get("after"))
        run_id = await database_sync_to_async(_run_to_follow)(
            self.user, self.thread_id, frame.get("run_id")
        )
        await self.send_json({"type": "ack", "id": frame.get("id"), "run_id": run_id})
        self._follow(run_id, after=after)

    async def _error(self, exc: Exception, request_id: Any) -> None:
        """The error as the REST API would answer it, with the id of the frame it answers."""
        if isinstance(exc, EntitiesError | APIException):
            body = dict(exception_handler(exc, {"view": self}).data)  # type: ignore[union-attr]
        else:  # not one of ours: the API's 500 body, and the trace in the log
            log.error("Websocket request failed", exc_info=exc)
            body = error_body(
                "The server had an error while processing your request.",
                status_code=500,
                code="server_error",
            )
        await self.send_json({"type": "error", "id": request_id, **body})

    # --- run streams -------------------------------------------------------------------------

    def _follow(self, run_id: str, *, after: int) -> None:
        """Stream the run's events after ``after``; a second subscribe replaces the first."""
        if (previous := self.streams.pop(run_id, None)) is not None:
            previous.cancel()
        self.followed.add(run_id)
        self.streams[run_id] = asyncio.create_task(self._stream(run_id, after))

    async def _send_text(self, text: str) -> None:
        try:
            await self.send(text_data=text)
        except OSError as exc:  # how an ASGI server reports a client gone mid-send
            raise SocketGone from exc

    async def _stream(self, run_id: str, after: int) -> None:
        try:
            # Followed past requires_action: tool outputs may come from elsewhere (the API).
            async for event in run_events(run_id, after=after, until_action=False):
                if event is not None:
                    await self._send_text(run_event_frame(run_id, event))
            await self._send_text(json.dumps({"type": "run.done", "run_id": run_id}))
        except SocketGone:  # the client resumes with subscribe when it is back
            log.debug("Stopped streaming %s: the socket went away", run_id, exc_info=True)
        except Exception as exc:  # reading failed: say so, or the page waits for good
            log.error("Streaming run %s failed", run_id, exc_info=exc)
            with contextlib.suppress(SocketGone):
                body = {"type": "error", "run_id": run_id, **_stream_error(exc)}
                await self._send_text(json.dumps(body))
        finally:
            if self.streams.get(run_id) is asyncio.current_task():
                del self.streams[run_id]

    # --- the thread's group --------------------------------------------------------------------

    async def thread_event(self, message: dict[str, Any]) -> None:
        """A message posted to the thread (``entities.services.threads.message_create``)."""
        await self.send_json(
            {"type": "thread.event", "event": message["event"], "data": message["data"]}
        )

    async def thread_left(self, message: dict[str, Any]) -> None:
        """People taken out of the thread (or the thread deleted): their chats close here."""
        if self.user is not None and self.user.id in message["user_ids"]:
            for task in self.streams.values():
                task.cancel()
            await self._refuse(
                CLOSE_FORBIDDEN,
                f"You no longer take part in the thread '{self.thread_id}'.",
                status_code=403,
                code="not_a_participant",
            )

    async def thread_run(self, message: dict[str, Any]) -> None:
        """A run started here (by anyone, anywhere): follow it from its first event."""
        if message["run_id"] not in self.followed:  # this page's own run is followed already
            self._follow(message["run_id"], after=0)
