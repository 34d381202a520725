"""What each endpoint returns. The fields declare the OpenAPI schema; roles and codes are written
by hand-rolled to_representation methods (plain dicts from values rows), because a page of 50
roles holds about 2,500 aliases and DRF's field-by-field path costs several times as much.
Schemathesis and tests/api/test_schema.py validate every response against the schema."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.urls import reverse
from rest_framework import serializers

from publishing.files import json_value
from publishing.published import code_scheme, match_type
from roles.models import ClassificationMapping, Component, TitleAlias
from taxonomy.models import Level, OccupationCode

from .selectors import parent_chain

SCHEMES = OccupationCode.Scheme.choices
LEVELS = OccupationCode.Level.choices
MATCHES = [("exact", "exact"), ("broad", "broad")]


def _timestamp(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the releases write it (json_value), without its checks for the common case."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        return json_value(value)
    return value.isoformat().replace("+00:00", "Z")


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


class NamedCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class TaxonomyPathSerializer(serializers.Serializer):
    """Where the role sits in the role tree (a level above may be missing while curators fill it in)."""

    superfunction = NamedCodeSerializer(allow_null=True)
    function = NamedCodeSerializer(allow_null=True)
    family = NamedCodeSerializer(allow_null=True)
    specialization = NamedCodeSerializer()


class LevelSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    summary = serializers.CharField()


class LevelDetailSerializer(LevelSerializer):
    scope = serializers.CharField()
    autonomy = serializers.CharField()
    complexity = serializers.CharField()
    impact = serializers.CharField()
    decision_rights = serializers.CharField()
    leadership = serializers.CharField()
    typical_experience = serializers.CharField()


class AliasSerializer(serializers.Serializer):
    """An approved alias."""

    alias = serializers.CharField()
    type = serializers.ChoiceField(choices=TitleAlias.AliasType.choices)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    approved_at = serializers.DateTimeField()
    deprecated = serializers.BooleanField(help_text="Deprecated: still listed, no longer to be used.")


class OccupationRefSerializer(serializers.Serializer):
    """An official code, briefly."""

    scheme = serializers.ChoiceField(choices=SCHEMES)
    code = serializers.CharField()
    title = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)


class MappingSerializer(serializers.Serializer):
    """An approved mapping to an official code, with the code's official title and its ancestors."""

    scheme = serializers.ChoiceField(choices=SCHEMES, help_text="The classification the code belongs to.")
    code = serializers.CharField()
    official_title = serializers.CharField(allow_null=True, help_text="Null when the code is not in the reference.")
    title = serializers.CharField(help_text="The title as the role's card gives it.")
    source = serializers.ChoiceField(choices=ClassificationMapping.Source.choices)
    match = serializers.ChoiceField(
        choices=MATCHES, help_text="exact: a detailed occupation (skos:exactMatch); broad: a group (skos:broadMatch)."
    )
    reviewed_at = serializers.DateTimeField()
    parents = OccupationRefSerializer(
        many=True, help_text="The code's ancestors, nearest first, up to the major group."
    )
    deprecated = serializers.BooleanField(help_text="Deprecated: still listed, no longer to be used.")


class ComponentSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Component.Kind.choices)
    text = serializers.CharField()
    prevalence = serializers.CharField()
    scope = serializers.CharField()


def role_url(request, code: str) -> str:
    return request.build_absolute_uri(reverse("api-v1:role-detail", args=[code]))


def _node(node) -> dict | None:
    return None if node is None else {"code": node.code, "name": node.name}


def _taxonomy(role) -> dict:
    specialization = role.node
    family = specialization.parent
    function = family.parent if family else None
    superfunction = function.parent if function else None
    return {
        "superfunction": _node(superfunction),
        "function": _node(function),
        "family": _node(family),
        "specialization": _node(specialization),
    }


