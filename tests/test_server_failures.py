"""Nothing user code raises gets out: a 500, a log line without secrets, a server that
keeps serving. For a capability under the built-in server, under uvicorn and as a CLI
process; for any ASGI app under the built-in server."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _srv_util import (
    AUTH,
    CliServer,
    RawConn,
    Running,
    build_request,
    call,
    running,
    running_uvicorn,
)

import server
from server import Receive, Scope, Send

pytestmark = pytest.mark.anyio
SECRET = AUTH["basic"]["password"]  # sent in every request; quoted by every failure

# A connector that misbehaves as the page token says, quoting the request's password in
# whatever it raises. Source text, so the CLI test can serve the very same file.
FAILING_CONNECTOR = f"""
import asyncio

from connector import (
    BasicCredential,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
)

SECRET = {SECRET!r}
integration = Integration(app_id="failing", version="1.0.0", auth=BasicCredential)
unhandled = Integration(
    app_id="unhandled", version="1.0.0", auth=BasicCredential, handle_errors=False
)


def misbehave(kind):
    if kind == "SystemExit":
        raise SystemExit(f"exit {{SECRET}}")
    if kind == "KeyboardInterrupt":
        raise KeyboardInterrupt(SECRET)
    if kind == "CancelledError":
        raise asyncio.CancelledError(SECRET)
    if kind == "BaseException":
        raise BaseException(SECRET)
    if kind == "ValueError":
        raise ValueError(f"bad password {{SECRET}}")


@integration.capability
async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
    kind = request.page.token if request.page else None
    if kind == "self-cancel":
        asyncio.current_task().cancel()
        await asyncio.sleep(0)  # the cancellation lands here, in the capability
    elif kind == "self-cancel-return":
        asyncio.current_task().cancel()  # ... and would land on the next await after it
    elif kind:
        misbehave(kind)
    return ListAccountsResponse(response=[])


@integration.capability
def validate_credentials(request: ValidateCredentialsRequest) -> ValidateCredentialsResponse:
    # A plain def runs in a worker thread: what it raises comes back through anyio.
    misbehave(request.page.token if request.page else None)
    valid = ValidatedCredentials(valid=True, unique_tenant_id="t")
    return ValidateCredentialsResponse(response=valid)


@unhandled.capability
async def list_accounts_unhandled(request: ListAccountsRequest) -> ListAccountsResponse:
    misbehave("ValueError")  # handle_errors=False: it leaves dispatch
    return ListAccountsResponse(response=[])
"""

BASE_EXCEPTIONS = ["SystemExit", "KeyboardInterrupt", "CancelledError", "BaseException"]


@pytest.fixture(scope="module")
def connector_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("failing") / "failing_connector.py"
    path.write_text(FAILING_CONNECTOR)
    return path


@pytest.fixture(scope="module")
def failing(connector_file: Path) -> Any:
    spec = importlib.util.spec_from_file_location("failing_connector", connector_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["failing_connector"] = module  # msgspec resolves the annotations by module
    spec.loader.exec_module(module)
    return module


def request_body(kind: str) -> bytes:
    return json.dumps({"auth": AUTH, "request": {}, "page": {"token": kind}}).encode()


def assert_internal_error(response: Any, app_id: str) -> None:
    assert response.status == 500, response
    data = response.json()
    assert data["is_error"] is True
    assert data["error"]["error_code"] == "internal_error"
    assert data["error"]["app_id"] == app_id
    assert data["error"]["message"] == "Internal error"
    assert SECRET not in response.body.decode()


def assert_no_secret_logged(caplog: pytest.LogCaptureFixture) -> None:
    assert SECRET not in caplog.text  # messages and any traceback the handler formatted
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert record.exc_info is None or record.exc_info[1] is None


# ---- A capability, under the built-in server ------------------------------------------


@pytest.mark.parametrize("path", ["/list_accounts", "/validate_credentials"])
@pytest.mark.parametrize("kind", [*BASE_EXCEPTIONS, "self-cancel"])
def test_capability_base_exception_is_a_500(
    failing: Any, caplog: pytest.LogCaptureFixture, path: str, kind: str
) -> None:
    if kind == "self-cancel" and path == "/validate_credentials":
        pytest.skip("a worker thread has no task to cancel")
    caplog.set_level(logging.DEBUG)
    for http_status in (False, True):  # a 500 either way: this is no dispatch envelope
        app = server.asgi(failing.integration, http_status=http_status)
        with running(app) as srv:
            assert_internal_error(call(srv.port, "POST", path, request_body(kind)), "failing")
            assert call(srv.port, "GET", "/healthz").json() == {"status": "ok"}
            ok = call(srv.port, "POST", "/list_accounts", request_body(""))
            assert ok.status == 200 and ok.json()["response"] == []
    assert_no_secret_logged(caplog)
    failures = [r.getMessage() for r in caplog.records if "internal_error" in r.getMessage()]
    assert len(failures) == 2
    assert all(type_name(kind) in line for line in failures), failures


def type_name(kind: str) -> str:
    return "CancelledError" if kind.startswith("self-cancel") else kind


def test_capability_cancelling_its_own_task_then_returning(
    failing: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The cancellation it asked for is withdrawn: the response it returned is sent, and
    the next request on the same connection is served."""
    with running(server.asgi(failing.integration)) as srv, srv.connect() as conn:
        response = conn.request("POST", "/list_accounts", request_body("self-cancel-return"))
        assert (response.status, response.json()["response"]) == (200, [])
        assert conn.request("GET", "/healthz").status == 200
    assert_no_secret_logged(caplog)


