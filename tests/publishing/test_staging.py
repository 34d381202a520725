"""Crash-safe directories: a staging directory beside the target, one rename in, old data removed last."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from publishing import staging


def make(directory: Path, files: dict[str, bytes]) -> Path:
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return directory


def contents(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def whole(path: Path) -> bool:
    return (path / "manifest.json").exists()


def test_a_staging_directory_is_a_locked_sibling_with_the_default_mode(tmp_path):
    target = tmp_path / "release"
    reference = tmp_path / "plain"
    reference.mkdir()
    with staging.staging_directory(target) as building:
        assert building.parent == tmp_path
        assert staging.leftover_pattern(staging.STAGING, "release").match(building.name)
        assert stat.S_IMODE(building.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
        assert staging.is_held(building) is True
    assert not building.exists()


def test_a_failed_build_leaves_no_staging_directory(tmp_path):
    with pytest.raises(RuntimeError), staging.staging_directory(tmp_path / "release") as building:
        (building / "half.json").write_text("[")
        raise RuntimeError("export failed")
    assert list(tmp_path.iterdir()) == []


def test_place_makes_a_new_directory_visible_and_never_overwrites_one(tmp_path):
    target = tmp_path / "1.0.0"
    new = make(tmp_path / ".staging-1.0.0-000000000000", {"manifest.json": b"new"})
    staging.place(new, target)
    assert contents(target) == {"manifest.json": b"new"} and not new.exists()

    other = make(tmp_path / ".staging-1.0.0-111111111111", {"manifest.json": b"other"})
    with pytest.raises(FileExistsError):
        staging.place(other, target)
    assert contents(target) == {"manifest.json": b"new"}
    assert contents(other) == {"manifest.json": b"other"}


@pytest.mark.parametrize("can_exchange", [True, False])
def test_swap_replaces_a_full_directory_and_removes_the_old_one_last(tmp_path, monkeypatch, can_exchange):
    target = make(tmp_path / "release", {"manifest.json": b"old", "roles.csv": b"old"})
    new = make(tmp_path / ".staging-release-000000000000", {"manifest.json": b"new"})
    if not can_exchange:
        monkeypatch.setattr(staging, "exchange", lambda a, b: (_ for _ in ()).throw(NotImplementedError()))
    else:
        try:
            staging.exchange(new, target)
            staging.exchange(new, target)  # and back
        except NotImplementedError:
            pytest.skip("this system or filesystem cannot exchange two directories")

    staging.swap(new, target)

    assert contents(target) == {"manifest.json": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_without_an_exchange_a_failed_rename_puts_the_old_directory_back(tmp_path, monkeypatch):
    target = make(tmp_path / "release", {"manifest.json": b"old"})
    new = make(tmp_path / ".staging-release-000000000000", {"manifest.json": b"new"})
    monkeypatch.setattr(staging, "exchange", lambda a, b: (_ for _ in ()).throw(NotImplementedError()))
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == new:
            raise OSError(5, "I/O error")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="I/O error"):
        staging.swap(new, target)
    assert contents(target) == {"manifest.json": b"old"}


def test_the_sweep_removes_staging_nobody_holds_and_leaves_a_running_one(tmp_path):
    target = tmp_path / "release"
    dead = make(tmp_path / ".staging-release-0123456789ab", {"manifest.json": b"half"})
    make(tmp_path / ".staging-release-2-0123456789ab", {})  # another target's: not this sweep's
    with staging.staging_directory(target) as running:
        done = staging.sweep_leftovers(tmp_path, name="release", whole=whole)
        assert running.exists()
    assert done == [f"removed {dead.name}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-release-2-0123456789ab"]


def test_the_sweep_puts_an_old_release_back_where_no_new_one_arrived(tmp_path):
    aside = make(tmp_path / ".old-release-0123456789ab", {"manifest.json": b"old"})
    done = staging.sweep_leftovers(tmp_path, name="release", whole=whole)
    assert done == [f"put {aside.name} back as release"]
    assert contents(tmp_path / "release") == {"manifest.json": b"old"}


def test_the_sweep_removes_an_old_release_once_a_whole_new_one_stands(tmp_path):
    make(tmp_path / "release", {"manifest.json": b"new"})
    make(tmp_path / ".old-release-0123456789ab", {"manifest.json": b"old"})
    assert staging.sweep_leftovers(tmp_path, name="release", whole=whole) == ["removed .old-release-0123456789ab"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["release"]


def test_the_sweep_keeps_an_old_release_while_what_stands_is_not_whole(tmp_path):
    make(tmp_path / "release", {"roles.csv": b"?"})
    make(tmp_path / ".old-release-0123456789ab", {"manifest.json": b"old"})
    assert staging.sweep_leftovers(tmp_path, name="release", whole=whole) == []
    assert (tmp_path / ".old-release-0123456789ab").exists()


def test_the_cleanup_notice_is_one_line():
    line = staging.cleanup_notice(["removed .staging-1.1.0-0123456789ab", "removed the empty 1.1.0"])
    assert "\n" not in line
    assert line == (
        "Cleaned up after an interrupted export: removed .staging-1.1.0-0123456789ab; removed the empty 1.1.0."
    )
