"""The thread websocket, driven as a browser or script would drive it (WebsocketCommunicator).

The channel layer is the embedded one (in memory here, fed over a Unix socket), and runs
execute in a thread through the real engine against the Ollama double, as a worker would.
"""

import json
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from channels.testing import WebsocketCommunicator
from django.db import close_old_connections, connection
from django.test import Client, override_settings

from config.routing import websocket_urlpatterns
from entities.models import Assistant, RunEvent, Thread, User
from entities.services.assistants import assistant_create
from entities.services.runs import run_create
from entities.services.threads import thread_create
from entities.services.users import api_key_create, user_create
from inference import live
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply

Frame = dict[str, Any]

pytestmark = pytest.mark.django_db(transaction=True)

application = AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
ORIGIN = (b"origin", b"http://127.0.0.1")


def run_async(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


@pytest.fixture(autouse=True)
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A channel layer of this test's own (its socket in tmp_path), and a publisher bound to it."""
    config = {
        "default": {
            "BACKEND": "inference.channel_layer.EmbeddedChannelLayer",
            "CONFIG": {"socket_path": str(tmp_path / "events.sock")},
        }
    }
    with override_settings(CHANNEL_LAYERS=config):
        # The process's publisher thread keeps the layer it started with; start a fresh one.
        monkeypatch.setattr(live, "_publisher", None)
        yield


@pytest.fixture
def ollama() -> Iterator[OllamaDouble]:
    with OllamaDouble() as double, override_settings(OLLAMA_HOST=double.host):
        yield double


@pytest.fixture
def erin() -> User:
    """A person with a login, who chats in the browser."""
    return user_create(name="erin", username="erin", password="erin-passphrase")


@pytest.fixture
def thread(erin: User, alice: User) -> Thread:
    return thread_create(creator=erin, participant_ids=[erin.id, alice.id])


@pytest.fixture
def assistant(erin: User) -> Assistant:
    return assistant_create(owner=erin, model="llama3.1", instructions="Be brief.")


def session_cookie(username: str, password: str) -> tuple[bytes, bytes]:
    browser = Client()
    assert browser.login(username=username, password=password)
    return (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())


def key_of(user: User) -> str:
    return api_key_create(user=user)[1]


@pytest.fixture
def as_erin(erin: User) -> Callable[[Thread], WebsocketCommunicator]:
    """Erin's browser: a websocket carrying the session cookie of her login."""
    cookie = session_cookie("erin", "erin-passphrase")

    def connect(thread: Thread) -> WebsocketCommunicator:
        return WebsocketCommunicator(
            application, f"/ws/threads/{thread.id}/", headers=[ORIGIN, cookie]
        )

    return connect


def with_key(thread_id: str, key: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application,
        f"/ws/threads/{thread_id}/",
        headers=[ORIGIN],
        subprotocols=["entities", f"key.{key}"],
    )


async def join(socket: WebsocketCommunicator) -> Frame:
    connected, _ = await socket.connect()
    assert connected
    joined: Frame = await socket.receive_json_from()
    assert joined["type"] == "joined", joined
    return joined


async def until(socket: WebsocketCommunicator, done: Callable[[Frame], bool]) -> list[Frame]:
    """Every frame up to and including the first that ``done`` accepts."""
    frames: list[Frame] = []
    while True:
        frame: Frame = await socket.receive_json_from(timeout=10)
        frames.append(frame)
        if done(frame):
            return frames


def run_done(run_id: str) -> Callable[[Frame], bool]:
    return lambda f: f["type"] == "run.done" and f["run_id"] == run_id


def in_a_worker(run_id: str) -> threading.Thread:
    """Execute the run as a q2 worker does, beside the test's event loop."""

    def work() -> None:
        try:
            execute_run(run_id)
        finally:
            close_old_connections()

    worker = threading.Thread(target=work)
    worker.start()
    return worker


def stored(run_id: str) -> list[tuple[int, str, Any]]:
    rows = RunEvent.objects.filter(run_id=run_id).order_by("seq")
    return [(r.seq, r.event, json.loads(r.data)) for r in rows]


stored_async = database_sync_to_async(stored)


def streamed(frames: list[Frame]) -> list[tuple[int, str, Any]]:
    return [(f["seq"], f["event"], f["data"]) for f in frames if f["type"] == "run.event"]


def text_of(frames: list[Frame]) -> str:
    return "".join(
        f["data"]["delta"]["content"][0]["text"]["value"]
        for f in frames
        if f["type"] == "run.event" and f["event"] == "thread.message.delta"
    )


# --- who may connect ---------------------------------------------------------------------------


def test_erin_joins_her_thread_with_her_browser_session(
    thread: Thread, erin: User, as_erin: Callable[[Thread], WebsocketCommunicator]
) -> None:
    async def scenario() -> None:
        socket = as_erin(thread)
        connected, subprotocol = await socket.connect()
        assert (connected, subprotocol) == (True, None)
        joined = await socket.receive_json_from()
        assert joined == {
            "type": "joined",
            "thread_id": thread.id,
            "user_id": erin.id,
            "active_run": None,
        }
        await socket.disconnect()

    run_async(scenario)


def test_alice_joins_with_an_api_key_offered_as_a_subprotocol(thread: Thread, alice: User) -> None:
    key = key_of(alice)

    async def scenario() -> None:
        socket = with_key(thread.id, key)
        connected, subprotocol = await socket.connect()
        # The key is never echoed back: the server picks "entities".
        assert (connected, subprotocol) == (True, "entities")
        assert (await socket.receive_json_from())["user_id"] == alice.id
        await socket.disconnect()

    run_async(scenario)


@pytest.mark.parametrize("subprotocols", [[], ["entities", "key.ek_not-a-real-key"]])
def test_a_stranger_is_told_why_and_closed_with_4401(
    thread: Thread, subprotocols: list[str]
) -> None:
    async def scenario() -> None:
        socket = WebsocketCommunicator(
            application, f"/ws/threads/{thread.id}/", headers=[ORIGIN], subprotocols=subprotocols
        )
        connected, _ = await socket.connect()
        assert connected  # accepted only to say why, so a browser sees the code
        error = await socket.receive_json_from()
        assert error["type"] == "error"
        assert error["error"]["type"] == "authentication_error"
        assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}

    run_async(scenario)


