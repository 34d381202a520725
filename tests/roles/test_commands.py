"""roles' set-up commands: load_reference (a step of `make serve`)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from roles.management.commands import load_reference

pytestmark = pytest.mark.django_db


def test_load_reference_says_present_and_loads_nothing_when_every_code_is_there(reference_soc, monkeypatch):
    calls = []
    monkeypatch.setattr(load_reference, "call_command", lambda *args, **kwargs: calls.append(args))
    out = StringIO()
    call_command("load_reference", stdout=out)
    assert out.getvalue().startswith("reference data present (")
    assert calls == []


def test_load_reference_loads_the_fixtures_through_load_fixtures_when_codes_are_missing(reference_soc, monkeypatch):
    class NoCodes:
        class objects:  # noqa: N801 - stands in for the manager
            @staticmethod
            def count() -> int:
                return 10

    calls = []
    monkeypatch.setattr(load_reference, "OccupationCode", NoCodes)
    monkeypatch.setattr(load_reference, "call_command", lambda *args, **kwargs: calls.append(args))
    out = StringIO()
    call_command("load_reference", stdout=out)
    assert "loading reference data (10 of " in out.getvalue()
    assert [args[0] for args in calls] == ["load_fixtures"]
    assert [a.rsplit("/", 1)[1] for a in calls[0][1:]] == ["soc2018.json", "onet_soc_2019.json"]
