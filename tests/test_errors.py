"""The 4.x error envelope: bare canonical codes, error_metadata, one classifier,
responses checked before they leave, 3.5 mode, and info the 4.280 model parses."""

from __future__ import annotations

import json
import logging
from typing import Any

import msgspec
import pytest
from _schemas import errors4, errors35
from _util import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import connector
from connector import (
    AccountStatus,
    BasicCredential,
    ConnectorError,
    ErrorCode,
    ErrorResponse,
    ExceptionHandler,
    FoundAccountData,
    HTTPStatusError,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    Response,
)

pytestmark = pytest.mark.anyio


def body(**members: Any) -> bytes:
    envelope: dict[str, Any] = {
        "auth": {"basic": {"username": "u", "password": "pw-123456"}},
        "request": {},
    }
    envelope.update(members)
    return json.dumps(envelope).encode()


def raising(exc: BaseException, **options: Any) -> Integration:
    options.setdefault("auth", BasicCredential)
    integration = Integration(app_id="acme", version="1.0", **options)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise exc

    return integration


def returning(value: Any, **options: Any) -> Integration:
    integration = Integration(app_id="acme", version="1.0", **options)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return value  # type: ignore[no-any-return]

    return integration


async def envelope_of(integration: Integration, raw: bytes | None = None) -> dict[str, Any]:
    out, code = await integration.dispatch_result("list_accounts", raw or body())
    data = json.loads(out)
    if code is not None:
        assert data["error"]["error_code"] == code
    return data  # type: ignore[no-any-return]


# DESIGN.md's classification table, written out independently of connector.py.
METADATA = {
    **dict.fromkeys(
        [
            "bad_request",
            "invalid_value",
            "unknown_value",
            "not_found",
            "conflict",
            "invalid_page_token",
            "integration_missing_parameter",
        ],
        ("caller", "client", False, False, False),
    ),
    **dict.fromkeys(
        ["unauthorized", "authentication_expired", "creds_revoked"],
        ("upstream", "authentication", False, False, True),
    ),
    "permission_denied": ("upstream", "authorization", False, False, False),
    **dict.fromkeys(
        ["rate_limit", "budget_exhausted"], ("upstream", "transient", True, True, False)
    ),
    **dict.fromkeys(
        ["bad_gateway", "service_error", "request_timeout"],
        ("upstream", "transient", True, False, False),
    ),
    **dict.fromkeys(
        ["connection_timeout", "connection_rejected", "connection_closed"],
        ("infrastructure", "transient", True, False, False),
    ),
    "internal_error": ("connector", "internal", True, False, False),
    **dict.fromkeys(
        ["invalid_response", "unsupported_operation"],
        ("connector", "internal", False, False, False),
    ),
}
REDIRECTS = {
    "unexpected_error": "internal_error",
    "not_implemented": "unsupported_operation",
    "client_call_error": "invalid_response",
    "api_error": "invalid_response",
    "unauthenticated": "unauthorized",
}
V35 = {"conflict": "bad_request", "bad_gateway": "service_error", "budget_exhausted": "rate_limit"}


def assert_metadata(error: dict[str, Any], code: str) -> None:
    fault, category, retryable, throttled, refreshable = METADATA[code]
    metadata = error["error_metadata"]
    assert (metadata["fault"], metadata["category"]) == (fault, category)
    assert (metadata["retryable"], metadata["throttled"], metadata["refreshable"]) == (
        retryable,
        throttled,
        refreshable,
    )


def test_the_canonical_set_is_the_4x_files() -> None:
    from _schemas import SCHEMAS4

    assert {c.value for c in connector.CANONICAL_CODES} == set(
        SCHEMAS4["ConnectorErrorCode"]["enum"]
    )
    assert set(METADATA) == set(SCHEMAS4["ConnectorErrorCode"]["enum"])


@pytest.mark.parametrize("code", sorted(ErrorCode))
async def test_every_code_raised_gives_its_canonical_code_and_metadata(code: ErrorCode) -> None:
    data = await envelope_of(raising(ConnectorError("nope", code)))
    expected = REDIRECTS.get(code.value, code.value)
    assert data["error"]["error_code"] == expected
    assert data["error"]["app_id"] == "acme"
    assert_metadata(data["error"], expected)
    assert errors4("ErrorResponse", data) == []


