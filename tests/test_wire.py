"""The wire structs against the Lumos Connector API 3.5 schema file."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from _strategies import strategy_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connector

SCHEMA = json.loads(
    (Path(__file__).parent / "wire" / "lumos-connector-api-3.5.schema.json").read_text()
)
CAPABILITIES = SCHEMA["capabilities"]

# Our documented additions to the 3.5 structure (DESIGN.md): PKCE verifier
# fields, the app description in info, and `"response": null` in error envelopes.
ADDITIONS = {
    "AuthorizationUrl": {"code_verifier"},
    "HandleAuthorizationCallback": {"code_verifier"},
    "Info": {"description"},
    "ErrorResponse": {"response"},
}


def _all_defs() -> dict[str, dict[str, Any]]:
    defs: dict[str, dict[str, Any]] = {}
    documents = [doc for cap in CAPABILITIES.values() for doc in cap.values()]
    documents += list(SCHEMA["envelopes"].values())
    for document in documents:
        defs.update(document.get("$defs", {}))
        defs[document["title"]] = {k: v for k, v in document.items() if k != "$defs"}
    return defs


DEFS = _all_defs()


def _validator(document: dict[str, Any]) -> jsonschema.Validator:
    return jsonschema.Draft202012Validator(document)


def _payload_class(envelope: type[Any], field: str) -> Any:
    return next(f.type for f in msgspec.structs.fields(envelope) if f.name == field)


def test_all_seventeen_capabilities_have_request_and_response_structs() -> None:
    assert sorted(CAPABILITIES) == sorted(c.value for c in connector.CapabilityName)
    for name, documents in CAPABILITIES.items():
        request_type, response_type = connector._CAPABILITY_TYPES[connector.CapabilityName(name)]
        assert request_type.__name__ == documents["request"]["title"]
        assert response_type.__name__ == documents["response"]["title"]


@pytest.mark.parametrize("name", sorted(DEFS))
def test_struct_or_enum_matches_schema_definition(name: str) -> None:
    """Same field names, same required fields, same enum values as the schema."""
    definition = DEFS[name]
    ours = getattr(connector, name)
    if "enum" in definition:
        assert issubclass(ours, enum.Enum)
        assert sorted(m.value for m in ours) == sorted(definition["enum"])
        return
    fields = {f.name: f for f in msgspec.structs.fields(ours)}
    extra = ADDITIONS.get(name, set())
    assert set(fields) - extra == set(definition.get("properties", {}))
    required = {f.name for f in fields.values() if f.required}
    assert required == set(definition.get("required", []))


def _validate(document: dict[str, Any], data: bytes) -> None:
    errors = sorted(_validator(document).iter_errors(json.loads(data)), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_response_we_can_build_validates_against_the_schema(
    name: str, data: st.DataObject
) -> None:
    _, response_type = connector._CAPABILITY_TYPES[connector.CapabilityName(name)]
    response = data.draw(strategy_for(response_type))
    encoded = msgspec.json.encode(response)
    _validate(CAPABILITIES[name]["response"], encoded)
    assert msgspec.json.decode(encoded, type=response_type) == response


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schema_shaped_requests_decode(name: str, data: st.DataObject) -> None:
    """A request we can build is valid for the schema, and decodes back to itself."""
    request_type, _ = connector._CAPABILITY_TYPES[connector.CapabilityName(name)]
    request = data.draw(strategy_for(request_type))
    encoded = msgspec.json.encode(request)
    _validate(CAPABILITIES[name]["request"], encoded)
    assert msgspec.json.decode(encoded, type=request_type) == request


def test_requests_with_explicit_nulls_decode() -> None:
    """Real clients send every optional member, as null when unset."""
    body = {
        "auth": {"basic": {"username": "u", "password": "p"}, "oauth": None, "token": None},
        "request": {"custom_attributes": None},
        "page": None,
        "include_raw_data": None,
        "settings": None,
        "some_future_member": {"ignored": True},
    }
    _validate(CAPABILITIES["list_accounts"]["request"], json.dumps(body).encode())
    request = msgspec.json.decode(json.dumps(body), type=connector.ListAccountsRequest)
    assert request.auth.basic == connector.BasicCredential(username="u", password="p")
    assert request.page is None and request.settings is None

    callback = {
        "request": {
            "client_id": "id",
            "client_secret": "s",
            "redirect_uri_with_code": "https://x/cb?code=1",
            "state": None,
        },
        "page": {"token": None, "size": None},
        "include_raw_data": None,
        "settings": None,
    }
    decoded = msgspec.json.decode(
        json.dumps(callback), type=connector.HandleAuthorizationCallbackRequest
    )
    assert decoded.request.state is None and decoded.request.code_verifier is None


def test_info_of_the_example_validates() -> None:
    from mock_connector import integration

    _validate(SCHEMA["envelopes"]["InfoResponse"], integration.info_json())


def test_error_envelope_validates_but_for_the_prefixed_code() -> None:
    envelope = connector.error_envelope("acme", connector.ErrorCode.NOT_FOUND, "No route")
    data = json.loads(envelope)
    assert data["error"]["error_code"] == "acme.not_found"
    assert data["response"] is None and data["is_error"] is True
    data["error"]["error_code"] = "not_found"
    _validate(SCHEMA["envelopes"]["ErrorResponse"], json.dumps(data).encode())


WIRE_TYPES = sorted(
    (
        getattr(connector, name)
        for name in connector.__all__
        if isinstance(getattr(connector, name), type)
        and issubclass(getattr(connector, name), connector._Wire)
    ),
    key=lambda t: t.__name__,
)


@pytest.mark.parametrize("struct_type", WIRE_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_struct_round_trips_through_json(struct_type: type[Any], data: st.DataObject) -> None:
    value = data.draw(strategy_for(struct_type))
    assert msgspec.json.decode(msgspec.json.encode(value), type=struct_type) == value