def test_bob_who_does_not_take_part_is_closed_with_4403(thread: Thread, bob: User) -> None:
    key = key_of(bob)

    async def scenario() -> None:
        for thread_id in (thread.id, "thread_does_not_exist"):
            socket = with_key(thread_id, key)
            await socket.connect()
            error = await socket.receive_json_from()
            assert (error["type"], error["error"]["type"]) == ("error", "permission_error")
            assert await socket.receive_output() == {"type": "websocket.close", "code": 4403}

    run_async(scenario)


def test_an_admin_may_join_any_thread(thread: Thread, operator: User) -> None:
    key = key_of(operator)

    async def scenario() -> None:
        socket = with_key(thread.id, key)
        assert (await join(socket))["user_id"] == operator.id
        await socket.disconnect()

    run_async(scenario)


# --- streaming ---------------------------------------------------------------------------------


def test_a_message_starts_a_run_whose_events_stream_as_stored(
    thread: Thread,
    assistant: Assistant,
    erin: User,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    ollama.enqueue(Reply(content="Hello Erin, all is well here."))
    worker: list[threading.Thread] = []

    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)
        await socket.send_json_to(
            {
                "type": "message.create",
                "id": "m1",
                "content": "How are you?",
                "assistant_id": assistant.id,
            }
        )
        ack = await socket.receive_json_from()
        assert (ack["type"], ack["id"]) == ("ack", "m1")
        run_id = ack["run_id"]
        worker.append(in_a_worker(run_id))
        frames = await until(socket, run_done(run_id))
        await socket.disconnect()

        notices = [f for f in frames if f["type"] == "thread.event"]
        assert [(n["event"], n["data"]["id"]) for n in notices] == [
            ("thread.message.created", ack["message_id"])
        ]
        assert notices[0]["data"]["content"][0]["text"]["value"] == "How are you?"
        assert notices[0]["data"]["sender_id"] == erin.id

        events = streamed(frames)
        assert events == await stored_async(run_id)
        assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
        assert events[0][1] == "thread.run.created"
        assert events[-1][1] == "thread.run.completed"
        assert text_of(frames) == "Hello Erin, all is well here."

    run_async(scenario)
    worker[0].join()


