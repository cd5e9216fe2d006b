"""The REST API's OpenAPI 3.1 document, built from the same table of operations that makes the
routes (:data:`ivr.records.api.operations`) and from the response models the handlers answer
with (:mod:`ivr.records.api_models`): the paths, parameters and schemas cannot drift from the
code. Served without a token at ``GET /api/openapi.json``: it describes, it holds no data.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from ivr.records import api_models as m

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ivr.records.api import Operation

REF: Final = "#/components/schemas/{model}"
ERRORS: Final = {
    400: "A parameter the API cannot use; the error says which and why.",
    401: "No bearer token, or one that is wrong, revoked or of a disabled user.",
    404: "No such thing, or nothing the token's role may see (the same answer).",
    503: "The records database is unavailable; try again.",
}
DESCRIPTION: Final = (
    "Warmline's records: calls, recordings, transcripts, scores, billing lines and the P&L. "
    "Every operation but this document needs `Authorization: Bearer <token>`: a user's API "
    "token (`warmline users token create USER --name NAME`), which sees what its user's role "
    "sees on the web pages, or the operator token `WARMLINE_API_TOKEN`, which acts as an admin. "
    "Phone numbers are masked; money is a string of dollars; times are ISO 8601 with offset."
)


def _version() -> str:
    try:
        return version("warmline")
    except PackageNotFoundError:
        return "0.0.0"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


def _audio(description: str) -> dict[str, Any]:
    schema = {"type": "string", "contentMediaType": "audio/wav"}
    return {"description": description, "content": {"audio/wav": {"schema": schema}}}


def _responses(operation: Operation) -> dict[str, Any]:
    if operation.public:
        ok = {"description": "This document.", "content": {"application/json": {"schema": {
            "type": "object"}}}}  # fmt: skip
        return {"200": ok}
    responses: dict[str, Any] = {}
    if operation.body is None:
        responses["200"] = _audio("The whole recording.")
        responses["206"] = _audio("The range asked for (Range: bytes=…).")
        responses["416"] = {"description": "A range outside the recording."}
    else:
        responses["200"] = _json(operation.body, "OK.")
    for status in operation.errors:
        responses[str(status)] = _json(m.ErrorBody, ERRORS[status])
    return responses


def _operation(operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.handler,
        "summary": operation.summary,
        "description": f"Who may: {operation.roles}",
        "tags": [operation.tag],
        "parameters": [
            {
                "name": param.name,
                "in": param.where,
                "required": param.required,
                "description": param.description,
                "schema": param.schema,
            }
            for param in operation.params
        ],
        "responses": _responses(operation),
    }
    if operation.public:
        described["security"] = []
    return described


def openapi_document(table: Sequence[Operation]) -> dict[str, Any]:
    models: set[type[BaseModel]] = {m.ErrorBody}
    models.update(op.body for op in table if op.body is not None)
    ordered = sorted(models, key=lambda model: model.__name__)
    _, schemas = models_json_schema(
        [(model, "serialization") for model in ordered], ref_template=REF
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Warmline records API",
            "version": _version(),
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {op.path: {"get": _operation(op)} for op in table},
        "components": {
            "schemas": schemas.get("$defs", {}),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user's API token (wl_…) or the operator token.",
                }
            },
        },
    }
