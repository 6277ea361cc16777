"""Hostile input against dispatch: secrets in every encoding, hostile handlers,
deep settings, echoing validation messages, odd OAuth token types."""

from __future__ import annotations

import base64
import json
import logging
import urllib.parse
from typing import Any, Literal

import msgspec
import pytest
from _schemas import errors4
from _util import Records, run
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import connector
from connector import (
    BasicCredential,
    ErrorCode,
    ErrorResponse,
    ExceptionHandler,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
)

pytestmark = pytest.mark.anyio


def raising(make: Any, **options: Any) -> Integration:
    integration = Integration(app_id="acme", version="1", auth=BasicCredential, **options)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise make(connector.get_basic_auth(request).password)

    return integration


def encoded_forms(secret: str) -> list[str]:
    """Every form item 1 of the hardening issue lists."""
    forms = [
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        urllib.parse.quote(secret, safe="", errors="surrogatepass"),
        urllib.parse.quote_plus(secret, errors="surrogatepass"),
        secret.upper(),
        base64.b64encode(f"admin:{secret}".encode(errors="surrogatepass")).decode(),
    ]
    return [form for form in forms if len(form) >= 6]


EXCEPTIONS = [
    lambda pw: KeyError(pw),
    lambda pw: ValueError("x", {"password": pw}),
    lambda pw: RuntimeError(json.dumps({"password": pw})),
    lambda pw: RuntimeError(f"GET /bot{urllib.parse.quote(pw)}/getMe failed"),
    lambda pw: RuntimeError(
        f"auth header Basic {base64.b64encode(f'admin:{pw}'.encode()).decode()}"
    ),
    lambda pw: RuntimeError(pw.upper()),
    lambda pw: ExceptionGroup("several", [ValueError(repr(pw)), KeyError(pw)]),
    lambda pw: connector.ConnectorError("nope", ErrorCode.UNAUTHORIZED, app_error_code=repr(pw)),
    lambda pw: connector.ConnectorError("nope", ErrorCode.SERVICE_ERROR, hint=json.dumps(pw)),
]

secret_text = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=["L", "N", "P", "S", "Cc"], include_characters="'\"\\\t\n"
    ),
    min_size=8,
    max_size=24,
).filter(lambda s: len(set(s)) > 3 and s.strip() == s)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(secret=secret_text, recipe=st.integers(0, len(EXCEPTIONS) - 1))
@example(secret="pa'ss\"w\\ord\t1", recipe=0)
@example(secret="pa'ss\"w\\ord\t1", recipe=1)
@example(secret="tok SECRET 9", recipe=3)
@example(secret="Grüße-Straße", recipe=5)
def test_no_encoded_form_of_a_secret_reaches_an_envelope_or_log(secret: str, recipe: int) -> None:
    """For any secret with quotes, backslashes, control characters or non-ASCII
    letters, none of its encoded forms appears in the envelope or the log."""
    # A "secret" that is one of the envelope's own words (`status_c`) proves nothing.
    placeholder = json.dumps(
        {"auth": {"basic": {"username": "admin", "password": "\u2603" * 8}}, "request": {}}
    )
    baseline = run(raising(EXCEPTIONS[recipe]).dispatch("list_accounts", placeholder)).decode()
    assume(all(form.lower() not in baseline.lower() for form in encoded_forms(secret)))
    handler = Records()
    logger = logging.getLogger("connector")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        body = json.dumps(
            {"auth": {"basic": {"username": "admin", "password": secret}}, "request": {}}
        )
        out, code = run(raising(EXCEPTIONS[recipe]).dispatch_result("list_accounts", body))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert code is not None
    texts = [out.decode(), json.loads(out)["error"]["message"]]
    texts += [logging.Formatter().format(r) for r in handler.records]
    for form in encoded_forms(secret):
        for text in texts:
            assert form.lower() not in text.lower(), (form, text)


