"""Derived data kept current after every write: alias flags (AliasSignals) and role digests (RoleDigest).

What a list page would otherwise compute over every row on every request (the queue's flag
filters, the dashboard's counts, the directory's alias search) is stored here and read with an
index. None of it is curated data: it has no history, nobody edits it, and `rebuild_all()`
recomputes every row from the curated tables at any time.

How it stays current:

1. A write marks what it made stale with `enqueue(roles=…, texts=…)`: a role (its aliases'
   flags and its digest) or an alias text in lower case (the flags of every alias spelled so,
   in any role). Single-row saves and deletes of aliases, mappings and roles do this through
   signals (roles.apps); bulk writes (the state machine's batches, card imports, the demo
   generator) call it themselves. The mark is a row in DerivedQueue, written in the writer's own
   transaction: a rolled-back write leaves nothing to do.
2. After the transaction commits, `process_queue()` recomputes what the queue names from the
   committed rows, one worker at a time (a PostgreSQL advisory lock), and deletes the queue
   rows it did. Writers never lock a derived row, so no writer waits for another's flags and no
   deadlock can form between them. A failed or interrupted run leaves its queue rows for the
   next one (and for `manage.py refresh_derived`).

ROLEBOOK_DERIVED_REFRESH = "immediate" (the tests) works the queue off at once, inside the
writer's transaction, so a test sees the flags of the rows it just wrote.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import Lower
from django.utils import timezone

from .flags import alias_flags
from .models import (
    AliasSignals,
    ClassificationMapping,
    DerivedQueue,
    DerivedState,
    ReviewTally,
    Role,
    RoleDigest,
    TitleAlias,
)

logger = logging.getLogger(__name__)

# Bump when what is derived, or how, changes: the next migrate rebuilds every row.
VERSION = 2
# Queue rows worked off per transaction, and roles per chunk of a rebuild.
BATCH = 200
REBUILD_CHUNK = 250
# An arbitrary key of the advisory lock that lets one worker at a time recompute.
_LOCK_KEY = 0x526F6C65  # "Role"
STATE_NAME = "derived"


def fingerprint() -> str:
    """A hash of everything the stored rows depend on besides the data: the version and the settings."""
    bands = {k: str(v) for k, v in settings.ROLEBOOK_CONFIDENCE_BANDS.items()}
    material = json.dumps({"v": VERSION, "levels": settings.REVIEW_LEVEL_WORDS, "bands": bands}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Marking stale


def enqueue(*, roles: Iterable[int | None] = (), texts: Iterable[str | None] = ()) -> None:
    """Mark the derived rows of `roles` and of aliases spelled `texts` stale (one INSERT)."""
    rows = [DerivedQueue(role_id=pk) for pk in sorted({pk for pk in roles if pk})]
    rows += [DerivedQueue(text=t) for t in sorted({t.lower()[:200] for t in texts if t})]
    if not rows:
        return
    DerivedQueue.objects.bulk_create(rows)
    _schedule()


def _schedule() -> None:
    if getattr(settings, "ROLEBOOK_DERIVED_REFRESH", "on_commit") == "immediate":
        # Inside the writer's transaction, so without the workers' lock (which would be held
        # until the writer commits): for tests, where one thread writes at a time.
        process_queue(lock=False)
        return
    conn = transaction.get_connection()
    if conn.in_atomic_block and any(func is _after_commit for _sids, func, _robust in conn.run_on_commit):
        return  # Already scheduled for this transaction.
    # Outside a transaction this runs at once; inside, after the outermost block commits.
    transaction.on_commit(_after_commit, robust=True)


def _after_commit() -> None:
    try:
        process_queue()
    except Exception:  # noqa: BLE001 - the write is committed; the queue keeps the work for the next run
        logger.exception("derived data: the refresh after a write failed; its queue rows wait for the next run")


# ---------------------------------------------------------------------------------------------
# Working the queue off


def _lock() -> None:
    """One worker at a time (until its transaction ends). SQLite has one writer anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def process_queue(*, max_batches: int = 100, lock: bool = True) -> int:
    """Recompute what the queue names, BATCH rows per transaction; return how many queue rows were done."""
    done = 0
    for _ in range(max_batches):
        with transaction.atomic():
            if lock:
                _lock()
            batch = list(DerivedQueue.objects.order_by("pk").values_list("pk", "role_id", "text")[:BATCH])
            if not batch:
                break
            refresh(roles={r for _, r, _ in batch if r}, texts={t for _, _, t in batch if t})
            DerivedQueue.objects.filter(pk__in=[pk for pk, _, _ in batch]).delete()
            done += len(batch)
        if len(batch) < BATCH:
            break
    return done


