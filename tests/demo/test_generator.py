"""The demo data generator: reproducible, complete, audited, and constant in queries per batch."""

import io
import re
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from demo.generator import REVIEWER_USERNAME, DemoDataExists, DemoError, generate_demo
from roles.models import ROLE_CODE_RE, ClassificationMapping, Component, Decision, Role, TitleAlias, confidence_band
from taxonomy.models import Level, OccupationCode, TaxonomyNode
from tests.factories import UserFactory

SMALL = {"roles": 20, "aliases_per_role": 12, "components_per_role": 8}


@pytest.fixture
def actor(db):
    return UserFactory(username="demo-actor")


def snapshot() -> dict:
    """Everything generate_demo wrote, keyed by natural fields (primary keys differ between runs)."""
    return {
        "roles": list(Role.objects.order_by("code").values_list("code", "title", "headline", "plan")),
        "aliases": list(
            TitleAlias.objects.order_by("role__code", "alias").values_list(
                "role__code", "alias", "alias_type", "confidence", "status"
            )
        ),
        "components": list(
            Component.objects.order_by("role__code", "kind", "position").values_list(
                "role__code", "kind", "position", "text"
            )
        ),
        "mappings": list(
            ClassificationMapping.objects.order_by("role__code", "code").values_list(
                "role__code", "code", "source", "status"
            )
        ),
        "nodes": list(TaxonomyNode.objects.order_by("code").values_list("code", "kind", "parent__code")),
    }


def generate_and_roll_back(**kwargs) -> dict:
    """Run generate_demo, take a snapshot, and undo it all."""
    with transaction.atomic():
        generate_demo(**kwargs)
        data = snapshot()
        transaction.set_rollback(True)
    return data


def test_same_seed_gives_the_same_data(reference_soc, actor):
    first = generate_and_roll_back(**SMALL, seed=7, actor=actor, approve_fraction=0.3)
    second = generate_and_roll_back(**SMALL, seed=7, actor=actor, approve_fraction=0.3)
    assert first["aliases"], "the snapshot must not be empty"
    assert first == second


def test_another_seed_gives_other_data(reference_soc, actor):
    first = generate_and_roll_back(**SMALL, seed=7, actor=actor)
    other = generate_and_roll_back(**SMALL, seed=8, actor=actor)
    assert first["aliases"] != other["aliases"]


def test_counts_match_the_arguments(reference_soc, actor):
    summary = generate_demo(**SMALL, seed=1, actor=actor)

    assert (summary.roles, summary.aliases, summary.components) == (20, 240, 160)
    assert Role.objects.count() == 20
    assert TitleAlias.objects.count() == 240
    assert Component.objects.count() == 160
    assert ClassificationMapping.objects.count() == summary.mappings
    assert TaxonomyNode.objects.count() == summary.nodes
    # Every role has the requested number of aliases and components, and one or two mappings.
    for role in Role.objects.prefetch_related("aliases", "components", "mappings"):
        assert len(role.aliases.all()) == 12
        assert len(role.components.all()) == 8
        assert 1 <= len(role.mappings.all()) <= 2


def test_roles_sit_on_a_four_level_tree_with_matching_codes(reference_soc, actor):
    generate_demo(roles=60, aliases_per_role=1, components_per_role=1, seed=3, actor=actor)

    kinds = set(TaxonomyNode.objects.values_list("kind", flat=True))
    assert kinds == set(TaxonomyNode.Kind.values)
    for role in Role.objects.select_related("node__parent__parent__parent", "level"):
        assert re.fullmatch(ROLE_CODE_RE, role.code)
        assert role.code == f"{role.node.code}.{role.level.code}"
        assert role.node.kind == TaxonomyNode.Kind.SPECIALIZATION
        assert role.node.parent.kind == TaxonomyNode.Kind.FAMILY
        assert role.node.parent.parent.kind == TaxonomyNode.Kind.FUNCTION
        assert role.node.parent.parent.parent.kind == TaxonomyNode.Kind.SUPERFUNCTION
        role.full_clean()
    superfunctions = TaxonomyNode.objects.filter(kind=TaxonomyNode.Kind.SUPERFUNCTION)
    assert superfunctions.count() > 1, "even a small data set spans several superfunctions"
    assert superfunctions.filter(default_soc__isnull=False).exists()


