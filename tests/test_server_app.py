"""server.asgi(): every route and error status, over real sockets, on both servers."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from _schemas import errors4
from _srv_util import (
    AUTH,
    RawConn,
    Running,
    call,
    envelope,
    load_mock,
    running,
    running_uvicorn,
)

import connector
import server
from connector import (
    BasicCredential,
    ConnectorError,
    ErrorCode,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
)

pytestmark = pytest.mark.anyio
mock = load_mock()
TOKEN = "s3cret-bearer-token-0123456789"

# DESIGN.md's table (with --http-status), written out again on purpose: the test must
# not read server.py's. Every code the server can receive: the 22 canonical 4.x codes,
# and the deprecated 3.5 names an api_version="3.5" connector still writes.
EXPECTED_STATUS = {
    "bad_request": 400,
    "invalid_value": 400,
    "unknown_value": 400,
    "invalid_page_token": 400,
    "integration_missing_parameter": 400,
    "unauthorized": 401,
    "unauthenticated": 401,
    "authentication_expired": 401,
    "creds_revoked": 401,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "rate_limit": 429,
    "budget_exhausted": 429,
    "not_implemented": 501,
    "unsupported_operation": 501,
    "api_error": 502,
    "service_error": 502,
    "bad_gateway": 502,
    "invalid_response": 502,
    "client_call_error": 502,
    "connection_rejected": 502,
    "connection_closed": 502,
    "request_timeout": 504,
    "connection_timeout": 504,
    "internal_error": 500,
    "unexpected_error": 500,
}
DEPRECATED = {"api_error", "not_implemented", "unexpected_error", "client_call_error"}
DEPRECATED |= {"unauthenticated"}
CANONICAL = sorted(set(EXPECTED_STATUS) - DEPRECATED)

# An integration whose list_accounts fails with the ErrorCode named by the page token.
codes = Integration(app_id="codes", version="1.0.0", auth=BasicCredential)


@codes.capability
async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
    token = request.page.token if request.page else None
    if token:
        raise ConnectorError(f"failing with {token}", ErrorCode(token))
    return ListAccountsResponse(response=[])


class EveryCode:
    """`codes`, except that dispatch_result answers the envelope of the code named by
    the page token, whatever connector.py would write for it: so the server's table is
    checked for every code it can receive, the deprecated 3.5 ones included."""

    app_id = "codes"
    version = "1.0.0"
    capabilities = codes.capabilities

    def info_json(self) -> bytes:
        return codes.info_json()

    async def dispatch_result(self, name: str, body: bytes) -> tuple[bytes, str | None]:
        code = json.loads(body)["page"]["token"]
        error = {"message": f"failing with {code}", "error_code": code, "app_id": "codes"}
        return json.dumps({"is_error": True, "error": error}).encode(), code


def assert_envelope(body: bytes, app_id: str, code: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)
    assert data["is_error"] is True
    assert data["response"] is None
    assert data["error"]["error_code"] == code  # bare: the app is in app_id
    assert data["error"]["app_id"] == app_id
    assert isinstance(data["error"]["message"], str)
    assert errors4("ErrorResponse", data) == []  # routing errors too: 4.280's envelope
    return data


@pytest.fixture(scope="module")
def srv() -> Iterator[Running]:
    with running(server.asgi(mock.integration)) as instance:
        yield instance


# ---- Routes -------------------------------------------------------------------------


def test_healthz_get_and_head(srv: Running) -> None:
    response = call(srv.port, "GET", "/healthz")
    assert response.status == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(response.body))
    head = call(srv.port, "HEAD", "/healthz")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == str(len(response.body))


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_info_is_the_integrations_info_bytes(srv: Running, method: str) -> None:
    response = call(srv.port, method, "/info", b"{}" if method == "POST" else b"")
    assert response.status == 200
    assert response.body == mock.integration.info_json()


def test_openapi_document(srv: Running) -> None:
    response = call(srv.port, "GET", "/openapi.json")
    assert response.status == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    components = document["components"]["schemas"]
    assert "ErrorResponse" in components
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for name in mock.integration.capabilities:
        operation = document["paths"][f"/{name}"]["post"]
        request = operation["requestBody"]["content"]["application/json"]["schema"]
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        error = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert error == error_ref
        # By default a 200 carries the response or an error envelope, as the Lumos spec says.
        response_ref, also = ok["anyOf"]
        assert also == error_ref
        for schema in (request, response_ref):
            assert schema["$ref"].rsplit("/", 1)[1] in components
        assert "follows" not in operation["responses"]["default"]["description"]
    # Every reference anywhere in the document resolves.
    text = response.body.decode()
    for ref in {part.split('"')[0] for part in text.split('"$ref":"')[1:]}:
        assert ref.rsplit("/", 1)[1] in components, ref
    assert call(srv.port, "GET", "/openapi.json").body == response.body  # built once


def test_openapi_document_with_http_status() -> None:
    with running(server.asgi(mock.integration, http_status=True)) as srv:
        document = call(srv.port, "GET", "/openapi.json").json()
    operation = document["paths"]["/list_accounts"]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/ListAccountsResponse")
    assert "follows its error_code" in operation["responses"]["default"]["description"]


def test_openapi_validates_a_real_request_and_response(srv: Running) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = call(srv.port, "GET", "/openapi.json").json()
    operation = document["paths"]["/list_accounts"]["post"]

    def check(instance: Any, schema: dict[str, Any]) -> None:
        jsonschema.validate(instance, {**schema, "components": document["components"]})

    body = envelope(page={"size": 3})
    answer = call(srv.port, "POST", "/list_accounts", body).json()
    check(json.loads(body), operation["requestBody"]["content"]["application/json"]["schema"])
    check(answer, operation["responses"]["200"]["content"]["application/json"]["schema"])
    error = call(srv.port, "POST", "/list_accounts", b"[]")
    assert error.status == 200  # a dispatch envelope: 200 by default
    check(error.json(), operation["responses"]["200"]["content"]["application/json"]["schema"])
    check(error.json(), operation["responses"]["default"]["content"]["application/json"]["schema"])


@pytest.mark.parametrize("path", ["/list_accounts", "/list-accounts", "/validate-credentials"])
async def test_capability_bytes_are_dispatchs_bytes(srv: Running, path: str) -> None:
    """The server writes dispatch_result's bytes as they are: no decode, no re-encode."""
    body = envelope(page={"size": 5})
    response = call(srv.port, "POST", path, body)
    assert response.status == 200
    name = path[1:].replace("-", "_")
    assert response.body == await mock.integration.dispatch(name, body)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    ["/nope", "/", "/list_accounts/", "/LIST_ACCOUNTS", "/get_authorization_url", "/info/x"],
)
def test_unknown_path_is_404_envelope(srv: Running, path: str) -> None:
    response = call(srv.port, "POST", path, envelope())
    assert response.status == 404
    assert_envelope(response.body, "mock", "not_found")


