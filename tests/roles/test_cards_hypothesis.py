"""No card, however mangled, produces a traceback: a valid import or clean FILE:LINE errors.

Hypothesis mutates the reference card (LF, and CRLF with a trailing newline) by deleting, duplicating
and swapping lines, truncating, inserting random bytes and invalid UTF-8. Each mutant goes
through the real command; after a failure the row counts must be what they were.
"""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roles.models import ClassificationMapping, Component, Role, TitleAlias
from taxonomy.models import Level, TaxonomyNode

pytestmark = pytest.mark.django_db

REFERENCE = (Path(__file__).parents[2] / "fixtures" / "cards" / "AIMLAM.GEN.P1.txt").read_bytes()
TRACKED = (Role, Component, TitleAlias, ClassificationMapping, Level, TaxonomyNode)
INVALID_UTF8 = [b"\xff", b"\xc3(", b"\xe2\x80", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]


def _counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TRACKED}


@st.composite
def mutants(draw) -> bytes:
    data = draw(st.sampled_from([REFERENCE, REFERENCE.replace(b"\n", b"\r\n") + b"\r\n"]))
    for _ in range(draw(st.integers(1, 3))):
        lines = data.split(b"\n")
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "bytes", "utf8", "replace"]))
        i = draw(st.integers(0, len(lines) - 1))
        j = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "replace":
            lines[i] = draw(st.text(max_size=40)).encode("utf-8", "surrogatepass")
        data = b"\n".join(lines)
        k = draw(st.integers(0, len(data)))
        if op == "truncate":
            data = data[:k]
        elif op == "bytes":
            data = data[:k] + draw(st.binary(min_size=1, max_size=8)) + data[k:]
        elif op == "utf8":
            data = data[:k] + draw(st.sampled_from(INVALID_UTF8)) + data[k:]
    return data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=mutants())
def test_a_mutated_card_imports_or_fails_with_file_line_errors_and_writes_nothing(data, reference_soc, tmp_path):
    path = tmp_path / "mutant.txt"
    path.write_bytes(data)
    with transaction.atomic():
        before = _counts()
        err = StringIO()
        try:
            call_command("import_cards", str(path), stdout=StringIO(), stderr=err)
        except CommandError as exc:
            assert "nothing was imported" in str(exc)
            lines = err.getvalue().splitlines()
            assert lines, "a failed import names at least one problem"
            pattern = re.compile(rf"^{re.escape(str(path))}:\d+: \S")
            assert all(pattern.match(line) for line in lines), lines
            assert _counts() == before
        else:
            assert Role.objects.count() >= 1
        # Each example starts from the same database.
        transaction.set_rollback(True)
