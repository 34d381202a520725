"""roles.derived: the stored alias flags and role digests stay equal to what the curated rows say.

The invariant: after any write, AliasSignals and RoleDigest equal a fresh computation from the
curated tables (roles.flags for the flags, plain counts for the digests).
"""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.db import connection, transaction

from review import services
from roles import derived
from roles.flags import alias_flags
from roles.models import AliasSignals, DerivedQueue, DerivedState, ReviewTally, Role, RoleDigest, TitleAlias
from roles.services import delete_item, save_alias, save_role
from tests.factories import ClassificationMappingFactory, LevelFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db


def expected_flags() -> dict[int, set[str]]:
    aliases = list(TitleAlias.objects.select_related("role__level"))
    return {pk: {f.code for f in flags} for pk, flags in alias_flags(aliases).items()}


def stored_flags() -> dict[int, set[str]]:
    return {
        row["alias_id"]: {f for f in AliasSignals.FLAGS if row[f]}
        for row in AliasSignals.objects.values("alias_id", *AliasSignals.FLAGS)
    }


def expected_digest(role: Role) -> dict[str, int]:
    aliases = TitleAlias.objects.filter(role=role)
    return {
        "aliases_pending": aliases.filter(status="pending").count(),
        "aliases_approved": aliases.filter(status="approved").count(),
        "aliases_rejected": aliases.filter(status="rejected").count(),
        "mappings_needs_review": role.mappings.filter(status="needs_review").count(),
        "mappings_approved": role.mappings.filter(status="approved").count(),
    }


def assert_current() -> None:
    assert stored_flags() == expected_flags()
    for role in Role.objects.all():
        digest = RoleDigest.objects.get(role=role)
        assert {k: getattr(digest, k) for k in expected_digest(role)} == expected_digest(role), role.code
        assert role.code.lower() in digest.search_text and role.title.lower() in digest.search_text
    assert not RoleDigest.objects.exclude(role_id__in=Role.objects.values("pk")).exists()
    # The tallies are the digests' sums, overall, per family and per level.
    digests = list(RoleDigest.objects.select_related("role__node__parent", "role__level"))
    expected: dict[tuple[str, str], dict[str, int]] = {}
    for d in digests:
        family = d.role.node.parent.code if d.role.node.parent_id else ""
        for place in (("all", ""), ("family", family), ("level", d.role.level.code)):
            sums = expected.setdefault(place, dict.fromkeys(RoleDigest.COUNTS, 0))
            for name in RoleDigest.COUNTS:
                sums[name] += getattr(d, name)
    stored = {(t.scope, t.key): {n: getattr(t, n) for n in RoleDigest.COUNTS} for t in ReviewTally.objects.all()}
    zero = dict.fromkeys(RoleDigest.COUNTS, 0)
    assert {k: v for k, v in stored.items() if v != zero} == {k: v for k, v in expected.items() if v != zero}


@pytest.fixture
def two_roles(make_user):
    curator = make_user("curator")
    a = RoleFactory(title="Data Analyst", level=LevelFactory(code="P1"))
    b = RoleFactory(title="Insight Lead")
    for text in ("Machine Learning I", "Insight Analyst", "Senior Modeller"):
        TitleAliasFactory(role=a, alias=text, created_by=curator)
    TitleAliasFactory(role=b, alias="Report Writer", created_by=curator)
    return a, b, curator


def test_every_kind_of_write_keeps_flags_and_digests_current(two_roles, make_user, reference_soc):
    a, b, curator = two_roles
    reviewer = make_user("reviewer")
    assert_current()
    # A near-duplicate in the same role, then the same text in another role.
    twin = TitleAliasFactory(role=a, alias="machine-learning 1", created_by=curator)
    assert {"near_duplicate"} <= stored_flags()[twin.pk]
    shared = TitleAliasFactory(role=b, alias="insight analyst", created_by=curator)
    assert "conflict" in stored_flags()[shared.pk]
    assert_current()
    # An edit that moves the text away clears the other role's conflict.
    shared.alias = "Insight Partner"
    save_alias(alias=shared, actor=curator, reason="rename")
    assert_current()
    # Another role's title; then the title changes.
    titled = TitleAliasFactory(role=a, alias="Insight Lead", created_by=curator)
    assert "role_title" in stored_flags()[titled.pk]
    b.title = "Insight Manager"
    save_role(role=b, actor=curator, reason="retitle")
    assert "role_title" not in stored_flags()[titled.pk]
    assert_current()
    # Decisions, one and many: the counts follow.
    services.approve_alias(alias=TitleAlias.objects.get(pk=twin.pk), actor=reviewer)
    services.reject_aliases(aliases=TitleAlias.objects.filter(role=a, status="pending"), actor=reviewer,
                            reason="not used")
    assert_current()
    # An approved mapping makes an official title of another code stand out.
    mapping = ClassificationMappingFactory(role=b, occupation=soc("15-2051"), created_by=curator)
    services.approve_mapping(mapping=mapping, actor=reviewer)
    assert_current()
    # Deletes: an alias, then a whole role (its aliases go with it).
    delete_item(item=TitleAlias.objects.get(pk=titled.pk), actor=curator, reason="gone")
    assert_current()
    delete_item(item=Role.objects.get(pk=a.pk), actor=curator, reason="merged")
    assert_current()