def test_long_method_and_path_are_clipped(caplog: pytest.LogCaptureFixture) -> None:
    """A 5 KB path or method is echoed by its first 200 characters only, in the error
    envelope and in the access-log line."""
    caplog.set_level(logging.INFO, logger="server.access")
    with running(server.asgi(mock.integration)) as srv:
        not_found = call(srv.port, "POST", "/" + "p" * 5000, b"{}")
        not_allowed = call(srv.port, "M" * 5000, "/list_accounts")
    assert not_found.status == 404
    message = not_found.json()["error"]["message"]
    assert message == "No route for POST /" + "p" * 199 + "..."
    assert not_allowed.status == 405
    assert not_allowed.json()["error"]["message"].startswith("Method " + "M" * 200 + "... ")
    lines = [r.getMessage() for r in caplog.records if r.name == "server.access"]
    lines = [line for line in lines if "ppp" in line or "MMM" in line]  # not another test's
    assert len(lines) == 2
    assert all(len(line) < 300 for line in lines), [len(line) for line in lines]
    assert lines[0].startswith("POST /" + "p" * 199 + "... 404 ")
    assert lines[1].startswith("M" * 200 + "... /list_accounts 405 ")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/list_accounts", "POST"),
        ("PUT", "/list-accounts", "POST"),
        ("DELETE", "/info", "GET, HEAD, POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("POST", "/openapi.json", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(srv: Running, method: str, path: str, allow: str) -> None:
    response = call(srv.port, method, path, b"{}")
    assert response.status == 405
    assert response.headers["allow"] == allow
    assert_envelope(response.body, "mock", "bad_request")


@pytest.mark.parametrize("body", [b"{not json", b"", b"[]", b'{"auth": 1}', b"\xff\xfe"])
def test_bad_request_body_is_a_200_envelope_or_400(
    codes_servers: tuple[Running, Running], body: bytes
) -> None:
    """A body dispatch refuses is a dispatch envelope: 200 by default, 400 with http_status."""
    for srv, status in zip(codes_servers, (200, 400), strict=True):
        response = call(srv.port, "POST", "/list_accounts", body)
        assert response.status == status
        assert_envelope(response.body, "codes", "bad_request")


def test_wrong_credentials_follow_the_table() -> None:
    bad = json.dumps({"auth": {"basic": {"username": "admin", "password": "nope"}}, "request": {}})
    with running(server.asgi(mock.integration, http_status=True)) as srv:
        response = call(srv.port, "POST", "/list_accounts", bad.encode())
    assert json.loads(response.body)["error"]["error_code"] == "unauthorized"
    assert response.status == EXPECTED_STATUS["unauthorized"] == 401


# ---- Dispatch envelopes: HTTP status by ErrorCode --------------------------------------


@pytest.fixture(scope="module")
def codes_servers() -> Iterator[tuple[Running, Running]]:
    """`codes` served by default (200 for every dispatch envelope) and with http_status."""
    with (
        running(server.asgi(codes)) as default,
        running(server.asgi(codes, http_status=True)) as statuses,
    ):
        yield default, statuses


@pytest.fixture(scope="module")
def every_code_servers() -> Iterator[tuple[Running, Running]]:
    stub: Any = EveryCode()
    with (
        running(server.asgi(stub)) as default,
        running(server.asgi(stub, http_status=True)) as statuses,
    ):
        yield default, statuses


def test_status_table_covers_every_error_code() -> None:
    assert {code.value for code in ErrorCode} <= set(EXPECTED_STATUS)
    for code, status in EXPECTED_STATUS.items():
        assert server.status_for(code) == status
        with contextlib.suppress(ValueError):  # until ErrorCode has every 4.x member
            assert server.status_for(ErrorCode(code)) == status
    assert server.status_for(None) == 200
    assert server.status_for("no_such_code") == 500


@pytest.mark.parametrize("code", sorted(EXPECTED_STATUS))
def test_every_code_is_200_by_default_its_status_with_http_status(
    every_code_servers: tuple[Running, Running], code: str
) -> None:
    """Whatever code dispatch_result reports, the default answer is 200 with the
    envelope as it is; with http_status, the same bytes with the table's status."""
    default, statuses = every_code_servers
    body = json.dumps({"auth": AUTH, "request": {}, "page": {"token": code}}).encode()
    plain = call(default.port, "POST", "/list_accounts", body)
    assert plain.status == 200
    assert plain.json()["error"]["error_code"] == code
    mapped = call(statuses.port, "POST", "/list_accounts", body)
    assert (mapped.status, mapped.body) == (EXPECTED_STATUS[code], plain.body)


@pytest.mark.parametrize("code", CANONICAL)
def test_dispatch_envelope_status(codes_servers: tuple[Running, Running], code: str) -> None:
    """End to end: a capability raising each canonical code, through connector.py."""
    default, statuses = codes_servers
    body = json.dumps({"auth": AUTH, "request": {}, "page": {"token": code}}).encode()
    response = call(default.port, "POST", "/list_accounts", body)
    assert response.status == 200  # as the Lumos spec and its reference servers answer
    assert_envelope(response.body, "codes", code)
    same = call(statuses.port, "POST", "/list_accounts", body)
    assert (same.status, same.body) == (EXPECTED_STATUS[code], response.body)


@pytest.mark.parametrize("http_status", [False, True], ids=["default", "http-status"])
def test_routing_errors_keep_their_status(http_status: bool) -> None:
    """404 path, 405 method, 413 body and 401 token are not dispatch envelopes."""
    app = server.asgi(mock.integration, token=TOKEN, max_body_size=1000, http_status=http_status)
    bearer = f"Bearer {TOKEN}"
    with running(app) as srv:
        cases = [
            ("POST", "/nope", b"{}", bearer, 404, "not_found"),
            ("GET", "/list_accounts", b"", bearer, 405, "bad_request"),
            ("POST", "/list_accounts", b"x" * 1001, bearer, 413, "bad_request"),
            ("POST", "/list_accounts", envelope(), "Bearer wrong", 401, "unauthorized"),
        ]
        for method, path, body, authorization, status, code in cases:
            response = call(srv.port, method, path, body, authorization=authorization)
            assert response.status == status, (method, path)
            assert_envelope(response.body, "mock", code)
        ok = call(srv.port, "POST", "/list_accounts", envelope(), authorization=bearer)
        assert ok.status == 200 and ok.json()["response"]


# ---- Body limits ------------------------------------------------------------------


@pytest.mark.parametrize("server_limit", [None, 1000], ids=["app-limit", "server-limit"])
def test_body_limit_exact_and_one_over(server_limit: int | None) -> None:
    app = server.asgi(mock.integration, max_body_size=1000)
    with running(app, max_body_bytes=server_limit) as srv:
        exact = envelope()
        exact += b" " * (1000 - len(exact))
        response = call(srv.port, "POST", "/list_accounts", exact)
        assert response.status == 200
        over = exact + b" "
        refused = call(srv.port, "POST", "/list_accounts", over)
        assert refused.status == 413
        data = assert_envelope(refused.body, "mock", "bad_request")
        assert "1000" in data["error"]["message"]
        # Chunked, so no Content-Length to refuse from: refused while streaming.
        chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (500, over[:500], 501, over[500:])
        with srv.connect() as conn:
            head = b"POST /list_accounts HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            conn.send(head + chunked)
            response = conn.response()
        assert response.status == 413
        assert response.body == refused.body


# ---- The token gate ---------------------------------------------------------------


@pytest.fixture(scope="module")
def gated() -> Iterator[Running]:
    with running(server.asgi(mock.integration, token=TOKEN)) as instance:
        yield instance


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN],
)
def test_token_gate_refuses(gated: Running, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    for method, path in (("POST", "/list_accounts"), ("GET", "/info"), ("POST", "/nope")):
        with gated.connect() as conn:
            response = conn.request(method, path, envelope(), headers)
        assert response.status == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert_envelope(response.body, "mock", "unauthorized")


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_token_gate_admits(gated: Running, scheme: str) -> None:
    headers = {"authorization": f"{scheme} {TOKEN}"}
    with gated.connect() as conn:
        response = conn.request("POST", "/list_accounts", envelope(), headers)
        assert response.status == 200
        assert conn.request("GET", "/info", b"", headers).status == 200
        assert conn.request("GET", "/openapi.json", b"", headers).json()["security"]


def test_healthz_needs_no_token(gated: Running) -> None:
    assert call(gated.port, "GET", "/healthz").status == 200


def test_token_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    app = server.asgi(mock.integration, token=TOKEN)
    with running(app) as srv:
        for authorization in (f"Bearer {TOKEN}", f"Bearer {TOKEN}-wrong", "Bearer x"):
            call(srv.port, "POST", "/list_accounts?x=1", envelope(), authorization=authorization)
        call(srv.port, "POST", f"/{TOKEN}", b"{}", authorization=f"Bearer {TOKEN}")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "POST /list_accounts 200" in text  # the access log did run
    assert TOKEN not in text.replace(f"POST /{TOKEN} 404", "")  # only the path we asked for


# ---- Lifespan and the same app under uvicorn ---------------------------------------


async def test_lifespan_is_answered() -> None:
    app = server.asgi(mock.integration)
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_websocket_scope_is_rejected() -> None:
    app = server.asgi(mock.integration)
    with pytest.raises(RuntimeError):
        await app({"type": "websocket"}, None, None)  # type: ignore[arg-type]  # no receive/send: refused first


PARITY_REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("GET", "/healthz", b"", {}),
    ("HEAD", "/healthz", b"", {}),
    ("GET", "/info", b"", {"authorization": f"Bearer {TOKEN}"}),
    ("POST", "/info", b"{}", {"authorization": f"Bearer {TOKEN}"}),
    ("GET", "/openapi.json", b"", {"authorization": f"Bearer {TOKEN}"}),
    ("POST", "/list_accounts", envelope(page={"size": 7}), {"authorization": f"Bearer {TOKEN}"}),
    ("POST", "/list-accounts", envelope(), {"authorization": f"bearer {TOKEN}"}),
    ("POST", "/list_accounts", b"{nope", {"authorization": f"Bearer {TOKEN}"}),
    ("POST", "/list_accounts", b"x" * 5000, {"authorization": f"Bearer {TOKEN}"}),
    ("POST", "/validate_credentials", envelope(), {"authorization": "Bearer wrong"}),
    ("POST", "/validate_credentials", envelope(), {}),
    ("POST", "/nope", b"{}", {"authorization": f"Bearer {TOKEN}"}),
    ("GET", "/list_accounts", b"", {"authorization": f"Bearer {TOKEN}"}),
    ("PATCH", "/healthz", b"", {}),
]
COMPARED_HEADERS = (
    "content-type",
    "content-length",
    "x-content-type-options",
    "allow",
    "www-authenticate",
)


