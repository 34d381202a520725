"""Dump imported roles as a deterministic fixture (natural keys, no pks): how fixtures/seed.json is made.

Regenerate the seed from the reference card (on an empty database with the SOC reference loaded):
    manage.py import_cards fixtures/cards/AIMLAM.GEN.P1.txt
    python -c "import django; django.setup(); from roles.cards.fixture import dump_roles; \
        print(dump_roles(['AIMLAM.GEN.P1']), end='')" > fixtures/seed.json
"""

from __future__ import annotations

import json

from django.core import serializers

from roles.models import Role

# Who and when a row was created or last edited is the importer's run, not the card: left out,
# so loaddata fills in the defaults (no creator, the load time).
RUN_FIELDS = ("created_at", "created_by", "content_changed_by", "content_changed_at")


def fixture_objects(codes: list[str]) -> list:
    """Return the rows of the roles `codes` in load order: level, family, specialization, role, items."""
    objects: list = []
    seen: set = set()
    for role in Role.objects.with_related().filter(code__in=codes).order_by("code"):
        for obj in (role.level, role.node.parent, role.node, role):
            if obj is not None and (type(obj), obj.pk) not in seen:
                seen.add((type(obj), obj.pk))
                objects.append(obj)
        kind_order = {kind: i for i, kind in enumerate(role.components.model.KIND_ORDER)}
        objects += sorted(role.components.all(), key=lambda c: (kind_order[c.kind], c.position, c.pk))
        objects += list(role.aliases.order_by("pk"))
        objects += list(role.mappings.order_by("pk"))
    return objects


def dump_roles(codes: list[str]) -> str:
    """Return the fixture JSON of the roles `codes` (indent 1, trailing newline)."""
    data = json.loads(
        serializers.serialize(
            "json", fixture_objects(codes), use_natural_foreign_keys=True, use_natural_primary_keys=True
        )
    )
    for entry in data:
        for name in RUN_FIELDS:
            entry["fields"].pop(name, None)
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
