from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from roles.groups import CURATORS, LEAD_REVIEWERS, REVIEWERS, sync_groups
from roles.models import IMPORT_DECISIONS

REFERENCE_FIXTURES = ("fixtures/soc2018.json", "fixtures/onet_soc_2019.json")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the 2,463 reference occupation codes and the official job titles once per run."""
    from taxonomy.coder import reference_dir
    from taxonomy.services import load_reference_titles

    with django_db_blocker.unblock():
        call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)
        load_reference_titles(reference_dir())


@pytest.fixture(scope="session", autouse=True)
def coder_index(tmp_path_factory):
    """The SOC coder's index, built once per session into a temporary folder (tests/coder_fixtures.py)."""
    from tests.coder_fixtures import use_coder_index

    yield from use_coder_index(tmp_path_factory)


@pytest.fixture
def reference_titles(db):
    """The official job titles; present from django_db_setup, reloaded after a transactional test's flush."""
    from taxonomy.coder import reference_dir
    from taxonomy.models import ReferenceTitle
    from taxonomy.services import load_reference_titles

    if not ReferenceTitle.objects.exists():
        load_reference_titles(reference_dir())


@pytest.fixture
def groups(db):
    """The Curators and Reviewers groups with their permissions, review permissions included."""
    sync_groups(Group, Permission)


@pytest.fixture
def reference_soc(db):
    """The official SOC 2018 and O*NET-SOC 2019 reference rows.

    Present from django_db_setup; a transactional test flushes them, so reload when gone.
    """
    from taxonomy.models import OccupationCode

    if not OccupationCode.objects.exists():
        call_command("loaddata", *REFERENCE_FIXTURES, verbosity=0)


@pytest.fixture
def seed_role(reference_soc):
    """The reference card's role, AIMLAM.GEN.P1, from fixtures/seed.json."""
    from roles.models import Role

    call_command("load_fixtures", "fixtures/seed.json", stdout=StringIO())
    return Role.objects.get(code="AIMLAM.GEN.P1")


@pytest.fixture
def review_groups(db):
    """Curators and Reviewers with their roles and review permissions (a flush removes them)."""
    sync_groups(Group, Permission)


@pytest.fixture
def make_user(review_groups):
    def make(kind: str, **kwargs):
        """A user of `kind`: anonymous (None), curator, reviewer, lead (a lead reviewer), superuser, or
        importer (a reviewer who was explicitly granted roles.import_decisions)."""
        if kind == "superuser":
            return _user_factory()(is_superuser=True, **kwargs)
        if kind == "anonymous":
            return None
        if kind == "importer":
            from django.contrib.auth.models import Permission

            user = _user_factory()(groups=[REVIEWERS], **kwargs)
            app_label, codename = IMPORT_DECISIONS.split(".")
            user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
            return type(user).objects.get(pk=user.pk)
        return _user_factory()(
            groups=[{"curator": CURATORS, "reviewer": REVIEWERS, "lead": LEAD_REVIEWERS}[kind]], **kwargs
        )

    return make


def _user_factory():
    from tests.factories import UserFactory

    return UserFactory


@pytest.fixture
def deprecated_role(make_user):
    """A role deprecated through review (a curator proposed, a reviewer approved), replaced by another."""
    from roles import services
    from roles.models import DecisionKind
    from tests.factories import RoleFactory

    role, successor = RoleFactory(), RoleFactory()
    proposal = services.propose_deprecation(item=role, actor=make_user("curator"), reason="renamed",
                                            replaced_by=successor)
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=make_user("reviewer"))
    role.refresh_from_db()
    return role


@pytest.fixture
def split_role(make_user):
    """A role split through review into two roles (in that order), its one component going to the second."""
    from roles import services
    from roles.models import DecisionKind
    from tests.factories import ComponentFactory, RoleFactory

    role, first, second = RoleFactory(), RoleFactory(), RoleFactory()
    component = ComponentFactory(role=role)
    proposal = services.propose_split(source=role, targets=[second, first],
                                      assignments={"components": {component.pk: second.pk}},
                                      actor=make_user("curator"), reason="two jobs")
    services.decide_deprecation(proposal=proposal, kind=DecisionKind.APPROVE, actor=make_user("reviewer"))
    role.refresh_from_db()
    return role


@pytest.fixture
def derived_after_commit(settings):
    """Derived data as in production: only marked stale by a write, recomputed after commit.

    For tests that count a write's own queries: marking is one INSERT; the recomputation runs
    after the (here never committed) transaction.
    """
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"


@pytest.fixture
def database_backend(settings):
    """Jobs as in production: rows in the database for a worker, not run in process; derived data after commit."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.ROLEBOOK_DERIVED_REFRESH = "on_commit"


# Tests whose behaviour does not depend on the database (file operations, parsing, the coder,
# the pages as a browser sees them, who may reach which URL, the review core's rules over random
# histories; the races that need row locks stay on both): `make test` runs them in the SQLite pass, and the
# PostgreSQL pass deselects them (never skips: they are not collected there) to keep CI's two
# passes within their time. ROLEBOOK_TEST_ALL=1 runs everything on either database.
DATABASE_INDEPENDENT = (
    "tests/browser/test_accessibility.py",
    "tests/browser/test_card_page.py",
    "tests/browser/test_folds.py",
    "tests/browser/test_layout.py",
    "tests/browser/test_phone.py",
    "tests/browser/test_review_flows.py",
    "tests/browser/test_restructure.py",
    "tests/browser/test_soc_flows.py",
    "tests/publishing/test_crash_safety.py",
    "tests/publishing/test_delta.py",
    "tests/api/test_release_deltas.py",
    "tests/roles/test_restore.py",
    "tests/roles/test_cards_hypothesis.py",
    "tests/roles/test_cards_parser.py",
    "tests/taxonomy/test_coder.py",
    "tests/taxonomy/test_coder_normalise.py",
    "tests/taxonomy/test_coder_calibration.py",
    "tests/taxonomy/test_coder_semantic.py",
    "tests/api/test_schemathesis.py",
    "tests/api/test_access.py",
    "tests/api/test_http.py",
    "tests/api/test_no_leak.py",
    "tests/demo/test_generator.py",
    "tests/framework/test_admin_matrix.py",
    "tests/review/test_url_matrix.py",
    "tests/review/test_queue_render.py",
    "tests/review/test_state_machine.py",
)


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, leave out the DATABASE_INDEPENDENT files (they ran in the SQLite pass)."""
    import os

    from django.db import connection

    if connection.vendor != "postgresql" or os.environ.get("ROLEBOOK_TEST_ALL") == "1":
        return
    kept, left_out = [], []
    for item in items:
        path = str(item.path.relative_to(config.rootpath))
        (left_out if path.startswith(DATABASE_INDEPENDENT) else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept

