"""A release export killed at any file operation: readers see the old release whole or the new one, never a mix.

Each scenario first runs the export once to learn the release it writes, then, for k = 1, 2, …,
restores the starting folders, kills the export at its k-th file operation (tests/publishing/
crash.py) and looks at what a reader finds: through the release store (what the API lists) and
on disk, every file's bytes. Then it runs the export again, untouched, and expects the new
release, nothing left behind, and one line saying what was cleaned up. It stops at the first k
the export gets through.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from publishing import staging
from publishing.files import SEMVER_RE
from publishing.store import published_releases
from roles.models import ClassificationMapping, TitleAlias
from tests.publishing.crash import Crash, FileOps, files_of
from tests.publishing.test_releases import approve_aliases, approve_mappings, build_roles, make_reviewer

pytestmark = pytest.mark.django_db

FIXED_NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
CLEANED = "Cleaned up after an interrupted export"


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_approved", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every run writes the same manifest.json (its created_at comes from the clock)."""
    monkeypatch.setattr(timezone, "now", lambda: FIXED_NOW)


@pytest.fixture
def actor(reference_soc):
    return make_reviewer(username="rev")


@pytest.fixture
def roles(actor):
    roles = build_roles(2, aliases=3, mappings=2, components=2)
    approve_aliases(actor, TitleAlias.objects.filter(role__in=roles)[:2])
    approve_mappings(actor, ClassificationMapping.objects.filter(role__in=roles)[:1])
    return roles


@pytest.fixture
def work(tmp_path, settings):
    """The folder the export may touch: the published releases and an --output directory live here."""
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "work" / "published"
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def approve_one_more(actor) -> None:
    approve_aliases(actor, TitleAlias.objects.pending().order_by("pk")[:1])


def summary(view) -> str:
    """A readable digest of what a reader sees: file names with the start of their SHA-256."""
    if isinstance(view, tuple):
        return " / ".join(summary(part) for part in view)
    if view is None:
        return "(no directory)"
    if any(isinstance(value, bytes) for value in view.values()):
        return str({name: hashlib.sha256(data).hexdigest()[:8] for name, data in view.items()})
    return str({key: summary(files) for key, files in view.items()})


def published_view(root: Path) -> tuple[dict, dict]:
    """What readers of published releases see: the release store's list, and the version folders on disk."""
    store = {path.name: files_of(path) for path, _manifest in published_releases()}
    disk = {p.name: files_of(p) for p in sorted(root.iterdir()) if SEMVER_RE.match(p.name)} if root.is_dir() else {}
    return store, disk


def restore(work: Path, pristine: Path) -> None:
    shutil.rmtree(work)
    shutil.copytree(pristine, work, symlinks=True)


def run_in_savepoint(run: Callable[[], str]) -> str:
    """Run an export that may fail inside the test's transaction, which stays usable afterwards.

    The export reads in one transaction without a savepoint; inside the test's own transaction
    an exception would otherwise leave that one unusable for the next run.
    """
    with transaction.atomic():
        return run()


def kill_everywhere(
    work: Path,
    run: Callable[[], str],
    observe: Callable[[], object],
    leftovers: Callable[[], list[str]],
    *,
    mode: str,
    extra: tuple = (),
    tolerate: Callable[[object, object], bool] = lambda seen, before: False,
) -> tuple[int, int]:
    """Kill `run` at each of its file operations in turn; return (operations of a whole run, points tolerated).

    At every point `observe()` must equal what it was before the run or what a whole run gives
    (or be a state `tolerate(seen, before)` accepts). The next run must succeed, give what a
    whole run gives when the killed one had not taken effect, say in one line that it cleaned up
    when `leftovers()` named something, and leave nothing behind. Every point is tried before the
    test fails, and the failure lists them, torn points first.
    """
    pristine = work.parent / "pristine"
    shutil.copytree(work, pristine, symlinks=True)
    before = observe()
    run()
    after = observe()
    assert after != before
    torn: list[str] = []  # points where a reader sees neither release whole
    problems: list[str] = []  # points after which the next run does not recover
    tolerated = 0
    k = 0
    while True:
        k += 1
        restore(work, pristine)
        ops = FileOps(work, crash_at=k, mode=mode, extra=extra)
        finished = False
        with ops.active():
            try:
                run_in_savepoint(run)
                finished = True
            except (Crash, OSError, CommandError):
                pass
        where = f"{mode} at operation {k} of {ops.count} ({ops.log[k - 1][0] if len(ops.log) >= k else '-'})"
        seen = observe()
        if seen not in (before, after):
            if tolerate(seen, before):
                tolerated += 1
            else:
                torn.append(f"{where}: a reader sees {summary(seen)}, neither the old {summary(before)} "
                            f"nor the new {summary(after)}")
        if not ops.crashed:
            assert finished and seen == after, where
            break
        if finished:  # the failed operation was one the export may do without (a cleanup, an existing folder)
            if seen != after:
                problems.append(f"{where}: the export went on after the failure and wrote {summary(seen)}")
            continue
        left = leftovers()
        try:
            output = run_in_savepoint(run)
        except CommandError as exc:
            problems.append(f"{where}: the next run failed: {exc}")
            continue
        # Killed after the new release became visible (in the last fsync), the run took effect: the
        # next one then publishes one more version, or re-exports the same release.
        if seen != after and observe() != after:
            problems.append(f"{where}: the next run wrote {summary(observe())}")
        cleaned = [line for line in output.splitlines() if line.startswith(CLEANED)]
        if len(cleaned) != (1 if left else 0):
            problems.append(f"{where}: it left {left}; the next run said {cleaned}")
        if leftovers():
            problems.append(f"{where}: the next run left {leftovers()}")
    problems = torn + problems
    assert not problems, (
        f"{len(torn)} of {k} points torn, {len(problems)} problems in all, the first:\n" + "\n".join(problems[:6])
    )
    return k - 1, tolerated


