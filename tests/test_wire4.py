"""connector.py's wire types against the Lumos Connector API 4.280 OpenAPI file.

Every capability path of the file is a row of CAPABILITIES and a CapabilityName;
every row's envelopes, names, base and kind match the file; every struct and
enum with a schema of its name matches it (property names, required set, types,
enum values, x-secret marks) but for the DEVIATIONS below; requests built from
the schema decode and round-trip; responses we build validate against the file.
"""

from __future__ import annotations

import enum
import functools
import re
import typing
from typing import Any

import jsonschema
import msgspec
import msgspec.inspect as mi
import pytest
from _schemas import SCHEMAS4 as SCHEMAS
from _schemas import SPEC4 as SPEC
from _schemas import SPEC35
from _strategies import strategy_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connector

OPS = {path.rsplit("/", 1)[-1]: item["post"] for path, item in SPEC["paths"].items()}
NOT_CAPABILITIES = {"info", "connected_info", "list-connector-app-ids"}
CAPS = sorted(set(OPS) - NOT_CAPABILITIES)

# Our name -> the file's schema name, where they differ.
SCHEMA_NAME = {
    "UpdateAccount": "UpdateableAccount",
    # create_account's payload; the file's own CreateAccount schema (allOf
    # CreatableAccount plus optional strs) is used by no path.
    "CreateAccount": "CreatableAccount",
    "ErrorMetadata": "ConnectorErrorMetadata",
    "ErrorFault": "ConnectorErrorFault",
    "ErrorCategory": "ConnectorErrorCategory",
    "CapabilityName": "StandardCapabilityName",
}
# connector.py's wire structs and enums with no schema of their own in the file.
NO_SCHEMA = {
    "DescriptionData",  # the `description_data` argument of Integration (ours)
    "FormData",  # 3.5's form_data value shape, still accepted
    # The generic envelope bases; each row's envelopes are checked against its path.
    "RequestEnvelope",
    "AuthedRequestEnvelope",
    "ResponseEnvelope",
    "CustomRequest",  # and those of custom capabilities, which the file does not know
    "CustomResponse",
    # Enums of the OAuth and HTTP helpers, not of the wire.
    "OAuthFlowType",
    "ClientAuthenticationMethod",
    "RequestMethod",
    "RequestDataType",
}

# How connector.py's structs and enums knowingly differ from the file, by our
# class name. "-f" a field (or enum value) of ours the file lacks, "+f: T,
# required|optional" a field the file has and we lack, "~f: T in the file (ours
# U)" a type difference, "!f: ..." a required/optional difference, "*f:
# x-secret" a file secret we do not mark, "^f: ..." a field we mark secret and
# the file does not, "+value" an enum value we lack.
_MARKED_SECRET = "^{}: secret, not marked in the file"
DEVIATIONS: dict[str, set[str]] = {
    # The seed's optional profile fields stay, so 3.5 callers keep working; the
    # file's CreatableAccount has only `entitlements`.
    "CreateAccount": {
        "-email",
        "-given_name",
        "-family_name",
        "-username",
        "-user_status",
        "-extra_data",
    },
    # Our ErrorCode enum is the file's ErrorCode and ConnectorErrorCode together
    # (canonical and deprecated names; test_error_code_is_both_file_enums).
    "ErrorCode": {"-conflict", "-budget_exhausted"},
    "Error": {"~error_code: ConnectorErrorCode | ErrorCode in the file (ours ErrorCode)"},
    # Error envelopes carry `"response": null` (DESIGN.md).
    "ErrorResponse": {"-response"},
    # 4.x sends {name: value}; 3.5 sent {name: {key, value}}: both are accepted.
    "GetAuthorizationUrl": {
        "~form_data: dict[str, str] in the file (ours dict[str, FormData | str])"
    },
    # info and connected_info are paths of their own, not rows of CAPABILITIES.
    "CapabilityName": {"+info", "+connected_info"},
    # msgspec allows one str-like type per union; an ActivityType member is a str.
    "ActivityRecord": {"~activity_type: ActivityType | str in the file (ours str)"},
    "ApplicationActivityRecord": {"~activity_type: ActivityType | str in the file (ours str)"},
    # Secrets the file leaves unmarked: client secrets, refresh and access tokens,
    # the PKCE verifier (it stands in for a client secret) and the JWT signing
    # key. Marking them keeps them out of logs and error messages.
    "JWTCredential": {_MARKED_SECRET.format("secret")},
    "HandleAuthorizationCallback": {
        _MARKED_SECRET.format("client_secret"),
        _MARKED_SECRET.format("code_verifier"),
    },
    "HandleClientCredentials": {_MARKED_SECRET.format("client_secret")},
    "RefreshAccessToken": {
        _MARKED_SECRET.format("client_secret"),
        _MARKED_SECRET.format("refresh_token"),
    },
    "AuthorizationUrl": {_MARKED_SECRET.format("code_verifier")},
    "OauthCredentials": {
        _MARKED_SECRET.format("access_token"),
        _MARKED_SECRET.format("refresh_token"),
    },
}
# (CreatedAccount.created is Literal[True]: exactly the file's `enum: [true]`.)