def test_a_role_that_moves_family_or_level_moves_its_tallies(two_roles, make_user):
    a, b, curator = two_roles
    code = next(c for c in ("M4", "M3", "M2") if c != b.level.code)
    level = LevelFactory(code=code)
    a.node, a.level, a.code = b.node, level, f"{b.node.code}.{code}"
    save_role(role=a, actor=curator, reason="moved")
    assert_current()


def test_the_dashboard_totals_are_the_digests_sums(two_roles):
    a, b, _curator = two_roles
    totals = {name: n for name, n in (
        ("aliases_pending", TitleAlias.objects.pending().count()),
    )}
    from review.selectors import digest_totals

    assert digest_totals()["aliases_pending"] == totals["aliases_pending"] == 4


@pytest.mark.parametrize("n", [3, 6])
def test_working_off_the_queue_takes_constant_queries(make_user, n, settings, django_assert_num_queries):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    curator = make_user("curator")
    roles = [RoleFactory() for _ in range(n)]
    for role in roles:
        for i in range(n):
            TitleAliasFactory(role=role, alias=f"Alias {role.pk} {i}", created_by=curator)
    derived.process_queue()  # what the factories marked: the queue starts empty
    AliasSignals.objects.all().delete()  # and every row is to be written again
    RoleDigest.objects.all().delete()
    derived.enqueue(roles=[r.pk for r in roles], texts=["alias 1 1"])
    # SAVEPOINT; the queue; the aliases in scope; the five flag queries (same text elsewhere, role
    # titles, siblings, official titles, approved codes); the stored signals; their upsert; the
    # roles (code, title, family, level); their digests as they were; the mappings' counts; the
    # digests' upsert; the tallies' increment; the queue rows' delete; RELEASE. PostgreSQL reads
    # the stored signals and digests as it locks them, after the aliases' ids and two placeholder
    # INSERTs: three more.
    expected = 17 + 3 * (connection.vendor == "postgresql")
    with django_assert_num_queries(expected):
        derived.process_queue()
    assert not DerivedQueue.objects.exists()
    assert RoleDigest.objects.filter(role__in=roles, aliases_pending=n).count() == n


@pytest.mark.django_db(transaction=True)
def test_after_commit_the_write_is_followed_and_a_rollback_leaves_nothing(settings, django_user_model):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    curator = django_user_model.objects.create_user("cora")
    role = RoleFactory()
    with transaction.atomic():
        alias = TitleAliasFactory(role=role, alias="Data Wrangler", created_by=curator)
        # Inside the transaction only the mark exists.
        assert DerivedQueue.objects.exists()
        assert not AliasSignals.objects.filter(alias=alias).exists()
    # After commit the queue was worked off.
    assert not DerivedQueue.objects.exists()
    assert AliasSignals.objects.filter(alias=alias).exists()
    assert RoleDigest.objects.get(role=role).aliases_pending == 1
    with transaction.atomic():
        TitleAliasFactory(role=role, alias="Data Plumber", created_by=curator)
        transaction.set_rollback(True)
    assert not DerivedQueue.objects.exists()
    assert RoleDigest.objects.get(role=role).aliases_pending == 1