def test_levels_p1_to_m4_are_created_with_the_cards_p1(reference_soc, actor):
    summary = generate_demo(roles=10, aliases_per_role=0, components_per_role=0, seed=1, actor=actor)

    codes = set(Level.objects.values_list("code", flat=True))
    assert {f"P{i}" for i in range(1, 7)} | {f"M{i}" for i in range(1, 5)} <= codes
    assert summary.levels == 10
    for level in Level.objects.all():
        assert all(getattr(level, name) for name, _ in Level.ATTRIBUTES), level.code
        assert level.track == level.code[0]
    p1 = Level.objects.get(code="P1")
    assert (p1.name, p1.summary, p1.typical_experience) == (
        "Entry-Level Professional",
        "New to role or field; performs basic tasks under supervision",
        "0–2 yrs",
    )
    assert p1.leadership == "None — building the craft"


def test_every_row_has_one_history_row_by_the_actor_with_the_reason(reference_soc, actor):
    generate_demo(**SMALL, seed=5, actor=actor, approve_fraction=0.5)

    for model in (Level, TaxonomyNode, Role, Component, TitleAlias, ClassificationMapping):
        rows = model.objects.count()
        history = model.history.all()
        assert rows > 0, model
        assert history.count() == rows, model
        assert (
            history.filter(history_user=actor, history_change_reason="generate_demo seed=5", history_type="+").count()
            == rows
        ), model


def test_review_states_follow_the_approve_fraction(reference_soc, actor):
    generate_demo(roles=40, aliases_per_role=25, components_per_role=0, seed=11, actor=actor, approve_fraction=0.5)

    aliases = TitleAlias.objects.all()
    approved = aliases.filter(status=TitleAlias.Status.APPROVED)
    assert 0.45 <= approved.count() / aliases.count() <= 0.55
    assert aliases.filter(status=TitleAlias.Status.REJECTED).exists()
    assert aliases.filter(status=TitleAlias.Status.PENDING).exists()
    assert not approved.filter(decided_by__isnull=True).exists()
    assert set(approved.values_list("decided_by__username", flat=True)) == {REVIEWER_USERNAME}
    assert not approved.filter(decided_at__isnull=True).exists()
    # Every decision went through the state machine: one Decision row per decided item.
    decided = aliases.exclude(status=TitleAlias.Status.PENDING)
    assert Decision.objects.filter(alias__in=decided).count() == decided.count()
    assert not Decision.objects.filter(alias__status=TitleAlias.Status.PENDING).exists()
    mappings = ClassificationMapping.objects.all()
    assert mappings.filter(status=ClassificationMapping.Status.APPROVED).exists()
    assert mappings.filter(status=ClassificationMapping.Status.NEEDS_REVIEW).exists()
    decided = mappings.exclude(status=ClassificationMapping.Status.NEEDS_REVIEW)
    assert set(decided.values_list("decided_by__username", flat=True)) == {REVIEWER_USERNAME}
    assert not decided.filter(decided_at__isnull=True).exists()


def test_without_approve_fraction_nothing_is_approved(reference_soc, actor):
    generate_demo(**SMALL, seed=2, actor=actor)

    assert not TitleAlias.objects.filter(status=TitleAlias.Status.APPROVED).exists()
    assert not ClassificationMapping.objects.filter(status=ClassificationMapping.Status.APPROVED).exists()
    assert TitleAlias.objects.filter(status=TitleAlias.Status.PENDING).count() > 200


def test_aliases_vary_in_type_and_confidence_band(reference_soc, actor):
    generate_demo(roles=30, aliases_per_role=40, components_per_role=0, seed=4, actor=actor)

    confidences = list(TitleAlias.objects.values_list("confidence", flat=True))
    assert min(confidences) >= Decimal("0.30") and max(confidences) <= Decimal("0.95")
    assert {confidence_band(c) for c in confidences} == {"low", "medium", "high"}
    assert set(TitleAlias.objects.values_list("alias_type", flat=True)) == set(TitleAlias.AliasType.values)


