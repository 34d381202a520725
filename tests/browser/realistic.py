"""Realistic data for the browser tests: full queue pages, with every flag a reviewer meets.

`build_realistic(seed_role)` fills the (live server's) test database with:

* the demo generator's data set (demo/generator.py) at a small size: ROLES roles with the
  default 55 aliases and 40 components each, their SOC mappings, a fifth already decided by
  "demo-reviewer" (so the decision log, release page and history have rows), made by the
  curator "carl";
* the reviewers "rita" (who the pages are audited as) and "rex", the curator "carl", and the
  superuser "ada";
* on the first page of each queue (the alias queue's default sort is the lowest confidence
  first, the mapping queue's the role code): 80+ character aliases and a 90-character role
  title, aliases and mappings rita created or edited (four-eyes), aliases used by another role
  or equal to another role's title, an official job title, group-level mappings, a suggested
  mapping, a code not in the reference, a card title at odds with the official one;
* rita's notifications (rex decided her items) and decisions of hers in the log;
* the SOC coder's suggestions cached for every role (the mapping queue's coder column).

Building it costs 3 to 8 seconds (`RealisticData.seconds`), and the flush after each live-server
test takes the reference data with it. On SQLite (where the browser tests run: tests/conftest.py's
DATABASE_INDEPENDENT) the first build is therefore kept as a copy of the database file
(`VACUUM INTO`) and later tests of the session copy its rows back in well under two seconds; on
another database every test builds it afresh. Either way each test gets the same rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection, transaction
from django.test import override_settings

from demo.generator import generate_demo
from review import services as review
from roles import services
from roles.groups import CURATORS, REVIEWERS, sync_groups
from roles.models import ClassificationMapping, Component, Decision, Role, TitleAlias
from roles.soc import cached_suggestions
from taxonomy.models import Level, OccupationCode, ReferenceTitle, TaxonomyNode
from tests.factories import UserFactory

ROLES = 48
SEED = 7
REASON = "browser test data"

LONG_ALIASES = [
    "Senior Principal Machine Learning Platform Reliability Engineer, Regulated Financial Services (EMEA)",
    "Lead Natural Language Processing Research Scientist for Multilingual Conversational Assistants",
    "Associate Director of Enterprise Data Governance, Master Data Management and Metadata Catalogues",
    "Staff Software Engineer II – Distributed Event Streaming Infrastructure (Kafka/Flink/Pulsar) Team",
]
LONG_ROLE_TITLE = (
    "Principal Machine Learning Operations Engineer for Large-Scale Feature Stores and Model Serving Platforms"
)


@dataclass
class RealisticData:
    """What the pages need to know about the data: users, and the rows worth opening."""

    users: dict = field(default_factory=dict)
    seed_role: Role | None = None
    long_role: Role | None = None
    mapping: ClassificationMapping | None = None  # a group-level mapping on the queue's first page
    compare: tuple[str, str] = ("", "")
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)
    restored: bool = False

    @classmethod
    def read(cls) -> RealisticData:
        """The handles on the rows that build_realistic() made, read back from the database."""
        from django.contrib.auth import get_user_model

        by_name = {u.username: u for u in get_user_model().objects.filter(username__in=["rita", "rex", "carl", "ada"])}
        seed_role = Role.objects.get(code="AIMLAM.GEN.P1")
        long_role = Role.objects.get(title=LONG_ROLE_TITLE)
        return cls(
            users={"reviewer": by_name["rita"], "reviewer2": by_name["rex"], "curator": by_name["carl"],
                   "admin": by_name["ada"]},
            seed_role=seed_role,
            long_role=long_role,
            mapping=ClassificationMapping.objects.get(role=seed_role),
            compare=(seed_role.code, long_role.code),
            counts=_counts(),
        )


def _counts() -> dict:
    return {model.__name__: model.objects.count() for model in (
        Role, Component, TitleAlias, ClassificationMapping, Decision, Level, TaxonomyNode)}


def realistic_data(snapshot: Path) -> RealisticData:
    """The realistic data in the (flushed) live-server database: copied from `snapshot` when there is one
    (SQLite), else loaded (reference data, the seed role) and built, and then kept in `snapshot`."""
    started = time.perf_counter()
    sqlite = connection.vendor == "sqlite"
    if sqlite and snapshot.is_file():
        _restore(snapshot)
        data = RealisticData.read()
        data.restored = True
    else:
        _reference_and_seed()
        data = build_realistic(Role.objects.get(code="AIMLAM.GEN.P1"))
        if sqlite:
            snapshot.unlink(missing_ok=True)
            with connection.cursor() as cursor:
                cursor.execute("VACUUM INTO %s", [str(snapshot)])
    data.seconds = time.perf_counter() - started
    return data


def _reference_and_seed() -> None:
    """What tests/conftest.py's reference_soc, reference_titles and seed_role fixtures load."""
    from taxonomy.coder import reference_dir
    from taxonomy.services import load_reference_titles
    from tests.conftest import REFERENCE_FIXTURES

    if not OccupationCode.objects.exists():
        call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
    if not ReferenceTitle.objects.exists():
        load_reference_titles(reference_dir())
    call_command("load_fixtures", "fixtures/seed.json", stdout=StringIO())


