"""Attacks on four-eyes review, one test each: every way a decision could be made around the review.

Each test was written before its fix and failed on the code it attacks. Together they hold the
promise of the review workflow: nothing is approved unless a second person approved it through
the state machine (`roles.workflow`), and every decision is on record.
"""

import re
import threading
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from framework.audit import get_system_user
from review import services
from roles.models import ClassificationMapping, Decision, TitleAlias
from roles.services import save_alias
from taxonomy.models import Level, TaxonomyNode
from tests.admin_forms import change_form_data
from tests.factories import RoleFactory, TitleAliasFactory, UserFactory
from tests.review.conftest import soc

pytestmark = pytest.mark.django_db

REFERENCE_TEXT = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_text("utf-8")
IMPORT_URL = "/admin/roles/role/import/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _card(**replacements: str) -> str:
    text = REFERENCE_TEXT
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


ML_I = "| Machine Learning I | common | medium0.70 | — |"
ML_I_APPROVED = "| Machine Learning I | common | medium0.70 | 2026-01-05 |"
MAPPING_LINE = (
    "- code=15-0000title=Computer & Mathematical Occupationssource=inferred_from_superfunction"
    "reviewStatus=needs_review"
)


def _import_via_admin(client: Client, text: str, name: str = "AIMLAM.GEN.P1.txt", **extra: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/plain")
    preview = client.post(IMPORT_URL, {"cards": [upload], "preview": "Preview"})
    html = preview.content.decode()
    payload = re.search(r'name="payload" value="([^"]+)"', html)
    assert payload, html[:2000]
    confirm = client.post(IMPORT_URL, {"payload": payload.group(1), "confirm": "Confirm", **extra})
    return preview, confirm


def _assert_no_unreviewed_approvals() -> None:
    """Every approved item was approved by a Decision whose actor is not its creator."""
    for model, field in ((TitleAlias, "alias"), (ClassificationMapping, "mapping")):
        for item in model.objects.filter(status="approved"):
            decision = Decision.objects.filter(**{field: item}).order_by("-created_at", "-pk").first()
            assert decision is not None, f"{item} is approved with no Decision row"
            assert decision.to_status == "approved", f"{item}: the last decision says {decision.to_status}"


# ---------------------------------------------------------------------------------------------
# 1. The admin's history page writes


HISTORY_MODELS = [
    ("roles", "titlealias"),
    ("roles", "classificationmapping"),
    ("roles", "role"),
    ("taxonomy", "level"),
    ("taxonomy", "taxonomynode"),
]


@pytest.mark.parametrize("kind", ["reviewer", "curator", "superuser"])
@pytest.mark.parametrize("app,model", HISTORY_MODELS)
def test_the_history_form_refuses_post_for_everyone(make_user, alias, group_mapping, app, model, kind):
    objects = {
        "titlealias": alias,
        "classificationmapping": group_mapping,
        "role": alias.role,
        "level": alias.role.level,
        "taxonomynode": alias.role.node,
    }
    obj = objects[model]
    record = obj.history.order_by("-history_id").first()
    url = reverse(f"admin:{app}_{model}_simple_history", args=[obj.pk, record.history_id])
    before = obj.history.count()
    response = _client(make_user(kind)).post(url, {"alias": "Rewritten", "code": "15-2051", "title": "X",
                                                    "name": "X", "change_reason": "via history"})
    assert response.status_code == 405
    obj.refresh_from_db()
    assert obj.history.count() == before
    assert getattr(obj, "alias", "") != "Rewritten"


def test_the_history_form_cannot_recreate_a_deleted_alias(make_user, alias, superuser):
    record = alias.history.get()
    pk = alias.pk
    alias.delete()
    url = reverse("admin:roles_titlealias_simple_history", args=[pk, record.history_id])
    response = _client(make_user("reviewer")).post(url, {"alias": alias.alias, "role": alias.role_id,
                                                         "alias_type": "common", "confidence": "0.70",
                                                         "source": "manual", "change_reason": "back"})
    assert response.status_code in (403, 404, 405)
    assert not TitleAlias.objects.filter(pk=pk).exists()


# ---------------------------------------------------------------------------------------------
# 2. Card import decides on a reviewer's behalf


def test_a_curators_card_cannot_approve_an_alias_or_a_mapping(curator, reference_soc):
    text = _card(**{ML_I: ML_I_APPROVED, MAPPING_LINE: MAPPING_LINE.replace("needs_review", "approved")})
    preview, confirm = _import_via_admin(_client(curator), text)
    assert confirm.status_code == 302
    alias = TitleAlias.objects.get(alias="Machine Learning I")
    mapping = ClassificationMapping.objects.get(code="15-0000")
    assert (alias.status, mapping.status) == ("pending", "needs_review")
    assert not Decision.objects.exists()
    html = preview.content.decode()
    assert "will stay pending" in html
    assert "Machine Learning I" in html.split("will stay pending")[1][:400] or "Machine Learning I" in html


def test_a_card_cannot_approve_a_code_outside_the_reference(reference_soc, tmp_path):
    """The claim is listed as ignored, with its line, and the mapping waits for a reviewer."""
    bogus = MAPPING_LINE.replace("15-0000", "15-9999").replace("needs_review", "approved")
    path = tmp_path / "bogus.txt"
    path.write_text(_card(**{MAPPING_LINE: bogus}), "utf-8")
    out = StringIO()
    call_command("import_cards", str(path), stdout=out, stderr=StringIO())
    line = REFERENCE_TEXT.splitlines().index(MAPPING_LINE) + 1
    assert f"(line {line}): the card says approved" in out.getvalue()
    assert "15-9999 is not in the SOC 2018 / O*NET-SOC 2019 reference" in out.getvalue()
    mapping = ClassificationMapping.objects.get(code="15-9999")
    assert mapping.status == ClassificationMapping.Status.NEEDS_REVIEW and not mapping.decisions.exists()


def test_a_card_cannot_approve_a_group_level_code(reference_soc, tmp_path):
    path = tmp_path / "group.txt"
    path.write_text(_card(**{MAPPING_LINE: MAPPING_LINE.replace("needs_review", "approved")}), "utf-8")
    out = StringIO()
    call_command("import_cards", str(path), stdout=out, stderr=StringIO())
    assert "15-0000 is a major group: an imported approval needs a detailed code" in out.getvalue()
    mapping = ClassificationMapping.objects.get(code="15-0000")
    assert mapping.status == ClassificationMapping.Status.NEEDS_REVIEW and not mapping.decisions.exists()


# ---------------------------------------------------------------------------------------------
# 3. Fields outside the content keep an approval


def test_moving_an_approved_alias_to_another_role_sends_it_back(alias, reviewer, curator):
    services.approve_alias(alias=alias, actor=reviewer)
    other = RoleFactory()
    client = _client(curator)
    url = reverse("admin:roles_titlealias_change", args=[alias.pk])
    data = change_form_data(client.get(url), role=str(other.pk), change_reason="belongs to the other role")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    alias.refresh_from_db()
    assert (alias.role_id, alias.status) == (other.pk, "pending")


@pytest.mark.parametrize("change", ["title", "role"])
def test_changing_an_approved_mappings_title_or_role_sends_it_back(detailed_mapping, reviewer, curator, change):
    services.approve_mapping(mapping=detailed_mapping, actor=reviewer)
    client = _client(curator)
    url = reverse("admin:roles_classificationmapping_change", args=[detailed_mapping.pk])
    value = "Quants" if change == "title" else str(RoleFactory().pk)
    data = change_form_data(client.get(url), **{change: value, "change_reason": "edit"})
    assert client.post(url, data).status_code == 302
    detailed_mapping.refresh_from_db()
    assert detailed_mapping.status == "needs_review"


# ---------------------------------------------------------------------------------------------
# 4. Refine accepts group codes


def test_refine_refuses_a_broad_group(role, curator, reviewer, reference_soc):
    from tests.factories import ClassificationMappingFactory

    mapping = ClassificationMappingFactory(role=role, occupation=soc("15-1200"), created_by=curator)
    with pytest.raises(services.InvalidCode, match="15-1250"):
        services.refine_mapping(mapping=mapping, actor=reviewer, code="15-1250")
    mapping.refresh_from_db()
    assert (mapping.code, mapping.status) == ("15-1200", "needs_review")


# ---------------------------------------------------------------------------------------------
# 5. Threshold approval approves what matches at POST time


def test_threshold_confirm_decides_only_what_the_preview_showed(role, curator, reviewer):
    shown = TitleAliasFactory(role=role, confidence=Decimal("0.90"), created_by=curator)
    later = [TitleAliasFactory(role=role, confidence=Decimal("0.50"), created_by=curator) for _ in range(3)]
    client = _client(reviewer)
    preview = client.get(reverse("review:alias-threshold"), {"threshold": "0.80"})
    assert preview.status_code == 200
    html = preview.content.decode()
    form = re.search(r'<form method="post" action="/review/aliases/threshold/"[^>]*>(.*?)</form>', html, re.S).group(1)
    data = {m[0]: m[1] for m in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form)}
    data["confirm"] = "on"
    for item in later:  # A curator raises three more aliases above the threshold meanwhile.
        item.confidence = Decimal("0.95")
        save_alias(alias=item, actor=curator, reason="more sure now")
    client.post(reverse("review:alias-threshold"), data)
    shown.refresh_from_db()
    assert shown.status == "approved"
    assert [TitleAlias.objects.get(pk=a.pk).status for a in later] == ["pending"] * 3


