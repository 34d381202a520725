"""import_cards: creating and updating roles from cards, keeping review decisions, refusing bad cards."""

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from framework.audit import get_system_user
from review import services as review_services
from roles.cards.fixture import dump_roles
from roles.cards.importer import CardSource, import_cards
from roles.cards.parser import MappingData, parse_card
from roles.cards.renderer import format_card
from roles.models import ClassificationMapping, Component, Decision, Role, TitleAlias
from taxonomy.models import Level, TaxonomyNode
from tests.factories import LevelFactory, UserFactory, reviewer

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parents[2] / "fixtures" / "cards"
REFERENCE = (DATA / "AIMLAM.GEN.P1.txt").read_bytes()
REFERENCE_TEXT = REFERENCE.decode("utf-8")
TRACKED = (Role, Component, TitleAlias, ClassificationMapping, Level, TaxonomyNode)


def _write(tmp_path: Path, text: str | bytes, name: str = "AIMLAM.GEN.P1.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def _run(*args: str) -> str:
    out = StringIO()
    call_command("import_cards", *[str(a) for a in args], stdout=out, stderr=StringIO())
    return out.getvalue()


def _history_count() -> int:
    return sum(model.history.count() for model in TRACKED)


def _row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TRACKED}


def _decide(item, status: str) -> None:
    """A reviewer's decision, made through the review workflow."""
    actor = reviewer()
    if isinstance(item, TitleAlias):
        if status == TitleAlias.Status.APPROVED:
            review_services.approve_alias(alias=item, actor=actor)
        else:
            review_services.reject_alias(alias=item, actor=actor, reason="not a real title")
    elif status == ClassificationMapping.Status.APPROVED:
        review_services.approve_mapping(mapping=item, actor=actor, confirm_group_level=True)
    else:
        review_services.reject_mapping(mapping=item, actor=actor, reason="wrong group")
    item.refresh_from_db()


