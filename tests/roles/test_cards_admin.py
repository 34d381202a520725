"""The admin "Import role cards" page: preview without writing, confirm as the curator, curators only."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from review.services import reject_alias
from roles.models import ClassificationMapping, Component, Role, TitleAlias
from tests.factories import UserFactory, curator, reviewer

pytestmark = pytest.mark.django_db

REFERENCE = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_bytes()
URL = "/admin/roles/role/import/"


def test_the_page_is_the_role_admins_import_url():
    assert reverse("admin:roles_role_import_cards") == URL


def _card(name: str = "AIMLAM.GEN.P1.txt", data: bytes = REFERENCE) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="text/plain")


def _counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Role, Component, TitleAlias, ClassificationMapping)}


def _payload(html: str) -> str:
    return re.search(r'name="payload" value="([^"]+)"', html).group(1)


def test_the_upload_page_shows_the_form(curator_client):
    response = curator_client.get(URL)
    assert response.status_code == 200
    assert b'type="file"' in response.content and b"multiple" in response.content


def test_the_role_list_offers_the_import_to_curators_only(curator_client, client, groups):
    listing = reverse("admin:roles_role_changelist")
    assert URL.encode() in curator_client.get(listing).content
    client.force_login(reviewer())
    assert URL.encode() not in client.get(listing).content


def test_preview_lists_the_changes_and_writes_nothing(curator_client, reference_soc):
    counts = _counts()
    response = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"})
    assert response.status_code == 200
    html = response.content.decode()
    assert _counts() == counts
    assert "Would import 1 card: 1 created, 0 updated, 0 unchanged" in html
    assert "AIMLAM.GEN.P1 — Entry-Level AI/ML Engineer" in html
    assert "Added: alias &#x27;Machine Learning I&#x27;" in html
    assert 'name="confirm"' in html


def test_confirm_imports_as_the_curator(curator_client, reference_soc):
    preview = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"})
    response = curator_client.post(URL, {"payload": _payload(preview.content.decode()), "confirm": "Confirm"})
    assert response.status_code == 302
    role = Role.objects.get(code="AIMLAM.GEN.P1")
    history = role.history.get()
    assert (history.history_user, history.history_change_reason) == (
        curator_client.user,
        "card import: AIMLAM.GEN.P1.txt",
    )
    assert set(TitleAlias.history.values_list("history_user", flat=True)) == {curator_client.user.pk}
    assert role.aliases.count() == 16


def test_preview_of_a_reimport_shows_changed_suppressed_and_missing(curator_client, reference_soc):
    preview = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"})
    curator_client.post(URL, {"payload": _payload(preview.content.decode()), "confirm": "Confirm"})
    alias = TitleAlias.objects.get(alias="Junior Deep Learning")
    reject_alias(alias=alias, actor=reviewer(), reason="not a title")
    text = REFERENCE.decode().replace("medium0.60 | — |\n| Deep Learning I", "medium0.61 | — |\n| Deep Learning I")
    text = "\n".join(line for line in text.split("\n") if not line.startswith("| Junior Statistical"))
    html = curator_client.post(URL, {"cards": [_card(data=text.encode())], "preview": "1"}).content.decode()
    assert "0 created, 1 updated" in html
    assert "Changed: alias &#x27;Associate Machine Learning&#x27;: confidence" in html
    assert "Suppressed (stays rejected): alias &#x27;Junior Deep Learning&#x27;" in html
    assert "Missing (kept): alias &#x27;Junior Statistical Modeling&#x27;" in html


def test_a_malformed_card_shows_file_line_errors_and_cannot_be_confirmed(curator_client, reference_soc):
    bad = REFERENCE.replace(b"Tasks4", b"Tasks7")
    response = curator_client.post(URL, {"cards": [_card(), _card("bad.txt", bad)], "preview": "Preview"})
    html = response.content.decode()
    assert "bad.txt:54: &quot;Tasks&quot; says 7 items but lists 4" in html
    assert 'name="confirm"' not in html
    assert not Role.objects.exists()


def test_a_tampered_payload_is_refused(curator_client, reference_soc):
    preview = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"})
    payload = _payload(preview.content.decode())
    response = curator_client.post(URL, {"payload": payload[:-2] + "xx", "confirm": "Confirm"}, follow=True)
    assert "The preview expired or was altered" in response.content.decode()
    assert not Role.objects.exists()


def test_a_reviewer_gets_403(client, groups):
    client.force_login(reviewer())
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"cards": [_card()], "preview": "1"}).status_code == 403
    assert not Role.objects.exists()


def test_a_staff_user_without_permissions_gets_403(client):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403


def test_a_superuser_may_import(client, reference_soc):
    client.force_login(UserFactory(is_superuser=True))
    preview = client.post(URL, {"cards": [_card()], "preview": "Preview"})
    assert preview.status_code == 200
    client.post(URL, {"payload": _payload(preview.content.decode()), "confirm": "Confirm"})
    assert Role.objects.filter(code="AIMLAM.GEN.P1").exists()


def test_anonymous_users_are_sent_to_the_login_page(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_importing_decisions_is_offered_to_holders_only_and_a_crafted_post_is_ignored(curator_client, reference_soc):
    text = REFERENCE.decode("utf-8").replace(
        "| Deep Learning 1 | common | medium0.66 | — |", "| Deep Learning 1 | common | medium0.66 | 2026-02-03 |"
    )
    preview = curator_client.post(URL, {"cards": [_card(data=text.encode())], "preview": "Preview"})
    html = preview.content.decode()
    assert 'name="import_decisions"' not in html and 'name="overwrite_edits"' in html
    assert "Review claim ignored: alias &#x27;Deep Learning 1&#x27;" in html
    response = curator_client.post(
        URL, {"payload": _payload(html), "confirm": "Confirm", "import_decisions": "on"}
    )
    assert response.status_code == 302
    assert TitleAlias.objects.get(alias="Deep Learning 1").status == "pending"


def test_nothing_to_confirm_when_nothing_would_change(curator_client, reference_soc):
    first = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"})
    curator_client.post(URL, {"payload": _payload(first.content.decode()), "confirm": "Confirm"})
    again = curator_client.post(URL, {"cards": [_card()], "preview": "Preview"}).content.decode()
    assert re.search(r'<input type="submit" name="confirm"[^>]* disabled', again)
    assert "Nothing would change" in again
    assert 'name="confirm" value="Confirm import" class="default">' not in again
    assert re.search(r'<input type="submit" name="confirm"[^>]* disabled', first.content.decode()) is None


# -- Rolebook edits the card disagrees with: old → new, who and when -------------------------------


def _import(client) -> None:
    """Import the reference card, its history dated 2026-01-01 (UTC) so that the edits dated below come after it."""
    from datetime import UTC, datetime

    preview = client.post(URL, {"cards": [_card()], "preview": "Preview"})
    client.post(URL, {"payload": _payload(preview.content.decode()), "confirm": "Confirm"})
    for model in (Role, Component, TitleAlias, ClassificationMapping):
        model.history.update(history_date=datetime(2026, 1, 1, tzinfo=UTC))


def _dated(obj, when: str) -> None:
    """Date the newest history row of `obj` (the edit just made) at `when` (UTC), so the preview must show it."""
    from datetime import UTC, datetime

    row = type(obj).history.filter(id=obj.pk).latest("history_date", "history_id")
    type(row).objects.filter(pk=row.pk).update(history_date=datetime.fromisoformat(when).replace(tzinfo=UTC))


def _conflict_lines(html: str) -> list[str]:
    import html as html_module

    lines = re.findall(r'<li class="edit-(?:kept|overwritten)">(.*?)</li>', html, flags=re.S)
    return [html_module.unescape(line) for line in lines]


@pytest.mark.parametrize("overwrite", [False, True])
def test_each_conflict_line_names_the_rolebook_edit_old_and_new_who_and_when(curator_client, reference_soc, overwrite):
    from decimal import Decimal

    from review.services import refine_mapping
    from roles.services import save_alias, save_component, save_role

    _import(curator_client)
    edith, rex = curator(username="edith"), reviewer(username="rex")
    alias = TitleAlias.objects.get(alias="Junior Machine Learning")
    alias.confidence = Decimal("0.75")
    _dated(save_alias(alias=alias, actor=edith, reason="seen in job ads"), "2026-01-15T09:30")
    component = Component.objects.get(text="Python programming")
    component.prevalence = "rare"
    _dated(save_component(component=component, actor=edith, reason="less common now"), "2026-01-16T10:45")
    role = Role.objects.get(code="AIMLAM.GEN.P1")
    role.headline = "Builds and tests small ML components"
    _dated(save_role(role=role, actor=edith, reason="clearer"), "2026-01-17T11:00")
    mapping = ClassificationMapping.objects.get(code="15-0000")
    refine_mapping(mapping=mapping, actor=rex, code="15-2051")
    _dated(mapping, "2026-01-18T12:15")

    data = {"cards": [_card()], "preview": "Preview", **({"overwrite_edits": "on"} if overwrite else {})}
    lines = _conflict_lines(curator_client.post(URL, data).content.decode())
    expected = {
        "alias 'Junior Machine Learning' confidence: 0.75 → 0.68": "by edith on 2026-01-15 09:30 UTC",
        "skill 'Python programming' prevalence: 'rare' → 'common'": "by edith on 2026-01-16 10:45 UTC",
        "role AIMLAM.GEN.P1 headline: 'Builds and tests small ML components' → 'P1 is an entry-level":
            "by edith on 2026-01-17 11:00 UTC",
        "mapping 15-0000 code: '15-2051' → '15-0000'": "by rex on 2026-01-18 12:15 UTC",
    }
    assert len(lines) == len(expected), lines
    for start, who_and_when in expected.items():
        matching = [line for line in lines if line.startswith(f"Rolebook edit: {start}")]
        assert len(matching) == 1 and f"in Rolebook {who_and_when}" in matching[0], (start, lines)
    # A reviewer's refinement stands whatever the import is told: only field edits are overwritten.
    assert sum("overwritten with the card’s value" in line for line in lines) == (3 if overwrite else 0)


def test_a_decision_the_card_disagrees_with_names_who_decided_and_when(curator_client, reference_soc):
    from review.services import approve_mapping

    _import(curator_client)
    mapping = ClassificationMapping.objects.get(code="15-0000")
    approve_mapping(mapping=mapping, actor=reviewer(username="rex"), confirm_group_level=True)
    _dated(mapping, "2026-01-19T08:05")
    text = REFERENCE.replace(b"reviewStatus=needs_review", b"reviewStatus=rejected")
    lines = _conflict_lines(curator_client.post(URL, {"cards": [_card(data=text)], "preview": "1"}).content.decode())
    assert lines == [
        "Rolebook edit: mapping 15-0000 status: approved → rejected — decided in Rolebook by rex on "
        "2026-01-19 08:05 UTC: kept (reopen it in the review to decide again)"
    ]