# ---------------------------------------------------------------------------------------------
# 6. Races, played one after another (the threaded versions are in test_concurrency.py)


def test_a_stale_admin_form_cannot_undo_a_concurrent_approval(alias, curator, reviewer):
    client = _client(curator)
    url = reverse("admin:roles_titlealias_change", args=[alias.pk])
    stale = change_form_data(client.get(url), confidence="0.71", change_reason="nudge")
    services.approve_alias(alias=alias, actor=reviewer)
    response = client.post(url, stale)
    alias.refresh_from_db()
    assert response.status_code == 200
    assert f"changed by {reviewer.username}" in response.content.decode()
    assert (alias.status, alias.confidence) == ("approved", Decimal("0.70"))
    _assert_no_unreviewed_approvals()


# ---------------------------------------------------------------------------------------------
# 7. Four-eyes looks only at the last editor


def test_an_editor_of_the_text_cannot_approve_after_someone_else_edits(role, make_user):
    a, b = make_user("reviewer"), make_user("reviewer")
    alias = TitleAliasFactory(role=role, created_by=make_user("curator"))
    alias.alias = "Text by A"
    save_alias(alias=alias, actor=a, reason="better text")
    alias.confidence = Decimal("0.71")
    save_alias(alias=alias, actor=b, reason="nudge")
    with pytest.raises(services.FourEyesViolation):
        services.approve_alias(alias=alias, actor=a)
    result = services.approve_aliases(aliases=TitleAlias.objects.filter(pk=alias.pk), actor=a)
    assert result.decided_count == 0
    assert TitleAlias.objects.get(pk=alias.pk).status == "pending"


