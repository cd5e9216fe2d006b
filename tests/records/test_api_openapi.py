"""The REST API's OpenAPI document: served without a token, a valid OpenAPI 3.1 document that
names every route; and a property test that drives every operation with parameters drawn from
the document (valid and not) and every kind of token, on SQLite and PostgreSQL, and checks that
no answer is a 5xx and every answer is one the document lists, with a body that conforms to its
schema."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from sqlalchemy import Engine

from ivr.records import reports
from ivr.records.api import operations
from tests.support.api import OPERATOR_TOKEN, ThreadedServer, api_app, seed_api

pytestmark = pytest.mark.integration

KNOWN = {
    "call_sid": ["CA-ana", "CA-ben", "CA-nobody", "CA-ana-paid", "CA-nothing"],
    "recording_sid": ["RE-ana", "RE-ben", "RE-escape", "RE-missing", "RE-unstored", "RE-no"],
    "campaign": ["sunbelt-refi"],
    "publisher": ["pub-a", "pub-b", "rate-compare"],
    "officer": ["ana", "ben"],
    "tz": ["UTC", "America/Chicago", "Mars/Base"],
    "outcome": ["transferred", "hung_up"],
}


@dataclass
class Served:
    base: str
    tokens: dict[str, str]
    document: dict[str, Any]


@pytest.fixture
def served(records: Engine, tmp_path: Path) -> Iterator[Served]:
    tokens = seed_api(records, tmp_path / "store")
    tokens["operator"] = OPERATOR_TOKEN
    tokens["wrong"] = "wl_" + "A" * 43
    with ThreadedServer(api_app(records, tmp_path / "store")) as base:
        document = requests.get(base + "/api/openapi.json", timeout=10).json()
        yield Served(base, tokens, document)


def test_the_document_is_valid_and_complete(served: Served) -> None:
    document = served.document
    validate(document)  # OpenAPI 3.1, schemas included
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {op.path for op in operations(reports.GROUPS)}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A user's API token (wl_…) or the operator token.",
    }
    pnl = document["paths"]["/api/reports/pnl"]["get"]
    by = next(p for p in pnl["parameters"] if p["name"] == "by")
    assert by["schema"]["enum"] == list(reports.GROUPS)
    assert document["paths"]["/api/openapi.json"]["get"]["security"] == []
    for path, item in document["paths"].items():
        if path != "/api/openapi.json":
            assert "401" in item["get"]["responses"], path
    # The document holds no data: none of the seeded ids or names appear in it.
    text = requests.get(served.base + "/api/openapi.json", timeout=10).text
    for secret in ("CA-ana", "Ana Ruiz", "RE-ana", served.tokens["ana"], OPERATOR_TOKEN):
        assert secret not in text


def _value(name: str, schema: dict[str, Any]) -> st.SearchStrategy[str]:
    """A value for one parameter: mostly what the schema allows, sometimes anything."""
    noise = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
    if "enum" in schema:
        fitting: st.SearchStrategy[str] = st.sampled_from([str(v) for v in schema["enum"]])
    elif schema.get("type") == "integer":
        low, high = schema.get("minimum", -(10**6)), schema.get("maximum", 10**6)
        fitting = st.integers(low - 2, high + 2).map(str)
    elif schema.get("format") == "date":
        fitting = st.dates(date(2026, 11, 1), date(2026, 11, 30)).map(date.isoformat)
    else:
        fitting = st.sampled_from(KNOWN.get(name, ["x"]))
    return st.one_of(fitting, fitting, fitting, noise)


def _segment(name: str) -> st.SearchStrategy[str]:
    text = st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="/?#"),
        min_size=1,
        max_size=12,
    ).filter(lambda s: s.strip(".") != "")
    return st.one_of(st.sampled_from(KNOWN[name]), st.sampled_from(KNOWN[name]), text)


@st.composite
def requests_of(draw: st.DrawFn, document: dict[str, Any]) -> tuple[str, str, dict[str, Any], str]:
    template = draw(st.sampled_from(sorted(document["paths"])))
    path = template
    operation = document["paths"][template]["get"]
    query: dict[str, str] = {}
    for param in operation["parameters"]:
        if param["in"] == "path":
            value = draw(_segment(param["name"]))
            path = path.replace("{" + param["name"] + "}", quote(value, safe=""))
        elif (param.get("required") or draw(st.booleans())) and draw(st.integers(0, 9)) > 0:
            query[param["name"]] = draw(_value(param["name"], param["schema"]))
    token = draw(st.sampled_from(["root", "quinn", "ana", "ben", "operator", "wrong", "none"]))
    return template, path, query, token


GOOD: dict[str, str] = {"by": "officer", "from": "2026-11-10", "to": "2026-11-11"}


def _valid_requests(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any], str]]:
    """One request per operation that the admin's token must be answered 200 to."""
    made = []
    for template, item in sorted(document["paths"].items()):
        path, query = template, {}
        for param in item["get"]["parameters"]:
            if param["in"] == "path":
                path = path.replace("{" + param["name"] + "}", KNOWN[param["name"]][0])
            elif param["required"]:
                query[param["name"]] = GOOD[param["name"]]
        made.append((template, path, query, "root"))
    return made


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


def test_every_answer_is_documented(served: Served) -> None:
    document = served.document
    http = requests.Session()
    seen: set[tuple[str, int]] = set()

    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
        derandomize=True,
    )
    @given(requests_of(document))
    def check(drawn: tuple[str, str, dict[str, Any], str]) -> None:
        template, path, query, who = drawn
        headers = {} if who == "none" else {"Authorization": f"Bearer {served.tokens[who]}"}
        reply = http.get(served.base + path, params=query, headers=headers, timeout=30)
        responses = document["paths"][template]["get"]["responses"]
        event(f"{template} {reply.status_code}")
        seen.add((template, reply.status_code))
        assert reply.status_code < 500, (path, query, who, reply.text)
        assert str(reply.status_code) in responses, (path, query, who, reply.status_code)
        content = responses[str(reply.status_code)].get("content", {})
        media = reply.headers.get("Content-Type", "").split(";")[0]
        assert media in content, (path, reply.status_code, media)
        if media == "application/json":
            errors = list(_validator(document, content[media]["schema"]).iter_errors(reply.json()))
            assert not errors, (path, query, who, [e.message for e in errors[:3]])

    for drawn in _valid_requests(document):  # each operation at least once with good values
        check = example(drawn)(check)
    check()
    # Every operation was answered with its body, not only refused.
    assert {template for template, status in seen if status == 200} == set(document["paths"])
