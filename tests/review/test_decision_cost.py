"""What one decision from the desk costs the request: a fixed, small number of queries.

The desk's script posts each decision and reads a JSON answer. Derived data is only marked
stale in the request (a queue row and, with the database task backend, a job row); the refresh
runs on the task worker, after the commit.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import RoleFactory, TitleAliasFactory

# 1 session, 2 user, 3-4 the reviewer's permissions (own, groups), 5 BEGIN (the review core's
# transaction: the view is outside ATOMIC_REQUESTS), 6 the alias, read once, locked, with its
# lease, role and open sample, 7 its UPDATE, 8 its history row, 9 the derived-data mark (once,
# though the save's signal and the core both mark the role), 10 the refresh job, 11 the
# Decision, 12 the authors told, 13 their notifications, 14 COMMIT. Without authors to tell
# (imported aliases): 12.
DECISION_QUERIES = 14


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("aliases_in_role", [5, 10])
def test_a_json_approval_costs_the_same_few_queries_whatever_the_role_holds(
    make_user, client, settings, aliases_in_role
):
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    curator, reviewer = make_user("curator"), make_user("reviewer")
    role = RoleFactory()
    aliases = [TitleAliasFactory(role=role, created_by=curator) for _ in range(aliases_in_role)]
    client.force_login(reviewer)
    client.get(reverse("review:aliases"))  # the session as the desk has it
    alias = aliases[0]
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            reverse("review:alias-approve", args=[alias.pk]), {"version": alias.version},
            HTTP_X_ROLEBOOK_FETCH="1",
        )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "approved"
    sql = "\n".join(q["sql"][:160] for q in queries.captured_queries)
    assert len(queries) == DECISION_QUERIES, sql