@pytest.mark.parametrize("code", sorted(ErrorCode))
async def test_every_code_in_35_mode_is_written_in_the_35_set(code: ErrorCode) -> None:
    data = await envelope_of(raising(ConnectorError("nope", code), api_version="3.5"))
    assert data["error"]["error_code"] == V35.get(code.value, code.value)
    assert_metadata(data["error"], REDIRECTS.get(code.value, code.value))
    assert errors35("ErrorResponse", data) == []


class FakeResponse:
    def __init__(self, status_code: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status_code
        self.headers = connector.Headers(headers or {})


class Upstream(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"Client error {status} for GET /users")
        self.response = FakeResponse(status, headers)


STATUS_CODES = {
    **dict.fromkeys([400, 413, 415, 422], "bad_request"),
    401: "unauthorized",
    403: "permission_denied",
    404: "not_found",
    **dict.fromkeys([405, 406, 501], "unsupported_operation"),
    408: "request_timeout",
    409: "conflict",
    429: "rate_limit",
    **dict.fromkeys([500, 502, 504], "bad_gateway"),
    503: "service_error",
}


@pytest.mark.parametrize("status", range(400, 505))
async def test_every_upstream_status_follows_the_4x_table(status: int) -> None:
    data = await envelope_of(raising(Upstream(status)))
    expected = STATUS_CODES.get(status, "invalid_response")
    assert data["error"]["error_code"] == expected
    assert data["error"]["status_code"] == status
    assert_metadata(data["error"], expected)
    assert errors4("ErrorResponse", data) == []
    old = await envelope_of(raising(Upstream(status), api_version="3.5"))
    assert errors35("ErrorResponse", old) == []


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("ConnectTimeout", "connection_timeout"),
        ("ConnectError", "connection_rejected"),
        ("ReadTimeout", "request_timeout"),
        ("RemoteProtocolError", "connection_closed"),
        ("UnsupportedProtocol", "invalid_response"),
    ],
)
async def test_transport_errors_give_their_codes(name: str, code: str) -> None:
    import httpcore

    data = await envelope_of(raising(getattr(httpcore, name)("boom")))
    assert data["error"]["error_code"] == code
    assert_metadata(data["error"], code)
    assert errors4("ErrorResponse", data) == []
    translated = connector._translate_transport_error(
        getattr(httpcore, name)("boom"), connector.Request("GET", "https://x/y")
    )
    assert translated is not None
    assert (await envelope_of(raising(translated)))["error"]["error_code"] == code


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[1]", b'{"request": 1}', body(page={"size": "1"})]
)
async def test_wire_errors_validate_under_both_files(raw: bytes) -> None:
    for version, check in (("4", errors4), ("3.5", errors35)):
        integration = raising(ValueError("unused"), api_version=version)
        out, code = await integration.dispatch_result("list_accounts", raw)
        assert code is ErrorCode.BAD_REQUEST
        assert check("ErrorResponse", out) == []
        assert_metadata(json.loads(out)["error"], "bad_request")


async def test_an_unregistered_name_is_unsupported_operation_or_35s_not_implemented() -> None:
    out, code = await raising(ValueError()).dispatch_result("list_resources", body())
    assert code is ErrorCode.UNSUPPORTED_OPERATION and errors4("ErrorResponse", out) == []
    out, code = await raising(ValueError(), api_version="3.5").dispatch_result("nope", body())
    assert code is ErrorCode.NOT_IMPLEMENTED and errors35("ErrorResponse", out) == []