def refresh(
    *, roles: set[int] = frozenset(), texts: set[str] = frozenset(), compare: bool = True, tally: bool = True
) -> None:
    """Recompute the flags of every alias of `roles` or spelled like `texts`, and the digests of `roles`.

    A role that no longer exists is skipped (its rows went with it). With compare=False every row
    is written (a rebuild); otherwise only the rows that changed.
    """
    roles, texts = set(roles), {t.lower() for t in texts}
    if not roles and not texts:
        return
    scope = Q(role_id__in=roles) if roles else Q(pk__in=[])
    if texts:
        scope |= Q(text_lower__in=texts)
    aliases = list(
        TitleAlias.objects.annotate(text_lower=Lower("alias")).filter(scope).select_related("role__level")
    )
    flags = alias_flags(aliases)
    _store_signals(aliases, flags, compare=compare)
    if roles:
        _store_digests(roles, [a for a in aliases if a.role_id in roles], flags, tally=tally)


def _store_signals(aliases: list[TitleAlias], flags: dict, *, compare: bool) -> None:
    wanted = {}
    for alias in aliases:
        codes = {f.code for f in flags.get(alias.pk, [])}
        wanted[alias.pk] = AliasSignals(
            alias_id=alias.pk, confidence=alias.confidence, **{flag: flag in codes for flag in AliasSignals.FLAGS}
        )
    if compare and wanted:
        fields = ("confidence", *AliasSignals.FLAGS)
        for row in AliasSignals.objects.filter(alias_id__in=list(wanted)).values("alias_id", *fields):
            new = wanted[row["alias_id"]]
            if all(getattr(new, f) == row[f] for f in fields):
                del wanted[row["alias_id"]]
    if wanted:
        AliasSignals.objects.bulk_create(
            list(wanted.values()), batch_size=2000, update_conflicts=True, unique_fields=["alias"],
            update_fields=["confidence", *AliasSignals.FLAGS],
        )


def _store_digests(roles: set[int], aliases: list[TitleAlias], flags: dict, *, tally: bool = True) -> None:
    rows = list(
        Role.objects.filter(pk__in=roles).values_list("pk", "code", "title", "node__parent__code", "level__code")
    )
    names = {pk: (code, title) for pk, code, title, _family, _level in rows}
    places = {pk: (family or "", level or "") for pk, _code, _title, family, level in rows}
    old = {row["role_id"]: row for row in RoleDigest.objects.filter(role_id__in=roles).values(
        "role_id", "family_code", "level_code", *RoleDigest.COUNTS)} if tally else {}
    if gone := roles - set(names):
        RoleDigest.objects.filter(role_id__in=gone).delete()
    bands = settings.ROLEBOOK_CONFIDENCE_BANDS
    medium, high = Decimal(bands["medium"]), Decimal(bands["high"])
    digests = {pk: RoleDigest(role_id=pk, family_code=places[pk][0], level_code=places[pk][1]) for pk in names}
    texts: dict[int, list[str]] = defaultdict(list)
    for alias in aliases:
        digest = digests.get(alias.role_id)
        if digest is None:
            continue
        texts[alias.role_id].append(alias.alias)
        if alias.status == TitleAlias.Status.PENDING:
            digest.aliases_pending += 1
            if alias.confidence < medium:
                digest.pending_low += 1
            elif alias.confidence < high:
                digest.pending_medium += 1
            else:
                digest.pending_high += 1
            if any(f.code == "reference_elsewhere" for f in flags.get(alias.pk, [])):
                digest.pending_reference_elsewhere += 1
        elif alias.status == TitleAlias.Status.APPROVED:
            digest.aliases_approved += 1
        else:
            digest.aliases_rejected += 1
    mapping_counts = (
        ClassificationMapping.objects.filter(role_id__in=names).order_by().values_list("role_id", "status")
        .annotate(n=Count("pk"))
    )
    for role_id, status, n in mapping_counts:
        field = {"needs_review": "mappings_needs_review", "approved": "mappings_approved",
                 "rejected": "mappings_rejected"}.get(status)
        if field:
            setattr(digests[role_id], field, n)
    for pk, digest in digests.items():
        # What the directory searches: the code, the title and every alias, one per line.
        digest.search_text = "\n".join([*names[pk], *sorted(texts[pk])]).lower()
    if digests:
        fields = [f.name for f in RoleDigest._meta.concrete_fields if not f.primary_key]
        RoleDigest.objects.bulk_create(
            list(digests.values()), batch_size=1000, update_conflicts=True, unique_fields=["role"],
            update_fields=fields,
        )
    if tally:
        _apply_to_tallies(old, digests)


def _places(family: str, level: str) -> list[tuple[str, str]]:
    return [(ReviewTally.Scope.ALL, ""), (ReviewTally.Scope.FAMILY, family), (ReviewTally.Scope.LEVEL, level)]


