"""Crash-safe release directories: build beside the target, fsync, make it visible with one rename.

How git and package managers publish, for release directories:

- A release is written into a staging directory, a sibling of its target on the same filesystem
  (``.staging-<name>-<12 hex digits>``). Every file and the directory are fsynced, then one
  ``rename`` makes it visible: the target appears whole or not at all.
- An existing target is swapped, never emptied first. On Linux one ``renameat2(RENAME_EXCHANGE)``
  swaps the two directories in one step, and the old one, now under the staging name, is
  removed. Where the system cannot exchange, the old directory is renamed aside
  (``.old-<name>-<hex>``), the new one renamed in, then the old one removed: between those two
  renames the target is absent and the old release waits whole aside.
- While it is being built, the staging directory is locked (``flock``, released by the kernel
  when the process dies). A staging directory nobody holds was left by a killed export;
  `sweep_leftovers` removes it, and puts back an old release left aside with no new one in place.

Nothing here knows what a release holds: callers decide what is a whole release.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

STAGING = ".staging-"
ASIDE = ".old-"
# How a command's one line about a sweep starts.
CLEANED = "Cleaned up after an interrupted export"
# The random part of a staging or aside name: 6 bytes in hex.
TOKEN_RE = r"[0-9a-f]{12}"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def leftover_pattern(prefix: str, name: str | None = None) -> re.Pattern[str]:
    """The names `prefix` gives the siblings of target `name` (of any target when None); group "name"."""
    middle = re.escape(name) if name is not None else r".+"
    return re.compile(rf"^{re.escape(prefix)}(?P<name>{middle})-{TOKEN_RE}$")


def _sibling(target: Path, prefix: str) -> Path:
    return target.parent / f"{prefix}{target.name}-{secrets.token_hex(6)}"


def fsync_directory(path: Path) -> None:
    """Make the entries of directory `path` (new, renamed or removed names) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(directory: Path) -> None:
    """Flush every file in `directory` and its folders to disk, then each directory itself."""
    for path in sorted(Path(directory).iterdir()):
        if path.is_dir() and not path.is_symlink():
            fsync_tree(path)
        elif path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_directory(directory)


def ensure_directory(path: Path) -> None:
    """Create `path` and its missing parents; when it had to be made, make that durable too."""
    if path.is_dir():
        return
    path.mkdir(parents=True, exist_ok=True)
    fsync_directory(path.parent)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def is_held(path: Path) -> bool:
    """True when a running export holds the staging directory `path`; False when it was left behind."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return False
    try:
        return not _try_lock(fd)  # the lock taken here is released with the descriptor
    finally:
        os.close(fd)


@contextmanager
def staging_directory(target: Path) -> Iterator[Path]:
    """Create an empty, locked staging directory beside `target`; remove it if the block fails.

    The directory gets the process's default mode (not mkdtemp's 0700), since it becomes the
    release. The lock lasts until the block ends, so a concurrent sweep leaves it alone. After
    `place` or `swap` the staging name is gone; whatever is left there is removed on the way out.
    """
    while True:
        path = _sibling(target, STAGING)
        try:
            os.mkdir(path)
            break
        except FileExistsError:
            continue
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _try_lock(fd)
        yield path
    finally:
        try:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no libc symbol (glibc before 2.28, other C libraries)
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    func.restype = ctypes.c_int
    return func


def exchange(first: Path, second: Path) -> None:
    """Swap two existing paths in one atomic step (Linux ``renameat2`` with ``RENAME_EXCHANGE``).

    Raises NotImplementedError where the system or the filesystem cannot, OSError otherwise.
    """
    func = _renameat2()
    if func is None:
        raise NotImplementedError("renameat2 is not available")
    if func(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
            raise NotImplementedError(os.strerror(code))
        raise OSError(code, os.strerror(code), os.fspath(first), None, os.fspath(second))


def place(staging: Path, target: Path) -> None:
    """Rename the complete `staging` directory to `target`, which must not exist (or be empty).

    Raises FileExistsError when `target` holds anything: nothing is overwritten.
    """
    try:
        os.rename(staging, target)
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
            raise FileExistsError(exc.errno, f"{target} exists", os.fspath(target)) from exc
        raise
    fsync_directory(target.parent)


def swap(staging: Path, target: Path) -> None:
    """Replace the directory `target` with the complete `staging` directory, then remove the old one.

    The old data is removed only once the new is in place. See the module docstring for the
    two ways, and what a crash between the steps leaves.
    """
    try:
        exchange(staging, target)
    except NotImplementedError:
        aside = _sibling(target, ASIDE)
        os.rename(target, aside)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(aside, target)  # the new one could not go in: keep the old one where readers look
            raise
        fsync_directory(target.parent)
        shutil.rmtree(aside)
        return
    fsync_directory(target.parent)
    shutil.rmtree(staging)  # the old release, under the staging name since the exchange


def set_aside(path: Path, prefix: str) -> Path:
    """Rename `path` to a hidden sibling named `prefix`<name>-<hex>, so its name is free; return the new path."""
    aside = _sibling(path, prefix)
    os.rename(path, aside)
    fsync_directory(path.parent)
    return aside


def sweep_leftovers(parent: Path, *, name: str | None, whole: Callable[[Path], bool]) -> list[str]:
    """Undo what killed exports left in `parent` beside target `name`; return one phrase per thing done.

    An old directory left aside goes back to its name when nothing is there, and is removed
    once a whole release (`whole` tells) stands there; otherwise it is left alone. Staging
    directories nobody holds are removed: they never became a release. With `name` None, the
    leftovers of every target in `parent` are swept (a folder of published releases).
    """
    if not parent.is_dir():
        return []
    staging_re, aside_re = leftover_pattern(STAGING, name), leftover_pattern(ASIDE, name)
    done: list[str] = []
    for aside in sorted(p for p in parent.iterdir() if aside_re.match(p.name)):
        original = parent / aside_re.match(aside.name)["name"]
        if not original.exists():
            os.rename(aside, original)
            fsync_directory(parent)
            done.append(f"put {aside.name} back as {original.name}")
        elif whole(original):
            shutil.rmtree(aside)
            done.append(f"removed {aside.name}")
    for path in sorted(parent.iterdir()):
        if staging_re.match(path.name) and path.is_dir() and not is_held(path):
            shutil.rmtree(path)
            done.append(f"removed {path.name}")
    return done


def cleanup_notice(done: list[str]) -> str:
    """The one line a command prints for what a sweep did."""
    return f"{CLEANED}: {'; '.join(done)}."
