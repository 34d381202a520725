"""Natural keys make fixtures portable: dump a role with its parts, load into an empty DB."""

import json
from io import StringIO

import pytest
from django.core import serializers
from django.core.management import call_command

from roles.models import ClassificationMapping, Component, Role, TitleAlias
from taxonomy.models import Level, TaxonomyNode

MODELS = [
    "taxonomy.level",
    "taxonomy.taxonomynode",
    "roles.role",
    "roles.component",
    "roles.titlealias",
    "roles.classificationmapping",
]


def _snapshot():
    role = Role.objects.get(code="AIMLAM.GEN.P1")
    return {
        "role": {
            f.name: getattr(role, f.attname)
            for f in Role._meta.concrete_fields
            if f.name not in {"id", "node", "level"}
        },
        "node": role.node.natural_key(),
        "level": role.level.natural_key(),
        "components": sorted((c.kind, c.position, c.text, c.prevalence, c.scope) for c in Component.objects.all()),
        "aliases": sorted((a.alias, a.alias_type, a.confidence, a.status) for a in TitleAlias.objects.all()),
        "mappings": sorted(
            (m.scheme, m.code, m.title, m.occupation.natural_key()) for m in ClassificationMapping.objects.all()
        ),
    }


@pytest.mark.django_db(transaction=True)
def test_dump_with_natural_keys_and_load_into_an_empty_database(seed_role, reference_soc):
    before = _snapshot()
    out = StringIO()
    call_command("dumpdata", *MODELS, natural_foreign=True, natural_primary=True, stdout=out)
    dumped = json.loads(out.getvalue())
    assert all("pk" not in obj for obj in dumped)

    for model in (ClassificationMapping, TitleAlias, Component, Role):
        model.objects.all().delete()
    TaxonomyNode.objects.filter(parent__isnull=False).delete()
    TaxonomyNode.objects.all().delete()
    Level.objects.all().delete()
    assert Role.objects.count() == TaxonomyNode.objects.count() == 0
    for obj in serializers.deserialize("json", out.getvalue()):
        obj.save()
    assert _snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model",
    [Level, TaxonomyNode, Role, Component, TitleAlias, ClassificationMapping],
)
def test_every_model_resolves_its_own_natural_key(seed_role, model):
    obj = model.objects.first()
    assert model.objects.get_by_natural_key(*obj.natural_key()) == obj