async def test_raw_data_of_an_error_envelope_is_scrubbed() -> None:
    class WithRaw(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception, original_func: Any, response: ErrorResponse, error_code: Any = None
        ) -> ErrorResponse:
            response.raw_data = {"upstream_said": str(e), "nested": [{"pw": str(e)}]}
            return response

    integration = raising(RuntimeError, exception_handlers=[(Exception, WithRaw, None)])
    body = json.dumps(
        {"auth": {"basic": {"username": "u", "password": "hunter2-pw"}}, "request": {}}
    )
    out = await integration.dispatch("list_accounts", body)
    assert b"hunter2-pw" not in out
    assert json.loads(out)["raw_data"]["nested"][0]["pw"] == "[redacted]"


@pytest.mark.parametrize("damage", ["error-none", "status-object", "not-a-response", "raw-list"])
async def test_a_hostile_handler_leaves_the_prefilled_envelope(damage: str) -> None:
    class Hostile(ExceptionHandler):
        @staticmethod
        def handle(
            e: Exception, original_func: Any, response: ErrorResponse, error_code: Any = None
        ) -> ErrorResponse:
            if damage == "error-none":
                response.error = None  # type: ignore[assignment]
            elif damage == "status-object":
                response.error.status_code = object()  # type: ignore[assignment]
            elif damage == "raw-list":
                response.raw_data = [object()]  # type: ignore[assignment]
            else:
                return "nope"  # type: ignore[return-value]
            return response

    integration = raising(
        lambda pw: connector.NotFoundError(f"no {pw}"),
        exception_handlers=[(Exception, Hostile, None)],
    )
    body = json.dumps(
        {"auth": {"basic": {"username": "u", "password": "hunter2-pw"}}, "request": {}}
    )
    out, code = await integration.dispatch_result("list_accounts", body)
    assert code is ErrorCode.NOT_FOUND and b"hunter2-pw" not in out
    assert errors4("ErrorResponse", out) == []


async def test_deep_settings_under_the_depth_limit_never_raise() -> None:
    depth = 900
    deep: Any = "hunter2-deep"
    for _ in range(depth):
        deep = {"password": deep}
    integration = raising(lambda pw: RuntimeError(f"failed with {pw} and hunter2-deep"))
    body = json.dumps(
        {
            "auth": {"basic": {"username": "u", "password": "hunter2-pw"}},
            "request": {},
            "settings": deep,
        }
    )
    out, code = await integration.dispatch_result("list_accounts", body)
    assert code is not None and b"hunter2-pw" not in out and b"hunter2-deep" not in out