def not_releases(root: Path) -> list[str]:
    """Entries of the releases folder that are not whole releases (in progress, set aside, broken)."""
    if not root.is_dir():
        return []
    listed = {path.name for path, _manifest in published_releases()}
    return sorted(p.name for p in root.iterdir() if p.name not in listed)


# ---------------------------------------------------------------------------------------------
# --publish


def test_a_publish_killed_midway_does_not_block_the_next_publish(roles, work, settings):
    root = settings.ROLEBOOK_RELEASES_DIR
    ops = FileOps(work, crash_when=lambda name, paths: name == "write" and paths[0].name == "roles.csv")
    with ops.active(), pytest.raises(Crash):
        run_in_savepoint(lambda: export("--publish"))

    output = export("--publish")

    assert "Release 1.0.0" in output and "published to" in output
    assert [path.name for path, _manifest in published_releases()] == ["1.0.0"]
    assert not_releases(root) == []


@pytest.mark.parametrize("mode", ["kill", "error"])
def test_a_first_publish_killed_at_any_point_leaves_no_release_or_a_whole_one(roles, work, settings, frozen_clock,
                                                                              mode):
    root = settings.ROLEBOOK_RELEASES_DIR
    operations, _tolerated = kill_everywhere(
        work, lambda: export("--publish"), lambda: published_view(root), lambda: not_releases(root), mode=mode
    )
    assert operations > 10


@pytest.mark.parametrize("mode", ["kill", "error"])
def test_a_second_publish_killed_at_any_point_leaves_the_first_whole_and_the_second_whole_or_absent(
    actor, roles, work, settings, frozen_clock, mode
):
    root = settings.ROLEBOOK_RELEASES_DIR
    export("--publish")
    approve_one_more(actor)
    operations, _tolerated = kill_everywhere(
        work, lambda: export("--publish"), lambda: published_view(root), lambda: not_releases(root), mode=mode
    )
    assert operations > 10
    assert (root / "1.1.0" / "CHANGES.md").is_file()


# ---------------------------------------------------------------------------------------------
# --output over an existing release


def siblings(work: Path, output: Path) -> list[str]:
    """What an export left next to its output directory."""
    return sorted(p.name for p in work.iterdir() if p != output and p.name != "published")


def output_view(work: Path, output: Path):
    """The files at `output`; when it is missing, ("aside", the files of the old release set aside)."""
    seen = files_of(output)
    if seen is not None:
        return seen
    asides = [p for p in work.iterdir() if p.name.startswith(f"{staging.ASIDE}{output.name}-")]
    return ("aside", files_of(asides[0])) if len(asides) == 1 else None


@pytest.fixture(params=["exchange", "aside"])
def swap_by(request, monkeypatch, tmp_path) -> str:
    """How an existing release is replaced: one exchange (Linux), or renamed aside then replaced."""
    if request.param == "exchange":
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        try:
            staging.exchange(tmp_path / "a", tmp_path / "b")
        except NotImplementedError:
            pytest.skip("this system or filesystem cannot exchange two directories")
    else:
        def cannot(first, second):
            raise NotImplementedError("no exchange here")

        monkeypatch.setattr(staging, "exchange", cannot)
    return request.param


@pytest.mark.parametrize("mode", ["kill", "error"])
def test_a_re_export_killed_at_any_point_leaves_the_old_release_or_the_new_one_whole(actor, roles, work,
                                                                                      frozen_clock, mode, swap_by):
    output = work / "release"
    export("--output", str(output))
    approve_one_more(actor)
    operations, tolerated = kill_everywhere(
        work,
        lambda: export("--output", str(output)),
        lambda: output_view(work, output),
        lambda: siblings(work, output),
        mode=mode,
        extra=((staging, "exchange", (0, 1)),) if swap_by == "exchange" else (),
        # Without an exchange, between its two renames the old release waits whole aside, and
        # the next run puts it back before anything else.
        tolerate=lambda seen, before: swap_by == "aside" and seen == ("aside", before),
    )
    assert operations > 10
    assert tolerated == (1 if swap_by == "aside" and mode == "kill" else 0)


def test_a_re_export_swaps_the_directories_in_one_step_where_the_system_can(roles, work, swap_by):
    output = work / "release"
    export("--output", str(output))
    ops = FileOps(work, extra=((staging, "exchange", (0, 1)),))
    with ops.active():
        export("--output", str(output))
    names = [name for name, _paths in ops.log]
    renames = [name for name in names if name in ("rename", "replace", "exchange")]
    assert renames == (["exchange"] if swap_by == "exchange" else ["exchange", "rename", "rename"])
    assert names[-1] == "rmtree"  # the old release goes last, once the new one is in place


def test_killed_runs_are_reported_in_one_line_naming_what_was_cleaned(roles, work, settings):
    root = settings.ROLEBOOK_RELEASES_DIR
    ops = FileOps(work, crash_when=lambda name, paths: name == "write" and paths[0].name == "skos.ttl")
    with ops.active(), pytest.raises(Crash):
        run_in_savepoint(lambda: export("--publish"))
    left = not_releases(root)
    assert left

    lines = [line for line in export("--publish").splitlines() if line.startswith(CLEANED)]

    assert len(lines) == 1
    assert all(name in lines[0] for name in left)
