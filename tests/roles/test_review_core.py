"""The review core checks once and writes everything: the attacks that used to slip past it, and a scan
that nothing else in the project writes review state or Decision rows."""

from __future__ import annotations

import ast
import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from framework.audit import get_system_user
from review import services
from roles import workflow
from roles.cards.importer import CardSource, import_cards
from roles.models import ClassificationMapping, Decision, RoleDigest, TitleAlias
from roles.soc import suggest_mappings
from tests.factories import ClassificationMappingFactory, RoleFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
REFERENCE_TEXT = (ROOT / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_text("utf-8")
APPS = ("api", "framework", "notifications", "publishing", "review", "roles", "taxonomy")
# With the deprecation fields, which only an approved Deprecation sets (roles.workflow.deprecation).
REVIEW_FIELDS = ("status", "decided_by", "decided_by_id", "decided_at", "content_editors", "deprecated",
                 "replaced_by", "replaced_by_id")
# Models that hold review state. An update() on a queryset that starts from any other model by
# name (a task queue's job rows have a status too) is not a review write.
REVIEWABLE = ("TitleAlias", "ClassificationMapping", "Deprecation", "Decision")


# ---------------------------------------------------------------------------------------------
# Four-eyes, whoever writes


def test_a_replacer_cannot_approve_the_code_they_chose_after_an_undo(make_user, reference_soc):
    """Replace, then undo: the code the replacer chose is theirs, so they may not approve it (as for refine)."""
    replacer, other = make_user("reviewer"), make_user("reviewer")
    mapping = ClassificationMappingFactory(role=RoleFactory(), occupation=soc("13-0000"), code="13-0000",
                                           created_by=make_user("curator"))
    services.replace_mapping(mapping=mapping, actor=replacer, code="15-2051", reason="the group was wrong",
                             confirm_wrong_group=True)
    services.undo_decisions(model=ClassificationMapping, pks=[mapping.pk], actor=replacer, window_seconds=60)
    mapping.refresh_from_db()
    assert (mapping.status, mapping.code) == ("needs_review", "15-2051")
    with pytest.raises(workflow.FourEyesViolation, match="you wrote part of its content"):
        services.approve_mapping(mapping=mapping, actor=replacer)
    assert services.approve_mapping(mapping=mapping, actor=other).status == "approved"


def test_a_replacer_cannot_approve_after_someone_else_reopens(make_user, reference_soc):
    replacer, other = make_user("reviewer"), make_user("reviewer")
    mapping = ClassificationMappingFactory(role=RoleFactory(), occupation=soc("13-0000"), code="13-0000",
                                           created_by=make_user("curator"))
    services.replace_mapping(mapping=mapping, actor=replacer, code="15-2051", reason="wrong group",
                             confirm_wrong_group=True)
    services.reopen_mapping(mapping=mapping, actor=other, reason="look again")
    with pytest.raises(workflow.FourEyesViolation):
        services.approve_mapping(mapping=mapping, actor=replacer)


def _claims_card() -> bytes:
    text = REFERENCE_TEXT.replace("| Deep Learning I | common | medium0.70 | — |",
                                  "| Deep Learning I | common | medium0.70 | 2026-02-03 |")
    text = text.replace("- code=15-0000title=Computer & Mathematical Occupationssource=inferred_from_superfunction"
                        "reviewStatus=needs_review",
                        "- code=15-2051title=Data Scientistssource=inferred_from_superfunctionreviewStatus=approved")
    return text.encode("utf-8")


def test_a_superuser_does_not_import_review_decisions_implicitly(make_user, reference_soc):
    """Attack: a superuser uploads a card whose aliases and mapping say approved, with "import decisions" ticked."""
    superuser = make_user("superuser")
    result = import_cards([CardSource("card.txt", _claims_card())], actor=superuser, import_decisions=True)
    assert result.ok, result.error_lines()
    assert not TitleAlias.objects.approved().exists() and not ClassificationMapping.objects.approved().exists()
    assert not Decision.objects.filter(decision="imported").exists()
    assert any("import_decisions" in line for plan in result.plans for line in plan.claims_ignored)


def test_an_importer_never_approves_content_the_import_writes(make_user, reference_soc):
    """Even with the grant, imported approvals are the importer's decisions: four-eyes applies."""
    importer = make_user("importer")
    result = import_cards([CardSource("card.txt", _claims_card())], actor=importer, import_decisions=True)
    assert result.ok, result.error_lines()
    assert not TitleAlias.objects.approved().exists() and not ClassificationMapping.objects.approved().exists()
    ignored = [line for plan in result.plans for line in plan.claims_ignored]
    assert ignored and all("four-eyes" in line or "you created it" in line for line in ignored), ignored


def test_an_importer_approves_content_another_person_brought_in(make_user, reference_soc):
    curator, importer = make_user("curator"), make_user("importer")
    assert import_cards([CardSource("card.txt", REFERENCE_TEXT.encode())], actor=curator).ok
    result = import_cards([CardSource("card.txt", _claims_card())], actor=importer, import_decisions=True)
    assert result.ok, result.error_lines()
    alias = TitleAlias.objects.get(alias="Deep Learning I")
    assert (alias.status, alias.decided_by) == ("approved", importer)
    assert alias.decisions.get().decision == "imported"


def test_suggestions_need_a_person_and_that_person_cannot_approve_them(make_user, seed_role, reference_soc):
    """Without --as the system account was the creator, so the operator could approve their own run."""
    with pytest.raises(Exception, match="--as USERNAME is required"):
        call_command("suggest_mappings", "--all", stdout=StringIO())
    operator = make_user("reviewer", username="operator")
    call_command("suggest_mappings", "--all", "--as", "operator", stdout=StringIO())
    suggested = ClassificationMapping.objects.get(source="suggested")
    assert suggested.created_by == operator
    with pytest.raises(workflow.FourEyesViolation):
        services.approve_mapping(mapping=suggested, actor=operator, confirm_group_level=True)


def test_suggested_mappings_mark_the_roles_derived_rows_stale(make_user, seed_role, reference_soc):
    """The digest counted 0 mappings waiting where the truth was 1: suggestions now go through the core."""
    before = RoleDigest.objects.get(role=seed_role).mappings_needs_review
    result = suggest_mappings(roles=[seed_role], actor=make_user("curator"))
    assert len(result.created) == 1
    assert RoleDigest.objects.get(role=seed_role).mappings_needs_review == before + 1


def test_the_system_account_holds_import_decisions_explicitly():
    assert workflow.holds_explicitly(get_system_user(), "roles.import_decisions")


# ---------------------------------------------------------------------------------------------
# One writer: a scan of the code


def _python_files():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _other_model(receiver: ast.expr) -> bool:
    """Whether `receiver` (what update() is called on) starts from a model, by name, that is not reviewable."""
    from django.apps import apps

    while isinstance(receiver, ast.Attribute | ast.Call | ast.Subscript):
        receiver = receiver.func if isinstance(receiver, ast.Call) else receiver.value
    if not isinstance(receiver, ast.Name):
        return False  # a variable: it may hold reviewable rows
    others = {model.__name__ for model in apps.get_models()} - set(REVIEWABLE)
    return receiver.id in others


def _writes(path: Path) -> list[str]:
    """Assignments to review fields, and Decision rows made or saved, in one module."""
    found = []
    tree = ast.parse(path.read_text("utf-8"))
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and sub.attr in REVIEW_FIELDS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} assigns .{sub.attr}")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id == "Decision":
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} makes a Decision")
            if isinstance(func, ast.Attribute) and func.attr in ("create", "bulk_create", "get_or_create",
                                                                  "update_or_create"):
                owner = ast.unparse(func.value)
                if re.search(r"\bDecision\.objects\b", owner):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} writes Decision rows")
            if isinstance(func, ast.Attribute) and func.attr == "update" and not _other_model(func.value):
                # update(status=…) and friends on a queryset of reviewable rows.
                names = {kw.arg for kw in node.keywords}
                if names & set(REVIEW_FIELDS):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} updates review fields")
    return found


def test_only_the_review_core_writes_review_state_and_decisions():
    core = ROOT / "roles" / "workflow"
    offenders = [hit for path in _python_files() if core not in path.parents for hit in _writes(path)]
    assert offenders == []


def test_the_scan_finds_what_it_looks_for(tmp_path):
    """The scan itself can fail: a module that sets a status by hand is reported."""
    module = tmp_path / "bad.py"
    module.write_text(
        "def f(alias, Decision):\n"
        "    alias.status = 'approved'\n"
        "    Decision.objects.create(alias=alias)\n"
        "    Decision(alias=alias).save()\n"
        "    TitleAlias.objects.filter(pk=1).update(status='approved')\n"
        "    Role.objects.filter(pk=1).update(status='approved')\n",  # not reviewable: not a review write
        "utf-8",
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        hits = _writes(module)
    finally:
        ROOT = saved
    assert len(hits) == 4, hits