def test_a_dropped_connection_resumes_from_its_last_number_and_loses_no_token(
    thread: Thread,
    assistant: Assistant,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    answer = " ".join(f"word{i}" for i in range(40))
    ollama.enqueue(Reply(content=answer, tokens_per_second=80))
    worker: list[threading.Thread] = []

    async def scenario() -> None:
        first = as_erin(thread)
        await join(first)
        await first.send_json_to(
            {"type": "message.create", "content": "Count", "assistant_id": assistant.id}
        )
        run_id = (await first.receive_json_from())["run_id"]
        worker.append(in_a_worker(run_id))
        # The network drops after a few words.
        before = await until(first, lambda f: f["type"] == "run.event" and "word5 " in text_of([f]))
        await first.disconnect()
        last_seq = streamed(before)[-1][0]

        second = as_erin(thread)
        joined = await join(second)
        assert joined["active_run"]["id"] == run_id
        await second.send_json_to({"type": "subscribe", "run_id": run_id, "after": last_seq})
        assert (await second.receive_json_from())["type"] == "ack"
        after = await until(second, run_done(run_id))
        await second.disconnect()

        events = streamed(before) + streamed(after)
        assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
        assert events == await stored_async(run_id)
        assert text_of(before) + text_of(after) == answer

    run_async(scenario)
    worker[0].join()


def test_subscribe_replays_the_latest_run_after_a_number(
    thread: Thread,
    assistant: Assistant,
    erin: User,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    run = run_create(thread=thread, assistant=assistant, created_by=erin)
    execute_run(run.id)
    everything = stored(run.id)

    async def scenario() -> None:
        socket = as_erin(thread)
        assert (await join(socket))["active_run"] is None
        await socket.send_json_to({"type": "subscribe", "after": 4})  # no run_id: the latest
        ack = await socket.receive_json_from()
        assert ack["run_id"] == run.id
        frames = await until(socket, run_done(run.id))
        assert streamed(frames) == everything[4:]
        await socket.disconnect()

    run_async(scenario)


def test_stop_cancels_the_run_mid_answer(
    thread: Thread,
    assistant: Assistant,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    ollama.enqueue(Reply(content=" ".join(["slow"] * 200), tokens_per_second=20))
    worker: list[threading.Thread] = []

    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)
        await socket.send_json_to(
            {"type": "message.create", "content": "Go on", "assistant_id": assistant.id}
        )
        run_id = (await socket.receive_json_from())["run_id"]
        worker.append(in_a_worker(run_id))
        await until(socket, lambda f: f.get("event") == "thread.message.delta")
        await socket.send_json_to({"type": "run.cancel", "run_id": run_id, "id": "stop"})
        frames = await until(socket, run_done(run_id))
        acks = [f for f in frames if f["type"] == "ack"]
        assert [(a["id"], a["status"]) for a in acks] == [("stop", "cancelling")]
        assert streamed(frames)[-1][1] == "thread.run.cancelled"
        assert len(text_of(frames).split()) < 200
        await socket.disconnect()

    run_async(scenario)
    worker[0].join()


def test_a_message_from_another_participant_arrives_live(
    thread: Thread, erin: User, alice: User, as_erin: Callable[[Thread], WebsocketCommunicator]
) -> None:
    key = key_of(alice)

    async def scenario() -> None:
        erins = as_erin(thread)
        await join(erins)
        alices = with_key(thread.id, key)
        await join(alices)
        await alices.send_json_to({"type": "message.create", "content": "Hi Erin, it's Alice"})
        ack = await alices.receive_json_from()
        assert (ack["type"], ack["run_id"]) == ("ack", None)
        notice = await erins.receive_json_from(timeout=5)
        assert notice["type"] == "thread.event"
        assert notice["event"] == "thread.message.created"
        assert notice["data"]["id"] == ack["message_id"]
        assert notice["data"]["sender_id"] == alice.id
        assert notice["data"]["content"][0]["text"]["value"] == "Hi Erin, it's Alice"
        await erins.disconnect()
        await alices.disconnect()

    run_async(scenario)


def test_a_run_one_participant_starts_streams_to_the_others_too(
    thread: Thread,
    assistant: Assistant,
    alice: User,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    ollama.enqueue(Reply(content="Shared answer."))
    key = key_of(alice)
    worker: list[threading.Thread] = []

    async def scenario() -> None:
        erins = as_erin(thread)
        await join(erins)
        alices = with_key(thread.id, key)
        await join(alices)
        await erins.send_json_to(
            {"type": "message.create", "content": "Hello both", "assistant_id": assistant.id}
        )
        run_id = (await erins.receive_json_from())["run_id"]
        worker.append(in_a_worker(run_id))
        seen_by_erin = await until(erins, run_done(run_id))
        seen_by_alice = await until(alices, run_done(run_id))
        assert streamed(seen_by_alice) == streamed(seen_by_erin)
        assert text_of(seen_by_alice) == "Shared answer."
        await erins.disconnect()
        await alices.disconnect()

    run_async(scenario)
    worker[0].join()


def test_a_run_started_over_rest_streams_to_open_pages(
    thread: Thread,
    assistant: Assistant,
    erin: User,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    ollama.enqueue(Reply(content="Started elsewhere."))
    worker: list[threading.Thread] = []

    async def scenario() -> None:
        erins = as_erin(thread)
        await join(erins)
        run = await database_sync_to_async(run_create)(
            thread=thread, assistant=assistant, created_by=erin
        )
        worker.append(in_a_worker(run.id))
        seen = await until(erins, run_done(run.id))
        assert text_of(seen) == "Started elsewhere."
        await erins.disconnect()

    run_async(scenario)
    worker[0].join()


# --- errors --------------------------------------------------------------------------------------


def test_bad_frames_get_the_apis_error_shape(
    thread: Thread,
    assistant: Assistant,
    erin: User,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    run_create(thread=thread, assistant=assistant, created_by=erin)  # stays queued: no worker

    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)

        async def answer(frame: Any) -> Frame:
            await socket.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))
            reply: Frame = await socket.receive_json_from()
            assert reply["type"] == "error", reply
            return reply

        assert (await answer("not json"))["error"]["type"] == "invalid_request_error"
        assert (await answer({"type": "dance"}))["error"]["param"] == "type"
        missing = await answer({"type": "message.create", "id": 7})
        assert (missing["id"], missing["error"]["code"]) == (7, "missing_required_parameter")
        unknown = await answer(
            {"type": "message.create", "content": "hi", "assistant_id": "asst_nope"}
        )
        assert unknown["error"]["message"] == "No assistant found with id 'asst_nope'."
        busy = await answer(
            {"type": "message.create", "content": "hi", "assistant_id": assistant.id}
        )
        assert busy["error"]["code"] == "thread_run_active"
        negative = await answer({"type": "subscribe", "after": -1})
        assert negative["error"]["param"] == "after"
        await socket.disconnect()

    run_async(scenario)
    # A refused message.create leaves nothing behind: the message and its run go together.
    assert thread.messages.count() == 0


def test_a_frame_with_text_that_cannot_be_stored_is_refused_as_the_api_refuses_it(
    thread: Thread, as_erin: Callable[[Thread], WebsocketCommunicator]
) -> None:
    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)
        for text, param in (
            ('{"type": "message.create", "id": 1, "content": "a\\ud800b"}', "content"),
            ('{"type": "message.create", "id": 1, "content": "a\\u0000b"}', "content"),
            (
                '{"type": "message.create", "id": 1, "content": "x", "metadata": {"k": "\\udc00"}}',
                "metadata.k",
            ),
            ('{"type": "message.create", "id": 1, "content": ""}', "content"),
            ('{"type": "message.create", "id": 1, "x": ' + "[" * 100 + "]" * 100 + "}", None),
        ):
            await socket.send_to(text_data=text)
            reply: Frame = await socket.receive_json_from()
            assert (reply["type"], reply["error"]["param"]) == ("error", param), reply
            assert reply["error"]["type"] == "invalid_request_error", reply
        await socket.disconnect()

    run_async(scenario)
    assert thread.messages.count() == 0


def test_the_sender_gets_each_event_once_even_when_the_new_run_notice_comes_late(
    thread: Thread,
    assistant: Assistant,
    ollama: OllamaDouble,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    ollama.enqueue(Reply(content="First answer."), Reply(content="Second answer."))
    workers: list[threading.Thread] = []

    async def ask(socket: WebsocketCommunicator, text: str) -> tuple[str, list[Frame]]:
        frame = {"type": "message.create", "content": text, "assistant_id": assistant.id}
        await socket.send_json_to(frame)
        frames = await until(socket, lambda f: f["type"] == "ack")
        run_id = frames[-1]["run_id"]
        workers.append(in_a_worker(run_id))
        return run_id, frames + await until(socket, run_done(run_id))

    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)
        first, frames = await ask(socket, "One?")
        # Under load the "new run" notice run_create sends can be handled after the run has
        # ended; it is delivered here late, exactly as run_create sends it.
        live.publish(live.thread_group(thread.id), {"type": "thread.run", "run_id": first})
        second, more = await ask(socket, "Two?")
        await socket.disconnect()

        frames += more
        seqs = [f["seq"] for f in frames if f["type"] == "run.event" and f["run_id"] == first]
        assert seqs == list(range(1, len(await stored_async(first)) + 1))
        done = [f["run_id"] for f in frames if f["type"] == "run.done"]
        assert done == [first, second]
        assert text_of([f for f in frames if f.get("run_id") == second]) == "Second answer."

    run_async(scenario)
    for worker in workers:
        worker.join()


def rename_table(old: str, new: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")


def test_a_database_error_while_streaming_reaches_the_page(
    thread: Thread,
    assistant: Assistant,
    erin: User,
    as_erin: Callable[[Thread], WebsocketCommunicator],
) -> None:
    run = run_create(thread=thread, assistant=assistant, created_by=erin)
    table = RunEvent._meta.db_table

    async def scenario() -> None:
        socket = as_erin(thread)
        await join(socket)
        # The events table is gone for a moment: the read fails, and the page must hear of it.
        await database_sync_to_async(rename_table)(table, f"{table}_away")
        try:
            await socket.send_json_to({"type": "subscribe", "id": "s1", "run_id": run.id})
            frames = await until(socket, lambda f: f["type"] in ("error", "run.done"))
        finally:
            await database_sync_to_async(rename_table)(f"{table}_away", table)
        assert frames[0] == {"type": "ack", "id": "s1", "run_id": run.id}
        error = frames[-1]
        assert (error["type"], error["run_id"]) == ("error", run.id)
        # As the SSE stream says it: SQLite reports the missing table as the database not
        # being readable (OperationalError), PostgreSQL as a fault of ours (ProgrammingError).
        unreadable = connection.vendor == "sqlite"
        assert error["error"]["code"] == ("database_unavailable" if unreadable else "server_error")

        await socket.send_json_to({"type": "subscribe", "id": "s2", "run_id": run.id})
        again = await until(socket, lambda f: f["type"] == "run.event")
        assert again[-1]["event"] == "thread.run.created"  # resubscribing works once it is back
        await socket.disconnect()

    run_async(scenario)


def test_a_person_taken_out_of_the_thread_is_closed_with_4403(
    thread: Thread, erin: User, alice: User, as_erin: Callable[[Thread], WebsocketCommunicator]
) -> None:
    from entities.services.threads import thread_update

    hers, erins = with_key(thread.id, key_of(alice)), as_erin(thread)

    async def scenario() -> None:
        await join(hers)
        await join(erins)
        await database_sync_to_async(thread_update)(
            thread=thread, editor=erin, participant_ids=[erin.id]
        )
        error = await hers.receive_json_from(timeout=5)
        assert (error["type"], error["error"]["code"]) == ("error", "not_a_participant")
        assert await hers.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}
        # Erin, who stays, is not closed.
        assert await erins.receive_nothing(timeout=0.3)
        await erins.disconnect()

    run_async(scenario)
