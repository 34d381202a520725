"""Published releases: immutable release directories under ROLEBOOK_RELEASES_DIR, one per version.

``manage.py export_approved --publish`` writes ``<ROLEBOOK_RELEASES_DIR>/<version>/`` (every format
by default, CHANGES.md against the latest published release); the REST API lists them and serves
their files. A published release is never rewritten: publishing a version that exists is refused.
Published releases never hold reviewers.json (it names reviewers; the API serves everyone).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

from .releases import SEMVER_RE, ReleaseError, export_release, next_version, read_manifest


def releases_dir() -> Path:
    """Where published releases live (settings.ROLEBOOK_RELEASES_DIR)."""
    return Path(settings.ROLEBOOK_RELEASES_DIR)


def version_key(version: str) -> tuple:
    """Sort key of a semantic version: 1.10.0 after 1.9.0, 1.0.0-rc.1 before 1.0.0."""
    match = SEMVER_RE.match(version)
    if not match:
        return (-1, -1, -1, 0, version)
    core = version.split("+", 1)[0]
    pre = core.split("-", 1)[1] if "-" in core else ""
    return (int(match[1]), int(match[2]), int(match[3]), 0 if pre else 1, pre)


def published_releases() -> list[tuple[Path, dict]]:
    """Every published release as (directory, manifest), newest version first.

    A folder that is not a release, or whose manifest names another version, is left out.
    """
    root = releases_dir()
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if not path.is_dir() or not SEMVER_RE.match(path.name):
            continue
        try:
            manifest = read_manifest(path)
        except ReleaseError:
            continue
        if manifest.get("version") == path.name:
            found.append((path, manifest))
    return sorted(found, key=lambda pair: version_key(pair[1]["version"]), reverse=True)


def published_release(version: str) -> tuple[Path, dict]:
    """The published release `version` as (directory, manifest); raises ReleaseError when there is none."""
    if not SEMVER_RE.match(version):
        raise ReleaseError(f"{version!r} is not a semantic version such as 1.2.0.")
    path = releases_dir() / version
    try:
        manifest = read_manifest(path)
    except ReleaseError:
        raise ReleaseError(f"No release {version} is published.") from None
    if manifest.get("version") != version:
        raise ReleaseError(f"No release {version} is published.")
    return path, manifest


def publish_release(
    *,
    version: str | None = None,
    since: Path | str | None = None,
    formats: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Path, dict]:
    """Write a new published release; return its directory and manifest.

    `since` defaults to the latest published release, `version` to the next minor after it
    (1.0.0 for the first). Raises ReleaseError when that version is already published.
    """
    if since is None:
        latest = published_releases()
        since = latest[0][0] if latest else None
    if version is None:
        version = next_version(read_manifest(since)["version"] if since else None)
    if not SEMVER_RE.match(version):
        raise ReleaseError(f"Version {version!r} is not a semantic version such as 1.2.0.")
    target = releases_dir() / version
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        target.mkdir()  # claims the version: a concurrent publish of the same one fails here
    except FileExistsError:
        raise ReleaseError(
            f"Release {version} is already published in {target}: published releases are never rewritten. "
            "Give another --version."
        ) from None
    try:
        manifest = export_release(target, version=version, since=since, formats=formats, progress=progress)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target, manifest