# Payload schemas with neither x-capability-level nor x-capability-category:
# the kind comes from the operation's tag.
KIND_BY_TAG = {"list_expenses": "read"}


# ---- The file --------------------------------------------------------------


def _ref(schema: dict[str, Any]) -> str:
    return str(schema["$ref"]).rsplit("/", 1)[-1]


def _merged(schema: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """An object schema's properties and required names, through $ref and allOf."""
    if "$ref" in schema:
        return _merged(SCHEMAS[_ref(schema)])
    props: dict[str, Any] = {}
    required: set[str] = set()
    for part in schema.get("allOf", []):
        more, names = _merged(part)
        props.update(more)
        required |= names
    props.update(schema.get("properties", {}))
    return props, required | set(schema.get("required", []))


def _request_schema(cap: str) -> dict[str, Any]:
    schema: dict[str, Any] = OPS[cap]["requestBody"]["content"]["application/json"]["schema"]
    return schema


def _response_name(cap: str) -> str:
    schema = OPS[cap]["responses"]["200"]["content"]["application/json"]["schema"]
    success, error = schema["anyOf"]
    assert _ref(error) == "ErrorResponse"
    return _ref(success)


def _payload_name(cap: str) -> str:
    return _ref(_merged(_request_schema(cap))[0]["request"]["allOf"][0])


def _union(members: list[str]) -> str:
    return " | ".join(sorted(set(members)))


def schema_type(schema: dict[str, Any]) -> str:
    """A property's schema as a Python-like type string."""
    if not schema:
        return "Any"
    if "$ref" in schema:
        target = SCHEMAS[_ref(schema)]
        if "anyOf" in target and "properties" not in target:  # a named union (Effect, ...)
            return schema_type(target)
        return _ref(schema)
    if "allOf" in schema:
        (only,) = schema["allOf"]
        return schema_type(only)
    if "anyOf" in schema:
        return _union([schema_type(member) for member in schema["anyOf"]])
    if "enum" in schema:  # an inline enum: a tag, or CreatedAccount.created
        return f"Literal[{', '.join(map(repr, schema['enum']))}]"
    kind = schema["type"]
    if kind == "array":
        text = f"list[{schema_type(schema.get('items', {}))}]"
    elif kind == "object":
        text = f"dict[str, {schema_type(schema.get('additionalProperties', {}))}]"
    else:
        text = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}[kind]
    return f"{text} | None" if schema.get("nullable") else text


# ---- Ours ------------------------------------------------------------------


def _our_name(cls: type[Any]) -> str:
    return SCHEMA_NAME.get(cls.__name__, cls.__name__)


_SIMPLE = {mi.AnyType: "Any", mi.StrType: "str", mi.IntType: "int", mi.FloatType: "float"}
_SIMPLE |= {mi.BoolType: "bool", mi.NoneType: "None"}


def our_type(tp: mi.Type) -> str:
    """A msgspec type as the same kind of string as schema_type gives."""
    if isinstance(tp, mi.Metadata):
        return our_type(tp.type)
    if isinstance(tp, (mi.StructType, mi.EnumType)):
        return _our_name(tp.cls)
    if isinstance(tp, mi.LiteralType):
        return f"Literal[{', '.join(map(repr, tp.values))}]"
    if isinstance(tp, mi.ListType):
        return f"list[{our_type(tp.item_type)}]"
    if isinstance(tp, mi.DictType):
        assert isinstance(tp.key_type, mi.StrType)
        return f"dict[str, {our_type(tp.value_type)}]"
    if isinstance(tp, mi.UnionType):
        members = [our_type(t) for t in tp.types if not isinstance(t, mi.NoneType)]
        text = _union(members)
        return f"{text} | None" if len(members) < len(tp.types) else text
    return _SIMPLE[type(tp)]


def _is_secret(tp: mi.Type) -> bool:
    if isinstance(tp, mi.UnionType):
        return any(_is_secret(t) for t in tp.types)
    extra = tp.extra_json_schema if isinstance(tp, mi.Metadata) else None
    return bool(extra and extra.get("x-secret"))