def test_aliases_are_unique_per_role_ignoring_case_and_spaces(reference_soc, actor):
    generate_demo(roles=10, aliases_per_role=150, components_per_role=0, seed=9, actor=actor)

    for role in Role.objects.prefetch_related("aliases"):
        keys = [" ".join(a.alias.split()).lower() for a in role.aliases.all()]
        assert len(keys) == len(set(keys)) == 150


def test_components_cover_the_six_kinds_in_order(reference_soc, actor):
    generate_demo(roles=5, aliases_per_role=0, components_per_role=40, seed=6, actor=actor)

    role = Role.objects.first()
    by_kind: dict[str, list[int]] = {}
    for kind, position in role.components.order_by("kind", "position").values_list("kind", "position"):
        by_kind.setdefault(kind, []).append(position)
    assert set(by_kind) == set(Component.Kind.values)
    for positions in by_kind.values():
        assert positions == list(range(len(positions)))


def test_mappings_link_real_soc_codes_with_known_sources(reference_soc, actor):
    generate_demo(**SMALL, seed=12, actor=actor)

    mappings = ClassificationMapping.objects.select_related("occupation")
    assert mappings.count() >= 20
    for mapping in mappings:
        assert mapping.occupation is not None
        assert mapping.occupation.scheme == OccupationCode.Scheme.SOC_2018
        assert mapping.occupation.code == mapping.code
        mapping.full_clean()
    sources = set(mappings.values_list("source", flat=True))
    assert sources <= set(ClassificationMapping.Source.values)
    assert len(sources) >= 2


def test_the_seed_role_is_left_alone(seed_role, actor):
    before = (seed_role.title, seed_role.aliases.count(), seed_role.components.count())

    generate_demo(**SMALL, seed=42, actor=actor)

    seed_role.refresh_from_db()
    assert (seed_role.title, seed_role.aliases.count(), seed_role.components.count()) == before
    assert Role.objects.count() == 21
    assert not Role.objects.filter(code__startswith="AIMLAM.").exclude(pk=seed_role.pk).exists()


def test_a_second_run_stops_with_a_clear_error_and_writes_nothing(reference_soc, actor):
    generate_demo(**SMALL, seed=1, actor=actor)
    roles = Role.objects.count()

    with pytest.raises(DemoDataExists, match="already holds demo data"):
        generate_demo(**SMALL, seed=2, actor=actor)
    assert Role.objects.count() == roles


def test_progress_goes_to_stdout(reference_soc, actor):
    out = io.StringIO()
    generate_demo(**SMALL, seed=1, actor=actor, stdout=out)

    lines = out.getvalue().splitlines()
    assert any(re.fullmatch(r"\s+roles\s+20 / 20", line) for line in lines)
    assert any(re.fullmatch(r"\s+components\s+160 / 160", line) for line in lines)
    assert any(re.fullmatch(r"\s+title aliases\s+240 / 240", line) for line in lines)


def test_progress_reports_rows_written_by_full_batches(reference_soc, actor, monkeypatch):
    """A last batch that happens to be full still ends with a progress line."""
    monkeypatch.setattr("demo.generator.BATCH_SIZE", 40)
    out = io.StringIO()
    generate_demo(roles=10, aliases_per_role=4, components_per_role=4, seed=1, actor=actor, stdout=out)

    assert "40 / 40" in out.getvalue()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"roles": -1}, "roles"),
        ({"aliases_per_role": -2}, "aliases_per_role"),
        ({"components_per_role": -3}, "components_per_role"),
        ({"approve_fraction": 1.5}, "approve_fraction"),
    ],
)
def test_bad_arguments_raise_a_demo_error_naming_them(db, actor, kwargs, message):
    arguments = {**SMALL, "seed": 1, "actor": actor, **kwargs}
    with pytest.raises(DemoError, match=message):
        generate_demo(**arguments)