class Region(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    region: Literal["eu-1", "us-1"] = "eu-1"


@pytest.mark.parametrize(
    ("settings_value", "hidden"),
    [
        ({"region": "secret'region-3"}, "region-3"),
        ({"region": 'secret"region-3'}, "region-3"),
        ({"region": "eu-1", "secret'key-name": 1}, "key-name"),
    ],
)
async def test_validation_messages_do_not_echo_values_or_keys(
    settings_value: dict[str, Any], hidden: str
) -> None:
    integration = Integration(app_id="acme", version="1", settings_model=Region)

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    out, code = await integration.dispatch_result(
        "list_accounts", json.dumps({"request": {}, "settings": settings_value})
    )
    assert code is ErrorCode.BAD_REQUEST
    message = json.loads(out)["error"]["message"]
    assert hidden not in message and "$.settings" in message


@pytest.mark.parametrize("token_type", [0, False, "", [], {}])
def test_only_bearer_or_no_token_type_is_bearer(token_type: Any) -> None:
    answer = connector.Response(200, json={"access_token": "at-123456", "token_type": token_type})
    with pytest.raises(connector.OAuthError) as refused:
        connector._parse_token_response(answer, refresh_token=None, state=None)
    assert refused.value.error_code is ErrorCode.INVALID_RESPONSE
    for ok in ({}, {"token_type": None}, {"token_type": "Bearer"}):
        fine = connector.Response(200, json={"access_token": "at-123456", **ok})
        credentials, _ = connector._parse_token_response(fine, refresh_token=None, state=None)
        assert credentials.token_type == "bearer"


# ---- HTTP client: URLs and body limits ---------------------------------------------


def test_a_base_url_with_a_query_keeps_its_path_and_query() -> None:
    client = connector.HTTPClient("https://api.example/v2?api-version=1")
    assert client.build_request("GET", "/users", params={"a": 1}).url == (
        "https://api.example/v2/users?api-version=1&a=1"
    )
    assert client.build_request("GET", "users?x=2").url == (
        "https://api.example/v2/users?api-version=1&x=2"
    )
    assert client.build_request("GET", "").url == "https://api.example/v2?api-version=1"
    assert client.build_request("GET", "https://other.example/p").url == "https://other.example/p"


def test_a_base_url_with_a_fragment_is_refused() -> None:
    with pytest.raises(ValueError, match="no fragment"):
        connector.HTTPClient("https://api.example/v2#section")


async def test_a_body_past_max_response_bytes_ends_the_read_with_invalid_response() -> None:
    from _upstream import upstream

    big = b"x" * (3 * 1024 * 1024)

    def huge(method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        return 200, [("Content-Type", "application/octet-stream")], big

    integration = Integration(app_id="acme", version="1", auth=BasicCredential)
    with upstream(huge) as api:

        @integration.capability
        async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
            client = integration.http_client(api.url, max_response_bytes=1024 * 1024)
            await client.get("/export")
            return ListAccountsResponse(response=[])

        body = json.dumps({"auth": {"basic": {"username": "u", "password": "p"}}, "request": {}})
        out, code = await integration.dispatch_result("list_accounts", body)
        await integration.aclose_http()
        unlimited = connector.HTTPClient(api.url, max_response_bytes=None)
        answer = await unlimited.get("/export")
        await unlimited.aclose()
    assert code is ErrorCode.INVALID_RESPONSE
    assert "larger than max_response_bytes (1048576)" in json.loads(out)["error"]["message"]
    assert len(answer.content) == len(big)


async def test_max_response_bytes_holds_for_mock_transports_too() -> None:
    transport = connector.MockTransport(lambda request: connector.Response(200, content=b"y" * 100))
    client = connector.HTTPClient("https://api.example", transport=transport, max_response_bytes=10)
    with pytest.raises(connector.ResponseTooLarge, match=r"larger than max_response_bytes \(10\)"):
        await client.get("/x")


@pytest.mark.parametrize("charset", ["idna", "punycode", "nonsense", "utf-8"])
def test_response_text_falls_back_to_utf8(charset: str) -> None:
    answer = connector.Response(
        200, content="héllo".encode(), headers={"content-type": f"text/plain; charset={charset}"}
    )
    assert answer.text == "héllo"


def test_a_non_ascii_basic_password_is_sent_as_utf8() -> None:
    seen: list[str] = []

    def echo(request: connector.Request) -> connector.Response:
        seen.append(request.headers["authorization"])
        return connector.Response(204)

    client = connector.HTTPClient(
        "https://api.example",
        basic_auth=("ädmin", "pässwörd"),
        transport=connector.MockTransport(echo),
    )
    assert run(client.get("/")).json() is None
    assert base64.b64decode(seen[0].removeprefix("Basic ")).decode() == "ädmin:pässwörd"  # RFC 7617


def test_httpcore_debug_records_carry_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG logging on, the records of the libraries the client drives hold
    no header value, query string or password."""
    from _upstream import upstream

    def echo(method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        return (
            200,
            [("Set-Cookie", "session=cookie-secret-77"), ("Content-Type", "application/json")],
            b"{}",
        )

    caplog.set_level(logging.DEBUG)
    with upstream(echo) as api:
        url = api.url.replace("://", "://svc:userinfo-secret-66@")

        async def go() -> None:
            for client in (
                connector.HTTPClient(api.url, basic_auth=("admin", "basic-secret-11")),
                connector.HTTPClient(api.url, bearer_token="bearer-secret-22"),
                connector.HTTPClient(url, headers={"X-Api-Key": "header-secret-33"}),
            ):
                async with client:
                    await client.get("/users", params={"api_key": "query-secret-44"})

        run(go())
    records = [r for r in caplog.records if r.name.startswith("httpcore")]
    assert records, "httpcore logged nothing at DEBUG"
    text = "\n".join(r.getMessage() for r in records)
    for secret in (
        "basic-secret-11",
        "bearer-secret-22",
        "header-secret-33",
        "query-secret-44",
        "cookie-secret-77",
        "userinfo-secret-66",
    ):
        assert secret not in text, secret
    encoded = base64.b64encode(b"admin:basic-secret-11").decode()
    assert encoded not in text
