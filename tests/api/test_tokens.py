"""Personal API tokens: the services, the page where users make and revoke them, and their admin."""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import reverse

from api.models import ApiToken, hash_key
from api.services import TokenError, create_token, revoke_token
from tests.api.conftest import bearer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# Services


def test_a_token_is_stored_as_a_hash_and_its_secret_returned_once():
    user = UserFactory()
    token, secret = create_token(user=user, name="  search   indexer ", scopes=["read"])
    assert secret.startswith("rb_") and len(secret) > 40
    assert token.key_hash == hash_key(secret) and secret not in token.key_hash
    assert token.prefix == secret[:10]
    assert token.name == "search indexer"
    assert token.scopes == frozenset({"read"})
    stored = ApiToken.objects.values_list(flat=True)
    assert not any(secret in str(value) for row in ApiToken.objects.values_list() for value in row), stored


@pytest.mark.parametrize(
    "name, scopes, message",
    [
        ("", ["read"], "Give the token a name"),
        ("x", [], "Choose at least one scope"),
        ("x", ["write"], "Unknown scope write"),
    ],
)
def test_a_token_needs_a_name_and_known_scopes(name, scopes, message):
    with pytest.raises(TokenError, match=message):
        create_token(user=UserFactory(), name=name, scopes=scopes)


def test_an_inactive_user_gets_no_token():
    with pytest.raises(TokenError, match="Only an active user"):
        create_token(user=UserFactory(is_active=False), name="x", scopes=["read"])


def test_a_user_holds_at_most_the_configured_number_of_active_tokens(settings):
    settings.ROLEBOOK_API_MAX_TOKENS = 2
    user = UserFactory()
    first, _ = create_token(user=user, name="a", scopes=["read"])
    create_token(user=user, name="b", scopes=["read"])
    with pytest.raises(TokenError, match="already hold 2 active tokens"):
        create_token(user=user, name="c", scopes=["read"])
    revoke_token(token=first, actor=user)
    create_token(user=user, name="c", scopes=["read"])


def test_only_the_owner_or_a_superuser_revokes_and_revoking_twice_changes_nothing():
    owner = UserFactory()
    token, _ = create_token(user=owner, name="x", scopes=["read", "releases"])
    with pytest.raises(TokenError, match="Only the token's owner or a superuser"):
        revoke_token(token=token, actor=UserFactory())
    revoke_token(token=token, actor=owner)
    first = ApiToken.objects.get(pk=token.pk).revoked_at
    assert first is not None and token.scopes == frozenset()
    revoke_token(token=token, actor=UserFactory(is_superuser=True))
    assert ApiToken.objects.get(pk=token.pk).revoked_at == first


def test_use_is_recorded_at_most_every_few_minutes(client, published):
    token, secret = create_token(user=UserFactory(), name="x", scopes=["read"])
    client.get("/api/v1/roles", **bearer(secret))
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get("/api/v1/roles", **bearer(secret))
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first


# ---------------------------------------------------------------------------------------------
# The page


def test_the_page_needs_a_login(client):
    response = client.get(reverse("api-tokens"))
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_user_makes_a_token_and_sees_its_secret_only_once(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("api-tokens"), {"name": "search indexer", "scopes": ["read", "releases"]})
    assert response.status_code == 200
    secret = re.search(r'value="(rb_[^"]+)"', response.content.decode())[1]
    token = ApiToken.objects.get(user=user)
    assert token.key_hash == hash_key(secret) and token.scopes == {"read", "releases"}
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]

    again = client.get(reverse("api-tokens")).content.decode()
    assert secret not in again and token.prefix in again and "search indexer" in again
    # The secret works at once.
    assert client.get("/api/v1/occupation-codes?page_size=1", **bearer(secret)).status_code == 200


