"""The code interpreter's sandbox, attacked: each test runs hostile code through ``execute()``
and checks it was contained, that the worker (this process) is unharmed, and that a normal
execution right after still works. Then what a data scientist would notice: output, tracebacks,
plots and CSV files.

Limits are small so the suite stays quick on two busy cores; each test names the limit it
exercises and keeps the others loose, so that limit (not an accident) is what stops the code.
"""

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import override_settings

from inference.testing.ollama_double import OllamaDouble
from tools.sandbox import (
    Cancellation,
    Execution,
    Limits,
    SandboxUnavailable,
    execute,
    stage_file,
    workdir_for,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Loose enough for a busy machine; each attack tightens the one limit it is about.
LOOSE = Limits(
    cpu_seconds=20,
    wall_seconds=30,
    memory_bytes=768 * 1024 * 1024,
    processes=32,
    file_size_bytes=4 * 1024 * 1024,
    open_files=128,
    output_bytes=64 * 1024,
    tmp_bytes=8 * 1024 * 1024,
)


def limits(**tight: float) -> Limits:
    return Limits(**{**LOOSE.__dict__, **tight})


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A fresh DATA_DIR the sandbox uid can pass through (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="entities-sandbox-test-"))
    path.chmod(0o711)
    with override_settings(DATA_DIR=path):
        yield path
    shutil.rmtree(path)


@pytest.fixture
def alice_dir(data_dir: Path) -> Path:
    return workdir_for("thread_alice")


@pytest.fixture
def bob_dir(data_dir: Path) -> Path:
    return workdir_for("thread_bob")


def run(code: str, workdir: Path, **tight: float) -> Execution:
    return execute(code, workdir=workdir, limits=limits(**tight))


def assert_still_works(workdir: Path) -> None:
    """The worker survived, can still start processes, and the sandbox runs the next code."""
    assert subprocess.run(["true"], check=False).returncode == 0
    after = run("print('still here')", workdir)
    assert (after.stdout, after.exit_code, after.limit_hit) == ("still here\n", 0, None)


def output(execution: Execution) -> str:
    return execution.stdout + execution.stderr


# --- reading what is not theirs ----------------------------------------------------------------


def test_etc_passwd_and_shadow_do_not_exist(alice_dir: Path) -> None:
    host_root_line = Path("/etc/passwd").read_text().splitlines()[0]
    assert host_root_line.startswith("root:")
    execution = run(
        "import os\n"
        "print(os.path.exists('/etc'))\n"
        "for path in ('/etc/passwd', '/etc/shadow'):\n"
        "    try:\n"
        "        print(open(path).read())\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n",
        alice_dir,
    )
    assert execution.stdout == "False\nFileNotFoundError\nFileNotFoundError\n"
    assert host_root_line not in output(execution)
    assert_still_works(alice_dir)


def test_project_settings_database_and_secret_key_are_invisible(alice_dir: Path) -> None:
    targets = [
        Path(settings.BASE_DIR) / "config" / "settings.py",
        Path(settings.BASE_DIR) / "manage.py",
        Path(settings.BASE_DIR) / "var" / "db.sqlite3",
        Path(settings.BASE_DIR) / "var" / "secret_key",
        Path("/root"),
        Path("/home"),
    ]
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):  # on PostgreSQL there is no file to reach
        targets += [Path(database["NAME"]), Path(database["TEST"]["NAME"])]
    execution = run(
        "import os\n"
        f"for path in {[str(t) for t in targets]!r}:\n"
        "    try:\n"
        "        print(path, os.listdir(path) if os.path.isdir(path) else open(path).read())\n"
        "    except OSError as exc:\n"
        "        print(path, type(exc).__name__)\n",
        alice_dir,
    )
    assert execution.stdout.splitlines() == [f"{t} FileNotFoundError" for t in targets]
    assert "SECRET_KEY" not in output(execution)
    assert_still_works(alice_dir)