# ---------------------------------------------------------------------------------------------
# 8. Re-import silently overwrites curators' edits


def test_reimport_keeps_a_curators_edit_and_shows_it(make_user, reference_soc):
    admin = make_user("superuser")
    client = _client(admin)
    _import_via_admin(client, REFERENCE_TEXT)
    alias = TitleAlias.objects.get(alias="Junior Machine Learning")
    alias.confidence = Decimal("0.75")
    save_alias(alias=alias, actor=admin, reason="seen in job ads")
    preview, confirm = _import_via_admin(client, REFERENCE_TEXT)
    html = preview.content.decode()
    assert "0.75 → 0.68" in html and admin.username in html
    assert TitleAlias.objects.get(pk=alias.pk).confidence == Decimal("0.75")
    # Ticking "overwrite Rolebook edits" puts the card's value back.
    _import_via_admin(client, REFERENCE_TEXT, overwrite_edits="on")
    assert TitleAlias.objects.get(pk=alias.pk).confidence == Decimal("0.68")


# ---------------------------------------------------------------------------------------------
# 9. Smaller holes


@pytest.mark.parametrize("reason", ["\u200b", " \u00a0\u2003", "\u200b\u2060\ufeff", "\u3000\n\t"])
def test_invisible_reasons_are_no_reasons(alias, reviewer, reason):
    with pytest.raises(services.ReasonRequired):
        services.reject_alias(alias=alias, actor=reviewer, reason=reason)
    with pytest.raises(Exception, match="reason"):
        alias.alias = "Changed"
        save_alias(alias=alias, actor=reviewer, reason=reason)


