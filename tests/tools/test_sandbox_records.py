"""Executions are kept for the operator: recorded by the service, shown read-only in the admin."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client, override_settings

from entities.models import User
from tools.models import SandboxExecution
from tools.sandbox import Limits, execute, record_execution, workdir_for
from tools.sandbox.records import EXCERPT_CHARS


@pytest.fixture
def workdir() -> Iterator[Path]:
    data_dir = Path(tempfile.mkdtemp(prefix="entities-sandbox-test-"))
    data_dir.chmod(0o711)
    with override_settings(DATA_DIR=data_dir):
        yield workdir_for("thread_alice")
    shutil.rmtree(data_dir)


@pytest.fixture
def console(operator: User) -> Client:
    client = Client()
    assert client.login(username="operator", password="s3cret-pass")
    return client


def test_an_execution_is_recorded_with_its_limit(db: None, workdir: Path) -> None:
    code = "print('x' * 50_000)\nimport time\ntime.sleep(60)\n"
    execution = execute(code, workdir=workdir, limits=Limits(wall_seconds=1))
    record = record_execution(
        execution=execution, code=code, run_id="run_abc", thread_id="thread_alice"
    )
    record.refresh_from_db()
    assert (record.run_id, record.thread_id, record.code) == ("run_abc", "thread_alice", code)
    assert record.limit_hit == SandboxExecution.LimitHit.WALL
    assert record.exit_code == 137 and record.duration_seconds >= 1
    assert record.stdout.startswith("x" * EXCERPT_CHARS)
    assert record.stdout.endswith("more characters not kept]")
    assert record.sandboxed


def test_the_operator_sees_executions_but_cannot_change_them(
    db: None, workdir: Path, console: Client
) -> None:
    ok = execute("open('/mnt/data/out.csv', 'w').write('a')\n", workdir=workdir)
    spinning = execute("while True: pass", workdir=workdir, limits=Limits(cpu_seconds=1))
    first = record_execution(execution=ok, code="ok", run_id="run_ok")
    second = record_execution(execution=spinning, code="while True: pass", run_id="run_spin")
    assert first.files == ["out.csv"]

    page = console.get("/admin/tools/sandboxexecution/")
    assert page.status_code == 200
    assert b"run_ok" in page.content and b"run_spin" in page.content

    only_cpu = console.get("/admin/tools/sandboxexecution/", {"limit_hit__exact": "cpu"})
    assert b"run_spin" in only_cpu.content and b"run_ok" not in only_cpu.content

    detail = console.get(f"/admin/tools/sandboxexecution/{second.pk}/change/")
    assert detail.status_code == 200 and b"while True: pass" in detail.content
    assert b'name="_save"' not in detail.content  # read-only: no save button
    assert console.get("/admin/tools/sandboxexecution/add/").status_code == 403
    deleted = console.post(f"/admin/tools/sandboxexecution/{second.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    assert SandboxExecution.objects.count() == 2