def test_the_command_prints_a_one_line_summary_with_the_time(reference_soc, actor):
    out = io.StringIO()
    call_command(
        "generate_demo",
        "--roles",
        "4",
        "--aliases-per-role",
        "3",
        "--components-per-role",
        "2",
        "--seed",
        "3",
        "--approve-fraction",
        "0.5",
        "--as",
        "demo-actor",
        stdout=out,
    )

    last = out.getvalue().strip().splitlines()[-1]
    assert re.fullmatch(r"Generated 4 roles, 12 aliases .* as demo-actor in \d+\.\d s\.", last)
    assert Role.history.filter(history_user=actor).count() == 4


def test_the_command_acts_as_the_system_user_by_default(reference_soc, settings):
    call_command(
        "generate_demo", "--roles", "2", "--aliases-per-role", "1", "--components-per-role", "1", stdout=io.StringIO()
    )

    users = set(Role.history.values_list("history_user__username", flat=True))
    assert users == {settings.ROLEBOOK_SYSTEM_USERNAME}


def test_the_command_refuses_a_second_run(reference_soc, actor):
    args = ["--roles", "2", "--aliases-per-role", "1", "--components-per-role", "1"]
    call_command("generate_demo", *args, stdout=io.StringIO())

    with pytest.raises(CommandError, match="already holds demo data"):
        call_command("generate_demo", *args, stdout=io.StringIO())


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--roles", "-1"], "--roles"),
        (["--aliases-per-role", "-5"], "--aliases-per-role"),
        (["--components-per-role", "-1"], "--components-per-role"),
        (["--approve-fraction", "1.5"], "--approve-fraction"),
        (["--approve-fraction", "-0.1"], "--approve-fraction"),
        (["--as", "nobody"], "--as"),
        (["--roles", "many"], "--roles"),
    ],
)
def test_the_command_rejects_bad_arguments_naming_them(db, args, flag):
    with pytest.raises(CommandError, match=re.escape(flag)):
        call_command("generate_demo", *args, stdout=io.StringIO())
    assert not Role.objects.exists()


def test_queries_are_constant_per_batch(reference_soc, groups, actor, django_assert_num_queries, derived_after_commit):
    """10 and 20 roles both fit in one batch of each model: the same queries, whatever the size.

    Queries (40; 41 on PostgreSQL): savepoint; existing node codes; existing role codes; existing levels; the
    missing levels and their history (2); the SOC reference; the demo reviewer (select;
    savepoint, insert, release; unusable password; the Reviewers group; join it; its review
    permissions, granted (2) and read back (1)); then each a batch and its history (2 each):
    superfunctions, functions, families, specializations, roles, components; the reviewer's
    permissions, read once by the state machine (2); aliases and mappings (2 each), each
    batch followed by its decisions' Decision rows (1 each), the aliases' roles marked stale by the
    review core (1; the mappings' roles are the same, marked once per transaction); every role's
    id, for roles.derived (1; all marked already); release savepoint; on PostgreSQL, ANALYZE of
    the tables it filled (1).
    """
    from django.db import connection

    # Half approved: both sizes decide some aliases and some mappings, so each has its Decision batch.
    small = {"aliases_per_role": 2, "components_per_role": 2, "seed": 1, "actor": actor, "approve_fraction": 0.5}
    with transaction.atomic():
        with django_assert_num_queries(40 + (connection.vendor == "postgresql")) as ten:
            generate_demo(roles=10, **small)
        transaction.set_rollback(True)
    with django_assert_num_queries(len(ten.captured_queries)):
        generate_demo(roles=20, **small)


def test_postgresql_knows_the_new_table_sizes_right_after_a_demo_load(reference_soc, actor):
    # Without fresh statistics the planner took the 56k-alias table for empty and chose whole-table
    # plans until autovacuum caught up: the alias queue ran at 294 ms instead of 87 ms (bench load).
    from django.db import connection

    generate_demo(roles=20, aliases_per_role=30, components_per_role=2, seed=8, actor=actor)
    if connection.vendor != "postgresql":
        return  # SQLite plans without table statistics of this kind; nothing to refresh
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [TitleAlias._meta.db_table])
        (estimated,) = cursor.fetchone()
    assert estimated == TitleAlias.objects.count() == 600
