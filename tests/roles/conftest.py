"""Fixtures the roles app's tests share."""

import pytest

from tests.factories import curator


@pytest.fixture
def curator_client(client, groups):
    """The test client, logged in as the curator "cora" (also at `client.user`)."""
    user = curator(username="cora")
    client.force_login(user)
    client.user = user
    return client