async def test_overrides_and_retry_after_reach_the_metadata() -> None:
    exc = ConnectorError(
        "later", ErrorCode.SERVICE_ERROR, retryable=False, hint="call support", refreshable=True
    )
    metadata = (await envelope_of(raising(exc)))["error"]["error_metadata"]
    assert metadata["retryable"] is False and metadata["refreshable"] is True
    assert metadata["hint"] == "call support" and metadata["throttled"] is False

    throttled = (await envelope_of(raising(Upstream(429, {"Retry-After": "17"}))))["error"]
    assert throttled["error_code"] == "rate_limit"
    assert throttled["error_metadata"]["retry_after_seconds"] == 17
    unavailable = (await envelope_of(raising(Upstream(503, {"retry-after": "2.5"}))))["error"]
    assert unavailable["error_metadata"]["retry_after_seconds"] == 3


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (connector.AuthenticationError, "unauthorized"),
        (connector.AuthorizationError, "permission_denied"),
        (connector.NotFoundError, "not_found"),
        (connector.ConflictError, "conflict"),
        (connector.InvalidValueError, "invalid_value"),
        (connector.InvalidPageTokenError, "invalid_page_token"),
        (connector.RateLimitError, "rate_limit"),
        (connector.UpstreamError, "bad_gateway"),
        (connector.InternalError, "internal_error"),
    ],
)
async def test_the_typed_family_carries_default_codes(cls: type[ConnectorError], code: str) -> None:
    data = await envelope_of(raising(cls("what happened")))
    assert data["error"]["error_code"] == code and data["error"]["message"] == "what happened"
    assert data["error"]["raised_by"] == cls.__name__
    assert cls().message  # a default message


async def test_rate_limit_error_takes_retry_after_seconds() -> None:
    error = (await envelope_of(raising(connector.RateLimitError(retry_after_seconds=30))))["error"]
    assert error["error_metadata"]["retry_after_seconds"] == 30
    assert error["error_metadata"]["throttled"] is True


async def test_a_custom_http_handler_keeps_the_status_mapping() -> None:
    """A handler for HTTPStatusError sees the upstream detail already in the
    prefilled message, and adjusts something else; 409 stays `conflict`."""

    class Detail(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            assert isinstance(e, HTTPStatusError)
            assert e.detail == "userName is taken"
            assert response.error.message.endswith(": userName is taken")
            response.error.app_error_code = "scim.taken"
            return response

    upstream = Response(409, json={"detail": "userName is taken"})
    exc = HTTPStatusError("Client error 409 for POST /Users", request=None, response=upstream)
    data = await envelope_of(raising(exc, exception_handlers=[(HTTPStatusError, Detail, None)]))
    assert data["error"]["error_code"] == "conflict"
    assert data["error"]["status_code"] == 409
    assert data["error"]["message"] == "Client error 409 for POST /Users: userName is taken"
    assert data["error"]["app_error_code"] == "scim.taken"
    assert_metadata(data["error"], "conflict")


async def test_hostile_handler_results_leave_the_prefilled_envelope() -> None:
    class Hostile(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            response.error.status_code = object()  # type: ignore[assignment]
            response.error.message = "changed"
            return response

    data = await envelope_of(
        raising(Upstream(404), exception_handlers=[(Exception, Hostile, None)])
    )
    assert data["error"]["error_code"] == "not_found" and data["error"]["status_code"] == 404
    assert data["error"]["message"] == "Client error 404 for GET /users"

    class Nothing(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            return None  # type: ignore[return-value]

    data = await envelope_of(
        raising(Upstream(404), exception_handlers=[(Exception, Nothing, None)])
    )
    assert data["error"]["error_code"] == "not_found"


async def test_a_handler_writing_an_unknown_code_gets_internal_error() -> None:
    class Weird(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception,
            original_func: Any,
            response: ErrorResponse,
            error_code: ErrorCode | None = None,
        ) -> ErrorResponse:
            response.error.error_code = "acme.teapot"  # type: ignore[assignment]
            return response

    data = await envelope_of(raising(Upstream(404), exception_handlers=[(Exception, Weird, None)]))
    assert data["error"]["error_code"] == "internal_error"
    assert errors4("ErrorResponse", data) == []


# ---- responses are checked ----------------------------------------------------


async def test_a_wrong_field_type_is_invalid_response_naming_the_path() -> None:
    accounts = [FoundAccountData(integration_specific_id=str(i)) for i in range(5)]
    accounts[3].user_status = 7  # type: ignore[assignment]
    data = await envelope_of(returning(ListAccountsResponse(response=accounts)))
    assert data["error"]["error_code"] == "invalid_response"
    assert "$.response[3].user_status" in data["error"]["message"]
    assert data["error"]["raised_by"] is None


async def test_an_enum_value_outside_the_enum_is_invalid_response() -> None:
    account = FoundAccountData(integration_specific_id="1", user_status="GONE-SECRET")  # type: ignore[arg-type]
    data = await envelope_of(returning(ListAccountsResponse(response=[account])))
    assert data["error"]["error_code"] == "invalid_response"
    assert "$.response[0].user_status" in data["error"]["message"]
    assert "GONE-SECRET" not in data["error"]["message"]


async def test_validation_can_be_turned_off() -> None:
    account = FoundAccountData(integration_specific_id="1", user_status="GONE")  # type: ignore[arg-type]
    out, code = await returning(
        ListAccountsResponse(response=[account]), validate_responses=False
    ).dispatch_result("list_accounts", b'{"request": {}}')
    assert code is None and json.loads(out)["response"][0]["user_status"] == "GONE"


class Opaque:
    pass


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text()
        | st.builds(Opaque)
        | st.sets(st.integers(), max_size=2)
        | st.integers(min_value=2**64, max_value=2**70),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    where=st.sampled_from(["extra_data", "raw_data"]),
)
def test_any_extra_or_raw_data_is_a_success_or_invalid_response(value: Any, where: str) -> None:
    """Whatever an author puts in extra_data/raw_data, dispatch answers and never raises."""
    account = FoundAccountData(integration_specific_id="1")
    if where == "extra_data":
        account.extra_data = value
        response = ListAccountsResponse(response=[account])
    else:
        response = ListAccountsResponse(response=[account], raw_data=value)
    out, code = run(
        returning(response).dispatch_result(
            "list_accounts", b'{"request": {}, "include_raw_data": true}'
        )
    )
    data = json.loads(out)
    if code is None:
        assert data["response"][0]["integration_specific_id"] == "1"
    else:
        assert code is ErrorCode.INVALID_RESPONSE
        assert errors4("ErrorResponse", out) == []


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 5000 + b"]" * 5000,
        b'{"request": {}, "settings": {"a": ' + b"[" * 3000 + b"]" * 3000 + b"}}",
        "\ud800",
        None,
        7,
    ],
    ids=["deep", "deep-settings", "surrogate", "none", "int"],
)
async def test_hostile_bodies_are_bad_request_envelopes(raw: Any) -> None:
    out, code = await raising(ValueError()).dispatch_result("list_accounts", raw)
    assert code is ErrorCode.BAD_REQUEST and errors4("ErrorResponse", out) == []