def _apply_to_tallies(old: dict[int, dict], new: dict[int, RoleDigest]) -> None:
    """Add what the digests changed to the tallies (all roles, their families, their levels): two queries."""
    delta: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(RoleDigest.COUNTS, 0))
    for row in old.values():
        for place in _places(row["family_code"], row["level_code"]):
            for name in RoleDigest.COUNTS:
                delta[place][name] -= row[name]
    for digest in new.values():
        for place in _places(digest.family_code, digest.level_code):
            for name in RoleDigest.COUNTS:
                delta[place][name] += getattr(digest, name)
    delta = {place: d for place, d in delta.items() if any(d.values())}
    if not delta:
        return
    condition = Q(pk__in=[])
    for scope, key in delta:
        condition |= Q(scope=scope, key=key)
    current = {(t.scope, t.key): t for t in ReviewTally.objects.filter(condition)}
    rows = []
    for (scope, key), change in delta.items():
        tally = current.get((scope, key)) or ReviewTally(scope=scope, key=key)
        for name, n in change.items():
            setattr(tally, name, getattr(tally, name) + n)
        tally.pk = None  # one INSERT … ON CONFLICT (scope, key) for new and existing rows alike
        rows.append(tally)
    ReviewTally.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["scope", "key"], update_fields=list(RoleDigest.COUNTS),
    )


def rebuild_tallies() -> None:
    """Recompute every tally from the role digests (after a rebuild): four queries."""
    sums = {name: Sum(name) for name in RoleDigest.COUNTS}
    rows = [ReviewTally(scope=ReviewTally.Scope.ALL, key="", **{
        name: n or 0 for name, n in RoleDigest.objects.aggregate(**sums).items()})]
    for scope, field in ((ReviewTally.Scope.FAMILY, "family_code"), (ReviewTally.Scope.LEVEL, "level_code")):
        for row in RoleDigest.objects.order_by().values(field).annotate(**sums):
            counts = {name: row[name] or 0 for name in RoleDigest.COUNTS}
            rows.append(ReviewTally(scope=scope, key=row[field], **counts))
    ReviewTally.objects.all().delete()
    ReviewTally.objects.bulk_create(rows)


# ---------------------------------------------------------------------------------------------
# Rebuilding everything


def is_current() -> bool:
    """Whether the stored rows were computed with today's version and settings."""
    state = DerivedState.objects.filter(name=STATE_NAME).first()
    return state is not None and state.fingerprint == fingerprint()


def rebuild_all(*, stdout=None) -> int:
    """Recompute every alias's flags and every role's digest, REBUILD_CHUNK roles per transaction.

    Each chunk is its own transaction (no long lock on the alias table). Returns the number of
    roles. Writes racing a rebuild mark their roles stale as usual, so nothing is lost.
    """
    role_ids = list(Role.objects.order_by("pk").values_list("pk", flat=True))
    with transaction.atomic():
        # Rows left by a refresh that raced a delete (they join nothing; see the models).
        AliasSignals.objects.exclude(alias_id__in=TitleAlias.objects.values("pk")).delete()
        RoleDigest.objects.exclude(role_id__in=Role.objects.values("pk")).delete()
    for start in range(0, len(role_ids), REBUILD_CHUNK):
        chunk = set(role_ids[start : start + REBUILD_CHUNK])
        with transaction.atomic():
            _lock()
            refresh(roles=chunk, compare=False, tally=False)
        if stdout is not None and (start // REBUILD_CHUNK) % 10 == 9:
            stdout.write(f"  derived data: {start + len(chunk):,} of {len(role_ids):,} roles")
    with transaction.atomic():
        _lock()
        rebuild_tallies()
        DerivedState.objects.update_or_create(
            name=STATE_NAME, defaults={"fingerprint": fingerprint(), "built_at": timezone.now()}
        )
    return len(role_ids)


def rebuild_after_migrate(sender, using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """post_migrate: rebuild the derived rows when they were made with another version or settings.

    Runs after `migrate` (and `flush`). On a new or up-to-date database it costs two queries.
    """
    from django.db import connections

    conn = connections[using]
    tables = set(conn.introspection.table_names())
    if DerivedState._meta.db_table not in tables or AliasSignals._meta.db_table not in tables:
        return  # Migrated backwards past the derived tables.
    if is_current():
        process_queue()
        return
    import sys

    stdout = sys.stdout if verbosity >= 1 and Role.objects.exists() else None
    if stdout is not None:
        stdout.write("  Rebuilding derived data (alias flags, role digests) …\n")
    count = rebuild_all(stdout=_Lines(stdout) if stdout else None)
    process_queue()
    if stdout is not None:
        stdout.write(f"  Derived data rebuilt for {count:,} roles.\n")


class _Lines:
    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(text + "\n")