def test_exception_leaving_dispatch_is_a_500(
    failing: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """handle_errors=False lets a capability's exception out of dispatch: the app
    contains it, and logs its class, not its text."""
    caplog.set_level(logging.DEBUG)
    with running(server.asgi(failing.unhandled)) as srv:
        assert_internal_error(
            call(srv.port, "POST", "/list_accounts", request_body("x")), "unhandled"
        )
        assert call(srv.port, "GET", "/healthz").status == 200
    assert_no_secret_logged(caplog)
    assert "ValueError" in caplog.text


class Exploding:
    """An integration whose dispatch_result itself raises: what connector.py might let
    out, whatever it is (a handler returning None, an unencodable object...)."""

    app_id = "exploding"
    version = "1.0.0"

    def __init__(self, raised: BaseException) -> None:
        self.raised = raised
        self.capabilities = {"list_accounts": None}

    def info_json(self) -> bytes:
        raise self.raised

    async def dispatch_result(self, name: str, body: bytes) -> tuple[bytes, str | None]:
        raise self.raised


@pytest.mark.parametrize(
    "raised",
    [
        TypeError(f"cannot encode {SECRET}"),
        UnicodeEncodeError("utf-8", f"\udc80{SECRET}", 0, 1, "surrogates not allowed"),
        SystemExit(SECRET),
        KeyboardInterrupt(SECRET),
        asyncio.CancelledError(SECRET),
        BaseException(SECRET),
    ],
    ids=lambda exc: type(exc).__name__,
)
def test_app_contains_whatever_dispatch_raises(
    raised: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    integration: Any = Exploding(raised)
    with running(server.asgi(integration)) as srv:
        assert_internal_error(
            call(srv.port, "POST", "/list_accounts", request_body("x")), "exploding"
        )
        assert_internal_error(call(srv.port, "GET", "/info"), "exploding")
        assert call(srv.port, "GET", "/healthz").status == 200
    assert_no_secret_logged(caplog)


async def test_app_never_lets_an_exception_out() -> None:
    """Called directly, as any ASGI server calls it: it answers and returns."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": request_body("x"), "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    for raised in (SystemExit(SECRET), asyncio.CancelledError(SECRET), BaseException(SECRET)):
        integration: Any = Exploding(raised)
        scope = {"type": "http", "method": "POST", "path": "/list_accounts", "headers": []}
        await server.asgi(integration)(scope, receive, send)
        assert sent[-2]["status"] == 500
        assert SECRET.encode() not in sent[-1]["body"]


async def test_a_real_cancellation_still_propagates(failing: Any) -> None:
    """Cancelling the scope around the app (a timeout, a shutdown) is not swallowed."""
    import anyio

    app = server.asgi(failing.integration)
    started = anyio.Event()

    async def receive() -> dict[str, Any]:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError("nothing is sent for a cancelled request")

    scope = {"type": "http", "method": "POST", "path": "/list_accounts", "headers": []}
    with anyio.move_on_after(5) as outer:
        async with anyio.create_task_group() as tg:
            tg.start_soon(app, scope, receive, send)
            await started.wait()
            tg.cancel_scope.cancel()
    assert not outer.cancel_called


# ---- The same app under uvicorn --------------------------------------------------------


def test_capability_base_exceptions_under_uvicorn(
    failing: Any, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("uvicorn")
    caplog.set_level(logging.DEBUG)
    with running_uvicorn(server.asgi(failing.integration)) as port:
        for kind in [*BASE_EXCEPTIONS, "self-cancel"]:
            assert_internal_error(
                call(port, "POST", "/list_accounts", request_body(kind)), "failing"
            )
        ok = call(port, "POST", "/list_accounts", request_body("self-cancel-return"))
        assert ok.status == 200
        assert call(port, "GET", "/healthz").status == 200
    assert_no_secret_logged(caplog)
    assert "Exception in ASGI app" not in caplog.text  # nothing reached uvicorn


# ---- Any ASGI app, under the built-in server --------------------------------------------


async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Misbehaves as the path says, after reading a body that holds the password."""
    if scope["type"] != "http":
        return
    kind = scope["path"][1:]
    if kind != "healthz":
        await receive()
    if kind == "self-cancel":
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        await asyncio.sleep(0)
    elif kind == "self-cancel-return":
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        return  # no response: the server answers 500 itself, on its next await
    elif kind == "after-start":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"par", "more_body": True})
        raise KeyboardInterrupt(SECRET)
    elif kind in BASE_EXCEPTIONS:
        raise {
            "SystemExit": SystemExit,
            "KeyboardInterrupt": KeyboardInterrupt,
            "CancelledError": asyncio.CancelledError,
            "BaseException": BaseException,
        }[kind](SECRET)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def raw_srv() -> Iterator[Running]:
    with running(raising_app) as instance:
        yield instance


