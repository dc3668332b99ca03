"""The code interpreter through the engine: the model's code runs in the sandbox, its output
goes back to the model, its charts come back as files the user can download."""

import json
from typing import Any

import pytest
from django.test import override_settings

from entities.models import Assistant, File, Message, Run, Thread, User
from entities.services.files import file_create
from inference.engine import execute_run
from inference.testing.ollama_double import OllamaDouble, Reply
from tools.models import SandboxExecution

PLOT = (
    "import matplotlib.pyplot as plt\n"
    "xs = list(range(11))\n"
    "plt.plot(xs, [x * x for x in xs])\n"
    "plt.title('y = x^2')\n"
    "plt.savefig('/mnt/data/square.png')\n"
    "print('max', max(x * x for x in xs))\n"
)


def summarize_tool_output(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]
    if last["role"] == "tool" or last["content"].startswith("Tool results:"):
        return Reply(content=f"Done. {last['content']}")
    return Reply(content="(no code was run)")


@pytest.fixture
def coder(assistant: Assistant) -> Assistant:
    assistant.tools = [{"type": "code_interpreter"}]
    assistant.save()
    return assistant


@pytest.mark.django_db(transaction=True)
def test_plot_y_equals_x_squared(
    ollama: OllamaDouble, make_run: Any, coder: Assistant, client_for: Any, alice: User
) -> None:
    ollama.enqueue(Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": PLOT}}]))
    ollama.responder = summarize_tool_output
    run = make_run("plot y = x² for x in 0..10")
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed", run.last_error
    offered = ollama.requests_to("/api/chat")[0]["tools"]
    assert [t["function"]["name"] for t in offered] == ["code_interpreter"]

    step = run.steps.get(type="tool_calls")
    call = step.step_details["tool_calls"][0]
    assert call["type"] == "code_interpreter"
    assert call["code_interpreter"]["input"] == PLOT
    logs, image = call["code_interpreter"]["outputs"]
    assert logs["type"] == "logs" and logs["logs"].startswith("max 100")
    assert image["type"] == "image"
    file_id = image["image"]["file_id"]

    message = Message.objects.get(run=run)
    assert message.content[0] == {"type": "image_file", "image_file": {"file_id": file_id}}
    assert message.text.startswith("Done. max 100")
    assert "square.png" in message.text  # the model was told where the file went

    content = client_for(alice).get(f"/v1/files/{file_id}/content")
    assert content["Content-Type"] == "image/png"
    assert b"".join(content.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
    assert File.objects.get(id=file_id).purpose == "assistants_output"

    names = list(run.events.order_by("seq").values_list("event", flat=True))
    deltas = [
        json.loads(d)
        for d in run.events.filter(event="thread.run.step.delta").values_list("data", flat=True)
    ]
    opened = deltas[0]["delta"]["step_details"]["tool_calls"][0]
    code_first = deltas[1]["delta"]["step_details"]["tool_calls"][0]["code_interpreter"]
    then_logs = deltas[2]["delta"]["step_details"]["tool_calls"][0]["code_interpreter"]
    assert opened["id"] == call["id"] and opened["code_interpreter"]["input"] == ""
    assert code_first["input"] == PLOT
    assert then_logs["outputs"][0]["type"] == "logs"
    assert names.index("thread.run.step.completed") < names.index("thread.message.created")
    record = SandboxExecution.objects.get(run_id=run.id)
    assert (record.exit_code, record.limit_hit) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_input_files_are_in_mnt_data_and_errors_reach_the_model(
    ollama: OllamaDouble, make_run: Any, coder: Assistant, thread: Thread, alice: User
) -> None:
    from django.core.files.base import ContentFile

    data = file_create(
        owner=alice,
        filename="sales.csv",
        content=ContentFile(b"month,amount\njan,3\nfeb,4\n"),
        purpose="assistants",
    )
    thread.tool_resources = {"code_interpreter": {"file_ids": [data.id]}}
    thread.save()
    code = "import pandas as pd\nprint(pd.read_csv('/mnt/data/sales.csv').amount.sum())\n1/0\n"
    ollama.enqueue(Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": code}}]))
    ollama.responder = summarize_tool_output
    run = make_run("sum the sales")
    execute_run(run.id)
    tool_message = ollama.last_request("/api/chat")["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"].startswith("7\n")
    assert "ZeroDivisionError" in tool_message["content"]


@pytest.mark.django_db(transaction=True)
def test_a_python_block_from_a_model_without_tools_runs(
    ollama: OllamaDouble, make_run: Any, coder: Assistant
) -> None:
    coder.model = "phi3"
    coder.save()
    ollama.enqueue(Reply(content="```python\nprint(6 * 7)\n```"))
    ollama.responder = summarize_tool_output
    run = make_run()
    execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "completed"
    assert Message.objects.get(run=run).text == "Done. Tool results:\n- code_interpreter: 42\n"


@pytest.mark.django_db(transaction=True)
def test_without_bubblewrap_the_run_fails_clearly(
    ollama: OllamaDouble, make_run: Any, coder: Assistant
) -> None:
    ollama.enqueue(
        Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": "print(1)"}}])
    )
    with override_settings(SANDBOX_BWRAP="/nonexistent/bwrap", SANDBOX_UNSAFE_DEV_MODE=False):
        run = make_run()
        execute_run(run.id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.last_error["message"].startswith(
        "The code interpreter is not available on this server"
    )
    assert "bubblewrap" in run.last_error["message"]
    assert Run.objects.get(pk=run.pk).steps.get(type="tool_calls").status == "failed"


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_running_code_at_once(
    ollama: OllamaDouble, make_run: Any, coder: Assistant
) -> None:
    import threading
    import time

    from entities.services.runs import run_cancel
    from tools.models import SandboxExecution as Record

    code = "import time\nprint('started', flush=True)\ntime.sleep(50)\n"
    ollama.enqueue(Reply(tool_calls=[{"name": "code_interpreter", "arguments": {"code": code}}]))
    run = make_run()
    worker = threading.Thread(target=execute_run, args=(run.id,))
    worker.start()
    deadline = time.monotonic() + 20
    while not run.events.filter(event="thread.run.step.delta").exists():
        assert time.monotonic() < deadline
        worker.join(0.05)
    worker.join(0.5)  # the sandbox is starting or running the sleep
    run_cancel(run=run)
    cancelled_at = time.monotonic()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert time.monotonic() - cancelled_at < 2
    run.refresh_from_db()
    assert run.status == "cancelled"
    assert Record.objects.get(run_id=run.id).exit_code != 0
    # The step whose code was stopped says so, as the run does: it did not complete.
    step = run.steps.get(type="tool_calls")
    assert (step.status, step.cancelled_at is not None, step.completed_at) == (
        "cancelled",
        True,
        None,
    )
    names = list(run.events.order_by("seq").values_list("event", flat=True))
    assert "thread.run.step.completed" not in names
    assert names[-2:] == ["thread.run.step.cancelled", "thread.run.cancelled"]
