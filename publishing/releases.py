"""Approved releases: deterministic Django fixtures of what reviewers approved, with a manifest.

A release is a directory that loads into an empty database with stock ``loaddata``::

    python manage.py loaddata release/0*.json

It holds one fixture file per model, in load order (``manifest.json`` lists them under
``load_order``; empty files are left out, since ``loaddata`` warns about them):

    01_levels.json                 levels that roles use
    02_occupation_codes.json       codes that approved mappings and exported nodes reference, with ancestors
    03_taxonomy_nodes.json         nodes that roles use, with their ancestors
    04_roles.json, 05_components.json
    06_title_aliases.json          approved aliases only
    07_classification_mappings.json  approved mappings only

Every object is written with natural keys only (no ``pk``), objects sorted by natural key in
code-point order (the same on SQLite and PostgreSQL: the sort uses a binary collation), keys
sorted, one object per line. Timestamps are UTC ISO 8601 with microseconds and a ``Z``. So
exporting twice, or exporting, loading into an empty database and exporting again, gives
byte-identical fixture files; only ``manifest.json``'s ``created_at`` differs.

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
(``review.release_csv``) and ``skos`` adds ``skos.ttl``, SKOS in Turtle (``review.release_skos``).
Every file of every format is listed in ``manifest.json``'s ``files`` with its SHA-256, and every
format is deterministic: the same data gives byte-identical files. ``manifest.json`` names the
formats it holds under ``formats``; a manifest without it holds fixtures only.

What is published (approved aliases and mappings, every role and component) is decided in one
place, ``review.published``, which the REST API reads too.

Exports stream: every model is read with ``.iterator(chunk_size=…)`` over ``values_list``
joins that carry the natural keys, so memory stays flat and the query count is constant: 11
queries whatever the row count (``EXPORT_QUERIES``), plus one to open the transaction. Only
the small reference tables (taxonomy nodes, occupation codes) are held as id → parent id maps,
to find ancestors. All queries run in one transaction (REPEATABLE READ on PostgreSQL when the
export opens it), so the files agree with each other even while reviewers keep deciding.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import FilteredRelation, Q
from django.utils import timezone

from roles.models import ClassificationMapping, Component, Role, TitleAlias
from taxonomy.models import Level, OccupationCode, TaxonomyNode

from .published import binary_order, published_querysets, published_reference_ids, published_rule

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
CHUNK_SIZE = 500
# The formats a release can hold, in the order they are written. Fixtures are always written:
# counts, CHANGES.md and --check read them.
FIXTURES, CSV, SKOS = "fixtures", "csv", "skos"
FORMATS = (FIXTURES, CSV, SKOS)
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
# The queries one export runs, in order; the count does not grow with the data. An export that
# opens its own transaction adds one statement: BEGIN on SQLite, SET TRANSACTION on PostgreSQL.
EXPORT_QUERIES = (
    "taxonomy nodes: id, parent, default SOC (to find ancestors)",
    "roles: distinct node ids",
    "occupation codes: id, parent (to find ancestors)",
    "approved mappings: distinct occupation ids",
    "levels used by roles",
    "occupation codes, streamed",
    "taxonomy nodes, streamed",
    "roles, streamed",
    "components, streamed",
    "approved aliases, streamed",
    "approved mappings, streamed",
)


class ReleaseError(Exception):
    """A release cannot be written, read or compared; the message says what to do."""


@dataclass(frozen=True)
class Part:
    """One fixture file: the model, its file name and its natural key as field paths."""

    model: type[models.Model]
    filename: str
    natural_key: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower


# Load order. natural_key lists the same values, in the same order, as model.natural_key().
PARTS: tuple[Part, ...] = (
    Part(Level, "01_levels.json", ("code",)),
    Part(OccupationCode, "02_occupation_codes.json", ("scheme", "code")),
    Part(TaxonomyNode, "03_taxonomy_nodes.json", ("code",)),
    Part(Role, "04_roles.json", ("code",)),
    Part(Component, "05_components.json", ("role__code", "kind", "text")),
    Part(TitleAlias, "06_title_aliases.json", ("role__code", "alias")),
    Part(ClassificationMapping, "07_classification_mappings.json", ("role__code", "scheme", "code")),
)
PART_BY_MODEL = {part.model: part for part in PARTS}
# Who decided, per reviewed model: (user foreign key, time field). Only reviewers.json names them.
REVIEW_FIELDS = {TitleAlias: ("decided_by", "decided_at"), ClassificationMapping: ("decided_by", "decided_at")}


def can_export_release(user) -> bool:
    """Return True for reviewers (permission review.review_alias) and superusers."""
    return bool(user and user.is_active and (user.is_superuser or user.has_perm("review.review_alias")))


# ---------------------------------------------------------------------------------------------
# Serialization


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


def _binary(path: str):
    """Order by `path` in code-point order on every backend (PostgreSQL's locale order differs)."""
    return binary_order(path).asc()


@dataclass(frozen=True)
class _Column:
    name: str
    paths: tuple[str, ...]  # one path for a value; the natural key paths for a foreign key
    kind: str  # "value", "fk" or "user" (a user foreign key: always null)


def _columns(model: type[models.Model]) -> list[_Column]:
    """The serialized fields of `model`, as Django's serializer picks them (local, serializable)."""
    user_model = settings.AUTH_USER_MODEL.lower()
    columns = []
    for field in model._meta.local_fields:
        if not field.serialize:
            continue
        if field.is_relation:
            related = field.related_model
            if related._meta.label_lower == user_model:
                columns.append(_Column(field.name, (), "user"))
            else:
                keys = PART_BY_MODEL[related].natural_key
                columns.append(_Column(field.name, tuple(f"{field.name}__{k}" for k in keys), "fk"))
        else:
            columns.append(_Column(field.name, (field.attname,), "value"))
    return columns


# Components, aliases and mappings are read from their role through a LEFT JOIN whose ON clause
# holds the published rule (review.published). SQLite then walks the roles in code order (their
# unique index) and sorts only within a role, instead of sorting every row in this process's
# memory; PostgreSQL sorts on the server either way. The status filter stays in SQL.
CHILDREN: dict[type[models.Model], tuple[str, Q]] = {
    Component: ("components", Q()),
    TitleAlias: ("aliases", published_rule(TitleAlias, "aliases")),
    ClassificationMapping: ("mappings", published_rule(ClassificationMapping, "mappings")),
}
CHILD = "release_item"


def _path(part: Part, path: str) -> str:
    """Translate a field path of `part`'s model into the query it is read with."""
    if part.model not in CHILDREN:
        return path
    if path.startswith("role__"):
        return path[len("role__") :]
    return f"{CHILD}__{path}"


def _values(
    part: Part, queryset: models.QuerySet, extra: tuple[str, ...] = ()
) -> tuple[list[_Column], list[str], models.QuerySet]:
    """Return the columns, their value paths and the ordered values_list query of one part.

    For a child part (component, alias, mapping) the first extra value is the child's pk, None
    for a role without such children (the LEFT JOIN's empty side): skip those rows.
    """
    columns = _columns(part.model)
    paths = [p for c in columns for p in c.paths]
    missing = [p for p in part.natural_key if p not in paths]
    if missing:
        raise ReleaseError(f"{part.label}: natural key paths {missing} are not serialized fields.")
    if part.model in CHILDREN:
        relation, condition = CHILDREN[part.model]
        queryset = Role.objects.annotate(**{CHILD: FilteredRelation(relation, condition=condition)})
        extra = ("pk", *extra)
    qs = queryset.order_by(*(_binary(_path(part, p)) for p in part.natural_key)).values_list(
        *(_path(part, p) for p in [*paths, *extra])
    )
    return columns, paths, qs


def export_querysets() -> list[tuple[Part, models.QuerySet]]:
    """The values_list query each part streams, in load order (for benchmarks and inspection)."""
    querysets = _querysets()
    return [(part, _values(part, querysets[part.model])[2]) for part in PARTS]


def _stream(
    part: Part, queryset: models.QuerySet, extra: tuple[str, ...] = ()
) -> Iterator[tuple[tuple, dict, tuple]]:
    """Yield (natural key, fixture object, extra values) per row, in natural key order, in one query."""
    columns, paths, qs = _values(part, queryset, extra)
    nk_at = [paths.index(p) for p in part.natural_key]
    label = part.label
    child = part.model in CHILDREN
    width = len(paths) + (1 if child else 0)
    for row in qs.iterator(chunk_size=CHUNK_SIZE):
        if child and row[len(paths)] is None:
            continue  # a role without (approved) items of this kind
        fields = {}
        i = 0
        for column in columns:
            if column.kind == "user":
                fields[column.name] = None
            elif column.kind == "fk":
                n = len(column.paths)
                values = row[i : i + n]
                fields[column.name] = None if values[0] is None else [json_value(v) for v in values]
                i += n
            else:
                fields[column.name] = json_value(row[i])
                i += 1
        key = tuple(row[j] for j in nk_at)
        yield key, {"fields": fields, "model": label}, row[width:]


def _reference_ids() -> tuple[set[int], set[int]]:
    """The ids of the taxonomy nodes and occupation codes a release needs (see review.published)."""
    return published_reference_ids()


def _querysets() -> dict[type[models.Model], models.QuerySet]:
    """The rows of each part: what the counts count and the reference tables stream.

    Components, aliases and mappings are streamed from their role instead (see CHILDREN).
    """
    return published_querysets()


def release_counts() -> dict[str, int]:
    """Return the number of objects per model label that an export would write now."""
    with transaction.atomic(savepoint=False):
        node_ids, occupation_ids = _reference_ids()
        counts = {}
        for part in PARTS:
            if part.model is OccupationCode:
                counts[part.label] = len(occupation_ids)
            elif part.model is TaxonomyNode:
                counts[part.label] = len(node_ids)
            else:
                counts[part.label] = _querysets()[part.model].count()
        return counts


# ---------------------------------------------------------------------------------------------
# Writing


class _FixtureFile:
    """A fixture file written one object per line, hashed as it goes."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.sha256 = hashlib.sha256()
        self.count = 0
        self._write(b"[\n")

    def _write(self, data: bytes) -> None:
        self.handle.write(data)
        self.sha256.update(data)

    def add(self, obj: dict) -> None:
        self._write((",\n" if self.count else "").encode() + dumps_line(obj).encode())
        self.count += 1

    def close(self) -> None:
        self._write(b"\n]\n" if self.count else b"]\n")
        self.handle.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def release_formats(formats: Iterable[str] | None) -> tuple[str, ...]:
    """Return `formats` checked and in FORMATS order, fixtures always first; None means every format.

    Raises ReleaseError naming an unknown format.
    """
    wanted = set(FORMATS if formats is None else formats)
    unknown = sorted(wanted - set(FORMATS))
    if unknown:
        raise ReleaseError(f"Unknown release format {', '.join(unknown)}: choose from {', '.join(FORMATS)}.")
    return tuple(f for f in FORMATS if f in wanted or f == FIXTURES)


def write_release_files(
    directory: Path,
    *,
    with_reviewers: bool = False,
    progress: Callable[[str], None] | None = None,
    formats: Iterable[str] = (FIXTURES,),
) -> tuple[list[str], dict[str, int], dict[str, dict]]:
    """Write the fixture files (and reviewers.json), then the other `formats`, into `directory`.

    Returns the fixtures' load order, the counts per model and the manifest entry of every file.
    Every format is read in one transaction, so the files agree with each other. Queries: the
    fixtures' EXPORT_QUERIES, plus release_csv.CSV_QUERIES and release_skos.SKOS_QUERIES.
    Raises ReleaseError when the data changed between the export's queries, or for an unknown format.
    """
    from .release_csv import write_csv_files
    from .release_skos import write_skos_file

    formats = release_formats(formats)
    report = progress or (lambda message: None)
    load_order: list[str] = []
    counts: dict[str, int] = {}
    files: dict[str, dict] = {}
    outermost = not connection.in_atomic_block
    # One transaction (no savepoint: nothing is written), so every query sees the same data.
    with transaction.atomic(savepoint=False):
        if outermost and connection.vendor == "postgresql":
            # Repeatable read: all queries below see one snapshot (must be the first statement).
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        node_ids, occupation_ids = _reference_ids()
        querysets = _querysets()
        reviewers = _FixtureFile(directory / REVIEWERS) if with_reviewers else None
        level_ids: set[int] = set()
        for part in PARTS:
            extra: tuple[str, ...] = ()
            if part.model in (Level, OccupationCode, TaxonomyNode):
                extra = ("pk",)
            elif part.model is Role:
                extra = ("node_id", "level_id")
            elif part.model is ClassificationMapping:
                extra = ("occupation_id",)
            review = REVIEW_FIELDS.get(part.model)
            if review and with_reviewers:
                extra = (*extra, f"{review[0]}__username")
            out = _FixtureFile(directory / part.filename)
            for key, obj, values in _stream(part, querysets[part.model], extra):
                if part.model is OccupationCode and values[0] not in occupation_ids:
                    continue
                if part.model is TaxonomyNode and values[0] not in node_ids:
                    continue
                if part.model is Level:
                    level_ids.add(values[0])
                if part.model is Role and (values[0] not in node_ids or values[1] not in level_ids):
                    raise ReleaseError("Roles changed during the export: run it again.")
                if (
                    part.model is ClassificationMapping
                    and values[0] is not None
                    and values[0] not in occupation_ids
                ):
                    raise ReleaseError("Mappings changed during the export: run it again.")
                out.add(obj)
                if review and reviewers is not None:
                    reviewers.add(
                        {
                            "model": part.label,
                            "natural_key": [json_value(k) for k in key],
                            review[0]: values[-1],
                            review[1]: obj["fields"][review[1]],
                        }
                    )
                if out.count % 10000 == 0:
                    report(f"  {part.filename}: {out.count} objects…")
            out.close()
            counts[part.label] = out.count
            if out.count:
                load_order.append(part.filename)
                files[part.filename] = {"count": out.count, "model": part.label, "sha256": out.sha256.hexdigest()}
            else:
                out.path.unlink()
            report(f"{part.filename}: {out.count} objects")
        if reviewers is not None:
            reviewers.close()
        if CSV in formats:
            files.update(write_csv_files(directory, progress=report))
        if SKOS in formats:
            files.update(write_skos_file(directory, node_ids=node_ids, occupation_ids=occupation_ids, progress=report))
    return load_order, counts, files


def next_version(since_version: str | None) -> str:
    """Return the next minor version after `since_version`, or 1.0.0 for a first release."""
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

    `formats` defaults to every format (FORMATS); fixtures are always written.
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
    load_order, counts, files = write_release_files(
        directory, with_reviewers=with_reviewers, progress=progress, formats=formats
    )
    sha256 = {name: info["sha256"] for name, info in files.items()}
    if with_reviewers:
        sha256[REVIEWERS] = _sha256(directory / REVIEWERS)
    if since_manifest is not None:
        text = changes_markdown(Path(since), since_manifest, directory, files, version=version)
        (directory / CHANGES).write_text(text, encoding="utf-8")
        sha256[CHANGES] = _sha256(directory / CHANGES)
    manifest = {
        "counts": counts,
        "created_at": json_value((now or timezone.now()).replace(microsecond=0)),
        "files": files,
        "format": FORMAT,
        "formats": list(formats),
        "load_order": load_order,
        "loaddata": "python manage.py loaddata " + " ".join(load_order),
        "sha256": sha256,
        "since": since_version,
        "version": version,
        "with_reviewers": with_reviewers,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def release_file_names() -> set[str]:
    """Every file name a release directory may hold, whatever its formats."""
    from .release_csv import COLUMNS
    from .release_skos import SKOS_FILE

    return {part.filename for part in PARTS} | {MANIFEST, CHANGES, REVIEWERS, SKOS_FILE} | set(COLUMNS)


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
) -> dict:
    """Write a release to `output`, replacing an earlier release there; return the manifest.

    The release is built in a temporary directory first, so `since` may be `output` itself and
    a failed export leaves the old release whole. Raises ReleaseError when `output` holds
    files that are not a release's.
    """
    output = Path(output)
    if output.exists():
        if not output.is_dir():
            raise ReleaseError(f"{output} exists and is not a directory.")
        known = release_file_names()
        strangers = sorted(p.name for p in output.iterdir() if p.name not in known)
        if strangers:
            raise ReleaseError(
                f"{output} holds files that are not part of a release ({', '.join(strangers[:5])}): "
                "choose an empty directory."
            )
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=output.parent))
    try:
        manifest = write_release(
            staging, version=version, since=since, with_reviewers=with_reviewers, progress=progress, formats=formats
        )
        output.mkdir(exist_ok=True)
        for path in output.iterdir():
            path.unlink()
        for path in sorted(staging.iterdir()):
            os.replace(path, output / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _comparable(manifest: dict) -> dict:
    """The parts of a manifest that depend on the data only (not on time or version)."""
    return {key: manifest.get(key) for key in ("counts", "files", "format", "load_order")}


def check_release(
    directory: Path | str,
    *,
    since: Path | str | None = None,
    with_reviewers: bool = False,
) -> list[str]:
    """Return what differs between the release in `directory` and a fresh export; empty if current.

    The creation time and version are ignored; the files of the formats the release holds are
    compared byte for byte, and CHANGES.md and reviewers.json too when `since` or
    `with_reviewers` ask for them. Raises ReleaseError when `directory` is not a release.
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
        for name in sorted(names):
            ours, theirs = Path(tmp) / name, directory / name
            if not theirs.exists():
                problems.append(f"{name} is missing")
            elif not ours.exists():
                problems.append(f"{name} should not be there")
            elif _sha256(ours) != _sha256(theirs):
                problems.append(f"{name} differs")
        if not problems and _comparable(fresh) != _comparable(existing):
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


# ---------------------------------------------------------------------------------------------
# CHANGES.md


def iter_fixture(path: Path) -> Iterator[dict]:
    """Yield the objects of a fixture file: line by line for release files, else loaded whole.

    Raises ReleaseError when the file is not a JSON fixture.
    """
    with open(path, "rb") as handle:
        first, second = handle.readline().strip(), handle.readline().strip()
        object_line = second.startswith(b"{") and second.rstrip(b",").endswith(b"}")
        one_per_line = first == b"[" and (second == b"]" or object_line)
        handle.seek(0)
        if not one_per_line:
            try:
                objects = json.load(handle)
            except ValueError as exc:
                raise ReleaseError(f"{path} is not a JSON fixture: {exc}") from exc
            yield from objects
            return
        handle.readline()
        for raw in handle:
            line = raw.strip()
            if line in (b"]", b""):
                continue
            try:
                yield json.loads(line.rstrip(b","))
            except ValueError as exc:
                raise ReleaseError(f"{path} is not a release fixture: {exc}") from exc


def _alias_key(fields: dict) -> tuple:
    return (fields["role"][0], fields["alias"])


def _mapping_key(fields: dict) -> tuple:
    return (fields["role"][0], fields["scheme"], fields["code"])


def _objects_of(
    directory: Path, files: dict[str, dict], load_order: list[str], label: str, release_format: str = FORMAT
) -> Iterator[dict]:
    """Yield the `label` objects of a release, whichever files hold them, with today's field names."""
    renames = FORMAT_RENAMES.get(release_format, {}).get(label, {})
    named = [name for name, info in files.items() if info.get("model") == label]
    for name in named or load_order:
        for obj in iter_fixture(directory / name):
            if obj.get("model") == label:
                if renames:
                    obj["fields"] = {renames.get(k, k): v for k, v in obj["fields"].items()}
                yield obj


def _merge(old: Iterable[dict], new: Iterable[dict], keyfn) -> Iterator[tuple[tuple, dict | None, dict | None]]:
    """Join two natural-key-sorted streams: yield (key, old fields or None, new fields or None)."""
    def keyed(objects, side):
        previous = None
        for obj in objects:
            key = keyfn(obj["fields"])
            if previous is not None and key <= previous:
                raise ReleaseError(f"The {side} release is not sorted by natural key at {key}.")
            previous = key
            yield key, obj["fields"]

    sentinel = (None, None)
    old_it, new_it = keyed(old, "earlier"), keyed(new, "new")
    a, b = next(old_it, sentinel), next(new_it, sentinel)
    while a is not sentinel or b is not sentinel:
        if b is sentinel or (a is not sentinel and a[0] < b[0]):
            yield a[0], a[1], None
            a = next(old_it, sentinel)
        elif a is sentinel or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(new_it, sentinel)
        else:
            if a[1] != b[1]:
                yield a[0], a[1], b[1]
            a, b = next(old_it, sentinel), next(new_it, sentinel)


def _field_changes(old: dict, new: dict) -> str:
    return "; ".join(
        f"{name} {_show(old.get(name))} → {_show(new.get(name))}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    )


def _show(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    return str(value)


def changes_markdown(
    since_dir: Path, since_manifest: dict, new_dir: Path, new_files: dict[str, dict], *, version: str
) -> str:
    """Return CHANGES.md: per role, the aliases and mappings added, removed and changed."""
    since_files = since_manifest.get("files") or {}
    since_order = since_manifest["load_order"]
    new_order = [name for name, info in new_files.items() if "model" in info]  # fixture files only
    per_role: dict[str, dict[str, list[str]]] = {}
    totals = {"aliases": [0, 0, 0], "mappings": [0, 0, 0]}

    def note(role: str, section: str, line: str) -> None:
        per_role.setdefault(role, {"aliases": [], "mappings": []})[section].append(line)

    label = TitleAlias._meta.label_lower
    for key, old, new in _merge(
        _objects_of(since_dir, since_files, since_order, label, since_manifest.get("format", FORMAT)),
        _objects_of(new_dir, new_files, new_order, label),
        _alias_key,
    ):
        role, alias = key
        if old is None:
            totals["aliases"][0] += 1
            note(role, "aliases", f'- added "{alias}" ({new["alias_type"]}, confidence {new["confidence"]})')
        elif new is None:
            totals["aliases"][1] += 1
            note(role, "aliases", f'- removed "{alias}"')
        else:
            totals["aliases"][2] += 1
            note(role, "aliases", f'- changed "{alias}": {_field_changes(old, new)}')

    # Mappings: an added code whose previous_code is a removed code of the role is a refinement.
    label = ClassificationMapping._meta.label_lower
    added: dict[str, list[dict]] = {}
    removed: dict[str, list[dict]] = {}
    for key, old, new in _merge(
        _objects_of(since_dir, since_files, since_order, label, since_manifest.get("format", FORMAT)),
        _objects_of(new_dir, new_files, new_order, label),
        _mapping_key,
    ):
        role = key[0]
        if old is None:
            added.setdefault(role, []).append(new)
        elif new is None:
            removed.setdefault(role, []).append(old)
        else:
            totals["mappings"][2] += 1
            note(role, "mappings", f"- changed {old['scheme']} {old['code']}: {_field_changes(old, new)}")
    for role in sorted(set(added) | set(removed)):
        gone = {(m["scheme"], m["code"]): m for m in removed.get(role, [])}
        for mapping in added.get(role, []):
            before = gone.pop((mapping["scheme"], mapping["previous_code"]), None)
            if before is not None:
                totals["mappings"][2] += 1
                note(
                    role,
                    "mappings",
                    f"- refined {mapping['scheme']} {before['code']} → {mapping['code']}"
                    + (f' "{mapping["title"]}"' if mapping["title"] else ""),
                )
            else:
                totals["mappings"][0] += 1
                note(
                    role,
                    "mappings",
                    f"- added {mapping['scheme']} {mapping['code']}"
                    + (f' "{mapping["title"]}"' if mapping["title"] else ""),
                )
        for scheme, code in sorted(gone):
            totals["mappings"][1] += 1
            note(role, "mappings", f"- removed {scheme} {code}")

    since_version = since_manifest.get("version") or "the earlier release"
    lines = [f"# Rolebook release {version}", ""]
    summary = "; ".join(
        f"{name}: {t[0]} added, {t[1]} removed, {t[2]} changed" for name, t in totals.items()
    )
    lines += [f"Changes since {since_version}. {summary}.", ""]
    if not per_role:
        lines += ["No alias or mapping changed.", ""]
    for role in sorted(per_role):
        lines += [f"## {role}", ""]
        for section, title in (("aliases", "Aliases"), ("mappings", "Mappings")):
            entries = per_role[role][section]
            if entries:
                lines += [f"### {title}", "", *entries, ""]
    return "\n".join(lines).rstrip("\n") + "\n"
