"""One JSON log line per request, with a request id that the response returns."""

import json
import logging

import pytest
from django.test import Client

from framework.logging import JsonFormatter

pytestmark = pytest.mark.django_db


def _request_lines(caplog):
    return [r for r in caplog.records if r.name == "rolebook.request"]


def test_each_request_logs_one_json_line_with_id_user_path_status_and_duration(caplog, make_user):
    rita = make_user("reviewer")
    client = Client()
    client.force_login(rita)
    with caplog.at_level(logging.INFO, logger="rolebook.request"):
        response = client.get("/roles/")
    (record,) = _request_lines(caplog)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == response["X-Request-ID"]
    assert len(line["request_id"]) == 32
    assert line["user_id"] == rita.pk
    assert line["path"] == "/roles/" and line["status"] == 200 and line["method"] == "GET"
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and line["logger"] == "rolebook.request" and line["time"].endswith("Z")


def test_anonymous_requests_log_a_null_user(caplog):
    with caplog.at_level(logging.INFO, logger="rolebook.request"):
        Client().get("/admin/login/")
    line = json.loads(JsonFormatter().format(_request_lines(caplog)[0]))
    assert line["user_id"] is None


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("req-7f3a.1:abc_DEF", True), ("x" * 64, True), ("x" * 65, False), ("two words", False),
     ("evil\nINFO forged line", False), ("", False)],
)
def test_a_proxys_request_id_is_kept_only_when_well_formed(incoming, kept):
    response = Client().get("/admin/login/", HTTP_X_REQUEST_ID=incoming)
    assert (response["X-Request-ID"] == incoming) is kept
    if not kept:
        assert len(response["X-Request-ID"]) == 32


def test_lines_logged_during_a_request_carry_its_id(caplog):
    logger = logging.getLogger("rolebook.test")
    from framework.logging import request_id_var

    token = request_id_var.set("abc123")
    try:
        with caplog.at_level(logging.INFO, logger="rolebook.test"):
            logger.info("inside", extra={"card": "AIMLAM.GEN.P1"})
        line = json.loads(JsonFormatter().format(caplog.records[-1]))  # handlers format as the line is logged
    finally:
        request_id_var.reset(token)
    assert line == {**line, "message": "inside", "request_id": "abc123", "card": "AIMLAM.GEN.P1"}