def test_an_invalid_form_is_shown_again_with_its_errors(client):
    client.force_login(UserFactory())
    response = client.post(reverse("api-tokens"), {"name": "x"})
    assert response.status_code == 400
    assert "Choose at least one scope." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_user_sees_and_revokes_only_their_own_tokens(client):
    mine, _ = create_token(user=(me := UserFactory()), name="mine", scopes=["read"])
    theirs, their_secret = create_token(user=UserFactory(), name="theirs", scopes=["read"])
    client.force_login(me)
    page = client.get(reverse("api-tokens")).content.decode()
    assert "mine" in page and "theirs" not in page

    assert client.post(reverse("api-token-revoke", args=[theirs.pk])).status_code == 404
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is None

    response = client.post(reverse("api-token-revoke", args=[mine.pk]), follow=True)
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    assert "Revoked “mine”" in response.content.decode()
    assert client.get(reverse("api-token-revoke", args=[mine.pk])).status_code == 405


def test_revoking_needs_the_csrf_token(client):
    from django.test import Client

    user = UserFactory()
    token, _ = create_token(user=user, name="x", scopes=["read"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(reverse("api-token-revoke", args=[token.pk])).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


# ---------------------------------------------------------------------------------------------
# The admin: read-only, with a revoke action


def test_the_admin_lists_tokens_but_cannot_add_change_or_delete_them(client):
    token, secret = create_token(user=UserFactory(), name="x", scopes=["read"])
    superuser = UserFactory(is_superuser=True)
    client.force_login(superuser)
    changelist = client.get(reverse("admin:api_apitoken_changelist"))
    assert changelist.status_code == 200 and token.prefix in changelist.content.decode()
    assert secret not in changelist.content.decode() and token.key_hash not in changelist.content.decode()
    assert client.get(reverse("admin:api_apitoken_add")).status_code == 403
    change = reverse("admin:api_apitoken_change", args=[token.pk])
    assert client.post(change, {"name": "renamed"}).status_code == 403
    assert client.post(reverse("admin:api_apitoken_delete", args=[token.pk]), {"post": "yes"}).status_code == 403
    assert ApiToken.objects.get(pk=token.pk).name == "x"
    model_admin = admin.site._registry[ApiToken]
    assert "key_hash" not in model_admin.fields


def test_the_admin_action_revokes_tokens(client):
    token, _ = create_token(user=UserFactory(), name="x", scopes=["read"])
    client.force_login(UserFactory(is_superuser=True))
    response = client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None


def test_staff_without_superuser_status_cannot_revoke_others_tokens_from_the_admin(client):
    from django.contrib.auth.models import Permission

    token, _ = create_token(user=UserFactory(), name="x", scopes=["read"])
    staff = UserFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    client.force_login(staff)
    client.post(reverse("admin:api_apitoken_changelist"), {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None


# ---------------------------------------------------------------------------------------------
# Query counts of the lists


@pytest.mark.parametrize("count", [3, 6])
def test_the_token_page_runs_a_constant_number_of_queries(client, django_assert_num_queries, count):
    user = UserFactory()
    for i in range(count):
        create_token(user=user, name=f"t{i}", scopes=["read"])
    client.force_login(user)
    # 1 session, 2 user, 3 SAVEPOINT (ATOMIC_REQUESTS), 4 the user's tokens, 5-6 the header's
    # notifications (unread count, latest), 7 RELEASE SAVEPOINT.
    with django_assert_num_queries(7):
        response = client.get(reverse("api-tokens"))
    assert response.content.decode().count("<code>rb_") == count


@pytest.mark.parametrize("count", [3, 6])
def test_the_token_admin_list_runs_a_constant_number_of_queries(client, django_assert_num_queries, count):
    for i in range(count):
        create_token(user=UserFactory(), name=f"t{i}", scopes=["read"])
    client.force_login(UserFactory(is_superuser=True))
    client.get(reverse("admin:api_apitoken_changelist"))  # warms the content types the admin caches
    # 1 session, 2 user, 3 SAVEPOINT, 4 filtered count, 5 total count, 6 tokens with their users
    # (with_related), 7-8 the header's notifications (unread count, latest), 9 RELEASE SAVEPOINT.
    with django_assert_num_queries(9):
        response = client.get(reverse("admin:api_apitoken_changelist"))
    assert response.status_code == 200