def test_threshold_with_a_mapping_only_filter_is_not_a_500(reviewer, alias):
    response = _client(reviewer).get(reverse("review:alias-threshold"), {"threshold": "0.5", "depth": "group"})
    assert response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/review/aliases/?role=%00",
        "/review/aliases/?q=a%00b",
        "/review/mappings/?role=AB%00",
        "/review/codes/?under=15-0000%00",
        "/review/codes/?under=15-0000&q=%00",
        "/review/decisions/?page=%00",
        "/roles/?q=%00",
        "/roles/?family=%00",
        "/roles/compare/?a=%00&b=x",
        "/roles/coordinates/?role=%00",
        "/admin/roles/titlealias/?q=%00",
        "/admin/roles/titlealias/?family=%00",
        "/admin/roles/role/?family=AI%00",
        "/admin/roles/classificationmapping/?q=%00",
    ],
)
def test_a_nul_byte_in_a_query_is_a_400(superuser, alias, url):
    assert _client(superuser).get(url).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_racing_reviewers_get_already_decided_not_database_is_locked(make_user):
    """Four reviewers approve the same 25 aliases at once: one wins each, the others hear who did.

    On SQLite (a file, as `make run` uses) this needs IMMEDIATE transactions: deferred ones turn
    the race into "database is locked" errors.
    """
    reviewers = [make_user("reviewer") for _ in range(4)]
    role = RoleFactory()
    pks = [TitleAliasFactory(role=role).pk for _ in range(25)]
    outcomes: list = []
    barrier = threading.Barrier(len(reviewers))

    def decide(user):
        try:
            barrier.wait(timeout=10)
            for pk in pks:
                try:
                    outcomes.append(services.approve_alias(alias=TitleAlias.objects.get(pk=pk), actor=user))
                except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
                    outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    others = [o for o in outcomes if not isinstance(o, TitleAlias | services.AlreadyDecided)]
    assert not others, others[:3]
    assert sum(isinstance(o, TitleAlias) for o in outcomes) == len(pks)
    assert Decision.objects.filter(alias_id__in=pks).count() == len(pks)


def test_imported_decisions_need_the_permission_and_are_on_record(reference_soc, tmp_path):
    """The flip side of attack 2: the operator's import of a published approval is a logged decision."""
    approved = MAPPING_LINE.replace("15-0000", "15-2051").replace(
        "Computer & Mathematical Occupations", "Data Scientists").replace("needs_review", "approved")
    path = tmp_path / "AIMLAM.GEN.P1.txt"
    # A curator brings the card in; the system's import of the published claims decides it.
    path.write_text(_card(**{MAPPING_LINE: MAPPING_LINE.replace("15-0000", "15-2051").replace(
        "Computer & Mathematical Occupations", "Data Scientists")}), "utf-8")
    UserFactory(username="cora")
    call_command("import_cards", str(path), "--as", "cora", stdout=StringIO())
    path.write_text(_card(**{ML_I: ML_I_APPROVED, MAPPING_LINE: approved}), "utf-8")
    call_command("import_cards", str(path), stdout=StringIO())
    system = get_system_user()
    alias = TitleAlias.objects.get(alias="Machine Learning I")
    mapping = ClassificationMapping.objects.get(code="15-2051")
    assert (alias.status, mapping.status) == ("approved", "approved")
    for item, field in ((alias, "alias"), (mapping, "mapping")):
        decision = Decision.objects.get(**{field: item}, decision="imported")
        assert decision.actor == system
        assert str(path) in decision.comment
    assert Level.objects.count() == 1 and TaxonomyNode.objects.count() == 2