def _struct_info(cls: type[Any]) -> mi.StructType:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    return info


def our_fields(cls: type[Any]) -> dict[str, tuple[str, bool, bool]]:
    """Wire name -> (type, required, secret). A tag field is a required Literal."""
    info = _struct_info(cls)
    fields = {}
    for field in info.fields:
        text = our_type(field.type)
        if not field.required:
            text = text.removesuffix(" | None")
        fields[field.encode_name] = (text, field.required, _is_secret(field.type))
    if info.tag_field is not None:
        fields[info.tag_field] = (f"Literal[{info.tag!r}]", True, False)
    return fields


def struct_gaps(cls: type[Any], schema: dict[str, Any]) -> set[str]:
    """How a struct differs from its schema, in DEVIATIONS' notation."""
    props, required = _merged(schema)
    ours = our_fields(cls)
    gaps = {f"-{name}" for name in ours if name not in props}
    for name, prop in props.items():
        kind = "required" if name in required else "optional"
        if name not in ours:
            gaps.add(f"+{name}: {schema_type(prop)}, {kind}")
            continue
        text, our_required, secret = ours[name]
        if text != schema_type(prop):
            gaps.add(f"~{name}: {schema_type(prop)} in the file (ours {text})")
        if our_required != (name in required):
            gaps.add(f"!{name}: {kind} in the file")
        if prop.get("x-secret") and not secret:
            gaps.add(f"*{name}: x-secret")
        if secret and not prop.get("x-secret"):
            gaps.add(_MARKED_SECRET.format(name))
    return gaps


def gaps(cls: type[Any], schema: dict[str, Any]) -> set[str]:
    if issubclass(cls, enum.Enum):
        ours = {member.value for member in cls}
        missing = {f"+{value}" for value in schema["enum"] if value not in ours}
        return missing | {f"-{value}" for value in ours if value not in schema["enum"]}
    return struct_gaps(cls, schema)


def _classes() -> dict[str, type[Any]]:
    """connector.py's public wire structs and enums (the ones it defines)."""
    return {
        name: value
        for name, value in vars(connector).items()
        if isinstance(value, type)
        and value.__module__ == connector.__name__
        and issubclass(value, (connector._Wire, enum.Enum))
        and not name.startswith("_")
    }


ROW_ENVELOPES = {
    cls.__name__
    for spec in connector.CAPABILITIES.values()
    for cls in (spec.request_type, spec.response_type)
}
# Everything else: compared with the schema of its (mapped) name.
MODELS = {name: cls for name, cls in _classes().items() if name not in NO_SCHEMA | ROW_ENVELOPES}


# ---- Coverage and table rows -----------------------------------------------


def test_capability_paths_are_the_rows_and_the_names() -> None:
    assert set(connector.CAPABILITIES) == set(CAPS)
    assert {member.value for member in connector.CapabilityName} == set(CAPS)
    assert all(name == spec.name for name, spec in connector.CAPABILITIES.items())
    assert all(member.name == member.value.upper() for member in connector.CapabilityName)
    assert set(SCHEMAS["StandardCapabilityName"]["enum"]) == set(CAPS) | {"info", "connected_info"}


def _kind(cap: str) -> tuple[str | None, str | None]:
    """The file's (x-capability-level, x-capability-category) of a capability."""
    payload = SCHEMAS[_payload_name(cap)]
    level, category = payload.get("x-capability-level"), payload.get("x-capability-category")
    if level is None and category is None:
        level = KIND_BY_TAG[cap]
        assert OPS[cap]["tags"] == [f"{level.capitalize()} Capabilities"]
    assert (level is None) != (category is None)
    return level, category


@pytest.mark.parametrize("cap", CAPS)
def test_row_names_envelope_bases_and_kind(cap: str) -> None:
    spec = connector.CAPABILITIES[cap]
    # handle_client_credentials_request's envelopes are HandleClientCredentials*
    # (the file's names, and 3.5's).
    camel = "".join(word.capitalize() for word in cap.removesuffix("_request").split("_"))
    assert (spec.request_type.__name__, spec.response_type.__name__) == (
        f"{camel}Request",
        f"{camel}Response",
    )
    assert _response_name(cap) == f"{camel}Response"
    assert spec.since == ("3.5" if cap in SPEC35["capabilities"] else "4")
    level, category = _kind(cap)
    assert (spec.level, spec.category) == (level, category)
    assert spec.kind == (level or category)
    props = _merged(_request_schema(cap))[0]
    authed = "auth" in props
    assert ("credentials" in props) == authed
    assert issubclass(spec.request_type, connector.RequestEnvelope)
    assert issubclass(spec.request_type, connector.AuthedRequestEnvelope) == authed
    assert issubclass(spec.response_type, connector.ResponseEnvelope)
    (request,) = [f for f in _struct_info(spec.request_type).fields if f.name == "request"]
    assert isinstance(request.type, mi.StructType)
    assert _our_name(request.type.cls) == _payload_name(cap)