def test_worker_environment_secrets_are_not_visible(
    alice_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-" + uuid.uuid4().hex
    monkeypatch.setenv("ENTITIES_TEST_API_SECRET", secret)
    execution = run(
        "import os\n"
        "print(sorted(os.environ))\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:\n"
        "    for name in ('environ', 'cmdline'):\n"
        "        try:\n"
        "            print(pid, name, open(f'/proc/{pid}/{name}', 'rb').read())\n"
        "        except OSError as exc:\n"
        "            print(pid, name, type(exc).__name__)\n",
        alice_dir,
    )
    assert execution.exit_code == 0
    assert "1 environ b'PATH=" in execution.stdout  # /proc/1/environ was read, and is bare
    assert secret not in output(execution)
    assert "ENTITIES_TEST_API_SECRET" not in output(execution)
    assert_still_works(alice_dir)


def test_host_processes_are_invisible(alice_dir: Path) -> None:
    execution = run(
        "import os\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "print(os.getpid(), os.getppid())\n",
        alice_dir,
    )
    pids, me = execution.stdout.splitlines()
    assert json.loads(pids) == [1, 2]  # bubblewrap's init and the runner, nothing of the host
    assert me == "2 1"
    assert str(os.getpid()) not in pids
    assert_still_works(alice_dir)


def test_another_threads_data_is_invisible(alice_dir: Path, bob_dir: Path) -> None:
    secret = "bob's diary " + uuid.uuid4().hex
    stage_file(bob_dir, "diary.txt", secret.encode())
    execution = run(
        "import os\n"
        f"paths = ['/mnt/data/../thread_bob/diary.txt', {str(bob_dir / 'diary.txt')!r}]\n"
        "print(os.listdir('/mnt/data'), os.listdir('/mnt'))\n"
        "for path in paths:\n"
        "    try:\n"
        "        print(open(path).read())\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n",
        alice_dir,
    )
    assert execution.stdout == "[] ['data']\nFileNotFoundError\nFileNotFoundError\n"
    assert secret not in output(execution)
    assert_still_works(alice_dir)


def test_kernel_keyrings_carry_nothing_between_executions(alice_dir: Path, bob_dir: Path) -> None:
    """Every sandbox has the same uid; the user keyring is per user namespace, so one thread's
    code cannot leave a key for another's."""
    syscall = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
    planted = run(
        syscall + "print(libc.syscall(248, b'user', b'drop', b'from alice', 10, -4) > 0)\n",
        alice_dir,
    )  # add_key("user", "drop", ..., KEY_SPEC_USER_KEYRING)
    assert planted.stdout == "True\n"
    found = run(
        syscall + "print(libc.syscall(250, 10, -4, b'user', b'drop', 0), ctypes.get_errno())\n",
        bob_dir,
    )  # keyctl(KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", "drop")
    assert found.stdout == "-1 126\n"  # ENOKEY
    assert_still_works(alice_dir)


# --- the network -------------------------------------------------------------------------------


NETWORK_PROBE = """
import socket, sys
for host, port in TARGETS:
    try:
        socket.create_connection((host, port), timeout=2).close()
        print(host, port, "CONNECTED")
    except OSError as exc:
        print(host, port, type(exc).__name__)
"""


def listener(host: str) -> socket.socket:
    server = socket.socket()
    server.bind((host, 0))
    server.listen(8)
    server.setblocking(False)
    return server


def assert_nobody_came(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()


def test_loopback_services_are_unreachable(alice_dir: Path) -> None:
    server = listener("127.0.0.1")
    with OllamaDouble() as ollama:
        targets = [("127.0.0.1", server.getsockname()[1]), ("127.0.0.1", ollama.port)]
        targets += [("127.0.0.1", 5432), ("localhost", 5432)]
        execution = run(f"TARGETS = {targets!r}\n" + NETWORK_PROBE, alice_dir)
        assert ollama.requests == []
    assert_nobody_came(server)
    assert "CONNECTED" not in execution.stdout
    assert len(execution.stdout.splitlines()) == len(targets)
    assert_still_works(alice_dir)


def test_unix_sockets_of_the_host_are_invisible(alice_dir: Path) -> None:
    sockets = ["/var/run/postgresql/.s.PGSQL.5432", "/run/postgresql/.s.PGSQL.5432"]
    sockets.append(str(Path(settings.DATA_DIR) / "events.sock"))
    execution = run(
        "import socket\n"
        f"for path in {sockets!r}:\n"
        "    s = socket.socket(socket.AF_UNIX)\n"
        "    try:\n"
        "        s.connect(path)\n"
        "        print('CONNECTED', path)\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n",
        alice_dir,
    )
    assert execution.stdout.splitlines() == ["FileNotFoundError"] * len(sockets)
    assert_still_works(alice_dir)


def host_address() -> str:
    """This machine's own non-loopback IPv4 address."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.200", 9))  # no packet is sent: it only picks a route
        address: str = probe.getsockname()[0]
    except OSError:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
        address = next((a for a in found.stdout.split() if "." in a), "")
    finally:
        probe.close()
    if not address or address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 address to attack")
    return address


def test_the_hosts_own_address_is_unreachable(alice_dir: Path) -> None:
    address = host_address()
    server = listener("0.0.0.0")
    targets = [(address, server.getsockname()[1]), (address, 5432)]
    execution = run(f"TARGETS = {targets!r}\n" + NETWORK_PROBE, alice_dir)
    assert_nobody_came(server)
    assert execution.stdout.splitlines() == [f"{h} {p} OSError" for h, p in targets]
    assert_still_works(alice_dir)


def test_names_do_not_resolve_and_nothing_routes_out(alice_dir: Path) -> None:
    execution = run(
        "import socket\n"
        "for name in ('example.com', 'localhost.localdomain', 'example.org'):\n"
        "    try:\n"
        "        print(socket.getaddrinfo(name, 443))\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__)\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n"
        "    s.sendto(b'x', ('8.8.8.8', 53))\n"
        "    print('SENT')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
        "print(sorted(n for _, n in socket.if_nameindex()))\n",
        alice_dir,
    )
    lines = execution.stdout.splitlines()
    assert lines[:3] == ["gaierror"] * 3
    assert lines[3] == "Network is unreachable"
    assert lines[4] == "['lo']"
    assert_still_works(alice_dir)


# --- writing where it must not -----------------------------------------------------------------


def test_nothing_outside_mnt_data_is_writable(alice_dir: Path) -> None:
    planted = Path(settings.BASE_DIR) / f"pwned-{uuid.uuid4().hex}.txt"
    targets = ["/usr/pwned.txt", "/pwned.txt", "/dev/pwned", str(planted)]
    targets.append(str(Path(settings.SANDBOX_PYTHON).parent / "pwned"))
    execution = run(
        "import os\n"
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(path), exist_ok=True)\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print(exc.strerror)\n",
        alice_dir,
    )
    lines = execution.stdout.splitlines()
    for target, line in zip(targets, lines, strict=True):
        if target.startswith("/tmp/"):
            # A checkout under /tmp (a CI clone): inside, that path is the private /tmp.
            assert line in ("Read-only file system", f"WROTE {target}")
        else:
            assert line == "Read-only file system", target
    for target in targets:
        assert not Path(target).exists()  # nothing reached the host
    assert_still_works(alice_dir)


def test_runs_unprivileged_and_cannot_touch_the_workers_files(alice_dir: Path) -> None:
    stage_file(alice_dir, "input.csv", b"a,b\n1,2\n")  # written by the worker
    execution = run(
        "import os, ctypes\n"
        "print(os.getuid(), os.geteuid(), os.getgid())\n"
        "print(open('/proc/self/status').read().split('CapEff:')[1].split()[0])\n"
        "try:\n"
        "    open('/mnt/data/input.csv', 'a').write('evil')\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x10000000), os.strerror(ctypes.get_errno()))\n"  # CLONE_NEWUSER
        "try:\n"
        "    os.setuid(0)\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n",
        alice_dir,
    )
    uid, capabilities, write, unshare, setuid = execution.stdout.splitlines()
    if os.geteuid() == 0:
        assert (alice_dir / "input.csv").stat().st_uid == 0
        assert write == "Permission denied"
    assert uid.split()[0] != "0" and uid.split()[1] != "0"
    assert int(capabilities, 16) == 0
    assert unshare.startswith("-1 ")  # no nested user namespace
    assert setuid in {"Invalid argument", "Operation not permitted"}  # uid 0 is not even mapped
    assert (alice_dir / "input.csv").read_bytes() == b"a,b\n1,2\n"
    assert_still_works(alice_dir)


def test_links_planted_in_mnt_data_are_never_followed(alice_dir: Path) -> None:
    settings_file = Path(settings.BASE_DIR) / "config" / "settings.py"
    before = settings_file.read_bytes()
    execution = run(
        "import os\n"
        f"os.symlink({str(settings_file)!r}, '/mnt/data/data.csv')\n"
        "os.symlink('/etc/passwd', '/mnt/data/chart.png')\n"
        "os.mkfifo('/mnt/data/stuck.png')\n"
        "open('/mnt/data/real.txt', 'w').write('ok')\n",
        alice_dir,
    )
    assert [f.path for f in execution.files] == ["real.txt"]
    assert sorted(execution.skipped) == [
        "chart.png: a symbolic link, not followed",
        "data.csv: a symbolic link, not followed",
        "stuck.png: not a regular file",
    ]
    # The next upload of data.csv replaces the link instead of writing through it.
    assert stage_file(alice_dir, "data.csv", b"x,y\n") == "/mnt/data/data.csv"
    assert settings_file.read_bytes() == before
    assert not (alice_dir / "data.csv").is_symlink()
    assert_still_works(alice_dir)


# --- exhausting resources ----------------------------------------------------------------------


def test_fork_bomb_hits_the_process_limit(alice_dir: Path) -> None:
    execution = run("import os\nwhile True:\n    os.fork()\n", alice_dir, processes=16)
    assert execution.limit_hit == "processes"
    assert "BlockingIOError" in execution.stderr
    assert_still_works(alice_dir)


def test_thread_bomb_hits_the_process_limit(alice_dir: Path) -> None:
    execution = run(
        "import threading\n"
        "stop = threading.Event()\n"
        "while True:\n"
        "    threading.Thread(target=stop.wait, daemon=True).start()\n",
        alice_dir,
        processes=16,
    )
    assert execution.limit_hit == "processes"
    assert "can't start new thread" in execution.stderr
    assert_still_works(alice_dir)


@pytest.mark.parametrize(
    "code",
    ["x = bytearray(8 * 1024 ** 3)\n", "hoard = []\nwhile True:\n    hoard.append(b'x' * 2**22)\n"],
    ids=["at-once", "growing"],
)
def test_memory_bomb_hits_the_memory_limit(alice_dir: Path, code: str) -> None:
    execution = run(code, alice_dir, memory_bytes=256 * 1024 * 1024)
    assert execution.limit_hit == "memory"
    assert execution.stderr.rstrip().endswith("MemoryError")
    assert_still_works(alice_dir)


def test_endless_cpu_loop_hits_the_cpu_limit(alice_dir: Path) -> None:
    execution = run("while True:\n    pass\n", alice_dir, cpu_seconds=1)
    assert execution.limit_hit == "cpu"
    assert execution.exit_code == 128 + 24  # SIGXCPU
    assert_still_works(alice_dir)


def test_sleeping_forever_hits_the_wall_limit(alice_dir: Path) -> None:
    execution = run(
        "import time\nprint('going to sleep')\ntime.sleep(10_000)\n", alice_dir, wall_seconds=1
    )
    assert execution.timed_out and execution.limit_hit == "wall"
    assert execution.exit_code == 137
    assert execution.stdout == "going to sleep\n"  # what came before the kill is kept
    assert execution.duration_seconds < 5
    assert_still_works(alice_dir)


def host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # it ended while we looked
    return found


ORPHAN = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c",
            "open('/mnt/data/orphan-started', 'w').close()\\n"
            "import time\\n"
            "time.sleep(600)  # MARKER\\n"
            "open('/mnt/data/orphan-outlived', 'w').close()"])
    os._exit(0)
while not os.path.exists('/mnt/data/orphan-started'):
    time.sleep(0.01)
print('orphan running')
"""


@pytest.mark.parametrize("parent", ["exits", "is killed"])
def test_a_setsid_orphan_does_not_outlive_the_execution(alice_dir: Path, parent: str) -> None:
    marker = uuid.uuid4().hex
    code = ORPHAN.replace("MARKER", marker)
    if parent == "is killed":
        code += "time.sleep(10_000)\n"
    execution = run(code, alice_dir, wall_seconds=10 if parent == "exits" else 3)
    assert execution.stdout == "orphan running\n"
    assert (alice_dir / "orphan-started").exists()  # it really was running
    assert execution.limit_hit == (None if parent == "exits" else "wall")
    assert host_processes_with(marker) == []  # gone the moment execute() returned
    assert host_processes_with(str(alice_dir)) == []  # nor bubblewrap
    assert not (alice_dir / "orphan-outlived").exists()
    assert_still_works(alice_dir)


def test_a_cancel_stops_the_code_at_once(alice_dir: Path) -> None:
    """A run cancelled while its code runs (the run's watch thread sets the cancellation): the
    code, sleeping in a process of its own, is gone when execute() returns."""
    marker = uuid.uuid4().hex
    ready = alice_dir / "ready"
    os.mkfifo(ready)
    ready.chmod(0o666)
    sleeper = (
        "import os, time\n"
        "fd = os.open('/mnt/data/ready', os.O_WRONLY)\n"
        "os.write(fd, b'x')\n"
        f"time.sleep(10_000)  # {marker}\n"
    )
    code = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {sleeper!r}])\n"
    result: list[Execution] = []
    listening = os.open(ready, os.O_RDONLY | os.O_NONBLOCK)
    with Cancellation() as cancel:
        thread = threading.Thread(
            target=lambda: result.append(
                execute(code, workdir=alice_dir, limits=LOOSE, cancel=cancel)
            )
        )
        thread.start()
        try:
            readable, _, _ = select.select([listening], [], [], 20)
            assert readable, "the code never started sleeping"
            assert host_processes_with(marker) != []  # it is running, under our eyes
        finally:
            cancel.set()
            thread.join()
            os.close(listening)
    (execution,) = result
    assert execution.cancelled and execution.limit_hit is None
    assert execution.exit_code == 137 and execution.duration_seconds < 10
    assert execution.logs.endswith("[stopped: the run was cancelled]")
    assert host_processes_with(marker) == []
    assert host_processes_with(str(alice_dir)) == []  # nor bubblewrap
    assert_still_works(alice_dir)