def test_same_answers_under_uvicorn() -> None:
    pytest.importorskip("uvicorn")
    app = server.asgi(mock.integration, token=TOKEN, max_body_size=4096)
    answers = []
    with running(app) as builtin, running_uvicorn(app) as uvicorn_port:
        for port in (builtin.port, uvicorn_port):
            got = []
            for method, path, body, headers in PARITY_REQUESTS:
                with RawConn(port) as conn:
                    response = conn.request(method, path, body, headers)
                picked = {name: response.headers.get(name) for name in COMPARED_HEADERS}
                got.append((response.status, picked, response.body))
            answers.append(got)
    for request, mine, theirs in zip(PARITY_REQUESTS, *answers, strict=True):
        assert mine == theirs, request[:2]
    statuses = [status for status, _, _ in answers[0]]
    # Bad JSON is a dispatch envelope: 200, like every one by default.
    assert statuses == [200, 200, 200, 200, 200, 200, 200, 200, 413, 401, 401, 404, 405, 405]


def test_error_body_hook_makes_envelopes() -> None:
    app = server.asgi(mock.integration)
    for status, code in (
        (400, "bad_request"),
        (408, "request_timeout"),
        (500, "internal_error"),
        (501, "unsupported_operation"),
        (503, "service_error"),
        (505, "bad_request"),
    ):
        assert_envelope(app.error_body(status, "x"), "mock", code)
    assert connector.ErrorCode("not_found")  # the contract server.py relies on
