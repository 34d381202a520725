"""What every release file and format shares: names, formats, versions, values, hashes, the manifest.

The format writers (`publishing.formats`), the release builder (`publishing.releases`), the
release store and the REST API all import this module and it imports none of them, so the
modules of a release depend one way: formats → files, releases → formats and files.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.utils import timezone

from framework.hashing import sha256_file  # noqa: F401 - re-exported for the formats

FORMAT = "rolebook-release/2"
# Field names of earlier formats, per model label: old name → today's name.
FORMAT_RENAMES = {
    "rolebook-release/1": {
        "roles.titlealias": {"approved_by": "decided_by", "approved_at": "decided_at"},
        "roles.classificationmapping": {"reviewed_by": "decided_by", "reviewed_at": "decided_at"},
    },
}
MANIFEST = "manifest.json"
CHANGES = "CHANGES.md"
REVIEWERS = "reviewers.json"
# The folder of a release's delta against the release before it (`publishing.delta`), and the
# ``format`` of its files in the manifest. The only folder a release holds.
DELTA_DIR = "delta"
DELTA = "delta"
# The formats a release can hold, in the order they are written. Fixtures are always written:
# counts, CHANGES.md and --check read them.
FIXTURES, CSV, SKOS = "fixtures", "csv", "skos"
FORMATS = (FIXTURES, CSV, SKOS)
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)


class ReleaseError(Exception):
    """A release cannot be written, read or compared; the message says what to do."""


def json_value(value: Any) -> Any:
    """Return `value` as a JSON-ready value that `loaddata` reads back to the same value."""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(dt.UTC)
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def dumps_line(obj: dict) -> str:
    """One object on one line, keys sorted: the fixed format of every release file."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def release_formats(formats: Iterable[str] | None) -> tuple[str, ...]:
    """Return `formats` checked and in FORMATS order, fixtures always first; None means every format.

    Raises ReleaseError naming an unknown format.
    """
    wanted = set(FORMATS if formats is None else formats)
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ReleaseError(f"Unknown release format {', '.join(unknown)}: choose from {', '.join(FORMATS)}.")
    return tuple(f for f in FORMATS if f in wanted or f == FIXTURES)


def next_version(since_version: str | None) -> str:
    """Return the next minor version after `since_version`, or 1.0.0 for a first release.

    Raises ReleaseError when `since_version` is not X.Y.Z.
    """
    if not since_version:
        return "1.0.0"
    match = SEMVER_RE.match(since_version)
    if not match:
        raise ReleaseError(f"The earlier release's version {since_version!r} is not X.Y.Z: give --version.")
    return f"{match[1]}.{int(match[2]) + 1}.0"


def read_manifest(directory: Path | str) -> dict:
    """Return a release's manifest; raises ReleaseError when `directory` is not a release."""
    path = Path(directory) / MANIFEST
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError as exc:
        raise ReleaseError(f"{directory} is not a release: it has no {MANIFEST}.") from exc
    except (OSError, ValueError) as exc:
        raise ReleaseError(f"Cannot read {path}: {exc}") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("load_order"), list):
        raise ReleaseError(f"{path} has no load_order: is it a Rolebook release?")
    return manifest


def listed_files(manifest: dict) -> dict[str, str]:
    """Every file a manifest lists, with the SHA-256 it gives for it."""
    hashes = {name: info.get("sha256") for name, info in (manifest.get("files") or {}).items()}
    hashes.update(manifest.get("sha256") or {})
    return hashes


def inside_release(name: str) -> bool:
    """True for a file name a manifest may list: a plain name, or one inside the delta folder."""
    if not isinstance(name, str):
        return False
    parts = name.split("/")
    if len(parts) == 2 and parts[0] == DELTA_DIR:
        parts = parts[1:]
    return len(parts) == 1 and parts[0] not in ("", ".", "..") and os.sep not in parts[0] and "\\" not in parts[0]


def is_delta_file(name: str) -> bool:
    """True for a file of the delta folder, named as the manifest names it (``delta/roles.csv``)."""
    return name.startswith(DELTA_DIR + "/")


# Directory → (what its files looked like on disk, the problems found then); see damaged_files().
_checked: dict[str, tuple[tuple, list[str]]] = {}


def damaged_files(directory: Path, manifest: dict) -> list[str]:
    """Return what is wrong with the files `manifest` lists in `directory`: missing or a wrong SHA-256.

    Empty when every listed file is there with the hash the manifest gives. A directory is hashed
    once per process and then only while its files' identity, size or modification time change
    (one stat per file), so listing releases on every API request stays cheap; a change that
    keeps all three (a rewrite in place within the same nanosecond) goes unseen until restart.
    """
    hashes = listed_files(manifest)
    if any(not isinstance(value, str) for value in hashes.values()) or not all(map(inside_release, hashes)):
        return [f"{MANIFEST} lists files it gives no SHA-256 for, or paths outside the release"]
    signature = []
    missing = []
    for name in sorted(hashes):
        try:
            stat = os.stat(Path(directory) / name)
        except FileNotFoundError:
            missing.append(f"{name} is missing")
            continue
        signature.append((name, stat.st_ino, stat.st_size, stat.st_mtime_ns))
    if missing:
        return missing
    key = str(Path(directory).resolve())
    signature_key = (tuple(signature), tuple(sorted(hashes.items())))
    cached = _checked.get(key)
    if cached is not None and cached[0] == signature_key:
        return list(cached[1])
    problems = [f"{name} differs from its SHA-256" for name in sorted(hashes)
                if sha256_file(Path(directory) / name) != hashes[name]]
    _checked[key] = (signature_key, problems)
    return list(problems)


def release_defects(directory: Path) -> list[str]:
    """Return what keeps `directory` from being a whole release; empty when it is one.

    A whole release has a readable manifest.json and every file it lists, with its SHA-256.
    """
    try:
        manifest = read_manifest(directory)
    except ReleaseError:
        return [f"no readable {MANIFEST}"]
    return damaged_files(Path(directory), manifest)