def test_endless_output_is_truncated_and_stopped(alice_dir: Path) -> None:
    execution = run("while True:\n    print('spam' * 100)\n", alice_dir, output_bytes=8192)
    assert execution.limit_hit == "output"
    assert execution.stdout.endswith("\n[output truncated at 8192 bytes]")
    assert len(execution.stdout) <= 8192 + 40
    assert "[stopped: the output limit was reached]" in execution.logs
    assert_still_works(alice_dir)


def test_file_size_bomb_hits_the_file_size_limit(alice_dir: Path) -> None:
    execution = run(
        "with open('/mnt/data/huge.bin', 'wb') as f:\n"
        "    while True:\n"
        "        f.write(b'0' * 2**20)\n",
        alice_dir,
        file_size_bytes=2 * 1024 * 1024,
    )
    assert execution.limit_hit == "file_size"
    assert (alice_dir / "huge.bin").stat().st_size <= 2 * 1024 * 1024
    assert_still_works(alice_dir)


def test_private_tmp_is_capped(alice_dir: Path) -> None:
    execution = run(
        "i = 0\nwhile True:\n    open(f'/tmp/fill{i}', 'wb').write(b'0' * 2**20)\n    i += 1\n",
        alice_dir,
        tmp_bytes=4 * 1024 * 1024,
    )
    assert "No space left on device" in execution.stderr
    assert_still_works(alice_dir)