@pytest.mark.parametrize("cap", CAPS)
def test_envelopes_match_the_file(cap: str) -> None:
    spec = connector.CAPABILITIES[cap]
    assert struct_gaps(spec.request_type, _request_schema(cap)) == set()
    assert struct_gaps(spec.response_type, SCHEMAS[_response_name(cap)]) == set()


# ---- Structs and enums against their schemas --------------------------------


def test_every_wire_class_has_a_schema_or_is_listed() -> None:
    assert set(_classes()) >= NO_SCHEMA
    assert not {name for name in NO_SCHEMA if _our_name(_classes()[name]) in SCHEMAS}
    assert {name for name, cls in MODELS.items() if _our_name(cls) not in SCHEMAS} == set()
    assert set(DEVIATIONS) <= set(MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_struct_or_enum_matches_its_schema(name: str) -> None:
    cls = MODELS[name]
    schema = SCHEMAS[_our_name(cls)]
    if issubclass(cls, enum.Enum):
        assert "enum" in schema
        assert issubclass(cls, enum.StrEnum)
        assert all(member.name == member.value.upper() for member in cls)
    else:
        assert "enum" not in schema
    assert gaps(cls, schema) == DEVIATIONS.get(name, set())


def test_error_code_is_both_file_enums() -> None:
    values = {member.value for member in connector.ErrorCode}
    assert values == set(SCHEMAS["ErrorCode"]["enum"]) | set(SCHEMAS["ConnectorErrorCode"]["enum"])
    union = SCHEMAS["ConnectorErrorCodeUnion"]["anyOf"]
    assert {_ref(member) for member in union} == {"ErrorCode", "ConnectorErrorCode"}


@pytest.mark.parametrize("alias", ["ProbeSample", "Effect"])
def test_named_unions_are_the_files_tagged_unions(alias: str) -> None:
    members = typing.get_args(getattr(connector, alias))
    assert _union([m.__name__ for m in members]) == schema_type(
        {"$ref": f"#/components/schemas/{alias}"}
    )
    for member in members:
        assert _struct_info(member).tag_field == "kind"
        assert [_struct_info(member).tag] == SCHEMAS[member.__name__]["properties"]["kind"]["enum"]


def test_obvious_secrets_of_the_credentials_are_marked() -> None:
    secret = re.compile(r"(secret|password|private_key|access_token|refresh_token|^key|^token)$")
    credentials = [connector.OAuthClientCredential, connector.OAuth1Credential]
    credentials += [connector.JWTCredential, connector.ServiceAccountCredential]
    credentials += [connector.KeyPairCredential, connector.EmptyCredential]
    credentials += [connector.BasicCredential, connector.TokenCredential]
    credentials += [connector.OAuthCredential]
    for cls in credentials:
        for name, (_, _, marked) in our_fields(cls).items():
            assert marked == bool(secret.search(name)), (cls.__name__, name)


# ---- Decoding requests, validating responses --------------------------------


def _pointer(target: str) -> str:
    """A JSON pointer into the file: "request:<cap>" or a component name."""
    if target.startswith("request:"):
        path = f"/{{connector_id}}/{target[8:]}".replace("~", "~0").replace("/", "~1")
        return f"#/paths/{path}/post/requestBody/content/application~1json/schema"
    return f"#/components/schemas/{target}"


@functools.cache
def _validator(target: str) -> jsonschema.Validator:
    document = {"$ref": _pointer(target), "components": SPEC["components"], "paths": SPEC["paths"]}
    return jsonschema.Draft202012Validator(document)


def _document(target: str) -> dict[str, Any]:
    if target.startswith("request:"):
        return _request_schema(target[8:])
    schema: dict[str, Any] = SCHEMAS[target]
    return schema


def _drop_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """value without the optional members it sends as null (the file means them absent).

    Unlike _schemas.strip_nulls, a required member stays even when null: a
    required `value: {}` (CustomAttribute's) takes null.
    """
    while "$ref" in schema or ("allOf" in schema and "properties" not in schema):
        if "$ref" in schema:
            schema = SCHEMAS[_ref(schema)]
        elif len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            break
    if "anyOf" in schema and isinstance(value, dict):  # a union tagged by `kind`
        for member in schema["anyOf"]:
            kind = _merged(member)[0].get("kind", {}).get("enum")
            if kind == [value.get("kind")]:
                return _drop_nulls(value, member)
    if isinstance(value, dict):
        props, required = _merged(schema)
        extra = schema.get("additionalProperties", {})
        return {
            key: _drop_nulls(item, props.get(key, extra))
            for key, item in value.items()
            if item is not None or key in required
        }
    if isinstance(value, list):
        return [_drop_nulls(item, schema.get("items", {})) for item in value]
    return value


def _errors(target: str, value: Any) -> list[str]:
    """Validation errors of value (JSON bytes or decoded) against a file schema."""
    if isinstance(value, bytes):
        value = msgspec.json.decode(value)
    found = _validator(target).iter_errors(_drop_nulls(value, _document(target)))
    return sorted(f"{list(e.absolute_path)}: {e.message}" for e in found)


def sample(schema: dict[str, Any], full: bool, depth: int = 0) -> Any:
    """A value valid for schema: required members only, or (full) every member."""
    deeper = full and depth < 6
    if not schema:
        return {"anything": [1, "x"]}
    if "$ref" in schema:
        return sample(SCHEMAS[_ref(schema)], full, depth)
    if "anyOf" in schema:
        return sample(schema["anyOf"][-1 if full else 0], full, depth)
    if "enum" in schema:
        return schema["enum"][0]
    if "allOf" in schema and "properties" not in schema and len(schema["allOf"]) == 1:
        return sample(schema["allOf"][0], full, depth)
    kind = schema.get("type", "object")
    if kind == "string":
        return "2024-05-01T12:00:00Z" if schema.get("format") == "date-time" else "s"
    if kind in ("integer", "number", "boolean"):
        return {"integer": 7, "number": 1.5, "boolean": True}[kind]
    if kind == "array":
        return [sample(schema.get("items", {}), full, depth + 1)] if deeper else []
    props, required = _merged(schema)
    if not props and "additionalProperties" in schema:  # a map
        return {"k": sample(schema["additionalProperties"], full, depth + 1)} if deeper else {}
    return {name: sample(props[name], full, depth + 1) for name in (props if deeper else required)}


def _lost(sent: Any, back: Any) -> set[str]:
    """Keys sent that did not come back (a struct lacks the field); all else must match."""
    if isinstance(sent, dict) and isinstance(back, dict):
        assert set(back) <= set(sent), set(back) - set(sent)
        lost = {key for key in sent if key not in back}
        return lost.union(*(_lost(sent[key], back[key]) for key in back))
    if isinstance(sent, list) and isinstance(back, list):
        assert len(sent) == len(back)
        return set().union(*map(_lost, sent, back))
    assert sent == back
    return set()


# Keys a full sample may lose: the "+" fields of DEVIATIONS (none at present).
LOSABLE = {
    gap[1:].split(":")[0]
    for listed in DEVIATIONS.values()
    for gap in listed
    if gap[0] == "+" and ":" in gap
}


@pytest.mark.parametrize("full", [False, True], ids=["minimal", "full"])
@pytest.mark.parametrize("cap", CAPS)
def test_schema_built_requests_decode_and_round_trip(cap: str, full: bool) -> None:
    target = f"request:{cap}"
    body = sample(_request_schema(cap), full)
    assert _errors(target, body) == []  # the sample itself is valid
    request_type = connector.CAPABILITIES[cap].request_type
    request = msgspec.json.decode(msgspec.json.encode(body), type=request_type)
    back = msgspec.json.decode(msgspec.json.encode(request))
    assert _errors(target, back) == []
    assert _lost(body, _drop_nulls(back, _document(target))) <= (LOSABLE if full else set())


@pytest.mark.parametrize("cap", CAPS)
def test_schema_built_full_responses_decode_and_round_trip(cap: str) -> None:
    target = _response_name(cap)
    body = sample(SCHEMAS[target], full=True)
    assert _errors(target, body) == []
    response_type = connector.CAPABILITIES[cap].response_type
    response = msgspec.json.decode(msgspec.json.encode(body), type=response_type)
    back = msgspec.json.decode(msgspec.json.encode(response))
    assert _lost(body, _drop_nulls(back, _document(target))) <= LOSABLE


@pytest.mark.parametrize("cap", CAPS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_responses_we_build_validate_against_the_file(cap: str, data: st.DataObject) -> None:
    response_type = connector.CAPABILITIES[cap].response_type
    response = data.draw(strategy_for(response_type))
    encoded = msgspec.json.encode(response)
    assert _errors(_response_name(cap), encoded) == []
    assert msgspec.json.decode(encoded, type=response_type) == response