async def test_an_unhashable_name_is_an_envelope() -> None:
    out, code = await raising(ValueError()).dispatch_result(["list_accounts"], body())  # type: ignore[arg-type]
    assert code is ErrorCode.UNSUPPORTED_OPERATION and errors4("ErrorResponse", out) == []


def test_the_chain_is_one_tuple_outermost_first() -> None:
    names = [link.__name__ for link in connector._LINKS]
    assert names == [
        "_auth_link",
        "_settings_link",
        "_response_link",
        "_upstream_link",
        "_guard_link",
    ]


# ---- api_version ----------------------------------------------------------------


def test_api_version_is_checked() -> None:
    with pytest.raises(connector.RegistrationError, match="api_version"):
        Integration(app_id="acme", version="1", api_version="5")


async def test_35_mode_info_and_responses_validate_under_35() -> None:
    integration = Integration(app_id="acme", version="1", auth=BasicCredential, api_version="3.5")

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        status = AccountStatus.ACTIVE
        return ListAccountsResponse(
            response=[FoundAccountData(integration_specific_id="1", user_status=status)]
        )

    assert errors35("InfoResponse", integration.info_json()) == []
    out = await integration.dispatch("list_accounts", body())
    assert errors35("response:list_accounts", out) == []


# ---- info ---------------------------------------------------------------------------


class Tenant(msgspec.Struct, kw_only=True):
    base_url: str
    api_key: str
    signing_secret: connector.SecretStr = ""