def test_a_failed_refresh_keeps_its_queue_for_the_next_run(settings, monkeypatch, make_user):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    role = RoleFactory()
    TitleAliasFactory(role=role, alias="Data Wrangler", created_by=make_user("curator"))

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(derived, "refresh", broken)
    derived.run_queue()  # the task: logs, does not raise (the write is committed already)
    assert DerivedQueue.objects.exists()
    monkeypatch.undo()
    derived.process_queue()
    assert not DerivedQueue.objects.exists()
    assert RoleDigest.objects.get(role=role).aliases_pending == 1


def test_changed_level_words_rebuild_everything_at_migrate(two_roles, settings):
    a, _b, _curator = two_roles
    derived.rebuild_all()
    assert derived.is_current()
    settings.REVIEW_LEVEL_WORDS = {"senior": {"words": ["modeller"], "min_rank": 3}}
    assert not derived.is_current()
    derived.rebuild_after_migrate(sender=None, verbosity=0)
    assert derived.is_current()
    modeller = TitleAlias.objects.get(alias="Senior Modeller")
    assert "level" in stored_flags()[modeller.pk]
    assert DerivedState.objects.get().fingerprint == derived.fingerprint()


def test_rebuild_drops_rows_left_by_a_refresh_that_raced_a_delete(two_roles):
    a, _b, _curator = two_roles
    orphan = RoleDigest.objects.create(role_id=a.pk + 1000)
    AliasSignals.objects.create(alias_id=999_999, confidence=Decimal("0.5"))
    derived.rebuild_all()
    assert not RoleDigest.objects.filter(pk=orphan.pk).exists()
    assert not AliasSignals.objects.filter(alias_id=999_999).exists()
    assert_current()


def test_the_command_rebuilds_on_request(two_roles, capsys):
    from django.core.management import call_command

    AliasSignals.objects.all().delete()
    call_command("refresh_derived", "--all")
    assert "Derived data rebuilt for 2 roles." in capsys.readouterr().out
    assert_current()


def test_an_occupation_no_longer_detailed_reflags_the_aliases_of_roles_approved_under_it(two_roles, make_user,
                                                                                        reference_soc):
    _a, b, curator = two_roles
    admiral = TitleAliasFactory(role=b, alias="Admiral", created_by=curator)  # BLS files it under 11-1011
    mapping = ClassificationMappingFactory(role=b, occupation=soc("15-2051"), created_by=curator)
    services.approve_mapping(mapping=mapping, actor=make_user("reviewer"))
    assert "reference_elsewhere" in stored_flags()[admiral.pk]
    occupation = soc("15-2051")
    occupation.level = "broad"  # only approved mappings to a detailed occupation count
    occupation.save()
    assert "reference_elsewhere" not in stored_flags()[admiral.pk]
    assert derived.differences() == []


def test_marking_every_role_a_query_selects_is_one_insert(two_roles, settings, django_assert_num_queries):
    a, b, _curator = two_roles
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    with django_assert_num_queries(1):  # INSERT … SELECT
        derived.enqueue_selected(Role.objects.filter(pk__in=[a.pk, b.pk]))
    assert sorted(DerivedQueue.objects.values_list("role_id", "text")) == sorted([(a.pk, ""), (b.pk, "")])
    with pytest.raises(TypeError, match="QuerySet of Role, not of TitleAlias"):
        derived.enqueue_selected(TitleAlias.objects.all())


# differences() and `refresh_derived --check` ------------------------------------------------------


def test_differences_is_empty_when_the_stored_rows_are_current(two_roles):
    assert derived.differences() == []


def test_differences_names_every_row_that_differs_from_a_recompute(two_roles):
    a, b, _curator = two_roles
    twin = TitleAlias.objects.get(alias="Machine Learning I")
    AliasSignals.objects.filter(alias=twin).update(near_duplicate=True)
    RoleDigest.objects.filter(role=b).update(aliases_pending=7)
    ReviewTally.objects.filter(scope="family", key=a.node.parent.code).update(aliases_pending=326)
    RoleDigest.objects.create(role_id=a.pk + 1000)
    found = derived.differences()
    assert f"alias {twin.pk} 'Machine Learning I': near_duplicate stored True, computed False" in found
    assert f"role {b.pk} {b.code}: aliases_pending stored 7, computed 1" in found
    assert f"tally family {a.node.parent.code}: aliases_pending stored 326, computed 3" in found
    assert any(line.startswith(f"role {a.pk + 1000}: digest of a missing role") for line in found)
    assert len(found) == 4, found


