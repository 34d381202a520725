"""Reads for the API: who may do what, and the published rows each endpoint serves.

Every row comes from `publishing.published` (approved aliases and mappings only), the selector the
releases use too. Each list reads a fixed number of queries whatever its page size:

    roles page:   1 roles (node chain and level joined), 1 approved aliases, 1 approved mappings
                  (with the official code and its four ancestors joined)
    role:         the same for one role, plus 1 components
    codes page:   1 occupation codes (four ancestors joined)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from publishing.published import (
    binary_order,
    published_aliases,
    published_components,
    published_items_of_roles,
    published_mappings,
    published_role_splits,
    published_roles,
)
from roles.models import ClassificationMapping, Role, TitleAlias
from taxonomy.models import OccupationCode

from .models import ApiToken, hash_key

ALL_SCOPES = frozenset(ApiToken.Scope.values)
# Official codes sit at most four levels deep: O*NET-SOC → detailed → broad → minor → major.
PARENT_DEPTH = 4
ORDER = "api_order"  # the annotation cursor pagination orders by (code-point order of the code)


def token_for_key(key: str) -> ApiToken | None:
    """Return the token whose secret is `key` (revoked or not), with its user; None when unknown."""
    if not key.startswith(ApiToken.KEY_PREFIX) or len(key) > 100:
        return None
    return ApiToken.objects.with_related().filter(key_hash=hash_key(key)).first()


def anonymous_scopes() -> frozenset[str]:
    """The scopes settings open to requests without credentials (none by default)."""
    return frozenset(settings.ROLEBOOK_API_ANONYMOUS_SCOPES) & ALL_SCOPES


def api_scopes(user: Any, token: ApiToken | None, *, allow_anonymous: bool = True) -> frozenset[str]:
    """The scopes a request holds: the one permission check of the API.

    A token grants its own scopes (none once revoked or when its user is inactive); a logged-in
    user's session grants every scope, as the user could make a token with any of them;
    a request without credentials gets ROLEBOOK_API_ANONYMOUS_SCOPES where the endpoint allows
    anonymous use at all.
    """
    if isinstance(token, ApiToken):
        return token.scopes if token.user.is_active else frozenset()
    if user is not None and user.is_authenticated:
        return ALL_SCOPES if user.is_active else frozenset()
    return anonymous_scopes() if allow_anonymous else frozenset()


# ---------------------------------------------------------------------------------------------
# Roles


def role_list() -> QuerySet[Role]:
    """Published roles with their taxonomy path and level joined, ordered for cursor pagination."""
    return (
        published_roles()
        .select_related(
            "level", "node", "node__parent", "node__parent__parent", "node__parent__parent__parent", "replaced_by"
        )
        .annotate(**{ORDER: binary_order("code")})
        .order_by(ORDER)
    )


def filter_by_soc(roles: QuerySet[Role], code: str) -> QuerySet[Role]:
    """Roles with an approved mapping to `code` or to an official code anywhere under it."""
    under = Q(code=code)
    path = "occupation"
    for _ in range(PARENT_DEPTH):
        path += "__parent"
        under |= Q(**{f"{path}__code": code})
    return roles.filter(Exists(published_mappings().filter(under, role=OuterRef("pk"))))


def filter_by_alias(roles: QuerySet[Role], text: str) -> QuerySet[Role]:
    """Roles with an approved alias containing `text`, ignoring case (pending aliases are not searched)."""
    return roles.filter(Exists(published_aliases().filter(role=OuterRef("pk"), alias__icontains=text)))


def _parent_paths() -> list[str]:
    paths = []
    path = "occupation"
    for _ in range(PARENT_DEPTH):
        path += "__parent"
        paths += [f"{path}__scheme", f"{path}__code", f"{path}__title", f"{path}__level"]
    return paths


def attach_published_items(roles: Iterable[Role]) -> list[Role]:
    """Set `published_aliases` and `published_mappings` (lists of dicts) on each role (2 queries).

    Aliases in code-point order of their text; mappings by code. Rows are read as values, not
    model instances: a page of 50 roles holds about 2,500 aliases at O*NET scale.
    """
    roles = list(roles)
    by_id = {role.pk: role for role in roles}
    for role in roles:
        role.published_aliases, role.published_mappings, role.split_codes = [], [], []
    if not by_id:
        return roles
    split = [role.pk for role in roles if role.deprecated and not role.replaced_by_id]
    if split:  # one more query, only for a page that holds a deprecated role without one successor
        links = published_role_splits().filter(role__in=split).in_split_order()
        for role_id, code in links.values_list("role_id", "successor__code"):
            by_id[role_id].split_codes.append(code)
    aliases = (
        published_items_of_roles(TitleAlias, by_id)
        .order_by("role_id", binary_order("alias"))
        .values_list("role_id", "alias", "alias_type", "confidence", "decided_at", "deprecated")
    )
    for role_id, alias, alias_type, confidence, decided_at, deprecated in aliases:
        by_id[role_id].published_aliases.append(
            {"alias": alias, "type": alias_type, "confidence": confidence, "approved_at": decided_at,
             "deprecated": deprecated}
        )
    parents = _parent_paths()
    mappings = (
        published_items_of_roles(ClassificationMapping, by_id)
        .order_by("role_id", binary_order("scheme"), binary_order("code"))
        .values_list(
            "role_id", "code", "title", "source", "decided_at", "occupation__title", "occupation__level", "deprecated",
            *parents,
        )
    )
    for row in mappings:
        role_id, code, title, source, decided_at, official_title, level, deprecated = row[:8]
        chain = []
        rest = row[8:]
        for i in range(0, len(rest), 4):
            scheme, parent_code, parent_title, parent_level = rest[i : i + 4]
            if parent_code is None:
                break
            chain.append({"scheme": scheme, "code": parent_code, "title": parent_title, "level": parent_level})
        by_id[role_id].published_mappings.append(
            {
                "code": code,
                "title": title,
                "source": source,
                "reviewed_at": decided_at,
                "official_title": official_title,
                "level": level,
                "parents": chain,
                "deprecated": deprecated,
            }
        )
    return roles


def role_detail(code: str) -> Role:
    """The published role `code` with its aliases, mappings and components (4 queries).

    Raises Role.DoesNotExist for an unknown code.
    """
    role = role_list().get(code=code)
    attach_published_items([role])
    role.published_components = list(
        published_components()
        .filter(role=role)
        .order_by("position", "pk")
        .values("kind", "text", "prevalence", "scope", "position")
    )
    return role


def role_for_card(code: str) -> Role:
    """The role `code` as the card renderer reads it (level joined). Raises Role.DoesNotExist."""
    return published_roles().select_related("level").get(code=code)


# ---------------------------------------------------------------------------------------------
# Occupation codes


def occupation_code_list() -> QuerySet[OccupationCode]:
    """Every official code (SOC 2018 and O*NET-SOC 2019) with its ancestors joined, by code."""
    related = []
    path = "parent"
    for _ in range(PARENT_DEPTH):
        related.append(path)
        path += "__parent"
    return OccupationCode.objects.select_related(*related).annotate(**{ORDER: binary_order("code")}).order_by(ORDER)


def occupation_code_detail(code: str) -> OccupationCode:
    """The official code `code` with its ancestors and its children (2 queries). Raises DoesNotExist."""
    occupation = occupation_code_list().get(code=code)
    occupation.child_codes = list(
        OccupationCode.objects.filter(parent=occupation).order_by(binary_order("code")).values(
            "scheme", "code", "title", "level"
        )
    )
    return occupation


def parent_chain(occupation: OccupationCode) -> list[OccupationCode]:
    """The ancestors of `occupation`, nearest first (uses the joined rows: no query)."""
    chain = []
    node = occupation.parent
    while node is not None and len(chain) < PARENT_DEPTH:
        chain.append(node)
        node = node.parent if "parent" in node._state.fields_cache else None
    return chain