def test_info_has_the_4x_members_and_validates() -> None:
    integration = Integration(
        app_id="acme",
        version="1",
        auth=BasicCredential,
        settings_model=Tenant,
        description_data=connector.DescriptionData(app_vendor_domain="acme.example"),
        entitlement_types=[
            connector.EntitlementType(
                type_id="role",
                type_label="Role",
                resource_type_id="",
                min=1,
                requirements={"seat": connector.EntitlementRequirement(min=1, max=1)},
            )
        ],
    )

    @integration.capability(display_name="All accounts")
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        """Lists every account of the tenant.

        More detail that info leaves out.
        """
        return ListAccountsResponse(response=[])

    data = json.loads(integration.info_json())
    info = data["response"]
    assert errors4("InfoResponse", data) == []
    assert info["capabilities"] == ["app_info", "list_accounts", "probe_integration"]
    assert info["credentials_schema"] == []
    assert info["app_vendor_domain"] == "acme.example"
    schema = info["capability_schema"]["list_accounts"]
    assert schema["display_name"] == "All accounts"
    assert schema["description"] == "Lists every account of the tenant."
    assert info["entitlement_types"][0]["requirements"] == {"seat": {"min": 1, "max": 1}}
    auth = info["authentication_schema"]
    assert auth["$defs"]["BasicCredential"]["properties"]["password"]["x-secret"] is True
    tenant = info["request_settings_schema"]["$defs"]["Tenant"]["properties"]
    assert tenant["signing_secret"]["x-secret"] is True


# ---- secrets, revised ------------------------------------------------------------


async def test_plain_settings_stay_readable_and_secret_ones_do_not(caplog: Any) -> None:
    integration = raising(
        ValueError(
            "cannot reach https://tenant-one.example/v2 with key k3y-aaaa-bbbb, "
            "signing s1gn-cccc-dddd, header Bearer tok-eeee-ffff"
        ),
        settings_model=Tenant,
    )
    settings_value = {
        "base_url": "https://tenant-one.example/v2",
        "api_key": "k3y-aaaa-bbbb",
        "signing_secret": "s1gn-cccc-dddd",
        "note": "Bearer tok-eeee-ffff",
    }
    with caplog.at_level(logging.DEBUG, logger="connector"):
        message = (await envelope_of(integration, body(settings=settings_value)))["error"][
            "message"
        ]
    assert "https://tenant-one.example/v2" in message
    for secret in ("k3y-aaaa-bbbb", "s1gn-cccc-dddd", "tok-eeee-ffff"):
        assert secret not in message and secret not in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        "Bearer abcdef123456",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----",
    ],
)
async def test_token_shaped_settings_values_are_secrets(value: str) -> None:
    message = await envelope_of(raising(ValueError(f"got {value}")), body(settings={"x": value}))
    assert value not in message["error"]["message"]


async def test_url_userinfo_and_query_are_secrets() -> None:
    url = "https://svc:hunter2-pass@api.example/v1?sig=abcdef123456"
    error = (await envelope_of(raising(ValueError(f"failed {url}")), body(settings={"url": url})))[
        "error"
    ]
    assert "hunter2-pass" not in error["message"] and "abcdef123456" not in error["message"]
    assert "api.example" in error["message"]


# ---- the pagination guard ------------------------------------------------------------


async def test_a_page_with_the_token_it_was_given_is_invalid_response() -> None:
    same = ListAccountsResponse(response=[], page=connector.Page(token="tok-1", size=2))
    raw = json.dumps({"request": {}, "page": {"token": "tok-1", "size": 2}}).encode()
    data = await envelope_of(returning(same), raw)
    assert data["error"]["error_code"] == "invalid_response"
    assert "returned the page token it was given" in data["error"]["message"]
    moved = ListAccountsResponse(response=[], page=connector.Page(token="tok-2", size=2))
    out, code = await returning(moved).dispatch_result("list_accounts", raw)
    assert code is None and json.loads(out)["page"]["token"] == "tok-2"


async def test_a_page_on_a_capability_that_does_not_page_is_invalid_response() -> None:
    integration = Integration(app_id="acme", version="1")

    @integration.capability
    async def validate_credentials(
        request: connector.ValidateCredentialsRequest,
    ) -> connector.ValidateCredentialsResponse:
        valid = connector.ValidatedCredentials(valid=True, unique_tenant_id="t")
        return connector.ValidateCredentialsResponse(response=valid, page=connector.Page(token="x"))

    out, code = await integration.dispatch_result("validate_credentials", b'{"request": {}}')
    assert code is ErrorCode.INVALID_RESPONSE
    assert "validate_credentials does not page" in json.loads(out)["error"]["message"]
