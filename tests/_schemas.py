"""Validators for the two API files in tests/wire (keep them in step with shared/wire)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

WIRE = Path(__file__).parent / "wire"
SPEC35: dict[str, Any] = json.loads((WIRE / "lumos-connector-api-3.5.schema.json").read_text())
SPEC4: dict[str, Any] = json.loads((WIRE / "lumos-connector-api-4.280.openapi.json").read_text())
SCHEMAS4: dict[str, Any] = SPEC4["components"]["schemas"]


def strip_nulls(value: Any) -> Any:
    """We write optional members as null; the 4.x file's schemas mean them absent."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


@cache
def _validator4(pointer: str) -> jsonschema.Validator:
    document = {"$ref": pointer, "components": SPEC4["components"], "paths": SPEC4["paths"]}
    return jsonschema.Draft202012Validator(document)


def _pointer_escape(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def _operation_pointer(name: str) -> str:
    return "#/paths/" + _pointer_escape(f"/{{connector_id}}/{name}") + "/post"


def errors4(target: str, data: bytes | dict[str, Any]) -> list[str]:
    """Validation errors of `data` against a 4.280 schema.

    `target` is a component name ("ErrorResponse", "InfoResponse"), or
    "request:<capability>" / "response:<capability>" for a capability's bodies.
    """
    if target.startswith("request:"):
        pointer = _operation_pointer(target[8:]) + "/requestBody/content/application~1json/schema"
    elif target.startswith("response:"):
        pointer = _operation_pointer(target[9:]) + "/responses/200/content/application~1json/schema"
    else:
        pointer = f"#/components/schemas/{target}"
    value = json.loads(data) if isinstance(data, bytes | str) else data
    found = _validator4(pointer).iter_errors(strip_nulls(value))
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in found)


@cache
def _validator35(kind: str, name: str) -> jsonschema.Validator:
    if kind == "envelope":
        return jsonschema.Draft202012Validator(SPEC35["envelopes"][name])
    return jsonschema.Draft202012Validator(SPEC35["capabilities"][name][kind])


def errors35(target: str, data: bytes | dict[str, Any]) -> list[str]:
    """Validation errors against the 3.5 file: "ErrorResponse", "InfoResponse",
    or "request:<capability>" / "response:<capability>"."""
    kind, _, name = target.rpartition(":")
    value = json.loads(data) if isinstance(data, bytes | str) else data
    found = _validator35(kind or "envelope", name).iter_errors(value)
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in found)