def _alias(item: dict) -> dict:
    return {
        "alias": item["alias"],
        "type": item["type"],
        "confidence": _number(item["confidence"]),
        "approved_at": _timestamp(item["approved_at"]),
        "deprecated": item["deprecated"],
    }


def _mapping(item: dict) -> dict:
    code = item["code"]
    return {
        "scheme": code_scheme(code),
        "code": code,
        "official_title": item["official_title"],
        "title": item["title"],
        "source": item["source"],
        "match": match_type(code, item["level"]),
        "reviewed_at": _timestamp(item["reviewed_at"]),
        "parents": item["parents"],
        "deprecated": item["deprecated"],
    }


class RoleSerializer(serializers.Serializer):
    """A role with its approved aliases and approved mappings (the list's and the detail's core)."""

    code = serializers.CharField()
    title = serializers.CharField()
    url = serializers.URLField()
    level = LevelSerializer()
    taxonomy = TaxonomyPathSerializer()
    headline = serializers.CharField()
    summary = serializers.CharField()
    aliases = AliasSerializer(many=True)
    mappings = MappingSerializer(many=True)
    deprecated = serializers.BooleanField(help_text="Deprecated roles stay published, pointing to their successor.")
    replaced_by = serializers.CharField(
        allow_null=True, help_text="The code of the role that replaces a deprecated one."
    )
    split_into = serializers.ListField(
        child=serializers.CharField(),
        help_text="The codes of the roles a split role became, in the split's order (empty otherwise).",
    )

    def to_representation(self, role) -> dict:
        level = role.level
        return {
            "code": role.code,
            "title": role.title,
            "url": role_url(self.context["request"], role.code),
            "level": {"code": level.code, "name": level.name, "summary": level.summary},
            "taxonomy": _taxonomy(role),
            "headline": role.headline,
            "summary": role.summary,
            "aliases": [_alias(a) for a in role.published_aliases],
            "mappings": [_mapping(m) for m in role.published_mappings],
            "deprecated": role.deprecated,
            "replaced_by": role.replaced_by.code if role.replaced_by_id else None,
            "split_into": list(role.split_codes),
        }


class RoleDetailSerializer(RoleSerializer):
    """A role with everything its card says: the story, the level's attributes and the components."""

    level = LevelDetailSerializer()
    who_does_this_work = serializers.CharField()
    external_problem = serializers.CharField()
    internal_problem = serializers.CharField()
    why_it_matters = serializers.CharField()
    plan = serializers.ListField(child=serializers.CharField())
    whats_at_stake = serializers.CharField()
    success_looks_like = serializers.CharField()
    core_outputs = serializers.ListField(child=serializers.CharField())
    components = ComponentSerializer(many=True, help_text="In card order: by kind, then position.")

    STORY = (
        "who_does_this_work", "external_problem", "internal_problem", "why_it_matters",
        "whats_at_stake", "success_looks_like",
    )

    def to_representation(self, role) -> dict:
        data = super().to_representation(role)
        level = role.level
        data["level"] = {"code": level.code, "name": level.name, "summary": level.summary}
        data["level"].update({name: getattr(level, name) for name, _label in Level.ATTRIBUTES})
        data.update({name: getattr(role, name) for name in self.STORY})
        data["plan"] = list(role.plan) if isinstance(role.plan, list) else []
        data["core_outputs"] = list(role.core_outputs) if isinstance(role.core_outputs, list) else []
        rank = {kind: i for i, kind in enumerate(Component.KIND_ORDER)}
        components = sorted(role.published_components, key=lambda c: (rank.get(c["kind"], 99), c["position"]))
        data["components"] = [
            {"kind": c["kind"], "text": c["text"], "prevalence": c["prevalence"], "scope": c["scope"]}
            for c in components
        ]
        return data