def test_importing_the_reference_card_creates_the_role_and_its_taxonomy(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    out = _run(path)
    role = Role.objects.get(code="AIMLAM.GEN.P1")
    assert (role.node.code, role.node.kind, role.node.parent.code, role.node.parent.kind) == (
        "AIMLAM.GEN",
        "specialization",
        "AIMLAM",
        "family",
    )
    assert (role.level.code, role.level.rank, role.level.track, role.level.leadership) == (
        "P1",
        1,
        "P",
        "None — building the craft",
    )
    assert role.components.count() == 39
    assert role.aliases.filter(status="pending", source="card import").count() == 16
    mapping = role.mappings.get()
    assert (mapping.code, mapping.occupation.code, mapping.status) == ("15-0000", "15-0000", "needs_review")
    assert f"{path}: AIMLAM.GEN.P1 created" in out
    assert "Imported 1 card: 1 created, 0 updated, 0 unchanged; 0 suppressed, 0 missing." in out


def test_every_write_is_attributed_to_the_acting_user_with_the_file_as_reason(reference_soc, tmp_path):
    curator = UserFactory(username="cora")
    path = _write(tmp_path, REFERENCE)
    _run(path, "--as", "cora")
    for model in TRACKED[:4]:
        rows = model.history.all()
        assert rows.exists()
        assert set(rows.values_list("history_user", "history_change_reason")) == {(curator.pk, f"card import: {path}")}
    assert set(TitleAlias.objects.values_list("created_by", flat=True)) == {curator.pk}


def test_the_system_user_acts_by_default_and_an_unknown_user_is_refused(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    with pytest.raises(CommandError, match="--as nobody: no active user"):
        _run(path, "--as", "nobody")
    assert not Role.objects.exists()
    _run(path)
    assert Role.history.get().history_user == get_system_user()


def test_reimporting_the_same_card_changes_nothing_and_writes_no_history(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    before = _history_count()
    out = _run(path)
    assert _history_count() == before
    assert "AIMLAM.GEN.P1 unchanged (0 added, 0 changed)" in out
    assert "0 created, 0 updated, 1 unchanged" in out


def test_a_corrected_card_updates_only_what_changed(reference_soc, tmp_path):
    _run(_write(tmp_path, REFERENCE))
    before = _history_count()
    corrected = REFERENCE_TEXT.replace(
        "| Junior Deep Learning | common | medium0.68 |", "| Junior Deep Learning | common | medium0.72 |"
    ).replace("- Time managementcommonlevel", "- Time managementrarelevel")
    out = _run(_write(tmp_path, corrected), "-v", "2")
    assert _history_count() == before + 2
    assert TitleAlias.objects.get(alias="Junior Deep Learning").confidence == Decimal("0.72")
    assert Component.objects.get(text="Time management").prevalence == "rare"
    assert "AIMLAM.GEN.P1 updated (0 added, 2 changed)" in out
    assert "changed: alias 'Junior Deep Learning': confidence" in out


def test_an_approved_alias_stays_approved_when_unchanged(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    alias = TitleAlias.objects.get(alias="Deep Learning I")
    _decide(alias, TitleAlias.Status.APPROVED)
    before = _history_count()
    _run(path)
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.APPROVED
    assert _history_count() == before


def test_an_approved_alias_whose_confidence_changes_goes_back_to_review(reference_soc, tmp_path):
    _run(_write(tmp_path, REFERENCE))
    alias = TitleAlias.objects.get(alias="Deep Learning I")
    _decide(alias, TitleAlias.Status.APPROVED)
    changed = REFERENCE_TEXT.replace(
        "| Deep Learning I | common | medium0.70 |", "| Deep Learning I | common | high0.85 |"
    )
    out = _run(_write(tmp_path, changed), "-v", "2")
    alias.refresh_from_db()
    assert (alias.status, alias.decided_at, alias.confidence) == ("pending", None, Decimal("0.85"))
    assert alias.content_changed_by == get_system_user()
    assert "(back to review)" in out


@pytest.mark.parametrize("approved", [True, False])
def test_a_deprecated_alias_stays_as_published_whatever_the_card_says(reference_soc, tmp_path, make_user, approved):
    from roles import services

    _run(_write(tmp_path, REFERENCE))
    alias = TitleAlias.objects.get(alias="Deep Learning I")
    if approved:
        _decide(alias, TitleAlias.Status.APPROVED)
    proposal = services.propose_deprecation(item=alias, actor=make_user("curator"), reason="retired title")
    services.decide_deprecation(proposal=proposal, kind="approve", actor=make_user("reviewer"))
    before = _history_count()
    changed = REFERENCE_TEXT.replace(
        "| Deep Learning I | common | medium0.70 |", "| Deep Learning I | common | high0.85 |"
    )
    out = _run(_write(tmp_path, changed), "-v", "2")
    alias.refresh_from_db()
    assert alias.deprecated and alias.confidence == Decimal("0.70")
    assert _history_count() == before
    assert "suppressed: alias 'Deep Learning I' is deprecated: it stays as it was published" in out


def test_a_rejected_alias_is_never_resurrected_and_is_reported_suppressed(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    alias = TitleAlias.objects.get(alias="Junior Machine Learning")
    _decide(alias, TitleAlias.Status.REJECTED)
    before = _history_count()
    out = _run(path)
    alias.refresh_from_db()
    assert alias.status == TitleAlias.Status.REJECTED
    assert _history_count() == before
    assert "suppressed: alias 'Junior Machine Learning' was rejected by a reviewer" in out
    assert "1 suppressed" in out


def test_an_approved_mapping_stays_approved(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    mapping = ClassificationMapping.objects.get()
    _decide(mapping, ClassificationMapping.Status.APPROVED)
    _run(path)
    mapping.refresh_from_db()
    assert mapping.status == ClassificationMapping.Status.APPROVED


def test_a_rejected_mapping_is_suppressed(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    mapping = ClassificationMapping.objects.get()
    _decide(mapping, ClassificationMapping.Status.REJECTED)
    out = _run(path)
    mapping.refresh_from_db()
    assert mapping.status == ClassificationMapping.Status.REJECTED
    assert "suppressed: mapping 15-0000 was rejected by a reviewer" in out


def test_items_missing_from_the_new_card_are_reported_not_deleted(reference_soc, tmp_path):
    _run(_write(tmp_path, REFERENCE))
    lines = [
        line
        for line in REFERENCE_TEXT.split("\n")
        if not line.startswith("| Associate Deep Learning") and not line.startswith("- code=")
    ]
    out = _run(_write(tmp_path, "\n".join(lines)))
    assert TitleAlias.objects.filter(alias="Associate Deep Learning").exists()
    assert ClassificationMapping.objects.filter(code="15-0000").exists()
    assert "missing: alias 'Associate Deep Learning' is not on the card" in out
    assert "missing: mapping 15-0000 is not on the card" in out
    assert "2 missing. Missing items were kept: a curator deletes them in the admin" in out


def test_an_approval_date_on_the_card_imports_as_approved_at_midnight_utc(reference_soc, tmp_path):
    """An alias another person brought in is approved by the importer's claim (the importer wrote none of it)."""
    UserFactory(username="cora")
    _run(_write(tmp_path, REFERENCE_TEXT), "--as", "cora")
    card = REFERENCE_TEXT.replace(
        "| Deep Learning 1 | common | medium0.66 | — |", "| Deep Learning 1 | common | medium0.66 | 2026-02-03 |"
    )
    path = _write(tmp_path, card)
    _run(path)
    alias = TitleAlias.objects.get(alias="Deep Learning 1")
    assert (alias.status, alias.decided_at, alias.decided_by) == (
        "approved",
        datetime(2026, 2, 3, tzinfo=UTC),
        get_system_user(),
    )
    decision = alias.decisions.get()
    assert (decision.decision, decision.actor) == ("imported", get_system_user())
    assert decision.comment == f"card import: {path}: the card says approved on 2026-02-03"


def test_a_differing_level_block_updates_the_level_with_history(reference_soc, tmp_path):
    level = LevelFactory(code="P1", name="Junior", scope="Something else")
    out = _run(_write(tmp_path, REFERENCE), "-v", "2")
    level.refresh_from_db()
    assert (level.name, level.scope) == ("Entry-Level Professional", "Own tasks within a defined component")
    assert level.history.latest().history_change_reason.startswith("card import:")
    assert "changed: level P1: name 'Junior' → 'Entry-Level Professional', summary" in out


def test_a_folder_of_cards_is_imported_in_one_run(reference_soc, tmp_path):
    _write(tmp_path, REFERENCE)
    _write(tmp_path, REFERENCE_TEXT.replace("AIMLAM.GEN.P1", "AIMLAM.NLP.P1"), "other.txt")
    _write(tmp_path, "not a card", "notes.md")
    out = _run(tmp_path)
    assert set(Role.objects.values_list("code", flat=True)) == {"AIMLAM.GEN.P1", "AIMLAM.NLP.P1"}
    assert TaxonomyNode.objects.filter(code="AIMLAM").count() == 1
    assert "[2/2]" in out and "2 created" in out


def test_dry_run_writes_nothing(reference_soc, tmp_path):
    counts = _row_counts()
    out = _run(_write(tmp_path, REFERENCE), "--dry-run")
    assert _row_counts() == counts
    assert "Would import 1 card: 1 created" in out and "dry run: nothing written" in out


def test_a_malformed_card_fails_the_whole_run_with_file_line_errors(reference_soc, tmp_path):
    good = _write(tmp_path, REFERENCE_TEXT.replace("AIMLAM.GEN.P1", "AIMLAM.NLP.P1"), "a_good.txt")
    bad_text = REFERENCE_TEXT.replace("Tasks4", "Tasks3").replace("code=15-0000", "code=15-00")
    bad = _write(tmp_path, bad_text, "b_bad.txt")
    truncated = _write(tmp_path, REFERENCE[:2000], "c_truncated.txt")
    counts = _row_counts()
    err = StringIO()
    with pytest.raises(CommandError, match=r"problem\(s\) in 2 of 3 file\(s\): nothing was imported"):
        call_command("import_cards", str(good), str(bad), str(truncated), stdout=StringIO(), stderr=err)
    lines = err.getvalue().splitlines()
    assert f'{bad}:54: "Tasks" says 3 items but lists 4' in lines
    assert any(line.startswith(f"{bad}:111: malformed SOC code") for line in lines)
    assert any(line.startswith(f"{truncated}:") and "is missing" in line for line in lines)
    assert _row_counts() == counts


def test_the_same_role_twice_in_one_run_is_refused(reference_soc, tmp_path):
    first = _write(tmp_path, REFERENCE, "one.txt")
    second = _write(tmp_path, REFERENCE, "two.txt")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_cards", str(first), str(second), stdout=StringIO(), stderr=err)
    assert f"{second}:2: AIMLAM.GEN.P1 is also in {first}" in err.getvalue()
    assert not Role.objects.exists()


def test_a_missing_path_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file or folder"):
        _run(tmp_path / "nope.txt")


def test_seed_fixture_is_what_the_importer_produces_from_the_reference_card(reference_soc, tmp_path):
    _run(_write(tmp_path, REFERENCE))
    produced = json.loads(dump_roles(["AIMLAM.GEN.P1"]))
    fixture = json.loads(Path("fixtures/seed.json").read_text(encoding="utf-8"))
    assert produced == fixture


# Queries per card are bounded by a constant ------------------------------------------------


def _bigger_card() -> str:
    """The reference card with twice the components, aliases and mappings."""
    card = parse_card(REFERENCE)
    extra_components = [replace(c, text=f"{c.text} (advanced)") for c in card.components]
    components = sorted(card.components + extra_components, key=lambda c: list(Component.KIND_ORDER).index(c.kind))
    extra_aliases = [replace(a, alias=f"{a.alias} Extra") for a in card.aliases]
    mappings = card.mappings + [MappingData(code="15-1252", title="Software Developers", source="manual")]
    return format_card(replace(card, components=components, aliases=card.aliases + extra_aliases, mappings=mappings))


def _changed(text: str) -> str:
    """Every component's tag, every alias's confidence changed: each row needs an update."""
    card = parse_card(text)
    card = replace(
        card,
        components=[replace(c, prevalence="rare") for c in card.components],
        aliases=[replace(a, confidence=Decimal("0.55")) for a in card.aliases],
        mappings=[replace(m, title=m.title + " (renamed)") for m in card.mappings],
    )
    return format_card(card)


@pytest.mark.parametrize("size", ["reference card", "twice the items"])
def test_queries_per_card_do_not_grow_with_its_size(size, reference_soc, django_assert_num_queries,
                                                     derived_after_commit):
    text = REFERENCE_TEXT if size == "reference card" else _bigger_card()
    if size != "reference card":
        assert len(parse_card(text).components) == 2 * len(parse_card(REFERENCE).components)
    actor = get_system_user()
    # Create (22): the run's SAVEPOINT and RELEASE; read the role, the nodes, the level and the
    # occupations; the card's SAVEPOINT and RELEASE; insert family, specialization, level and
    # role (row + history row each); components, aliases, mappings (bulk insert + bulk history each);
    # the role and its aliases' texts marked stale for roles.derived (1, and 1 for the role's save).
    with django_assert_num_queries(24):
        result = import_cards([CardSource("card.txt", text.encode())], actor=actor)
    assert result.ok
    # Unchanged (6): the run's SAVEPOINT and RELEASE; read the role (with node and level),
    # its components, aliases and mappings. Nothing is written.
    with django_assert_num_queries(6):
        import_cards([CardSource("card.txt", text.encode())], actor=actor)
    # Every item changed (17): the 6 above; the history of the changed components, aliases and
    # mappings, to find fields edited in Rolebook since the last import (3); the card's
    # SAVEPOINT and RELEASE, then one bulk update and one bulk history insert each for
    # components, aliases and mappings; the role and the changed texts marked stale (1).
    with django_assert_num_queries(18):
        result = import_cards([CardSource("card.txt", _changed(text).encode())], actor=actor)
    assert result.plans[0].action == "updated"


# -- review claims, Rolebook edits and locks ---------------------------------------------------

MAPPING_LINE = (
    "- code=15-0000title=Computer & Mathematical Occupationssource=inferred_from_superfunction"
    "reviewStatus=needs_review"
)


def test_a_card_with_a_rejected_mapping_is_valid_and_round_trips(reference_soc, tmp_path):
    text = REFERENCE_TEXT.replace(MAPPING_LINE, MAPPING_LINE.replace("needs_review", "rejected"))
    path = _write(tmp_path, text)
    _run(path)
    mapping = ClassificationMapping.objects.get(code="15-0000")
    assert mapping.status == "rejected"
    decision = mapping.decisions.get()
    assert (decision.decision, decision.to_status) == ("imported", "rejected")
    out = StringIO()
    call_command("export_card", "AIMLAM.GEN.P1", stdout=out)
    assert out.getvalue().rstrip("\n") == text


def test_claims_from_an_importer_without_the_permission_stay_pending_and_are_listed(reference_soc, tmp_path):
    user = UserFactory(username="cora")
    text = REFERENCE_TEXT.replace(
        "| Deep Learning 1 | common | medium0.66 | — |", "| Deep Learning 1 | common | medium0.66 | 2026-02-03 |"
    ).replace(MAPPING_LINE, MAPPING_LINE.replace("needs_review", "approved"))
    out = _run(_write(tmp_path, text), "--as", "cora")
    assert TitleAlias.objects.get(alias="Deep Learning 1").status == "pending"
    assert ClassificationMapping.objects.get(code="15-0000").status == "needs_review"
    assert not Decision.objects.exists()
    assert "review claim ignored: alias 'Deep Learning 1' (line" in out
    assert "the card says approved on 2026-02-03 — will stay pending" in out
    assert "Review claims: 0 imported as decisions, 2 ignored (stay pending)." in out
    assert user.pk == TitleAlias.objects.get(alias="Deep Learning 1").created_by_id


def test_no_decisions_imports_the_items_open(reference_soc, tmp_path):
    text = REFERENCE_TEXT.replace(
        "| Deep Learning 1 | common | medium0.66 | — |", "| Deep Learning 1 | common | medium0.66 | 2026-02-03 |"
    )
    _run(_write(tmp_path, text), "--no-decisions")
    assert TitleAlias.objects.get(alias="Deep Learning 1").status == "pending"


def test_a_reimport_keeps_rolebook_edits_unless_told_to_overwrite(reference_soc, tmp_path):
    from roles.services import save_alias

    path = _write(tmp_path, REFERENCE)
    _run(path)
    editor = UserFactory(username="edith")
    alias = TitleAlias.objects.get(alias="Junior Machine Learning")
    alias.confidence = Decimal("0.75")
    save_alias(alias=alias, actor=editor, reason="seen in job ads")
    out = _run(path)
    assert TitleAlias.objects.get(pk=alias.pk).confidence == Decimal("0.75")
    assert "Rolebook edit: alias 'Junior Machine Learning' confidence: 0.75 → 0.68 — changed in Rolebook by edith" \
        in out
    assert "Conflicts with Rolebook edits: 1 kept, 0 overwritten." in out
    out = _run(path, "--overwrite-edits")
    assert TitleAlias.objects.get(pk=alias.pk).confidence == Decimal("0.68")
    assert "1 overwritten" in out
    # Once the card's value is back, a later import has nothing to say.
    assert "Conflicts" not in _run(path)


def test_a_refined_mapping_is_not_brought_back_by_the_card(reference_soc, tmp_path):
    path = _write(tmp_path, REFERENCE)
    _run(path)
    mapping = ClassificationMapping.objects.get(code="15-0000")
    review_services.refine_mapping(mapping=mapping, actor=reviewer(username="rex"), code="15-2051")
    out = _run(path)
    assert list(ClassificationMapping.objects.values_list("code", flat=True)) == ["15-2051"]
    assert "mapping 15-0000 code: '15-2051' → '15-0000' — changed in Rolebook by rex on " in out
    assert "kept (the card still prints the code it had before review)" in out
    assert "0 suppressed, 0 missing." in out


def test_an_import_locks_the_rows_it_plans(reference_soc, tmp_path, django_assert_max_num_queries):
    """A real import reads the rows it may change with SELECT … FOR UPDATE (PostgreSQL)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    path = _write(tmp_path, REFERENCE)
    _run(path)
    with CaptureQueriesContext(connection) as ctx:
        _run(path)
    reads = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("SELECT") and "roles_" in q["sql"]]
    if connection.features.has_select_for_update:
        assert sum("FOR UPDATE" in sql for sql in reads) >= 4  # role, components, aliases, mappings
    with CaptureQueriesContext(connection) as ctx:
        _run(path, "--dry-run")
    assert not any("FOR UPDATE" in q["sql"] for q in ctx.captured_queries)


def test_fixture_claims_become_imported_decisions_for_the_system_account_only(reference_soc, tmp_path):
    import json

    data = json.loads(Path("fixtures/seed.json").read_text("utf-8"))
    for entry in data:
        if entry["model"] == "roles.titlealias" and entry["fields"]["alias"] == "Deep Learning I":
            entry["fields"].update(status="approved", decided_at="2026-03-01T00:00:00Z")
    path = tmp_path / "claims.json"
    path.write_text(json.dumps(data), "utf-8")
    UserFactory(username="cora")
    out = StringIO()
    call_command("load_fixtures", str(path), "--as", "cora", stdout=out)
    assert TitleAlias.objects.get(alias="Deep Learning I").status == "pending"
    assert "1 ignored (left open)" in out.getvalue()
    Role.objects.all().delete()
    # The system account may import decisions, but it loads (so authors) the alias: four-eyes leaves it open.
    out = StringIO()
    call_command("load_fixtures", str(path), stdout=out)
    alias = TitleAlias.objects.get(alias="Deep Learning I")
    assert (alias.status, alias.decided_by) == ("pending", None)
    assert not alias.decisions.exists()
    assert "1 ignored (left open)" in out.getvalue()


def test_a_card_approving_a_group_level_code_imports_it_for_review_and_lists_the_claim(reference_soc, tmp_path):
    """Rolebook's own export of a group-level approval imports again: the claim is listed, not an error."""
    UserFactory(username="cora")
    _run(_write(tmp_path, REFERENCE_TEXT), "--as", "cora")  # the content is cora's, not the importer's
    card = REFERENCE_TEXT.replace("reviewStatus=needs_review", "reviewStatus=approved")
    assert card != REFERENCE_TEXT
    out = _run(_write(tmp_path, card), "--dry-run")
    assert "the card says approved" in out
    assert "15-0000 is a major group: an imported approval needs a detailed code" in out
    _run(_write(tmp_path, card))
    mapping = ClassificationMapping.objects.get(code="15-0000")
    assert mapping.status == ClassificationMapping.Status.NEEDS_REVIEW and not mapping.decisions.exists()