@pytest.mark.parametrize("kind", [*BASE_EXCEPTIONS, "self-cancel", "self-cancel-return"])
def test_server_survives_any_base_exception(
    raw_srv: Running, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"authorization": f"Basic {SECRET}"}
    with raw_srv.connect() as conn:
        response = conn.request("POST", f"/{kind}", request_body(kind), headers)
        assert response.status == 500
        assert SECRET not in response.body.decode()
        assert response.headers["connection"] == "close"
        assert conn.at_eof()
    assert call(raw_srv.port, "GET", "/healthz").body == b"ok"
    assert_no_secret_logged(caplog)
    assert type_name(kind) in caplog.text or kind == "self-cancel-return"


def test_server_survives_a_base_exception_after_the_response_began(
    raw_srv: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with raw_srv.connect() as conn:
        conn.send(build_request("POST", "/after-start", request_body("x")))
        assert conn.file.readline().startswith(b"HTTP/1.1 200 ")
        conn.file.read()  # to the end: the connection is closed, the body cut short
    assert call(raw_srv.port, "GET", "/healthz").body == b"ok"
    assert_no_secret_logged(caplog)
    assert "KeyboardInterrupt" in caplog.text and "cut short" in caplog.text


def test_lifespan_base_exception_is_survived() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            raise SystemExit(SECRET)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"up"})

    with running(app) as srv:
        assert call(srv.port, "GET", "/").body == b"up"


# ---- As a CLI process: it keeps serving, and SIGTERM still stops it --------------------


def test_cli_server_survives_base_exceptions_and_stops_on_sigterm(connector_file: Path) -> None:
    cli = CliServer(str(connector_file))
    try:
        for kind in [*BASE_EXCEPTIONS, "self-cancel"]:
            with RawConn(cli.port) as conn:
                response = conn.request("POST", "/list_accounts", request_body(kind))
            assert response.status == 500, kind
            assert SECRET not in response.body.decode()
        assert call(cli.port, "GET", "/healthz").status == 200
    finally:
        code, log = cli.stop(signal.SIGTERM)
    assert code == 0, log
    assert "shutting down gracefully" in log and "Server stopped" in log
    assert SECRET not in log
    assert "Traceback" not in log
    assert "KeyboardInterrupt" in log  # named, by class only
