"""Turn pydantic validation errors into located, human messages.

Pydantic reports a location such as ``('steps', 3, 'ask', 'retires')``; the YAML source knows the
line of ``steps[3].retires``. Union tags in the location (``'ask'``) are not in the data and are
skipped while walking it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from ivr.problems import Problem
from ivr.yaml_source import Location, Source

Describe = Callable[[Location], tuple[str, Location]]
"""Splits a data location into a prefix for the message ("step 'credit': ") and the rest."""

ModelAt = Callable[[Location], type[BaseModel] | None]
"""The model that owns a data location, for did-you-mean suggestions."""


def data_location(data: Any, loc: Sequence[str | int], missing: bool = False) -> Location:
    """Map a pydantic error location onto the data, dropping union tags.

    For a ``missing`` error the last part names a field the data lacks: it is kept.
    """
    found: list[str | int] = []
    current = data
    parts = list(loc)
    for i, part in enumerate(parts):
        following = parts[i + 1] if i + 1 < len(parts) else None
        if isinstance(current, dict) and isinstance(part, str):
            if part in current and not (following in current and following != part):
                found.append(part)
                current = current[part]
            elif missing and i == len(parts) - 1:
                found.append(part)
            continue
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            found.append(part)
            current = current[part]
    return tuple(found)


def problems_from_validation(
    error: ValidationError,
    source: Source,
    describe: Describe,
    model_at: ModelAt | None = None,
) -> list[Problem]:
    """One problem per pydantic error, worded for a person editing the file."""
    problems = []
    for item in error.errors(include_url=False):
        location = data_location(source.data, item["loc"], missing=item["type"] == "missing")
        prefix, rest = describe(location)
        message = _message(item, location, rest, model_at)
        problems.append(Problem(source.path, source.line(location), prefix + message))
    return problems


def _message(item: Any, location: Location, rest: Location, model_at: ModelAt | None) -> str:
    kind = item["type"]
    name = str(rest[-1]) if rest else ""
    field = format_location(rest)
    if kind == "extra_forbidden":
        hint = _suggestion(name, location[:-1], model_at)
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return f"missing field '{field}'"
    if kind == "union_tag_invalid":
        ctx = item.get("ctx", {})
        return f"unknown kind '{ctx.get('tag')}' (expected one of {ctx.get('expected_tags')})"
    if kind == "union_tag_not_found":
        return f"missing field '{format_location((*rest, 'kind'))}'"
    message = str(item["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind in _DATE_ERRORS:
        message = f"'{item.get('input')}' is not a date like 2026-12-25"
    elif kind == "string_pattern_mismatch":
        message = _pattern_message(str(item.get("input")), str(item.get("ctx", {}).get("pattern")))
    return f"field '{field}': {message}" if field else message


_DATE_ERRORS = frozenset(
    {"date_parsing", "date_from_datetime_parsing", "date_from_datetime_inexact"}
)

_PATTERN_MEANINGS = {
    r"^[a-z][a-z0-9_]*$": "a name of lowercase letters, digits and '_'",
    r"^[a-z][a-z0-9_-]*$": "a name of lowercase letters, digits, '_' and '-'",
    r"^[0-9*#]{1,12}$": "keypad keys (0-9, * and #, at most 12)",
    r"^https?://\S+$": "an http(s) URL",
    r"^\+[1-9][0-9]{7,14}$": "a phone number in E.164 form, e.g. +15125550123",
    r"^[0-9]{1,12}$": "an NMLS id (digits only, e.g. 1234567)",
}


def _pattern_message(value: str, pattern: str) -> str:
    meaning = _PATTERN_MEANINGS.get(pattern, f"text matching {pattern}")
    return f"'{value}' is not {meaning}"


def format_location(location: Location) -> str:
    """``('cases', 0, 'when')`` → ``cases[0].when``; pydantic's ``[key]`` marker is dropped."""
    text = ""
    for part in location:
        if part == "[key]":
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _suggestion(name: str, owner: Location, model_at: ModelAt | None) -> str:
    model = model_at(owner) if model_at is not None else None
    if model is None:
        return ""
    fields = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(name, fields, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
