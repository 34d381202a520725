from roles.models import Role


def test_seed_loads(seed_role):
    assert seed_role.aliases.count() == 16
    assert Role.objects.count() == 1
