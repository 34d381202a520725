"""Levels and taxonomy nodes are edited in the admin through taxonomy.services, with a reason."""

import pytest
from django.urls import reverse

from taxonomy.models import Level, TaxonomyNode
from tests.admin_forms import change_form_data
from tests.factories import FamilyFactory, LevelFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_user(client):
    user = UserFactory(is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def test_level_edit_records_user_reason_and_change(admin_client_user):
    level = LevelFactory(code="P3")
    url = reverse("admin:taxonomy_level_change", args=[level.pk])
    data = change_form_data(admin_client_user.get(url), leadership="Mentors juniors", change_reason="clarify")
    assert admin_client_user.post(url, data).status_code == 302
    record = Level.objects.get(pk=level.pk).history.latest()
    assert (record.history_user, record.history_change_reason, record.leadership) == (
        admin_client_user.user,
        "clarify",
        "Mentors juniors",
    )


def test_saving_an_unchanged_node_writes_no_history(admin_client_user):
    node = FamilyFactory()
    url = reverse("admin:taxonomy_taxonomynode_change", args=[node.pk])
    before = TaxonomyNode.history.count()
    assert (
        admin_client_user.post(url, change_form_data(admin_client_user.get(url), change_reason="look")).status_code
        == 302
    )
    assert TaxonomyNode.history.count() == before


def test_occupation_codes_are_read_only_reference_data(admin_client_user, reference_soc):
    from taxonomy.models import OccupationCode

    code = OccupationCode.objects.get(scheme="soc2018", code="15-2051")
    url = reverse("admin:taxonomy_occupationcode_change", args=[code.pk])
    page = admin_client_user.get(url)
    assert page.status_code == 200
    assert b'name="title"' not in page.content
    assert admin_client_user.post(url, {"title": "Changed"}).status_code == 403
