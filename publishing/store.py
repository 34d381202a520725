"""Published releases: immutable release directories under ROLEBOOK_RELEASES_DIR, one per version.

``manage.py export_approved --publish`` writes ``<ROLEBOOK_RELEASES_DIR>/<version>/`` (every format
by default, CHANGES.md against the latest published release); the REST API lists them and serves
their files. A published release is never rewritten: publishing a version that exists is refused.
Published releases never hold reviewers.json (it names reviewers; the API serves everyone).

A version directory appears whole or not at all: it is built in a staging directory in the same
folder and renamed into place (`publishing.staging`). Only whole releases count: a directory
whose manifest is missing, names another version, or lists files that are missing or whose
SHA-256 differs is never listed or served. Publishing cleans the folder first: it removes
staging directories no running export holds and empty version directories, and sets other
broken version directories aside as ``.broken-<version>-<hex>`` (nothing in them is deleted),
so none of them blocks the next publish.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

from django.conf import settings

from roles.services import record_publication

from . import staging
from .files import MANIFEST, SEMVER_RE, ReleaseError, damaged_files, next_version, read_manifest
from .published import published_aliases, published_mappings, published_roles
from .releases import write_release

BROKEN = ".broken-"
# Unlocked build directories named as tempfile.mkdtemp(prefix=".release-") names them: no export
# builds one here now, so one found here was left by a killed export.
LEGACY_STAGING_RE = re.compile(r"^\.release-[a-z0-9_]{8}$")


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


def _whole(path: Path) -> tuple[dict | None, str]:
    """Return (manifest, "") for the whole published release at `path`, else (None, what is wrong)."""
    if not path.is_dir():
        return None, "not a directory"
    try:
        manifest = read_manifest(path)
    except ReleaseError:
        return None, f"no readable {MANIFEST}"
    if manifest.get("version") != path.name:
        return None, f"its {MANIFEST} names version {manifest.get('version')!r}"
    damaged = damaged_files(path, manifest)
    if damaged:
        return None, "; ".join(damaged[:3]) + ("; …" if len(damaged) > 3 else "")
    return manifest, ""


def published_releases() -> list[tuple[Path, dict]]:
    """Every whole published release as (directory, manifest), newest version first.

    Anything else in the folder is left out (see the module docstring); nothing is changed.
    """
    root = releases_dir()
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        if not SEMVER_RE.match(path.name):
            continue
        manifest, _problem = _whole(path)
        if manifest is not None:
            found.append((path, manifest))
    return sorted(found, key=lambda pair: version_key(pair[1]["version"]), reverse=True)


def published_release(version: str) -> tuple[Path, dict]:
    """The whole published release `version` as (directory, manifest); raises ReleaseError when there is none."""
    if not SEMVER_RE.match(version):
        raise ReleaseError(f"{version!r} is not a semantic version such as 1.2.0.")
    path = releases_dir() / version
    manifest, _problem = _whole(path)
    if manifest is None:
        raise ReleaseError(f"No release {version} is published.")
    return path, manifest


def sweep_releases() -> list[str]:
    """Clear the releases folder of what interrupted publishes left; return one phrase per thing done.

    Removes staging directories no running export holds and empty version directories; sets
    aside version directories that are not whole releases, under ``.broken-<version>-<hex>``.
    """
    root = releases_dir()
    if not root.is_dir():
        return []
    done = staging.sweep_leftovers(root, name=None, whole=lambda path: _whole(path)[0] is not None)
    for path in sorted(root.iterdir()):
        if LEGACY_STAGING_RE.match(path.name) and path.is_dir():
            shutil.rmtree(path)
            done.append(f"removed {path.name}")
            continue
        if not SEMVER_RE.match(path.name):
            continue
        manifest, problem = _whole(path)
        if manifest is not None:
            continue
        if path.is_dir() and not any(path.iterdir()):
            os.rmdir(path)
            staging.fsync_directory(root)
            done.append(f"removed the empty {path.name}")
        else:
            aside = staging.set_aside(path, BROKEN)
            done.append(f"set {path.name} aside as {aside.name} ({problem})")
    return done


def published_ids() -> dict[str, list[int]]:
    """The pks of the roles, aliases and mappings a release holds now."""
    return {
        "role": list(published_roles().values_list("pk", flat=True)),
        "alias": list(published_aliases().values_list("pk", flat=True)),
        "mapping": list(published_mappings().values_list("pk", flat=True)),
    }


def publish_release(
    *,
    version: str | None = None,
    since: Path | str | None = None,
    formats: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> tuple[Path, dict]:
    """Write a new published release; return its directory and manifest.

    `since` defaults to the latest published release, `version` to the next minor after it
    (1.0.0 for the first). What interrupted publishes left is cleaned up first (sweep_releases)
    and reported through `notice` in one line. Raises ReleaseError when that version is already
    published, also when a concurrent publish of the same version finishes first.
    """
    root = releases_dir()
    staging.ensure_directory(root)
    cleaned = sweep_releases()
    if cleaned and notice is not None:
        notice(staging.cleanup_notice(cleaned))
    if since is None:
        latest = published_releases()
        since = latest[0][0] if latest else None
    if version is None:
        version = next_version(read_manifest(since)["version"] if since else None)
    if not SEMVER_RE.match(version):
        raise ReleaseError(f"Version {version!r} is not a semantic version such as 1.2.0.")
    target = root / version
    already = ReleaseError(
        f"Release {version} is already published in {target}: published releases are never rewritten. "
        "Give another --version."
    )
    if target.exists():
        raise already
    with staging.staging_directory(target) as building:
        manifest = write_release(building, version=version, since=since, formats=formats, progress=progress)
        staging.fsync_tree(building)
        # Before the release is placed: from now on its roles, aliases and mappings are deprecated, never deleted.
        record_publication(version, published_ids())
        try:
            staging.place(building, target)  # claims the version: a concurrent publish of the same one fails here
        except FileExistsError:
            raise already from None
    return target, manifest
