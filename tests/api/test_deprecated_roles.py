# ruff: noqa: F811 - pytest fixtures imported from tests.review.conftest
"""The API keeps deprecated roles: their fields, the list's include_deprecated, the successor Link."""


import pytest

from tests.review.conftest import curator, reviewer, role  # noqa: F401

pytestmark = pytest.mark.django_db


def test_the_api_keeps_a_deprecated_role_and_points_to_its_successor(deprecated_role):
    from api.services import create_token
    from tests.api.conftest import bearer
    from tests.factories import UserFactory

    headers = bearer(create_token(user=UserFactory(), name="deprecation", scopes=("read",))[1])
    client = __import__("django.test", fromlist=["Client"]).Client()
    successor = deprecated_role.replaced_by
    listed = client.get("/api/v1/roles", **headers).json()["results"]
    assert [r["code"] for r in listed] == [successor.code]
    everything = client.get("/api/v1/roles?include_deprecated=1", **headers).json()["results"]
    found = {r["code"]: r for r in everything}
    assert found[deprecated_role.code]["deprecated"] is True
    assert found[deprecated_role.code]["replaced_by"] == successor.code
    assert found[successor.code]["deprecated"] is False and found[successor.code]["replaced_by"] is None
    detail = client.get(f"/api/v1/roles/{deprecated_role.code}", **headers)
    assert detail.status_code == 200 and detail.json()["deprecated"] is True
    assert detail["Link"] == f'<http://testserver/api/v1/roles/{successor.code}>; rel="successor-version"'
    assert "Link" not in client.get(f"/api/v1/roles/{successor.code}", **headers)
    assert client.get("/api/v1/roles?include_deprecated=maybe", **headers).status_code == 400


def test_a_split_role_names_each_successor_in_the_api_and_its_links(split_role):
    from api.services import create_token
    from tests.api.conftest import bearer
    from tests.factories import UserFactory

    headers = bearer(create_token(user=UserFactory(), name="split", scopes=("read",))[1])
    client = __import__("django.test", fromlist=["Client"]).Client()
    successors = [r.code for r in split_role.split_successors]
    detail = client.get(f"/api/v1/roles/{split_role.code}", **headers)
    assert detail.json()["split_into"] == successors and detail.json()["replaced_by"] is None
    assert detail["Link"] == ", ".join(
        f'<http://testserver/api/v1/roles/{code}>; rel="successor-version"' for code in successors)
    listed = {r["code"]: r for r in client.get("/api/v1/roles?include_deprecated=1", **headers).json()["results"]}
    assert listed[split_role.code]["split_into"] == successors
    assert listed[successors[0]]["split_into"] == []