def _restore(snapshot: Path) -> None:
    """Replace every table's rows with the snapshot's (same schema: the same test database, copied)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, or SQLite ignores it
        cursor.execute("ATTACH DATABASE %s AS snap", [str(snapshot)])
        try:
            cursor.execute("SELECT name FROM snap.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            tables = [row[0] for row in cursor.fetchall()]
            with transaction.atomic():
                for table in tables:
                    cursor.execute(f'DELETE FROM main."{table}"')
                    cursor.execute(f'INSERT INTO main."{table}" SELECT * FROM snap."{table}"')
                cursor.execute("DELETE FROM main.sqlite_sequence")
                cursor.execute("INSERT INTO main.sqlite_sequence SELECT * FROM snap.sqlite_sequence")
        finally:
            cursor.execute("DETACH DATABASE snap")
            cursor.execute("PRAGMA foreign_keys = ON")
    ContentType.objects.clear_cache()


def _users() -> dict:
    sync_groups(Group, Permission)
    return {
        "reviewer": UserFactory(username="rita", first_name="Rita", last_name="Reviewer", groups=[REVIEWERS]),
        "reviewer2": UserFactory(username="rex", groups=[REVIEWERS]),
        "curator": UserFactory(username="carl", groups=[CURATORS]),
        "admin": UserFactory(username="ada", is_superuser=True),
    }


def _alias(role: Role, text: str, confidence: str, actor, alias_type=TitleAlias.AliasType.COMMON) -> TitleAlias:
    alias = TitleAlias(role=role, alias=text, alias_type=alias_type, confidence=Decimal(confidence), source="job board")
    return services.save_alias(alias=alias, actor=actor, reason=REASON)


def build_realistic(seed_role: Role) -> RealisticData:
    """Fill the database (see the module's docstring); return what the pages open.

    One transaction, with the derived data (flags, digests) recomputed once after it commits,
    as in production, rather than after each of the few dozen single writes.
    """
    started = time.perf_counter()
    data = RealisticData(seed_role=seed_role)
    with override_settings(ROLEBOOK_DERIVED_REFRESH="on_commit"), transaction.atomic():
        _fill(data, seed_role)
    # The coder's suggestions for the mapping queue's first page (the page computes missing ones itself).
    cached_suggestions(list(Role.objects.filter(mappings__status="needs_review").distinct().order_by("code")[:30]))
    data.counts = _counts()
    data.seconds = time.perf_counter() - started
    return data


def _fill(data: RealisticData, seed_role: Role) -> None:
    users = data.users = _users()
    rita, rex, carl = users["reviewer"], users["reviewer2"], users["curator"]
    generate_demo(roles=ROLES, aliases_per_role=55, components_per_role=40, seed=SEED, actor=carl,
                  approve_fraction=0.2)

    # Roles in the mapping queue's order (role code): the first page's roles get the flags.
    first_roles = list(
        Role.objects.filter(mappings__status=ClassificationMapping.Status.NEEDS_REVIEW)
        .exclude(pk=seed_role.pk).distinct().order_by("code")[:10]
    )
    data.long_role = long_role = first_roles[0]
    long_role.title = LONG_ROLE_TITLE
    services.save_role(role=long_role, actor=carl, reason=REASON)
    data.compare = (seed_role.code, long_role.code)

    # Alias queue, first page (lowest confidence first; the demo's lowest is 0.30).
    for i, text in enumerate(LONG_ALIASES):
        _alias(first_roles[i % len(first_roles)], text, f"0.1{i}", carl)
    _alias(long_role, "Feature Store Platform Engineer (contract, 6–12 months, fully remote within the EU)", "0.14",
           carl, TitleAlias.AliasType.HIDDEN)
    # Four-eyes for rita: three she created, one she edited.
    for i, text in enumerate(["ML Platform Engineer", "Model Serving Engineer", "Feature Pipeline Developer"]):
        _alias(first_roles[1 + i], text, f"0.2{i}", rita)
    edited = _alias(first_roles[4], "MLOps Engineer II", "0.24", carl)
    edited.alias_type = TitleAlias.AliasType.ABBREVIATION
    services.save_alias(alias=edited, actor=rita, reason="it is an abbreviation")
    # Flags: the same text as another role's alias, another role's title, an official job title.
    other = TitleAlias.objects.filter(role=first_roles[5]).exclude(alias__icontains="(").first()
    _alias(first_roles[6], other.alias, "0.25", carl)
    _alias(first_roles[7], first_roles[8].title, "0.26", carl)
    official = ReferenceTitle.objects.filter(title__regex=r"^[A-Za-z ]{12,40}$").order_by("soc_code", "pk").first()
    if official is not None:
        _alias(seed_role, official.title, "0.27", carl)
    # The seed role's near-duplicates (Machine Learning I / 1) on the first page too.
    TitleAlias.objects.filter(role=seed_role, alias__in=["Machine Learning I", "Machine Learning 1"]).update(
        confidence=Decimal("0.28")
    )

    # Mapping queue, first page (by role code).
    socs = {o.code: o for o in OccupationCode.objects.soc().filter(
        code__in=["15-2051", "15-1252", "15-1221", "15-1211", "15-2041"])}
    services.save_mapping(  # four-eyes: rita created it
        mapping=ClassificationMapping(role=first_roles[1], scheme="onet_soc", code="15-2051",
                                      title=socs["15-2051"].title, source="manual"),
        actor=rita, reason=REASON,
    )
    services.save_mapping(  # four-eyes: rita created it, group-level
        mapping=ClassificationMapping(role=first_roles[2], scheme="onet_soc", code="15-1200",
                                      title="Computer Occupations", source="manual"),
        actor=rita, reason=REASON,
    )
    services.save_mapping(  # suggested by the coder
        mapping=ClassificationMapping(role=first_roles[3], scheme="onet_soc", code="15-1221",
                                      title=socs["15-1221"].title, source="suggested",
                                      suggested_score=Decimal("0.6120")),
        actor=carl, reason=REASON,
    )
    services.save_mapping(  # not in the reference
        mapping=ClassificationMapping(role=first_roles[4], scheme="onet_soc", code="15-1299.99",
                                      title="Machine Learning Platform Specialists", source="imported"),
        actor=carl, reason=REASON,
    )
    services.save_mapping(  # a card title that is not the official one
        mapping=ClassificationMapping(role=long_role, scheme="onet_soc", code="15-1252",
                                      title="Software Developers and Machine Learning Engineers", source="manual"),
        actor=carl, reason=REASON,
    )
    data.mapping = ClassificationMapping.objects.get(role=seed_role)  # 15-0000: group-level, "&" for "and"

    # Assignments on the dashboard: the first roles' family to rita, past due; the seed's to the reviewers.
    from roles.models import Assignment

    services.save_assignment(assignment=Assignment(node=first_roles[0].node.parent, reviewer=rita,
                                                   due_date=date(2026, 1, 5)), actor=carl, reason=REASON)
    services.save_assignment(assignment=Assignment(node=seed_role.node, group=Group.objects.get(name="Reviewers")),
                             actor=carl, reason=REASON)

    # Decisions and notifications: rita decides some of carl's items, rex some of rita's.
    pending = list(TitleAlias.objects.filter(status="pending", created_by=carl).order_by("-confidence", "pk")[:6])
    for alias in pending[:4]:
        review.approve_alias(alias=alias, actor=rita, comment="matches the role")
    for alias in pending[4:]:
        review.reject_alias(alias=alias, actor=rita, reason="a different occupation")
    # Double-blind samples: rita's first reviews; rex disagrees on two (the lead's Disagreements) and agrees on one.
    from django.test import override_settings

    with override_settings(REVIEW_SAMPLE_SHARE=1.0):
        sampled = list(TitleAlias.objects.filter(status="pending", created_by=carl).order_by("pk")[:3])
        for alias in sampled:
            review.approve_alias(alias=alias, actor=rita, comment="a common title for this work")
        for alias in sampled[:2]:
            review.reject_alias(alias=TitleAlias.objects.get(pk=alias.pk), actor=rex,
                                reason="it names a tool, not a job; see the family's aliases for the usual titles")
        review.approve_alias(alias=TitleAlias.objects.get(pk=sampled[2].pk), actor=rex)
    for i, text in enumerate(["Applied Scientist", "Research Engineer, Ranking", "ML Engineer (Search)"]):
        alias = _alias(first_roles[1 + i], text, "0.90", rita)
        if i == 0:
            review.approve_alias(alias=alias, actor=rex, comment="fine")
        else:
            review.reject_alias(alias=alias, actor=rex, reason="too narrow for this role; see the family's aliases")
