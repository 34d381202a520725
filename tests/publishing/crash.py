"""Kill a release export at its k-th file operation, and look at what a reader would find then.

`FileOps` patches the functions that change files (mkdir, rename, replace, rmdir, unlink,
rmtree, fsync, opening a file for writing) for paths under one folder. It counts them and, at
the chosen one, raises `Crash`. In "kill" mode every later operation raises too, as if the
process had died there: ``except``/``finally`` cleanups run but can no longer touch the disk,
which is what a SIGKILL or a power cut leaves behind. In "error" mode only that one operation
fails (a full disk, an I/O error) and cleanups work.

An operation that runs inside another one (the unlinks inside an rmtree) is part of it and is
not counted on its own.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Functions of the os module that change a path, with the positions of their path arguments.
OS_FUNCTIONS = {
    "mkdir": (0,),
    "rename": (0, 1),
    "replace": (0, 1),
    "rmdir": (0,),
    "unlink": (0,),
    "remove": (0,),
}
WRITE_MODE = frozenset("wax+")


class Crash(BaseException):
    """The process died at this file operation (not an Exception: nothing may catch it by accident)."""


class FileOps:
    """Count the file operations under `root`; fail at number `crash_at` or where `crash_when` says.

    `mode` is "kill" (that operation and every later one fail) or "error" (only that one fails,
    with an OSError). `log` holds (operation, paths) of every counted operation, in order.
    """

    def __init__(
        self,
        root: Path,
        *,
        crash_at: int | None = None,
        crash_when: Callable[[str, list[Path]], bool] | None = None,
        mode: str = "kill",
        extra: tuple[tuple[object, str, tuple[int, ...]], ...] = (),
    ):
        self.root = os.path.realpath(root) + os.sep
        self.crash_at = crash_at
        self.crash_when = crash_when
        self.mode = mode
        self.extra = extra
        self.count = 0
        self.log: list[tuple[str, list[Path]]] = []
        self.dead = False
        self.crashed = False
        self._depth = 0

    def _under(self, path) -> bool:
        if isinstance(path, int):
            return False
        return (os.path.realpath(os.fsdecode(path)) + os.sep).startswith(self.root)

    def _step(self, name: str, paths: list) -> None:
        if self._depth or not any(self._under(p) for p in paths):
            return
        if self.dead:
            raise Crash(f"dead: {name} {paths}")
        self.count += 1
        shown = [Path(os.fsdecode(p)) for p in paths]
        self.log.append((name, shown))
        if self.count == self.crash_at or (self.crash_when is not None and self.crash_when(name, shown)):
            self.crashed = True
            if self.mode == "kill":
                self.dead = True
                raise Crash(f"killed at operation {self.count}: {name} {shown}")
            raise OSError(errno.EIO, f"injected failure at operation {self.count}: {name}", os.fsdecode(paths[0]))

    def _wrap(self, real: Callable, name: str, positions: tuple[int, ...]) -> Callable:
        def wrapper(*args, **kwargs):
            self._step(name, [args[i] for i in positions if i < len(args)])
            self._depth += 1
            try:
                return real(*args, **kwargs)
            finally:
                self._depth -= 1

        return wrapper

    def _wrap_open(self, real: Callable) -> Callable:
        def wrapper(file, mode="r", *args, **kwargs):
            if WRITE_MODE & set(mode):
                self._step("write", [file])
            self._depth += 1
            try:
                return real(file, mode, *args, **kwargs)
            finally:
                self._depth -= 1

        return wrapper

    def _wrap_fsync(self, real: Callable) -> Callable:
        def wrapper(fd):
            try:
                path = os.readlink(f"/proc/self/fd/{fd}")
            except OSError:
                path = fd
            self._step("fsync", [path])
            return real(fd)

        return wrapper

    @contextmanager
    def active(self) -> Iterator[FileOps]:
        """Patch the file functions for the duration of the block."""
        saved: list[tuple[object, str, object]] = []

        def patch(owner: object, attr: str, replacement: object) -> None:
            saved.append((owner, attr, getattr(owner, attr)))
            setattr(owner, attr, replacement)

        try:
            for name, positions in OS_FUNCTIONS.items():
                patch(os, name, self._wrap(getattr(os, name), name, positions))
            patch(os, "fsync", self._wrap_fsync(os.fsync))
            patch(shutil, "rmtree", self._wrap(shutil.rmtree, "rmtree", (0,)))
            opener = self._wrap_open(io.open)
            patch(builtins, "open", opener)
            patch(io, "open", opener)
            for owner, attr, positions in self.extra:
                patch(owner, attr, self._wrap(getattr(owner, attr), attr, positions))
            yield self
        finally:
            for owner, attr, original in reversed(saved):
                setattr(owner, attr, original)


def files_of(directory: Path) -> dict[str, bytes] | None:
    """Every file of a release directory by name with its bytes; None when there is no directory."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir()) if path.is_file()}