def test_differences_counts_work_still_queued(two_roles, settings):
    a, _b, curator = two_roles
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"  # never worked off: the test never commits
    TitleAliasFactory(role=a, alias="Data Wrangler", created_by=curator)
    found = derived.differences()
    assert "derived queue: 2 entries not worked off yet" in found
    assert any("'Data Wrangler': no stored signals" in line for line in found)


@pytest.mark.parametrize("n", [2, 4])
def test_differences_takes_constant_queries(make_user, n, django_assert_num_queries):
    curator = make_user("curator")
    for _ in range(n):
        role = RoleFactory()
        for i in range(n):
            TitleAliasFactory(role=role, alias=f"Alias {role.pk} {i}", created_by=curator)
    # The state's fingerprint; the queue's count; the role ids; per chunk of roles: the aliases, the
    # five flag queries, the roles (code, title, family, level), the mappings' counts, the stored
    # signals and digests; the signals of missing aliases, the digests of missing roles; the tallies.
    with django_assert_num_queries(16):
        assert derived.differences() == []


def test_check_exits_0_with_one_summary_line_when_current(two_roles):
    from django.core.management import call_command

    out = StringIO()
    call_command("refresh_derived", "--check", stdout=out)
    assert out.getvalue().strip().splitlines() == [
        "Derived data current: 2 roles, 4 aliases and their tallies equal a recompute."
    ]


def test_check_exits_1_and_names_the_row_after_a_tally_is_tampered_with(two_roles):
    from django.core.management import CommandError, call_command

    a, _b, _curator = two_roles
    family = a.node.parent.code
    ReviewTally.objects.filter(scope="family", key=family).update(aliases_pending=326)
    out = StringIO()
    with pytest.raises(CommandError, match="^1 difference between the derived rows and a recompute") as raised:
        call_command("refresh_derived", "--check", stdout=out)
    assert raised.value.returncode == 1
    assert f"tally family {family}: aliases_pending stored 326, computed 3" in out.getvalue()


def test_check_caps_the_lines_it_prints(two_roles, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setattr(derived, "differences", lambda: [f"row {i}" for i in range(120)])
    out = StringIO()
    with pytest.raises(CommandError, match="^120 differences between"):
        call_command("refresh_derived", "--check", stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert lines[:2] == ["row 0", "row 1"] and "row 50" not in lines
    assert lines[-1] == "… and 70 more."


def test_check_works_the_queue_off_before_comparing(two_roles, settings):
    from django.core.management import call_command

    a, _b, curator = two_roles
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    TitleAliasFactory(role=a, alias="Data Wrangler", created_by=curator)
    assert derived.differences()
    call_command("refresh_derived", "--check", stdout=StringIO())
    assert not DerivedQueue.objects.exists()


# Settings that change the flags: a rebuild at start-up ----------------------------------------------


def test_a_settings_change_rebuilds_at_start_up_with_if_stale(two_roles, settings):
    from django.core.management import call_command

    derived.rebuild_all()
    out = StringIO()
    call_command("refresh_derived", "--if-stale", stdout=out)
    assert "current" in out.getvalue() and "rebuilt" not in out.getvalue()
    settings.REVIEW_LEVEL_WORDS = {"senior": {"words": ["modeller"], "min_rank": 3}}
    call_command("refresh_derived", "--if-stale", stdout=out)
    assert "Derived data rebuilt for 2 roles" in out.getvalue()
    assert derived.is_current()
    assert "level" in stored_flags()[TitleAlias.objects.get(alias="Senior Modeller").pk]
    assert derived.differences() == []


def test_serve_refreshes_stale_derived_data_even_without_migrate(monkeypatch):
    from django.core import management

    from framework import serve

    calls = []
    monkeypatch.setenv("ROLEBOOK_MIGRATE", "0")
    monkeypatch.setattr(management, "call_command", lambda *args, **kwargs: calls.append(args))
    serve.setup()
    assert ("refresh_derived", "--if-stale") in calls
    assert not any(args[:1] == ("migrate",) for args in calls)


def test_migrate_rebuilds_after_a_settings_change(two_roles, settings):
    from django.core.management import call_command

    derived.rebuild_all()
    settings.ROLEBOOK_CONFIDENCE_BANDS = {"medium": Decimal("0.10"), "high": Decimal("0.20")}
    assert not derived.is_current()
    call_command("migrate", verbosity=0, interactive=False)
    assert derived.is_current()
    assert derived.differences() == []
