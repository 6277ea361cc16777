"""The wire structs against the Lumos Connector API 3.5 schema file."""

from __future__ import annotations

import enum
import json
from typing import Any

import jsonschema
import msgspec
import pytest
from _schemas import SPEC35 as SCHEMA
from _schemas import errors4, errors35
from _strategies import strategy_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connector

CAPABILITIES = SCHEMA["capabilities"]

# Our documented additions to the 3.5 structure: PKCE verifier fields, the app
# description in info, `"response": null` in error envelopes (DESIGN.md), and
# every member API 4.x added to these shapes.
_REQUEST_4X = {"rate_limit", "credentials"}
_RESPONSE_4X = {"rate_limit", "execution_summary"}
ADDITIONS = {
    "AuthorizationUrl": {"code_verifier"},
    "HandleAuthorizationCallback": {"code_verifier"},
    "Info": {"description", "credentials_schema", "app_vendor_domain"},
    "ErrorResponse": {"response"},
    "Error": {"error_metadata"},
    "CapabilitySchema": {"display_name", "description"},
    "EntitlementType": {"requirements"},
    "InfoResponse": _RESPONSE_4X,
}
# 3.5 required `auth`; 4.x takes `auth` or `credentials`.
NO_LONGER_REQUIRED = {"auth"}
ErrorCodes4 = {"conflict", "bad_gateway", "budget_exhausted"}


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
    seed = {name for name, spec in connector.CAPABILITIES.items() if spec.since == "3.5"}
    assert sorted(CAPABILITIES) == sorted(seed)
    for name, documents in CAPABILITIES.items():
        spec = connector.CAPABILITIES[name]
        assert spec.request_type.__name__ == documents["request"]["title"]
        assert spec.response_type.__name__ == documents["response"]["title"]


def _additions(name: str) -> set[str]:
    if name.endswith("Request") and name != "InfoRequest":
        return _REQUEST_4X
    if name.endswith("Response") and name != "ErrorResponse":
        return _RESPONSE_4X
    return ADDITIONS.get(name, set())


@pytest.mark.parametrize("name", sorted(DEFS))
def test_struct_or_enum_keeps_the_35_definition(name: str) -> None:
    """Every 3.5 field and enum value is still there (test_wire4.py checks the 4.x
    file exactly); every field 3.5 required is required here, except `auth`."""
    definition = DEFS[name]
    ours = getattr(connector, name)
    if "enum" in definition:
        assert issubclass(ours, enum.Enum)
        assert set(definition["enum"]) <= {m.value for m in ours}
        return
    fields = {f.name: f for f in msgspec.structs.fields(ours)}
    assert set(definition.get("properties", {})) <= set(fields)
    required = {f.name for f in fields.values() if f.required} & set(definition["properties"])
    assert required == set(definition.get("required", [])) - NO_LONGER_REQUIRED


ADDED_IN_4X = {"entitlement", "resource", "credential", "non_human_account", "boolean"}
ADDED_IN_4X |= {"integer", "datetime", "EARLY_ACCESS"}


def _added_in_4x(error: str) -> bool:
    # An enum value 4.x added: "['response', 0, 'x']: 'entitlement' is not one of [...]".
    return any(f": '{value}' is not one of" in error for value in ADDED_IN_4X)


def _validate(document: dict[str, Any], data: bytes) -> None:
    errors = sorted(_validator(document).iter_errors(json.loads(data)), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_response_we_can_build_validates_against_the_schema(
    name: str, data: st.DataObject
) -> None:
    """Valid under the 4.x file, and under 3.5's unless it uses a value 4.x added."""
    response_type = connector.CAPABILITIES[name].response_type
    response = data.draw(strategy_for(response_type))
    encoded = msgspec.json.encode(response)
    assert errors4(f"response:{name}", encoded) == []
    old = [e for e in errors35(f"response:{name}", encoded) if not _added_in_4x(e)]
    assert old == []
    assert msgspec.json.decode(encoded, type=response_type) == response


@pytest.mark.parametrize("name", sorted(CAPABILITIES))
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schema_shaped_requests_decode(name: str, data: st.DataObject) -> None:
    """A request we can build is valid for the 4.x file (and for 3.5's when it has
    `auth`, which 3.5 required), and decodes back to itself."""
    request_type = connector.CAPABILITIES[name].request_type
    request = data.draw(strategy_for(request_type))
    encoded = msgspec.json.encode(request)
    # form_data has a shape per version ({name: value} in 4.x); we accept both.
    form = (getattr(request.request, "form_data", None) or {}).values()
    if all(isinstance(v, str) for v in form):
        assert errors4(f"request:{name}", encoded) == []
    old_shape = all(isinstance(v, connector.FormData) for v in form)
    if (
        old_shape
        and getattr(request, "auth", 1) is not None
        and not getattr(request, "credentials", 0)
    ):
        assert errors35(f"request:{name}", _without(encoded, "rate_limit", "credentials")) == []
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
    assert request.auth is not None
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


def _without(data: bytes, *names: str) -> bytes:
    value = json.loads(data)
    return json.dumps({k: v for k, v in value.items() if k not in names}).encode()


def test_info_of_the_example_validates() -> None:
    from mock_connector import integration

    # A 4.x integration (app_info, probe_integration): the 4.x file only;
    # test_errors.py checks a 3.5-mode integration against the 3.5 file.
    assert errors4("InfoResponse", integration.info_json()) == []


@pytest.mark.parametrize("code", sorted(connector.ErrorCode))
def test_error_envelopes_validate_under_both_files(code: connector.ErrorCode) -> None:
    data = connector.error_envelope("acme", code, "No route")
    assert errors4("ErrorResponse", data) == []
    assert json.loads(data)["error"]["error_code"] == connector.wire_code(code)
    old = connector.error_envelope("acme", code, "No route", api_version="3.5")
    assert errors35("ErrorResponse", old) == []


def test_generic_envelopes_keep_field_order_titles_and_error_paths() -> None:
    """`ResponseEnvelope[list[FoundAccountData]]` specialised: the fields in the
    seed's order, the schema titled by the subclass, and msgspec's located errors."""
    fields = [f.name for f in msgspec.structs.fields(connector.ListAccountsResponse)]
    assert fields[:3] == ["response", "raw_data", "page"]
    schema = msgspec.json.schema(connector.ListAccountsResponse)
    assert "ListAccountsResponse" in schema["$defs"]
    assert schema["$defs"]["ListAccountsResponse"]["title"] == "ListAccountsResponse"
    with pytest.raises(msgspec.ValidationError, match=r"at `\$\.response\[0\]\.user_status`"):
        msgspec.json.decode(
            b'{"response": [{"integration_specific_id": "1", "user_status": 3}]}',
            type=connector.ListAccountsResponse,
        )
    request = msgspec.json.decode(b'{"request": {}}', type=connector.ListAccountsRequest)
    assert request.request == connector.ListAccounts() and request.auth is None


WIRE_TYPES = sorted(
    (
        getattr(connector, name)
        for name in connector.__all__
        if isinstance(getattr(connector, name), type)
        and issubclass(getattr(connector, name), connector._Wire)
        and not getattr(getattr(connector, name), "__parameters__", ())  # generic bases
    ),
    key=lambda t: t.__name__,
)


@pytest.mark.parametrize("struct_type", WIRE_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_struct_round_trips_through_json(struct_type: type[Any], data: st.DataObject) -> None:
    value = data.draw(strategy_for(struct_type))
    assert msgspec.json.decode(msgspec.json.encode(value), type=struct_type) == value