class OccupationCodeSerializer(serializers.Serializer):
    """An official SOC 2018 or O*NET-SOC 2019 code, with its ancestors."""

    scheme = serializers.ChoiceField(choices=SCHEMES)
    code = serializers.CharField()
    title = serializers.CharField()
    level = serializers.ChoiceField(choices=LEVELS)
    url = serializers.URLField()
    parent = serializers.CharField(allow_null=True, help_text="The code directly above, null for a major group.")
    parents = OccupationRefSerializer(many=True, help_text="Every ancestor, nearest first.")

    def to_representation(self, occupation) -> dict:
        request = self.context["request"]
        chain = parent_chain(occupation)
        return {
            "scheme": occupation.scheme,
            "code": occupation.code,
            "title": occupation.title,
            "level": occupation.level,
            "url": request.build_absolute_uri(reverse("api-v1:occupation-code-detail", args=[occupation.code])),
            "parent": chain[0].code if chain else None,
            "parents": [{"scheme": p.scheme, "code": p.code, "title": p.title, "level": p.level} for p in chain],
        }


class OccupationCodeDetailSerializer(OccupationCodeSerializer):
    children = OccupationRefSerializer(many=True, help_text="The codes directly under this one.")

    def to_representation(self, occupation) -> dict:
        data = super().to_representation(occupation)
        data["children"] = occupation.child_codes
        return data


# ---------------------------------------------------------------------------------------------
# Releases


class DownloadsSerializer(serializers.Serializer):
    """Where to download each format the release holds."""

    all = serializers.URLField(help_text="Every file of the release as one zip.")
    fixtures = serializers.URLField(help_text="Django fixtures (zip).")
    csv = serializers.URLField(required=False, help_text="CSV files (zip); absent when the release has none.")
    skos = serializers.URLField(required=False, help_text="SKOS in Turtle; absent when the release has none.")


class ReleaseSerializer(serializers.Serializer):
    version = serializers.CharField()
    created_at = serializers.DateTimeField()
    since = serializers.CharField(allow_null=True, help_text="The release CHANGES.md compares with.")
    format = serializers.CharField(help_text="The fixtures' format, e.g. rolebook-release/2.")
    formats = serializers.ListField(child=serializers.ChoiceField(choices=["fixtures", "csv", "skos"]))
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="Objects per model label.")
    url = serializers.URLField()
    downloads = DownloadsSerializer()


class ReleaseFileSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Objects, rows or statements in the file.")
    sha256 = serializers.CharField()
    model = serializers.CharField(required=False, help_text="Fixtures: the model label.")
    format = serializers.CharField(required=False, help_text="csv or skos (fixtures have none).")
    entity = serializers.CharField(required=False)
    columns = serializers.ListField(child=serializers.CharField(), required=False)


class ReleaseDetailSerializer(ReleaseSerializer):
    """The release's manifest.json, with download links."""

    files = serializers.DictField(child=ReleaseFileSerializer())
    load_order = serializers.ListField(child=serializers.CharField())
    loaddata = serializers.CharField()
    sha256 = serializers.DictField(child=serializers.CharField(), help_text="SHA-256 of every file.")
    with_reviewers = serializers.BooleanField()


# ---------------------------------------------------------------------------------------------
# SOC coder


class SuggestRequestSerializer(serializers.Serializer):
    """What the coder reads: a title, and optionally other titles, component sentences and a story."""

    title = serializers.CharField(max_length=300, help_text="The job title to code.")
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=300), max_length=200, required=False, default=list
    )
    components = serializers.ListField(
        child=serializers.CharField(max_length=1000), max_length=500, required=False, default=list
    )
    story = serializers.CharField(max_length=20000, required=False, default="", allow_blank=True)
    k = serializers.IntegerField(min_value=1, max_value=20, required=False, default=5)


class SuggestionSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A detailed SOC 2018 code.")
    title = serializers.CharField()
    score = serializers.FloatField(min_value=0, max_value=1)
    evidence = serializers.ListField(child=serializers.CharField(), help_text="The reference rows behind it.")


class SuggestResponseSerializer(serializers.Serializer):
    coder_version = serializers.CharField()
    suggestions = SuggestionSerializer(many=True)
