"""Schemathesis against the generated schema, on a live test server with a seeded database.

One test per operation (``@schema.parametrize``), each on a freshly seeded database: the
schema's explicit examples (the reference card's role, 15-2051, release 1.0.0) and generated
requests, a bounded number per operation so the run stays quick; Schemathesis also probes each
path with the methods it does not document (405 expected). Every request carries a token with
both scopes. The checks: no 5xx, every response conforms to its schema, its status code and its
media type are documented, its headers too.

NUL characters are not generated: RejectNulBytesMiddleware answers them with a problem+json 400
before any view, a status the schema does not list per operation (tests/api/test_http.py covers it).
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import schemathesis
import yaml
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import create_token
from publishing.store import publish_release
from review import services
from roles.models import ClassificationMapping, TitleAlias
from tests.api.conftest import populate
from tests.factories import UserFactory
from tests.publishing.test_releases import make_reviewer

# Examples per operation; SCHEMATHESIS_EXAMPLES raises it for a deeper run.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
# Three major groups of the reference: every mapping the seed makes, and quick to load.
GROUPS = ("11-", "13-", "15-")


@pytest.fixture(scope="module")
def reference_subset(tmp_path_factory) -> list[str]:
    """Fixture files holding the SOC 2018 and O*NET-SOC codes of GROUPS."""
    folder = tmp_path_factory.mktemp("reference")
    paths = []
    for name in ("soc2018.json", "onet_soc_2019.json"):
        objects = json.loads((Path(django_settings.BASE_DIR) / "fixtures" / name).read_text(encoding="utf-8"))
        subset = [o for o in objects if o["fields"]["code"].startswith(GROUPS)]
        path = folder / name
        path.write_text(json.dumps(subset), encoding="utf-8")
        paths.append(str(path))
    return paths


@pytest.fixture
def seeded(transactional_db, reference_subset, settings, tmp_path):
    """The reference card's role and two more with items in every review state, and a published release."""
    settings.ROLEBOOK_RELEASES_DIR = tmp_path / "releases"
    # Generated requests come fast: the run checks conformance, not the rate limits.
    settings.ROLEBOOK_API_THROTTLE_RATES = {"anon": None, "user": None, "suggest": None}
    cache.clear()
    call_command("loaddata", *reference_subset, verbosity=0)
    call_command("load_fixtures", "fixtures/seed.json", verbosity=0)
    data = populate(2)
    actor = make_reviewer()
    for alias in TitleAlias.objects.filter(role__code="AIMLAM.GEN.P1").order_by("pk")[:8]:
        services.approve_alias(alias=alias, actor=actor)
    seed_mapping = ClassificationMapping.objects.get(role__code="AIMLAM.GEN.P1")
    services.approve_mapping(mapping=seed_mapping, actor=data["actor"], confirm_group_level=True)
    publish_release(version="1.0.0")
    _, secret = create_token(user=UserFactory(is_staff=False), name="schemathesis", scopes=["read", "releases"])
    return secret


def _schema() -> schemathesis.BaseSchema:
    """The generated schema (what /api/v1/schema serves), loaded when the module is collected."""
    document = yaml.safe_load(
        OpenApiYamlRenderer().render(SchemaGenerator().get_schema(request=None, public=True), renderer_context={})
    )
    config = schemathesis.Config.from_dict(
        {"generation": {"max-examples": EXAMPLES, "allow-x00": False, "deterministic": True}}
    )
    return schemathesis.openapi.from_dict(document, config=config)


schema = _schema()
# Requests sent and their status codes, per operation, reported at the end of the module.
SENT: dict[str, Counter] = defaultdict(Counter)
DOCUMENTED: set[str] = set()


@pytest.fixture(scope="module", autouse=True)
def report(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not SENT:
        return
    total = sum(sum(c.values()) for c in SENT.values())
    documented = sum(sum(c.values()) for op, c in SENT.items() if op in DOCUMENTED)
    reporter.write_line(
        f"\nschemathesis: {total} requests ({documented} to documented operations, the rest probing "
        f"undocumented methods), over {len(SENT)} method and path pairs; every check passed"
    )
    for operation, statuses in sorted(SENT.items()):
        reporter.write_line(f"  {operation}: {dict(sorted(statuses.items()))}")


@schema.parametrize()
# The seeded database is read-only for the API: one seeding serves every generated request.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow], deadline=None)
def test_the_api_conforms_to_its_schema(case, seeded, live_server):
    response = case.call_and_validate(
        base_url=live_server.url, headers={"Authorization": f"Bearer {seeded}"}, checks=CHECKS, timeout=30
    )
    SENT[f"{case.method.upper()} {case.path}"][response.status_code] += 1
    DOCUMENTED.add(f"{case.operation.method.upper()} {case.path}")
    assert response.status_code < 500
