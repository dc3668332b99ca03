"""The per-thread directory mounted at /mnt/data, and what the code left in it.

Everything in it may have been made by hostile code, so the worker never follows a link in it:
not when it lists what changed, not when it reads a file back, and not when it puts an input
file there (a planted ``data.csv -> /work/main/config/settings.py`` would otherwise make the
next upload overwrite the settings as the worker's user).
"""

import mimetypes
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MOUNT_POINT = "/mnt/data"
# Raster only: an SVG can carry script, so it comes back as a plain file, not an image.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
# A listing stops here, so a directory stuffed with files cannot stall every later execution.
MAX_ENTRIES = 10_000
MAX_DEPTH = 16

_THREAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# (kind, size, mtime_ns, inode) of each entry but directories, by path relative to the workdir;
# kind is "file", "link" or "other" (fifo, socket).
Snapshot = dict[str, tuple[str, int, int, int]]


def workdir_root() -> Path:
    return Path(settings.DATA_DIR) / "sandbox"


def workdir_for(thread_id: str) -> Path:
    """The thread's directory (made on first use), writable by the sandbox's uid. The root
    above it is 0711: bubblewrap, running as that uid, can pass through it to mount one
    thread's directory but cannot list the others."""
    if not _THREAD_ID.match(thread_id):
        raise ValueError(f"not a thread id: {thread_id!r}")
    root = workdir_root()
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o711)
    path = root / thread_id
    path.mkdir(mode=0o700, exist_ok=True)
    prepare_workdir(path)
    return path


def workdir_remove(thread_id: str) -> None:
    """Delete the thread's directory, if it has one (when the thread is deleted)."""
    if _THREAD_ID.match(thread_id):
        # rmtree neither follows nor is fooled by links the code may have left in it.
        shutil.rmtree(workdir_root() / thread_id, ignore_errors=True)


def prepare_workdir(path: Path) -> None:
    """Make ``path`` a directory the sandbox user can write (it is refused if a link)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise ValueError(f"{path} is not a directory")
    if os.geteuid() == 0:
        info = path.stat()
        if (info.st_uid, info.st_gid) != (settings.SANDBOX_UID, settings.SANDBOX_GID):
            os.chown(path, settings.SANDBOX_UID, settings.SANDBOX_GID)
        path.chmod(0o700)


def _safe_name(name: str) -> str:
    """A name for one entry of the workdir, whatever the upload was called."""
    name = name.replace("/", "_").replace("\0", "_")
    return "_" + name if name in {"", ".", ".."} else name


def stage_file(workdir: Path, name: str, content: bytes) -> str:
    """Put an input file (an attachment, a ``file_ids`` entry) into the workdir; returns its
    path as the code sees it. Whatever sits at that name — a link, a fifo — is replaced."""
    name = _safe_name(name)
    directory = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            info = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISDIR(info.st_mode):
                raise IsADirectoryError(f"{MOUNT_POINT}/{name} is a directory")
            os.unlink(name, dir_fd=directory)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o644, dir_fd=directory)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
    finally:
        os.close(directory)
    return f"{MOUNT_POINT}/{name}"


def _open_beneath(workdir: Path, relative: str) -> int:
    """Open a regular file under ``workdir`` without following a link on the way."""
    parts = relative.split("/")
    if any(p in {"", ".", ".."} for p in parts):
        raise ValueError(f"not a relative path: {relative!r}")
    directory = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory
            )
            os.close(directory)
            directory = inner
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(parts[-1], flags, dir_fd=directory)
    finally:
        os.close(directory)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"{relative} is not a regular file")
    return fd


@dataclass(frozen=True)
class OutputFile:
    """A file the code created or changed in /mnt/data."""

    path: str  # relative to /mnt/data
    size: int
    workdir: Path

    @property
    def mime_type(self) -> str:
        return mimetypes.guess_type(self.path)[0] or "application/octet-stream"

    @property
    def is_image(self) -> bool:
        return Path(self.path).suffix.lower() in IMAGE_SUFFIXES

    def read(self) -> bytes:
        """The content, read without following links (at most the size seen at collection)."""
        fd = _open_beneath(self.workdir, self.path)
        with os.fdopen(fd, "rb") as file:
            return file.read(self.size)


def snapshot(workdir: Path) -> Snapshot:
    entries, _ = _walk(workdir)
    return entries


def _walk(workdir: Path) -> tuple[Snapshot, list[str]]:
    """Entries under ``workdir`` (links not followed) and notes on what could not be listed."""
    entries: Snapshot = {}
    notes: list[str] = []
    seen = 0

    def visit(directory: str, prefix: str, depth: int) -> None:
        nonlocal seen
        try:
            listing = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            notes.append(f"{prefix or '.'}: not listed ({exc.strerror})")
            return
        for entry in listing:
            seen += 1
            if seen > MAX_ENTRIES:
                if seen == MAX_ENTRIES + 1:
                    notes.append(f"listing stopped after {MAX_ENTRIES} entries")
                return
            relative = prefix + entry.name
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                if depth >= MAX_DEPTH:
                    notes.append(f"{relative}: deeper than {MAX_DEPTH} directories, not listed")
                else:
                    visit(entry.path, relative + "/", depth + 1)
                continue
            if stat.S_ISREG(info.st_mode):
                kind = "file"
            elif stat.S_ISLNK(info.st_mode):
                kind = "link"
            else:
                kind = "other"
            entries[relative] = (kind, info.st_size, info.st_mtime_ns, info.st_ino)

    visit(str(workdir), "", 0)
    return entries, notes


def changed_files(
    workdir: Path, before: Snapshot, *, max_files: int, max_file_bytes: int
) -> tuple[list[OutputFile], list[str]]:
    """Regular files created or changed since ``before``, within the caps; and notes on the
    rest (new links and fifos, files over a cap)."""
    after, notes = _walk(workdir)
    changed: list[OutputFile] = []
    for relative, state in after.items():
        if before.get(relative) == state:
            continue
        kind, size = state[0], state[1]
        if kind == "link":
            notes.append(f"{relative}: a symbolic link, not followed")
        elif kind == "other":
            notes.append(f"{relative}: not a regular file")
        elif size > max_file_bytes:
            notes.append(f"{relative}: {size} bytes, over the {max_file_bytes}-byte cap")
        elif len(changed) >= max_files:
            notes.append(f"{relative}: over the cap of {max_files} files")
        else:
            changed.append(OutputFile(path=relative, size=size, workdir=workdir))
    return changed, notes
