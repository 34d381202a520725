"""SOC suggestions for many roles run on the task worker, and the curator is told in the bell."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from notifications.models import Event, Notification
from roles import soc
from roles.models import ClassificationMapping
from roles.tasks import suggest_mappings_job
from tests.factories import RoleFactory


@pytest.fixture
def three_roles(seed_role):
    return [seed_role, RoleFactory(title="Data Engineer"), RoleFactory(title="Payroll Clerk")]


def test_more_roles_than_a_request_suggests_go_to_the_worker_and_the_bell_says_when_they_are_ready(
    make_user, three_roles, monkeypatch, django_capture_on_commit_callbacks, client
):
    monkeypatch.setattr(soc, "SUGGEST_IN_REQUEST", 2)
    curator = make_user("curator")
    client.force_login(curator)
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        response = client.post(reverse("admin:roles_role_changelist"), {
            "action": "suggest_soc_mappings", "_selected_action": [r.pk for r in three_roles]}, follow=True)
    assert "Suggesting SOC mappings for 3 roles in the background" in response.content.decode()
    # Nothing is suggested in the request: the job runs after the commit (here, in process).
    assert not ClassificationMapping.objects.filter(source="suggested").exists()
    assert len(jobs) == 1
    jobs[0]()
    suggested = ClassificationMapping.objects.filter(source="suggested")
    assert suggested.count() >= 1
    assert {m.created_by for m in suggested} == {curator}
    assert all(m.history.first().history_user == curator for m in suggested)
    told = Notification.objects.get(recipient=curator, event=Event.SUGGESTED)
    assert told.title.startswith(f"SOC suggestions ready: {suggested.count()} mapping")
    assert told.url == reverse("review:mappings") + "?source=suggested"


def test_a_few_roles_are_still_suggested_in_the_request(make_user, three_roles, client):
    client.force_login(make_user("curator"))
    response = client.post(reverse("admin:roles_role_changelist"), {
        "action": "suggest_soc_mappings", "_selected_action": [three_roles[0].pk]}, follow=True)
    assert "Suggested 1 mapping(s), waiting for review" in response.content.decode()


def test_the_job_writes_nothing_for_a_curator_who_lost_the_permission_meanwhile(make_user, three_roles):
    curator = make_user("curator")
    outcome = suggest_mappings_job.call([r.pk for r in three_roles], curator.pk)
    assert outcome["refused"] == 0
    ClassificationMapping.objects.filter(source="suggested").delete()
    curator.groups.clear()
    curator.user_permissions.remove(*Permission.objects.filter(codename="add_classificationmapping"))
    curator = type(curator).objects.get(pk=curator.pk)  # no cached permissions
    assert suggest_mappings_job.call([r.pk for r in three_roles], curator.pk) == {
        "created": 0, "passed": 0, "refused": 1}
    assert not ClassificationMapping.objects.filter(source="suggested").exists()
    curator.is_active = False
    curator.save()
    assert suggest_mappings_job.call([r.pk for r in three_roles], curator.pk)["refused"] == 1
