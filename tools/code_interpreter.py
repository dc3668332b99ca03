"""The code interpreter tool: the model's Python, run in the sandbox, with files both ways.

The model calls a function named ``code_interpreter`` with ``{"code": "…"}`` (models without
native tools may instead answer with only a fenced ```python block). The code runs in the
thread's sandbox directory, mounted at /mnt/data, where the run's input files are put first;
what the code writes there comes back as Files, images among them as ``image_file`` content.
"""

import os
from dataclasses import dataclass, field
from typing import Any

from django.core.files.base import ContentFile
from django.db.models import Q

from entities.models import File, Run
from entities.services.files import code_interpreter_file_ids, file_create

from .sandbox import execute, stage_file, workdir_for
from .sandbox.records import record_execution
from .sandbox.supervise import Cancellation

NAME = "code_interpreter"

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": NAME,
        "description": (
            "Run Python 3 code in a sandbox without network access and get its printed output "
            "back. numpy, pandas and matplotlib are installed. Input files are in /mnt/data; "
            "save files and charts (plt.savefig) to /mnt/data to give them to the user."
        ),
        "parameters": {
            "type": "object",
            "properties": {"code": {"type": "string", "description": "The Python code to run."}},
            "required": ["code"],
        },
    },
}


def as_functions(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's tools with ``{"type": "code_interpreter"}`` offered as the function above."""
    return [TOOL if t.get("type") == NAME else t for t in tools]


def input_file_ids(run: Run) -> list[str]:
    """Files for /mnt/data: the assistant's and thread's tool_resources, and attachments."""
    ids: list[str] = []
    for resources in (
        run.assistant.tool_resources if run.assistant else {},
        run.thread.tool_resources,
    ):
        ids += code_interpreter_file_ids(resources)
    for attachments in run.thread.messages.exclude(attachments=[]).values_list(
        "attachments", flat=True
    ):
        ids += [a["file_id"] for a in attachments]
    return list(dict.fromkeys(ids))


@dataclass
class CodeResult:
    logs: str
    # The step's outputs on the wire: logs, then one image per chart.
    outputs: list[dict[str, Any]] = field(default_factory=list)
    image_file_ids: list[str] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)


def stage_inputs(run: Run) -> None:
    """Stage the input files that the assistant's owner or a participant of the thread owns;
    an id of someone else's file (however it got into tool_resources) is passed over."""
    workdir = workdir_for(run.thread_id)
    owners = Q(owner__threads=run.thread_id)
    if run.assistant is not None:
        owners |= Q(owner=run.assistant.owner_id)
    for file in File.objects.filter(owners, id__in=input_file_ids(run)).distinct():
        with file.content.open("rb") as handle:
            stage_file(workdir, os.path.basename(file.filename), handle.read())


def run_code(code: str, *, run: Run, cancel: Cancellation | None = None) -> CodeResult:
    """Execute; raises SandboxUnavailable when the server cannot sandbox code."""
    workdir = workdir_for(run.thread_id)
    execution = execute(code, workdir=workdir, cancel=cancel)
    record_execution(execution=execution, code=code, run_id=run.id, thread_id=run.thread_id)
    result = CodeResult(logs=execution.logs)
    images = []
    owner = run.created_by or run.thread.owner
    saved = []
    for output in execution.files:
        if owner is None:
            break
        stored = file_create(
            owner=owner,
            filename=os.path.basename(output.path),
            content=ContentFile(output.read(), name=os.path.basename(output.path)),
            purpose="assistants_output",
            thread=run.thread,
        )
        result.file_ids.append(stored.id)
        saved.append(f"/mnt/data/{output.path} (file {stored.id})")
        if output.is_image:
            result.image_file_ids.append(stored.id)
            images.append({"type": "image", "image": {"file_id": stored.id}})
    notes = [result.logs] if result.logs else []
    if saved:
        notes.append("Files saved: " + ", ".join(saved))
    if execution.skipped:
        notes.append("Not returned: " + ", ".join(execution.skipped))
    result.logs = "\n".join(notes)
    result.outputs = [{"type": "logs", "logs": result.logs}, *images]
    return result
