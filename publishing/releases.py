"""Approved releases: deterministic Django fixtures of what reviewers approved, with a manifest.

A release is a directory that loads into an empty database with stock ``loaddata``::

    python manage.py loaddata release/0*.json

It holds one fixture file per model, in load order (`publishing.formats.fixtures` lists them;
``manifest.json`` names them under ``load_order``; empty files are left out, since ``loaddata``
warns about them), with natural keys only, sorted the same on both databases. Timestamps are
UTC ISO 8601 with microseconds and a ``Z``. So exporting twice, or exporting, loading into an
empty database and exporting again, gives byte-identical fixture files; only
``manifest.json``'s ``created_at`` differs.

Users never appear: the user foreign keys (``created_by``, ``content_changed_by``,
``decided_by``) are written as null, so the fixtures need no user rows. ``decided_at`` stays.
Review bookkeeping that names users (``content_editors``) and the row ``version`` are not
serialized at all.

Formats (``manifest.json``'s ``format``): ``rolebook-release/2`` names both models' review
stamps ``decided_by``/``decided_at``; ``rolebook-release/1`` called them ``approved_by``/
``approved_at`` on aliases and ``reviewed_by``/``reviewed_at`` on mappings. A format-1 release
loads into a database of its own time; ``--since`` reads one and compares it field by field as
if it were format 2.

Reviewers (``with_reviewers=True``, ``export_approved --with-reviewers``): who approved each
alias and mapping goes into a sidecar, ``reviewers.json``, which is *not* a fixture and is not
in ``load_order``. It holds one line per approved item: the model label, the item's natural
key, the reviewer's username (no e-mail, no name) and the approval time. The fixture files are
byte-identical with and without the flag, so a release loads the same way either way, and a
downstream team that wants attribution joins the sidecar on the natural key.

Formats (``formats=``, ``export_approved --format``): the fixtures above are always written;
``csv`` adds ``roles.csv``, ``aliases.csv``, ``mappings.csv`` and ``components.csv``
(``publishing.formats.csv``) and ``skos`` adds ``skos.ttl``, SKOS in Turtle (``publishing.formats.skos``).
Every file of every format is listed in ``manifest.json``'s ``files`` with its SHA-256, and every
format is deterministic: the same data gives byte-identical files. ``manifest.json`` names the
formats it holds under ``formats``; a manifest without it holds fixtures only. Its
``review_quality`` says how far reviewers agreed on double-blind samples (``roles.agreement.summary``:
Krippendorff's alpha overall, per item type and per mapping level, with n, and the samples by state).

Deltas (``since=``, ``export_approved --since``, every publish after the first): ``delta/`` holds
what changed since the earlier release, per CSV file and for SKOS, in files a machine applies
(``manage.py apply_delta``); `publishing.delta` describes them. Like CHANGES.md, ``check_release``
compares them only when given `since`.

What is published (approved aliases and mappings, every role and component) is decided in one
place, ``publishing.published``, which the REST API reads too.

Exports stream: every model is read with ``.iterator(chunk_size=…)`` over ``values_list``
joins that carry the natural keys, so memory stays flat and the query count is constant: 11
queries whatever the row count (``EXPORT_QUERIES``), plus one to open the transaction. Only
the small reference tables (taxonomy nodes, occupation codes) are held as id → parent id maps,
to find ancestors. All queries run in one transaction (REPEATABLE READ on PostgreSQL when the
export opens it), so the files agree with each other even while reviewers keep deciding.

Writing a release where people read it (``export_release``, and the release store's publish)
is crash-safe (`publishing.staging`): the release is built in a staging directory beside its
target, fsynced, and made visible with one rename, so a reader sees the old release whole or
the new one whole, wherever the export is killed. Whatever a killed export left is cleaned up
by the next one, which says so in one line (``notice``).

Modules: `publishing.files` (names, formats, versions, hashes, the manifest) is shared by the
format writers in `publishing.formats` (fixtures, CSV, SKOS) and by this module, which puts
them together; `publishing.changes` writes CHANGES.md, `publishing.delta` the delta. No format
writer imports this module.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from django.db import connection, transaction
from django.utils import timezone

from roles import agreement

from . import staging
from .changes import changes_markdown
from .delta import write_delta
from .files import (
    CHANGES,
    CSV,
    DELTA_DIR,
    FIXTURES,
    FORMAT,
    MANIFEST,
    REVIEWERS,
    SEMVER_RE,
    SKOS,
    ReleaseError,
    is_delta_file,
    json_value,
    next_version,
    read_manifest,
    release_defects,
    release_formats,
    sha256_file,
)
from .formats.csv import COLUMNS, write_csv_files
from .formats.fixtures import PARTS, write_fixture_files
from .formats.skos import SKOS_FILE, write_skos_file
from .published import published_reference_ids


def write_release_files(
    directory: Path,
    *,
    with_reviewers: bool = False,
    progress: Callable[[str], None] | None = None,
    formats: Iterable[str] = (FIXTURES,),
    quality: dict | None = None,
) -> tuple[list[str], dict[str, int], dict[str, dict]]:
    """Write the fixture files (and reviewers.json), then the other `formats`, into `directory`.

    Returns the fixtures' load order, the counts per model and the manifest entry of every file.
    Given a `quality` dict, fills it with the review quality (roles.agreement.summary) read in the
    same snapshot as the files.
    Every format is read in one transaction, so the files agree with each other. Queries: the
    fixtures' EXPORT_QUERIES, plus formats.csv.CSV_QUERIES and formats.skos.SKOS_QUERIES.
    Raises ReleaseError when the data changed between the export's queries, or for an unknown format.
    """
    formats = release_formats(formats)
    report = progress or (lambda message: None)
    outermost = not connection.in_atomic_block
    # One transaction (no savepoint: nothing is written), so every query sees the same data.
    with transaction.atomic(savepoint=False):
        if outermost and connection.vendor == "postgresql":
            # Repeatable read: all queries below see one snapshot (must be the first statement).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        node_ids, occupation_ids = published_reference_ids()
        load_order, counts, files = write_fixture_files(
            directory,
            node_ids=node_ids,
            occupation_ids=occupation_ids,
            with_reviewers=with_reviewers,
            progress=report,
        )
        if CSV in formats:
            files.update(write_csv_files(directory, progress=report))
        if SKOS in formats:
            files.update(write_skos_file(directory, node_ids=node_ids, occupation_ids=occupation_ids, progress=report))
        if quality is not None:
            quality.update(agreement.summary(agreement.figures()))
    return load_order, counts, files


def write_release(
    directory: Path | str,
    *,
    version: str | None = None,
    since: Path | str | None = None,
    with_reviewers: bool = False,
    progress: Callable[[str], None] | None = None,
    now: dt.datetime | None = None,
    formats: Iterable[str] | None = None,
) -> dict:
    """Write a complete release into the empty or new `directory`; return its manifest.

    `formats` defaults to every format (FORMATS); fixtures are always written. With `since`,
    CHANGES.md and the delta/ folder against it (publishing.delta) are written too. Queries: those of
    write_release_files, plus roles.agreement.QUERIES for the manifest's ``review_quality``.
    Raises ReleaseError for a bad version or format, an unreadable `since` release, or changing data.
    """
    formats = release_formats(formats)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    since_manifest = read_manifest(since) if since else None
    since_version = since_manifest.get("version") if since_manifest else None
    version = version or next_version(since_version)
    if not SEMVER_RE.match(version):
        raise ReleaseError(f"Version {version!r} is not a semantic version such as 1.2.0.")
    quality: dict = {}
    load_order, counts, files = write_release_files(
        directory, with_reviewers=with_reviewers, progress=progress, formats=formats, quality=quality
    )
    sha256 = {name: info["sha256"] for name, info in files.items()}
    if with_reviewers:
        sha256[REVIEWERS] = sha256_file(directory / REVIEWERS)
    if since_manifest is not None:
        text = changes_markdown(Path(since), since_manifest, directory, files, version=version)
        (directory / CHANGES).write_text(text, encoding="utf-8")
        sha256[CHANGES] = sha256_file(directory / CHANGES)
        # The delta against `since` (publishing.delta): listed under files like the data files.
        delta = write_delta(Path(since), since_manifest, directory, files, progress=progress)
        files.update(delta)
        sha256.update({name: info["sha256"] for name, info in delta.items()})
    manifest = {
        "counts": counts,
        "created_at": json_value((now or timezone.now()).replace(microsecond=0)),
        "files": files,
        "format": FORMAT,
        "formats": list(formats),
        "load_order": load_order,
        "loaddata": "python manage.py loaddata " + " ".join(load_order),
        # How far reviewers agree on double-blind samples (roles.agreement.summary): no reviewer names.
        "review_quality": quality,
        "sha256": sha256,
        "since": since_version,
        "version": version,
        "with_reviewers": with_reviewers,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def release_file_names() -> set[str]:
    """Every file name a release directory may hold, whatever its formats."""
    return {part.filename for part in PARTS} | {MANIFEST, CHANGES, REVIEWERS, SKOS_FILE, DELTA_DIR} | set(COLUMNS)


def files_of_format(manifest: dict, fmt: str) -> list[str]:
    """The data files of one format in a release, in manifest order (fixtures: in load order).

    A manifest without ``formats`` (written before CSV and SKOS existed) holds fixtures only.
    """
    if fmt == FIXTURES:
        return list(manifest["load_order"])
    return [name for name, info in sorted((manifest.get("files") or {}).items()) if info.get("format") == fmt]


def zip_files(fileobj: IO[bytes], directory: Path, names: Iterable[str], folder: str) -> None:
    """Write the files `names` of `directory` into a zip in `fileobj`, under `folder`/, deterministically.

    Entries keep the given order and carry a fixed timestamp and mode, so the same files give the
    same zip bytes.
    """
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(f"{folder}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(Path(directory) / name, "rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def export_release(
    output: Path | str,
    *,
    version: str | None = None,
    since: Path | str | None = None,
    with_reviewers: bool = False,
    progress: Callable[[str], None] | None = None,
    formats: Iterable[str] | None = None,
    notice: Callable[[str], None] | None = None,
) -> dict:
    """Write a release to `output`, replacing an earlier release there; return the manifest.

    The release is built in a staging directory beside `output` and swapped in whole
    (`publishing.staging`), so `since` may be `output` itself and a failed or killed export
    leaves the old release whole. What an earlier killed export left there is cleaned up first
    and reported through `notice`, in one line. Raises ReleaseError when `output` holds files
    that are not a release's.
    """
    output = Path(output)
    if output.is_symlink():
        # The release goes where the link points, as files written through it would; the link stays.
        output = output.resolve()
    if output.exists() and not output.is_dir():
        raise ReleaseError(f"{output} exists and is not a directory.")
    cleaned = staging.sweep_leftovers(output.parent, name=output.name, whole=lambda path: not release_defects(path))
    if cleaned and notice is not None:
        notice(staging.cleanup_notice(cleaned))
    if output.exists():
        known = release_file_names()
        strangers = sorted(p.name for p in output.iterdir() if p.name not in known)
        if strangers:
            raise ReleaseError(
                f"{output} holds files that are not part of a release ({', '.join(strangers[:5])}): "
                "choose an empty directory."
            )
    staging.ensure_directory(output.parent)
    with staging.staging_directory(output) as building:
        manifest = write_release(
            building, version=version, since=since, with_reviewers=with_reviewers, progress=progress, formats=formats
        )
        staging.fsync_tree(building)
        if output.exists():
            staging.swap(building, output)
        else:
            try:
                staging.place(building, output)
            except FileExistsError:  # another export put one there meanwhile
                staging.swap(building, output)
    return manifest


def _comparable(manifest: dict, *, with_delta: bool) -> dict:
    """The parts of a manifest that depend on the data only (not on time or version).

    The delta files depend on the earlier release as well: they count only `with_delta`.
    """
    found = {key: manifest.get(key) for key in ("counts", "files", "format", "load_order")}
    found["files"] = {name: info for name, info in (found["files"] or {}).items()
                      if with_delta or not is_delta_file(name)}
    return found


def check_release(
    directory: Path | str,
    *,
    since: Path | str | None = None,
    with_reviewers: bool = False,
) -> list[str]:
    """Return what differs between the release in `directory` and a fresh export; empty if current.

    The creation time and version are ignored; the files of the formats the release holds are
    compared byte for byte, and CHANGES.md with the delta/ files and reviewers.json too when
    `since` or `with_reviewers` ask for them. Raises ReleaseError when `directory` is not a release.
    """
    directory = Path(directory)
    existing = read_manifest(directory)
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        fresh = write_release(
            Path(tmp),
            version=existing.get("version") or None,
            since=since,
            with_reviewers=with_reviewers,
            formats=existing.get("formats") or (FIXTURES,),
        )
        problems = []
        names = set(fresh["load_order"]) | set(existing["load_order"])
        names |= set(fresh["files"]) | set(existing.get("files") or {})
        names |= {REVIEWERS} if with_reviewers else set()
        names |= {CHANGES} if since else set()
        if not since:
            names = {name for name in names if not is_delta_file(name)}
        for name in sorted(names):
            ours, theirs = Path(tmp) / name, directory / name
            if not theirs.exists():
                problems.append(f"{name} is missing")
            elif not ours.exists():
                problems.append(f"{name} should not be there")
            elif sha256_file(ours) != sha256_file(theirs):
                problems.append(f"{name} differs")
        with_delta = bool(since)
        if not problems and _comparable(fresh, with_delta=with_delta) != _comparable(existing, with_delta=with_delta):
            problems.append(f"{MANIFEST} differs (counts, files or load order)")
        return problems


def write_release_zip(
    fileobj: IO[bytes],
    *,
    version: str | None = None,
    with_reviewers: bool = False,
    formats: Iterable[str] | None = None,
) -> dict:
    """Write a release as a zip into `fileobj` (same files as the command); return the manifest.

    Entries sit in ``rolebook-release-<version>/`` with a fixed timestamp, so the zip of
    unchanged data differs only in manifest.json's created_at.
    """
    with tempfile.TemporaryDirectory(prefix="release-zip-") as tmp:
        manifest = write_release(Path(tmp), version=version, with_reviewers=with_reviewers, formats=formats)
        names = sorted(path.name for path in Path(tmp).iterdir())
        zip_files(fileobj, Path(tmp), names, f"rolebook-release-{manifest['version']}")
    return manifest


def build_release_zip(
    *, version: str | None = None, with_reviewers: bool = False, formats: Iterable[str] | None = None
) -> bytes:
    """Return a release as zip bytes (see write_release_zip)."""
    import io

    buffer = io.BytesIO()
    write_release_zip(buffer, version=version, with_reviewers=with_reviewers, formats=formats)
    return buffer.getvalue()