def test_thousands_of_open_files_hit_the_open_files_limit(alice_dir: Path) -> None:
    execution = run("files = [open('/dev/null') for _ in range(5000)]\n", alice_dir, open_files=64)
    assert execution.limit_hit == "open_files"
    assert "Too many open files" in execution.stderr
    assert_still_works(alice_dir)


def test_concurrent_executions_stay_apart(alice_dir: Path, bob_dir: Path) -> None:
    """Two threads' code at once (two workers): each sees only its own files, and one's fork
    bomb does not eat the other's process budget."""
    results: dict[str, Execution] = {}

    def alice() -> None:
        results["alice"] = run("import os\nwhile True:\n    os.fork()\n", alice_dir, processes=16)

    def bob() -> None:
        results["bob"] = run(
            "import os, subprocess\n"
            "open('/mnt/data/bob.txt', 'w').write('bob')\n"
            "print(os.listdir('/mnt/data'), subprocess.run(['true']).returncode)\n",
            bob_dir,
            processes=16,
        )

    threads = [threading.Thread(target=alice), threading.Thread(target=bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results["alice"].limit_hit == "processes"
    assert results["bob"].stdout == "['bob.txt'] 0\n"
    assert not (alice_dir / "bob.txt").exists()


# --- what a user notices -----------------------------------------------------------------------


def test_print_works(alice_dir: Path) -> None:
    execution = run("print(1)", alice_dir)
    assert (execution.stdout, execution.stderr, execution.exit_code) == ("1\n", "", 0)
    assert execution.limit_hit is None and execution.sandboxed
    assert execution.files == ()


def test_stdout_stderr_and_a_readable_traceback(alice_dir: Path) -> None:
    execution = run(
        "import sys\n"
        "print('to stdout')\n"
        "print('to stderr', file=sys.stderr)\n"
        "def mean(values):\n"
        "    return sum(values) / len(values)\n"
        "mean([])\n",
        alice_dir,
    )
    assert execution.stdout == "to stdout\n"
    assert execution.exit_code == 1
    assert execution.stderr.startswith("to stderr\nTraceback (most recent call last):\n")
    assert 'File "<code>", line 6, in <module>' in execution.stderr
    assert 'File "<code>", line 5, in mean\n    return sum(values) / len(values)' in (
        execution.stderr
    )
    assert execution.stderr.endswith("ZeroDivisionError: division by zero\n")
    assert "runner" not in execution.stderr and "<string>" not in execution.stderr
    assert execution.logs == "to stdout\n\n" + execution.stderr


def test_syntax_errors_and_exit_codes(alice_dir: Path) -> None:
    broken = run("print('unclosed'\n", alice_dir)
    assert broken.exit_code == 1
    assert 'File "<code>", line 1' in broken.stderr and "SyntaxError" in broken.stderr
    assert run("import sys\nsys.exit(3)\n", alice_dir).exit_code == 3
    assert run("raise SystemExit('bye')\n", alice_dir).stderr == "bye\n"


def test_plots_saved_and_left_open_come_back_as_png(alice_dir: Path) -> None:
    execution = run(
        "import matplotlib.pyplot as plt\n"
        "xs = list(range(11))\n"
        "plt.plot(xs, [x * x for x in xs])\n"
        "plt.title('y = x squared')\n"
        "plt.savefig('/mnt/data/squares.png')\n"
        "plt.figure()\n"
        "plt.bar(['a', 'b'], [3, 5])\n"
        "plt.show()\n",
        alice_dir,
    )
    assert execution.exit_code == 0, execution.stderr
    assert execution.stderr == ""
    # The saved figure is not saved a second time; the one left open is.
    assert sorted(f.path for f in execution.images) == ["figure_2.png", "squares.png"]
    for image in execution.images:
        assert image.mime_type == "image/png"
        assert image.read().startswith(PNG_MAGIC)


def test_pandas_reads_a_csv_from_mnt_data(alice_dir: Path) -> None:
    path = stage_file(alice_dir, "sales.csv", b"region,amount\nnorth,10\nsouth,32\nnorth,5\n")
    execution = run(
        "import pandas as pd\n"
        f"df = pd.read_csv({path!r})\n"
        "print(df.groupby('region')['amount'].sum().to_dict())\n"
        "df.to_csv('/mnt/data/summary.csv', index=False)\n",
        alice_dir,
    )
    assert execution.stdout == "{'north': 15, 'south': 32}\n", execution.stderr
    assert [f.path for f in execution.files] == ["summary.csv"]  # the input did not change
    assert execution.files[0].read().startswith(b"region,amount")


def test_file_caps(alice_dir: Path) -> None:
    execution = execute(
        "import os\n"
        "os.makedirs('/mnt/data/out', exist_ok=True)\n"
        "for i in range(4):\n"
        "    open(f'/mnt/data/out/{i}.txt', 'w').write(str(i))\n"
        "open('/mnt/data/big.bin', 'wb').write(b'0' * 5000)\n",
        workdir=alice_dir,
        limits=limits(max_files=3, max_file_bytes=1000),
    )
    assert [f.path for f in execution.files] == ["out/0.txt", "out/1.txt", "out/2.txt"]
    assert sorted(execution.skipped) == [
        "big.bin: 5000 bytes, over the 1000-byte cap",
        "out/3.txt: over the cap of 3 files",
    ]


def test_without_bubblewrap_code_is_refused(alice_dir: Path) -> None:
    with (
        override_settings(SANDBOX_BWRAP="/nonexistent/bwrap"),
        pytest.raises(
            SandboxUnavailable, match=r"bubblewrap \(/nonexistent/bwrap\) is not installed"
        ),
    ):
        run("print(1)", alice_dir)


def test_unsafe_dev_mode_runs_without_bubblewrap_and_says_so(
    alice_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with override_settings(SANDBOX_BWRAP="/nonexistent/bwrap", SANDBOX_UNSAFE_DEV_MODE=True):
        execution = run("open('out.txt', 'w').write('x')\nprint(2 + 2)\n", alice_dir)
    assert execution.stdout == "4\n" and not execution.sandboxed
    assert [f.path for f in execution.files] == ["out.txt"]
    assert any("UNSAFE" in r.getMessage() for r in caplog.records)


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root worker changes uid for bubblewrap")
def test_a_sandbox_that_cannot_be_built_is_refused_with_the_reason(data_dir: Path) -> None:
    """A DATA_DIR the sandbox uid cannot pass through: bubblewrap cannot mount the workdir, and
    the operator is told so (the code is not run another way)."""
    data_dir.chmod(0o700)
    workdir = workdir_for("thread_alice")
    with pytest.raises(
        SandboxUnavailable, match=r"could not build the sandbox: .*Permission denied"
    ):
        run("open('/mnt/data/ran', 'w')", workdir)
    assert not (workdir / "ran").exists()


def test_nul_bytes_in_the_output_come_back_replaced(alice_dir: Path) -> None:
    # PostgreSQL stores no NUL in text or JSON: a run saving these logs would fail there.
    execution = run("import sys; sys.stdout.write('a\\x00b'); sys.stderr.write('\\x00')", alice_dir)
    assert (execution.stdout, execution.stderr) == ("a\ufffdb", "\ufffd")
