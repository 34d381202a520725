"""The mapping queue and the coder's confidence: marks, filters, and the four-eyes bulk approval of confident codes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from review.views import CONFIDENT_COMMENT
from roles.models import ClassificationMapping, Decision, RoleSuggestions
from roles.soc import cached_suggestions
from tests.factories import ClassificationMappingFactory, RoleFactory, TitleAliasFactory
from tests.review.conftest import logged_in, soc

pytestmark = pytest.mark.django_db

NURSING = {
    "title": "Registered Nurse",
    "headline": "Assesses patients, gives medication and treatment, and teaches patients and families about care.",
    "who_does_this_work": "A registered nurse on a hospital ward.",
    "plan": ["Monitor and record the patient's condition.", "Administer medications and treatments."],
}


@pytest.fixture
def nurse_mapping(make_user, reference_soc):
    """A waiting mapping to 29-1141 Registered Nurses for a nursing role, made by a curator."""
    role = RoleFactory(**NURSING)
    for text in ("Staff Nurse", "RN"):
        TitleAliasFactory(role=role, alias=text)
    return ClassificationMappingFactory(role=role, occupation=soc("29-1141"), created_by=make_user("curator"))


def _flag(client, flag: str) -> set[int]:
    return {row["item"].pk for row in client.get(reverse("review:mappings"), {"flag": flag}).context["rows"]}


def test_a_confident_code_the_mapping_shares_is_marked_and_filtered(make_user, nurse_mapping):
    best = cached_suggestions([nurse_mapping.role])[nurse_mapping.role_id].codes[0]
    assert (best.code, best.confident, best.unsure) == ("29-1141", True, False)
    client = logged_in(make_user("reviewer"))
    page = client.get(reverse("review:mappings")).content.decode()
    assert "coder confident and agrees" in page
    assert _flag(client, "coder_confident") == {nurse_mapping.pk}
    assert _flag(client, "coder_unsure") == set()
    assert RoleSuggestions.objects.get(role=nurse_mapping.role).confident_code == "29-1141"


def test_an_unsure_answer_is_said_and_filtered(make_user, nurse_mapping):
    cached_suggestions([nurse_mapping.role])
    row = RoleSuggestions.objects.get(role=nurse_mapping.role)
    # As the coder leaves a vague role: its best code too close to call.
    row.suggestions[0].update(confident=False, unsure=True)
    RoleSuggestions.objects.filter(pk=row.pk).update(suggestions=row.suggestions, confident_code="", unsure=True)
    client = logged_in(make_user("reviewer"))
    assert "coder unsure" in client.get(reverse("review:mappings")).content.decode()
    assert _flag(client, "coder_unsure") == {nurse_mapping.pk}
    assert _flag(client, "coder_confident") == set()


def test_reviewers_approve_confident_codes_in_bulk_after_a_preview(make_user, nurse_mapping):
    cached_suggestions([nurse_mapping.role])
    reviewer = make_user("reviewer")
    client = logged_in(reviewer)
    preview = client.get(reverse("review:mapping-confident"))
    assert preview.status_code == 200 and preview.context["will_decide"] == 1
    assert nurse_mapping.role.code in preview.content.decode()
    shown = preview.context["shown"]
    url = reverse("review:mapping-confident")

    client.post(url, {"shown": shown})  # not confirmed
    client.post(url, {"shown": shown[:-2] + "xx", "confirm": "1"})  # altered
    client.post(url, {"shown": "", "confirm": "1"})
    nurse_mapping.refresh_from_db()
    assert nurse_mapping.status == ClassificationMapping.Status.NEEDS_REVIEW

    response = client.post(url, {"shown": shown, "confirm": "1"})
    assert response.status_code == 302 and response["Location"].endswith("?flag=coder_confident")
    nurse_mapping.refresh_from_db()
    assert nurse_mapping.status == ClassificationMapping.Status.APPROVED
    decision = Decision.objects.get(mapping=nurse_mapping, actor=reviewer)
    assert decision.comment == CONFIDENT_COMMENT


def test_the_bulk_path_decides_only_what_the_preview_showed_at_its_version(make_user, nurse_mapping):
    cached_suggestions([nurse_mapping.role])
    client = logged_in(make_user("reviewer"))
    shown = client.get(reverse("review:mapping-confident")).context["shown"]
    nurse_mapping.title = "Registered Nurses (edited meanwhile)"
    nurse_mapping.save()  # a new version after the preview
    client.post(reverse("review:mapping-confident"), {"shown": shown, "confirm": "1"})
    nurse_mapping.refresh_from_db()
    assert nurse_mapping.status == ClassificationMapping.Status.NEEDS_REVIEW


def test_four_eyes_and_permissions_hold_on_the_bulk_path(make_user, nurse_mapping):
    cached_suggestions([nurse_mapping.role])
    creator = make_user("reviewer")
    mine = ClassificationMappingFactory(role=RoleFactory(**{**NURSING, "title": "Charge Nurse"}),
                                        occupation=soc("29-1141"), created_by=creator)
    cached_suggestions([mine.role])
    client = logged_in(creator)
    preview = client.get(reverse("review:mapping-confident"))
    assert preview.context["blocked"] >= 1
    assert mine.pk not in {m.pk for m in preview.context["page"].object_list}
    # A curator may not reach it, by GET or POST; a stranger goes to the login page.
    curator = logged_in(make_user("curator"))
    assert curator.get(reverse("review:mapping-confident")).status_code == 403
    assert curator.post(reverse("review:mapping-confident"), {"confirm": "1"}).status_code == 403
    assert Client().get(reverse("review:mapping-confident")).status_code == 302
