"""The first and only program inside the sandbox, run by the sandbox Python (stdlib only).

It is passed as ``python -c`` so nothing of the project has to be mounted. Its arguments are
the status pipe's fd, the data directory and the limits (``RLIMIT_CPU=30:31`` …); the user's
code arrives on stdin. It imports next to nothing (no json: that alone is 10 ms) since every
execution pays for it. It:

1. sets the resource limits. Here, not in the worker: bubblewrap has already made the user
   namespace, so RLIMIT_NPROC counts this sandbox's processes only, not every process of the
   uid on the host (two sandboxes would otherwise share one budget);
2. runs the code as ``<code>`` in ``__main__``, so a traceback shows the user's lines and no
   frame of ours;
3. saves matplotlib figures the code left open with changes not yet drawn (``savefig`` draws,
   so a figure saved and left open is not saved twice), only if the code imported pyplot;
4. writes on a status pipe that it started (so the worker can tell a sandbox that could not be
   built from code that failed) and which limit, if any, ended the code, recognised by the
   error it raised (signals and its own kills the worker sees itself).
"""

import errno
import os
import resource
import sys
import warnings

_LIMIT_ERRNOS = {
    errno.EAGAIN: "processes",
    errno.EFBIG: "file_size",
    errno.EMFILE: "open_files",
}


def _limit_of(exc: BaseException) -> str | None:
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, OSError):
        return _LIMIT_ERRNOS.get(exc.errno or 0)
    if isinstance(exc, RuntimeError) and "can't start new thread" in str(exc):
        return "processes"
    return None


def _save_open_figures(data_dir: str) -> None:
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for number in pyplot.get_fignums():
        figure = pyplot.figure(number)
        if not figure.stale:
            continue
        name, suffix = f"figure_{number}", 0
        while os.path.lexists(os.path.join(data_dir, f"{name}.png")):
            suffix += 1
            name = f"figure_{number}_{suffix}"
        figure.savefig(os.path.join(data_dir, f"{name}.png"))


def main() -> int:
    status_fd, data_dir, rlimits = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    code = sys.stdin.buffer.read().decode("utf-8", "replace")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.set_inheritable(status_fd, False)
    os.write(status_fd, b"started\n")  # the sandbox was built; bubblewrap did not fail
    for rlimit in rlimits:
        name, _, values = rlimit.partition("=")
        soft, _, hard = values.partition(":")
        resource.setrlimit(getattr(resource, name), (int(soft), int(hard)))
    os.chdir(data_dir)
    sys.argv = ["<code>"]
    if "matplotlib" in code:  # the filter imports re (5 ms): only for code that can plt.show()
        # Agg cannot show a window; plt.show() is how people end a plot, and the figure comes
        # back as an image anyway: no warning that it cannot be shown.
        warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")
    runner_pid = os.getpid()
    exit_code, limit = 0, None
    try:
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(code, "<code>", "exec"), namespace)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            exit_code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            exit_code = 1
    except BaseException as exc:
        limit = _limit_of(exc)
        # The first frame is this function's exec(); the user's code starts below it.
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        import linecache  # only now: with tokenize and re it costs 6 ms, every run
        import traceback

        linecache.cache["<code>"] = (len(code), None, code.splitlines(True), "<code>")
        traceback.print_exception(type(exc), exc, tb)
        exit_code = 1
    if os.getpid() != runner_pid:
        os._exit(exit_code)  # a process the code forked: it must not report for the runner
    if limit != "memory":
        try:
            _save_open_figures(data_dir)
        except Exception as exc:
            print(f"Could not save the open figures: {exc!r}", file=sys.stderr)
    try:  # noqa: SIM105 (contextlib is one more import for every run)
        os.write(status_fd, f"limit={limit or ''}\n".encode())
    except OSError:
        pass  # the code closed or replaced the pipe: then it reports nothing
    sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
