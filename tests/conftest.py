import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from roles.groups import sync_groups


@pytest.fixture
def groups(db):
    """The Curators and Reviewers groups with their permissions."""
    sync_groups(Group, Permission)


@pytest.fixture
def reference_soc(db):
    """The official SOC 2018 and O*NET-SOC 2019 reference rows."""
    call_command("loaddata", "fixtures/soc2018.json", "fixtures/onet_soc_2019.json", verbosity=0)


@pytest.fixture
def seed_role(reference_soc):
    """The reference card's role, AIMLAM.GEN.P1, from fixtures/seed.json."""
    from roles.models import Role

    call_command("loaddata", "fixtures/seed.json", verbosity=0)
    return Role.objects.get(code="AIMLAM.GEN.P1")
