"""server.py - a connector as a raw ASGI app, and a small HTTP/1.1 server to run it.

Two independent halves in one vendorable file:

* ``asgi(integration)`` turns a ``connector.Integration`` into a plain ASGI 3
  callable: ``POST /{capability}``, ``GET|POST /info``, ``GET /healthz``,
  ``GET /openapi.json``. It runs unchanged under uvicorn, hypercorn or granian,
  which is how to scale out (many workers, many hosts).
* ``serve(app)`` / ``Server`` is a built-in HTTP/1.1 server on anyio + h11 for
  *any* ASGI app: keep-alive, pipelining, limits, graceful shutdown.

Neither half lets an exception out, of any kind: what user code raises (even
SystemExit, KeyboardInterrupt or CancelledError) is answered with a 500 and
logged by its class alone, and the server keeps serving.

    import connector, server
    server.serve(server.asgi(integration), port=8000)   # blocks until SIGINT/SIGTERM

Runtime dependencies: msgspec, anyio, h11 (and ``connector`` beside this file).
Licence: MIT.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import unquote

import anyio
import anyio.abc
import anyio.lowlevel
import h11
import msgspec

import connector

if TYPE_CHECKING:
    from anyio.streams.stapled import MultiListener

__all__ = (
    "DEFAULT_MAX_BODY_SIZE",
    "TOKEN_ENV",
    "ASGIApp",
    "ConnectorApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "Server",
    "asgi",
    "read_token",
    "run",
    "serve",
    "status_for",
)

# ---- ASGI types --------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BODY_SIZE: Final = 1_048_576
TOKEN_ENV: Final = "CONNECTOR_TOKEN"

logger: Final = logging.getLogger("server")
access_logger: Final = logging.getLogger("server.access")

_T = TypeVar("_T")

# ---- Containing failures -----------------------------------------------------------
#
# User code - a capability, or any ASGI app the server runs - may raise anything.
# SystemExit, KeyboardInterrupt, a bare BaseException, a CancelledError it raised or
# got by cancelling its own task: all are bugs to answer with a 500, not reasons to
# stop serving (uvicorn answers them the same way). Only a real cancellation - a
# cancel scope of ours cancelled by a timeout or shutdown - goes on up. And only an
# exception's class and where it was raised are logged: its text can quote the
# request (a password in a message), and so can a traceback, which repeats it.

_ECHO_LIMIT: Final = 200
_LOOP_MODULES: Final = ("asyncio.", "anyio.", "trio.", "sniffio.")


def _clip(text: str) -> str:
    """A request's method or path as messages and log lines echo it: bounded."""
    return text if len(text) <= _ECHO_LIMIT else text[:_ECHO_LIMIT] + "..."


def _describe(exc: BaseException) -> str:
    """`ValueError (raised at module.py:12 in func)`: the class and place, no text."""
    name = type(exc).__qualname__
    # The innermost frame, unless it is the event loop's: a CancelledError is raised
    # inside asyncio, and the place worth naming is the code that awaited.
    place = None
    tb = exc.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if place is None or not module.startswith(_LOOP_MODULES):
            place = tb
        tb = tb.tb_next
    if place is None:
        return name
    code = place.tb_frame.f_code
    where = f"{os.path.basename(code.co_filename)}:{place.tb_lineno} in {code.co_name}"
    return f"{name} (raised at {where})"


def _asyncio_task() -> Any:
    # Under asyncio a coroutine can cancel its own task outside any cancel scope.
    # asyncio is looked up, not imported: on trio it need not be loaded at all.
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        return asyncio.current_task()
    except RuntimeError:  # no asyncio loop running in this thread
        return None


def _really_cancelled() -> bool:
    """Whether a cancel scope around the current task is cancelled (or past its deadline)."""
    return anyio.current_effective_deadline() <= anyio.current_time()


async def _contain(call: Callable[[], Awaitable[_T]]) -> _T | BaseException:
    """Run user code: its result, or whatever it raised; a real cancellation propagates.

    outcome = await _contain(partial(app, scope, receive, send))
    """
    task = _asyncio_task()
    requested = task.cancelling() if task is not None else 0
    try:
        outcome: _T | BaseException = await call()
    except GeneratorExit:
        raise  # the coroutine is being closed (a loop torn down): nothing to answer
    except BaseException as exc:  # everything: the point of this function
        outcome = exc
    if task is not None and task.cancelling() > requested and not _really_cancelled():
        # The code cancelled its own task: no scope around us is cancelled, and the
        # built-in server cancels its tasks only through scopes. (Another server may
        # cancel a request's task itself, as uvicorn does past its shutdown grace:
        # then the task ends as soon as this answer is sent.) Take the requests back,
        # and swallow one not yet delivered, so it does not land on our next await.
        while task.cancelling() > requested:
            task.uncancel()
        with contextlib.suppress(anyio.get_cancelled_exc_class()):
            await anyio.lowlevel.checkpoint()
    if (
        isinstance(outcome, BaseException)  # first: the rest costs a backend lookup
        and isinstance(outcome, anyio.get_cancelled_exc_class())
        and _really_cancelled()
    ):
        raise outcome
    return outcome


# ---- The connector as an ASGI app --------------------------------------------------

# DESIGN.md's table: the HTTP status of a dispatch envelope by its code, which the
# app answers with under `http_status=True`. By default every dispatch envelope is a
# 200, as the Lumos spec and its reference servers answer: a platform client reads
# other statuses as transport failures. Keyed by value (the 4.x codes included, and
# 3.5's deprecated ones), so a code this module does not know answers 500.
_STATUS_BY_CODE: Final[dict[str, int]] = {
    code: status
    for status, codes in (
        (400, "bad_request invalid_value unknown_value invalid_page_token"),
        (400, "integration_missing_parameter"),
        (401, "unauthorized unauthenticated authentication_expired creds_revoked"),
        (403, "permission_denied"),
        (404, "not_found"),
        (409, "conflict"),
        (429, "rate_limit budget_exhausted"),
        (501, "not_implemented unsupported_operation"),
        (502, "api_error service_error invalid_response client_call_error bad_gateway"),
        (502, "connection_rejected connection_closed"),
        (504, "request_timeout connection_timeout"),
        (500, "internal_error unexpected_error"),
    )
    for code in codes.split()
}

# The reverse, for errors the app or server finds itself (routing, limits, bad HTTP);
# any other status is bad_request below 500 and internal_error from 500.
_CODE_BY_STATUS: Final[dict[int, str]] = {
    401: "unauthorized",
    404: "not_found",
    408: "request_timeout",
    500: "internal_error",
    501: "unsupported_operation",
    503: "service_error",
    505: "bad_request",  # an HTTP version we do not speak is the client's to change
}

_JSON: Final = (b"content-type", b"application/json")
_NOSNIFF: Final = (b"x-content-type-options", b"nosniff")
_HEALTHZ: Final = b'{"status":"ok"}'
_GET: Final = frozenset(("GET", "HEAD"))
_GET_POST: Final = frozenset(("GET", "HEAD", "POST"))
# A fixed message: whatever failed, its text may quote the request.
_INTERNAL_MESSAGE: Final = "Internal error"

_Headers = tuple[tuple[bytes, bytes], ...]
_Answer = tuple[int, bytes, _Headers]  # status, body, extra headers


def status_for(code: connector.ErrorCode | str | None) -> int:
    """The HTTP status of a dispatch envelope with this code under `http_status=True`.

    status_for(ErrorCode.RATE_LIMIT) == 429; status_for(None) == 200
    """
    return 200 if code is None else _STATUS_BY_CODE.get(str(code), 500)


def _too_large_message(limit: int) -> str:
    return f"Request body is larger than the limit of {limit} bytes"


class ConnectorApp:
    """The ASGI 3 app ``asgi()`` returns; stateless apart from cached documents."""

    def __init__(
        self,
        integration: connector.Integration,
        *,
        token: str | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        http_status: bool = False,
    ) -> None:
        self.integration = integration
        self.max_body_size = max_body_size
        self.http_status = http_status
        self._app_id = integration.app_id
        # The whole expected header value, compared in constant time; never logged.
        self._expected: bytes | None = b"Bearer " + token.encode() if token else None
        self._openapi: bytes | None = None
        self._unauthorized = self.error_body(401, "Missing or invalid bearer token")
        self._internal = self.error_body(500, _INTERNAL_MESSAGE)

    def error_body(self, status: int, message: str) -> bytes:
        """An error envelope for a failure found by the app or the server, by HTTP status."""
        code = _CODE_BY_STATUS.get(status, "bad_request" if status < 500 else "internal_error")
        return connector.error_envelope(self._app_id, connector.ErrorCode(code), message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await _lifespan(receive, send, self.integration)
                return
            # The ASGI spec: reject an unsupported protocol by raising.
            raise RuntimeError(f"unsupported ASGI scope type {kind!r}")
        # Everything a request runs - the capability above all - is contained: no
        # exception leaves the app, and none is logged but by its class.
        outcome = await _contain(partial(self._respond, scope, receive))
        if isinstance(outcome, BaseException):
            logger.error(
                "%s %s failed: %s; answered 500 internal_error",
                _clip(scope["method"]),
                _clip(scope["path"]),
                _describe(outcome),
            )
            outcome = (500, self._internal, ())
        if outcome is not None:
            await _send_json(send, *outcome)

    async def _respond(self, scope: Scope, receive: Receive) -> _Answer | None:
        """Route one request: its answer, or None when the client has gone."""
        path: str = scope["path"]
        method: str = scope["method"]
        if path == "/healthz":
            if method in _GET:
                return 200, _HEALTHZ, ()
            return self._not_allowed(method, path, b"GET, HEAD")
        if self._expected is not None and not self._authorized(scope["headers"]):
            # RFC 6750 section 3: a 401 names the scheme the client should use.
            return 401, self._unauthorized, ((b"www-authenticate", b"Bearer"),)
        if path == "/info":
            if method in _GET_POST:
                return 200, self.integration.info_json(), ()
            return self._not_allowed(method, path, b"GET, HEAD, POST")
        if path == "/openapi.json":
            if method in _GET:
                return 200, self.openapi_json(), ()
            return self._not_allowed(method, path, b"GET, HEAD")

        name = path[1:].replace("-", "_")
        if not path.startswith("/") or name not in self.integration.capabilities:
            return 404, self.error_body(404, f"No route for {_clip(method)} {_clip(path)}"), ()
        if method != "POST":
            return self._not_allowed(method, path, b"POST")
        request = await self._read_body(scope, receive)
        if request is None or isinstance(request, tuple):  # gone, or a 413 to answer
            return request
        response, code = await self.integration.dispatch_result(name, request)
        status = status_for(code) if self.http_status else 200
        return status, response, ()

    def _authorized(self, headers: Iterable[tuple[bytes, bytes]]) -> bool:
        expected = self._expected
        assert expected is not None
        for name, value in headers:
            if name == b"authorization":
                # RFC 7235: the scheme name is case-insensitive.
                scheme, _, credentials = value.partition(b" ")
                given = b"Bearer " + credentials.strip(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(given, expected)
        return False

    def _not_allowed(self, method: str, path: str, allow: bytes) -> _Answer:
        body = self.error_body(405, f"Method {_clip(method)} is not allowed for {path}")
        return 405, body, ((b"allow", allow),)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | _Answer | None:
        """The whole request body; a 413 answer past the limit; None if the client left."""
        limit = self.max_body_size
        for name, value in scope["headers"]:
            if name == b"content-length":
                # Refuse from the header, before reading a byte of the body.
                if value.isdigit() and int(value) > limit:
                    return self._too_large()
                break
        message = await receive()
        if message["type"] != "http.request":
            return None
        body: bytes = message.get("body", b"")
        size = len(body)
        if not message.get("more_body", False) and size <= limit:
            return body
        chunks = [body]
        while size <= limit and message.get("more_body", False):
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk: bytes = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return self._too_large()
        return b"".join(chunks)

    def _too_large(self) -> _Answer:
        return 413, self.error_body(413, _too_large_message(self.max_body_size)), ()

    def openapi_json(self) -> bytes:
        """The OpenAPI 3.1 document of every registered capability, built once."""
        if self._openapi is None:
            self._openapi = self.integration.openapi_json(
                with_token=self._expected is not None, http_status=self.http_status
            )
        return self._openapi


def asgi(
    integration: connector.Integration,
    *,
    token: str | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    http_status: bool = False,
) -> ConnectorApp:
    """A plain ASGI 3 app serving `integration` over HTTP.

    app = server.asgi(integration, token=os.environ.get("CONNECTOR_TOKEN"))
    # uvicorn my_connector.app:app --workers 4

    With `token`, every route but /healthz needs `Authorization: Bearer <token>`.
    Every dispatch envelope, error or not, is answered with 200, as the Lumos spec
    and its reference servers do; `http_status=True` answers an error envelope with
    the status of its code instead (see `status_for`). Routing errors keep their own
    status either way (404 path, 405 method, 413 body, 401 token), and a failure the
    connector did not turn into an envelope is a 500 `internal_error`.
    """
    return ConnectorApp(
        integration, token=token, max_body_size=max_body_size, http_status=http_status
    )


async def _send_json(
    send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    headers = [_JSON, (b"content-length", b"%d" % len(body)), _NOSNIFF, *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, integration: connector.Integration) -> None:
    # Nothing to set up (connections to the upstream are made on first use);
    # on shutdown, close the connections the integration's HTTP clients share.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            try:
                await integration.aclose_http()
            except Exception as exc:  # a pool that fails to close must not block shutdown
                logger.warning("closing upstream connections failed: %s", _describe(exc))
            await send({"type": "lifespan.shutdown.complete"})
            return


# ---- The built-in HTTP/1.1 server --------------------------------------------------
#
# One task per connection runs a loop: parse a request head with h11, call the app
# with receive/send bound to that request, write the response (framed here, not by
# h11: see _Exchange.send), repeat. Pipelined requests simply wait in the buffer.
# Timeouts are deadlines on the connection (a float, set per phase) that one
# watchdog task checks a few times a second, so the hot path pays no cancel scope
# per read or write.

_READ_SIZE: Final = 65536
_LINGER_SECONDS: Final = 2.0
_LINGER_BYTES: Final = 1 << 22
_ASGI_VERSION: Final = {"version": "3.0", "spec_version": "2.3"}
_HTTP_VERSIONS: Final = {b"1.1": "1.1", b"1.0": "1.0"}
_INF: Final = math.inf
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_REASONS: Final = {status.value: status.phrase.encode() for status in HTTPStatus}
# Response headers are the app's: check them as h11 would (RFC 9110 section 5.1 tokens,
# no control characters in values), so no app can split a response. Names seen valid
# are remembered; values are checked every time.
_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_BAD_VALUE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_GOOD_NAMES: Final[set[bytes]] = {b"content-type", b"content-length", b"x-content-type-options"}


def _check_header_name(name: bytes) -> None:
    if not isinstance(name, bytes) or _TOKEN.fullmatch(name) is None:
        raise RuntimeError(f"invalid response header name {name!r}")
    if len(_GOOD_NAMES) < 256:
        _GOOD_NAMES.add(name)


_now: Final = time.monotonic

_date_cache: tuple[int, bytes] = (0, b"")


def _date_header() -> bytes:
    # RFC 9110 section 6.6.1: an origin server with a clock sends Date. Cached per second.
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode())
    return _date_cache[1]


# h11's error texts quote the input they choke on (a request line with its query
# string, a header line with its bearer token): answers carry a fixed message by
# status instead, and nothing of h11's text is logged.
_PROTOCOL_MESSAGES: Final = {
    400: "Malformed HTTP request",
    431: "Request headers are too large",
    501: "Unsupported transfer coding",
}
_FRAMING_MESSAGE: Final = "Transfer-Encoding with Content-Length (or in HTTP/1.0) is refused"


def _protocol_error(exc: h11.RemoteProtocolError) -> tuple[int, str]:
    status = exc.error_status_hint
    return status, _PROTOCOL_MESSAGES.get(status, _PROTOCOL_MESSAGES[400])


def _default_error_body(status: int, message: str) -> bytes:
    return msgspec.json.encode({"error": {"status": status, "message": message}})


class Server:
    """The built-in HTTP/1.1 server for any ASGI 3 app; run it with ``await serve()``.

    server = Server(app, port=0, on_bound=lambda host, port: print(port))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        ...
        server.shutdown()

    Limits, with their defaults:

    * `max_header_bytes` 16384: the request line and headers (431 beyond it);
    * `max_body_bytes` 1 MiB (413 beyond it; None for no limit);
    * `idle_timeout` 5 s: for a first byte, on a new or a kept-alive connection;
    * `head_timeout` 10 s: from that byte until the request line and headers are in;
    * `request_timeout` 30 s: from that byte until the whole request is in (408);
    * `write_timeout` 30 s: for the client to take each write;
    * `max_connections` 1000: a connection beyond it is answered 503 at once and
      closed, so clients dribbling bytes can hold every slot only until their
      head is due;
    * `graceful_timeout` 10 s: for in-flight requests at shutdown.

    The server's own error bodies come from `error_body(status, message)`, by
    default the app's `error_body` when it has one (as apps from `asgi()` do),
    else a small JSON object. Their messages are fixed, or echo at most the first
    200 characters of the method and path, as access-log lines do. An exception
    the app raises - any kind, BaseException included - becomes a 500 (when the
    response has not begun) and closes that connection; it is logged by its class.
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        on_bound: Callable[[str, int], object] | None = None,
        max_header_bytes: int = 16384,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_SIZE,
        idle_timeout: float = 5.0,
        head_timeout: float = 10.0,
        request_timeout: float = 30.0,
        write_timeout: float = 30.0,
        max_connections: int = 1000,
        graceful_timeout: float = 10.0,
        access_log: bool = True,
        lifespan: bool = True,
        error_body: Callable[[int, str], bytes] | None = None,
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.on_bound = on_bound
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self.head_timeout = head_timeout
        self.request_timeout = request_timeout
        self.write_timeout = write_timeout
        self.max_connections = max_connections
        self.graceful_timeout = graceful_timeout
        self.access_log = access_log
        self.lifespan = lifespan
        hook = error_body or getattr(app, "error_body", None)
        self.error_body: Callable[[int, str], bytes] = hook or _default_error_body
        self.bound: tuple[str, int] | None = None
        self.shutting_down = False
        self.state: dict[str, Any] = {}
        self._connections: set[_Connection] = set()
        self._accept_scope: anyio.CancelScope | None = None
        # anyio objects need a running event loop: serve() creates them.
        self._all_closed: anyio.Event | None = None
        self._lifespan_in: Any = None
        self._lifespan_out: Any = None
        self._lifespan_events: dict[str, anyio.Event] = {}
        self._lifespan_failure: str | None = None

    # -- running --

    async def serve(
        self,
        *,
        install_signal_handlers: bool = False,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Bind, serve until `shutdown()` (or SIGINT/SIGTERM), then drain and return.

        Raises OSError when the address cannot be bound and RuntimeError when the
        app's lifespan startup fails.
        """
        self._all_closed = anyio.Event()
        # Bind first, so a busy port fails fast and plainly; connections wait in
        # the backlog until the app's startup is done.
        multi = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port)
        try:
            address = multi.listeners[0].extra(anyio.abc.SocketAttribute.local_address)
            self.bound = (str(address[0]), int(address[1]))
            async with anyio.create_task_group() as services:
                if install_signal_handlers:  # before anything is announced: no window
                    await services.start(self._watch_signals)
                if not self.lifespan or await self._lifespan_startup(services):
                    logger.info("Listening on http://%s", _format_address(*self.bound))
                    if self.on_bound is not None:
                        self.on_bound(*self.bound)
                    services.start_soon(self._watchdog)
                    task_status.started(self.bound)
                    await self._serve_until_shutdown(multi)
                    if self.lifespan:
                        await self._lifespan_shutdown()
                services.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await multi.aclose()
            for stream in (self._lifespan_out, self._lifespan_in):
                if stream is not None:
                    stream.close()
        # Raised out here, not inside the task group, which would wrap it in a group.
        if self._lifespan_failure is not None:
            raise RuntimeError(f"ASGI lifespan startup failed: {self._lifespan_failure}")
        logger.info("Server stopped")

    async def _serve_until_shutdown(self, multi: MultiListener[anyio.abc.SocketStream]) -> None:
        async with anyio.create_task_group() as connections:
            with anyio.CancelScope() as self._accept_scope:
                if self.shutting_down:
                    self._accept_scope.cancel()
                async with anyio.create_task_group() as acceptors:
                    for listener in multi.listeners:
                        acceptors.start_soon(self._accept_loop, listener, connections)
            # Shutting down. Stop listening, so new clients are refused at once (a load
            # balancer retries elsewhere) rather than queued; in-flight requests get
            # the grace period.
            with anyio.CancelScope(shield=True):
                await multi.aclose()
            if self._connections:
                logger.info(
                    "Waiting up to %.0f s for %d connection(s)",
                    self.graceful_timeout,
                    len(self._connections),
                )
                with anyio.move_on_after(self.graceful_timeout):
                    assert self._all_closed is not None
                    await self._all_closed.wait()
            connections.cancel_scope.cancel()

    async def _accept_loop(
        self, listener: anyio.abc.Listener[anyio.abc.SocketStream], tg: anyio.abc.TaskGroup
    ) -> None:
        assert isinstance(listener, anyio.abc.SocketListener)  # what TCP listeners are
        while True:
            try:
                stream = await listener.accept()
            except OSError as exc:  # EMFILE and friends: back off instead of spinning
                logger.warning("accept() failed: %s", exc)
                await anyio.sleep(0.1)
                continue
            if len(self._connections) >= self.max_connections:
                tg.start_soon(self._refuse_busy, stream)
            else:
                connection = _Connection(self, stream)
                self._connections.add(connection)
                tg.start_soon(connection.handle)

    def shutdown(self) -> None:
        """Stop accepting, close idle connections, let in-flight requests finish.

        Call it from the server's event loop (a task, or a BlockingPortal's call()).
        """
        if self.shutting_down:
            return
        self.shutting_down = True
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        for connection in list(self._connections):
            if connection.idle:
                connection.scope.cancel()
        if not self._connections and self._all_closed is not None:
            self._all_closed.set()

    def force_shutdown(self) -> None:
        """Drop every connection now, in-flight requests included."""
        self.shutdown()
        for connection in list(self._connections):
            connection.scope.cancel()

    def _closed(self, connection: _Connection) -> None:
        self._connections.discard(connection)
        if self.shutting_down and not self._connections and self._all_closed is not None:
            self._all_closed.set()

    async def _refuse_busy(self, stream: anyio.abc.SocketStream) -> None:
        body = self.error_body(503, "Too many connections; try again later")
        ended = (anyio.EndOfStream, anyio.BrokenResourceError, OSError)
        with anyio.move_on_after(1.0), contextlib.suppress(*ended):
            await stream.send(_raw_response(503, body))
            # Read what the client sent, so closing does not reset the connection.
            await stream.send_eof()
            while await stream.receive(_READ_SIZE):
                pass
        await _close_quietly(stream)

    async def _watchdog(self) -> None:
        # Connections keep their own deadline; this is the only timer that fires.
        shortest = min(
            1.0, self.idle_timeout, self.head_timeout, self.request_timeout, self.write_timeout
        )
        tick = max(0.02, shortest / 8)
        while True:
            await anyio.sleep(tick)
            now = _now()
            for connection in list(self._connections):
                if connection.deadline <= now:
                    connection.timed_out = True
                    connection.scope.cancel()

    async def _watch_signals(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        with contextlib.ExitStack() as stack:
            try:
                signals = stack.enter_context(
                    anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
                )
            except NotImplementedError:  # Windows: Ctrl-C raises KeyboardInterrupt instead
                task_status.started()
                return
            task_status.started()
            async for signum in signals:
                name = signal.Signals(signum).name
                if self.shutting_down:
                    logger.warning("Second %s: closing all connections", name)
                    self.force_shutdown()
                else:
                    logger.info("%s: shutting down gracefully", name)
                    self.shutdown()

    # -- lifespan --

    async def _lifespan_startup(self, services: anyio.abc.TaskGroup) -> bool:
        self._lifespan_out, self._lifespan_in = anyio.create_memory_object_stream[Message](2)
        self._lifespan_events = {"startup": anyio.Event(), "shutdown": anyio.Event()}
        services.start_soon(self._run_lifespan)
        await self._lifespan_out.send({"type": "lifespan.startup"})
        await self._lifespan_events["startup"].wait()
        return self._lifespan_failure is None

    async def _run_lifespan(self) -> None:
        scope = {"type": "lifespan", "asgi": _ASGI_VERSION, "state": self.state}
        call = partial(self.app, scope, self._lifespan_in.receive, self._lifespan_send)
        try:
            outcome = await _contain(call)
        finally:
            for event in self._lifespan_events.values():
                event.set()
        if isinstance(outcome, BaseException):
            # An app without lifespan support raises on the unknown scope type: fine.
            logger.debug("ASGI app does not support lifespan: %s", _describe(outcome))

    async def _lifespan_send(self, message: Message) -> None:
        kind = message["type"]
        phase = kind.split(".")[1]
        if kind.endswith(".failed"):
            self._lifespan_failure = str(message.get("message", ""))
        self._lifespan_events[phase].set()

    async def _lifespan_shutdown(self) -> None:
        if self._lifespan_events["shutdown"].is_set():
            return
        with anyio.move_on_after(self.graceful_timeout):
            await self._lifespan_out.send({"type": "lifespan.shutdown"})
            await self._lifespan_events["shutdown"].wait()


class _Connection:
    """One client socket: the request loop, its deadline, and the h11 state machine."""

    __slots__ = (
        "client",
        "deadline",
        "h11",
        "idle",
        "linger",
        "local",
        "on_timeout",
        "request_deadline",
        "scope",
        "server",
        "stream",
        "timed_out",
    )

    def __init__(self, server: Server, stream: anyio.abc.SocketStream) -> None:
        self.server = server
        self.stream = stream
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=server.max_header_bytes)
        self.scope = anyio.CancelScope()
        self.deadline = _now() + server.idle_timeout
        self.request_deadline = _INF  # from a request's first byte, for all of it to arrive
        self.idle = True
        self.timed_out = False
        self.linger = False
        # What a timeout answers: 408 while a request is arriving, else nothing.
        self.on_timeout = 0
        self.client = _address(stream, anyio.abc.SocketAttribute.remote_address)
        self.local = _address(stream, anyio.abc.SocketAttribute.local_address)

    async def handle(self) -> None:
        try:
            with self.scope:
                try:
                    await self._serve_requests()
                except h11.RemoteProtocolError as exc:
                    # Malformed HTTP: answer with h11's hint (400, 431...) and hang up.
                    await self.fail(*_protocol_error(exc))
                except Exception as exc:  # a bug here must cost one connection, not the server
                    logger.error(
                        "Unexpected %s on a connection from %s", _describe(exc), self.client
                    )
                    return
                if self.linger:
                    await self._linger()
            if self.timed_out and self.on_timeout:
                with anyio.move_on_after(1.0):
                    await self.fail(self.on_timeout, "Request not received in time")
        finally:
            self.server._closed(self)
            await _close_quietly(self.stream)

    async def receive_some(self) -> bytes:
        """The next bytes from the client; b"" at end of stream (h11's spelling)."""
        try:
            return await self.stream.receive(_READ_SIZE)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            return b""

    async def write(self, data: bytes) -> bool:
        """Send data within the write timeout; False if the client is gone."""
        deadline, on_timeout = self.deadline, self.on_timeout
        self.deadline, self.on_timeout = _now() + self.server.write_timeout, 0
        try:
            await self.stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            return False
        self.deadline = deadline
        # Once a response has begun, a timeout can no longer answer 408.
        self.on_timeout = on_timeout if data is _CONTINUE else 0
        return True

    async def fail(self, status: int, message: str, method: str = "-", path: str = "-") -> None:
        """Answer a request the server refuses itself, and arrange to close."""
        started = _now()
        body = self.server.error_body(status, message)
        await self.write(_raw_response(status, body))
        self.linger = True
        if self.server.access_log:
            _log_access(method, path, status, len(body), started)

    async def _serve_requests(self) -> None:
        server = self.server
        app = server.app
        while True:
            conn = self.h11
            event = conn.next_event()
            if event is h11.NEED_DATA:
                if server.shutting_down:
                    return
                self.idle = True
                self.deadline, self.on_timeout = _now() + server.idle_timeout, 0
                data = await self.receive_some()
                self.idle = False
                self._request_begins()
                conn.receive_data(data)
                event = conn.next_event()
                while event is h11.NEED_DATA:
                    conn.receive_data(await self.receive_some())
                    event = conn.next_event()
            else:  # a pipelined request, already buffered
                self._request_begins()
            self.deadline = self.request_deadline  # the head is in: the body may take longer
            if type(event) is not h11.Request:
                return  # ConnectionClosed: the client hung up between requests

            if event.http_version not in _HTTP_VERSIONS:  # RFC 9112 section 2.6
                await self.fail(505, "Only HTTP/1.0 and HTTP/1.1 are supported")
                return
            exchange = _Exchange(self, event)
            if exchange.head_size > server.max_header_bytes:
                await self.fail(431, _PROTOCOL_MESSAGES[431])
                return
            if exchange.framing_conflict:
                # RFC 9112 section 6.1: Transfer-Encoding beside Content-Length (or in
                # HTTP/1.0) is how requests are smuggled past a proxy that frames by the
                # other header. Refuse it, and close: what follows is no request to trust.
                await self.fail(400, _FRAMING_MESSAGE, exchange.method, exchange.path)
                return
            if not await exchange.check_length():
                return
            call = partial(app, exchange.asgi_scope(), exchange.receive, exchange.send)
            try:
                failure = await _contain(call)
            finally:
                exchange.finish()
            if failure is not None:
                started = exchange.head_sent or exchange.broken
                logger.error(
                    "ASGI app failed on %s %s: %s; %s",
                    _clip(exchange.method),
                    _clip(exchange.path),
                    _describe(failure),
                    "response cut short" if started else "answered 500",
                )
                if not started:
                    await self.fail(500, _INTERNAL_MESSAGE, exchange.method, exchange.path)
                return
            if exchange.broken or exchange.answered:
                return
            if not exchange.complete:
                if not exchange.head_sent:
                    await self.fail(500, "The app sent no response", exchange.method, exchange.path)
                return  # a response cut short: closing is the only way to say so
            if not exchange.keep_alive:
                # Connection: close, HTTP/1.0, shutting down, or a body the app left unread.
                self.linger = not exchange.body_done
                return
            # h11 parses; we write responses ourselves (see _Exchange.send), so instead
            # of h11's start_next_cycle() the next request gets a fresh parser, fed
            # whatever the client has already pipelined.
            data, closed = conn.trailing_data
            self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=server.max_header_bytes)
            if data:
                self.h11.receive_data(data)
            if closed:
                self.h11.receive_data(b"")

    def _request_begins(self) -> None:
        # A request's first byte is in: its head is due within head_timeout (a client
        # that dribbles one must not hold a connection slot for long), all of it
        # within request_timeout. Either way a timeout answers 408.
        now = _now()
        server = self.server
        self.request_deadline = now + server.request_timeout
        self.deadline = min(now + server.head_timeout, self.request_deadline)
        self.on_timeout = 408

    async def _linger(self) -> None:
        # Closing with unread input makes the kernel send RST, which can destroy the
        # response we just wrote before the client reads it. So half-close, then read
        # and discard for a bounded time and size (Apache's "lingering close").
        self.deadline, self.on_timeout = _now() + _LINGER_SECONDS, 0
        self.linger = False
        await self.stream.send_eof()
        drained = 0
        while drained < _LINGER_BYTES:
            data = await self.receive_some()
            if not data:
                return
            drained += len(data)


class _Exchange:
    """One request/response cycle: the ASGI receive and send callables and their state."""

    __slots__ = (
        "answered",
        "body_done",
        "broken",
        "chunked",
        "complete",
        "conn",
        "connection",
        "continued",
        "declared_length",
        "delivered",
        "disconnected",
        "framing_conflict",
        "head_sent",
        "head_size",
        "headers",
        "keep_alive",
        "logged",
        "method",
        "no_body",
        "path",
        "pending",
        "query",
        "raw_path",
        "received",
        "remaining",
        "request",
        "request_headers",
        "sent",
        "start_time",
        "status",
    )

    def __init__(self, connection: _Connection, request: h11.Request) -> None:
        self.connection = connection
        self.conn = connection.h11
        self.request = request
        self.start_time = _now()
        self.method = request.method.decode("ascii")
        raw_path, _, self.query = request.target.partition(b"?")
        if not raw_path.startswith(b"/") and b"://" in raw_path:
            # Absolute form (RFC 9112 section 3.2.2): keep only the path.
            raw_path = b"/" + raw_path.split(b"://", 1)[1].partition(b"/")[2]
        self.raw_path = raw_path
        # h11 has checked the target is visible ASCII; the access log shows it as sent.
        self.path = raw_path.decode("ascii")
        # Headers as ASGI wants them: lower-case names (h11 has lowered and validated them).
        self.request_headers = headers = list(request.headers)
        self.declared_length = -1
        # RFC 9112 section 9.3: HTTP/1.1 persists unless "Connection: close".
        self.keep_alive = request.http_version == b"1.1"
        # h11 bounds only a head still arriving; one that came whole is measured here,
        # the request line included ("GET / HTTP/1.1\r\n" is method + target + 12).
        self.head_size = len(request.method) + len(request.target) + 12
        coded = False
        for name, value in headers:
            self.head_size += len(name) + len(value) + 4
            if name == b"content-length":
                self.declared_length = int(value)
            elif name == b"transfer-encoding":
                coded = True
            elif name == b"connection" and b"close" in value.lower():
                self.keep_alive = False
        # h11 frames such a request by Transfer-Encoding alone; see _serve_requests.
        self.framing_conflict = coded and (
            self.declared_length >= 0 or request.http_version == b"1.0"
        )
        self.continued = False
        self.pending: list[bytes] = []  # body chunks taken from h11, not yet delivered
        self.received = 0
        self.body_done = False  # h11 has produced EndOfMessage
        self.delivered = False  # the app has had the last body message
        self.disconnected: anyio.Event | None = None
        self.status = 0  # set by http.response.start
        self.headers: Iterable[tuple[bytes, bytes]] = ()
        self.head_sent = False
        self.no_body = False  # HEAD, 1xx, 204, 304: headers only
        self.chunked = False
        self.remaining = -1  # body bytes still due under the response's content-length
        self.complete = False  # the whole response is written
        self.sent = 0
        self.broken = False  # the client went away or spoke bad HTTP mid-body
        self.answered = False  # the server answered itself (413, 400): app output dropped
        self.logged = False

    def asgi_scope(self) -> Scope:
        connection = self.connection
        request = self.request
        path = self.path
        return {
            "type": "http",
            "asgi": _ASGI_VERSION,
            "http_version": _HTTP_VERSIONS[request.http_version],
            "server": connection.local,
            "client": connection.client,
            "scheme": "http",
            "method": self.method,
            "root_path": "",
            "path": unquote(path) if "%" in path else path,
            "raw_path": self.raw_path,
            "query_string": self.query,
            "headers": self.request_headers,
            "state": dict(connection.server.state),
        }

    async def check_length(self) -> bool:
        """Refuse a declared body over the limit before reading any of it."""
        limit = self.connection.server.max_body_bytes
        if limit is not None and self.declared_length > limit:
            await self._answer(413, _too_large_message(limit))
            return False
        # Most request bodies arrive with their head: collect them now, so the
        # app's first receive() usually returns the whole body at once.
        self._pull_buffered()
        if self.body_done:
            self.connection.deadline, self.connection.on_timeout = _INF, 0
        return True

    async def _answer(self, status: int, message: str) -> Message:
        self.answered = True
        self.pending.clear()
        if not self.head_sent:
            await self.connection.fail(status, message, self.method, self.path)
        return {"type": "http.disconnect"}

    def _pull_buffered(self) -> None:
        # Move the body events h11 can produce without reading the socket into pending.
        conn = self.conn
        while not self.body_done:
            event = conn.next_event()
            kind = type(event)
            if kind is h11.Data:
                data = event.data  # type: ignore[union-attr]
                self.pending.append(data)
                self.received += len(data)
            elif kind is h11.EndOfMessage:
                self.body_done = True
            else:
                return  # NEED_DATA, or ConnectionClosed (seen again by receive)

    async def receive(self) -> Message:
        if self.answered or self.broken:
            return {"type": "http.disconnect"}
        if not (self.pending or self.body_done):
            if self.complete:
                return {"type": "http.disconnect"}
            try:
                await self._read_more()
            except h11.RemoteProtocolError as exc:
                return await self._answer(*_protocol_error(exc))
            if self.broken:
                return {"type": "http.disconnect"}
        limit = self.connection.server.max_body_bytes
        if limit is not None and self.received > limit:
            return await self._answer(413, _too_large_message(limit))
        if self.pending or not self.delivered:
            pending = self.pending
            body = pending[0] if len(pending) == 1 else b"".join(pending)
            self.pending = []
            self.delivered = self.body_done
            return {"type": "http.request", "body": body, "more_body": not self.body_done}
        # ASGI: after the body, receive() waits until the response is done or the
        # client is gone, then reports http.disconnect.
        if not self.complete:
            if self.disconnected is None:
                self.disconnected = anyio.Event()
            await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _read_more(self) -> None:
        connection = self.connection
        conn = self.conn
        if conn.they_are_waiting_for_100_continue and not self.continued:
            self.continued = True  # RFC 9110 section 10.1.1: the app wants the body
            if not await connection.write(_CONTINUE):
                self.broken = True
                return
        while True:
            self._pull_buffered()
            if self.pending or self.body_done:
                break
            connection.deadline = connection.request_deadline
            connection.on_timeout = 0 if self.head_sent else 408
            data = await connection.receive_some()
            if not data:
                self.broken = True
                return
            conn.receive_data(data)
        if self.body_done:
            connection.deadline, connection.on_timeout = _INF, 0

    async def send(self, message: Message) -> None:
        if self.broken or self.answered:
            return  # the client is gone or was answered: the app's output is dropped
        kind = message["type"]
        if kind == "http.response.start":
            if self.status:
                raise RuntimeError("http.response.start sent twice")
            self.status = int(message["status"])
            self.headers = message.get("headers", ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        if not self.status:
            raise RuntimeError("http.response.body before http.response.start")
        if self.complete:
            raise RuntimeError("http.response.body after the response was complete")
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        parts: list[bytes] = []
        if not self.head_sent:
            parts.append(self._head(None if more else len(body)))
        if body and not self.no_body:
            size = len(body)
            if self.chunked:
                parts += (b"%x\r\n" % size, body, b"\r\n")
            else:
                if self.remaining >= 0:
                    self.remaining -= size
                    if self.remaining < 0:
                        self.keep_alive = False
                        raise RuntimeError("response body longer than its content-length")
                parts.append(body)
            self.sent += size
        if not more:
            if self.chunked:
                parts.append(b"0\r\n\r\n")
            elif self.remaining > 0:
                # The client waits for bytes that will not come; closing tells it.
                logger.warning(
                    "Response to %s %s shorter than its content-length",
                    _clip(self.method),
                    _clip(self.path),
                )
                self.keep_alive = False
            self.complete = True
        self.head_sent = True  # only now: until here a failure can still become a 500
        if parts and not await self.connection.write(
            parts[0] if len(parts) == 1 else b"".join(parts)
        ):
            self.broken = True
        if self.complete:
            self.finish()

    def _head(self, final_length: int | None) -> bytes:
        """Status line and headers; decides the body's framing and keep-alive."""
        status = self.status
        lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))]
        length = -1
        has_date = False
        for name, value in self.headers:
            if name not in _GOOD_NAMES:
                _check_header_name(name)
            if _BAD_VALUE.search(value) is not None:
                raise RuntimeError(f"invalid value for response header {name!r}")
            lower = name.lower()
            if lower == b"content-length":
                if not value.isdigit():
                    raise RuntimeError(f"invalid content-length {value!r}")
                length = int(value)
            elif lower == b"transfer-encoding":
                continue  # the framing is ours to choose
            elif lower == b"connection":
                if b"close" in value.lower():
                    self.keep_alive = False
                continue
            elif lower == b"date":
                has_date = True
            lines += (name, b": ", value, b"\r\n")
        if self.method == "HEAD" or status < 200 or status in (204, 304):
            self.no_body = True
        elif length >= 0:
            self.remaining = length
        elif final_length is not None:  # the whole body in one message: say its length
            self.remaining = final_length
            lines.append(b"content-length: %d\r\n" % final_length)
        elif self.request.http_version == b"1.1":
            self.chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
        else:
            self.keep_alive = False  # HTTP/1.0: the end of the body is the end of the connection
        if not has_date:
            lines += (b"date: ", _date_header(), b"\r\n")
        if self.keep_alive and not self.body_done:
            # A body the app has not read yet may already be buffered: take it, since
            # keep-alive needs the whole request read.
            with contextlib.suppress(h11.RemoteProtocolError):
                self._pull_buffered()
        if self.connection.server.shutting_down or not self.body_done:
            self.keep_alive = False
        if not self.keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def finish(self) -> None:
        """Wake a receive() waiting for the end of the response; log it once."""
        if self.disconnected is not None:
            self.disconnected.set()
        if self.head_sent and not self.logged:
            self.logged = True
            if self.connection.server.access_log:
                _log_access(self.method, self.path, self.status, self.sent, self.start_time)


def _log_access(method: str, path: str, status: int, size: int, started: float) -> None:
    # Method, path without query, status, body bytes, duration: never a header or body,
    # and no more of a method or path than _clip keeps.
    if access_logger.isEnabledFor(logging.INFO):
        duration = (_now() - started) * 1000
        access_logger.info("%s %s %d %d %.2fms", _clip(method), _clip(path), status, size, duration)


def _raw_response(status: int, body: bytes) -> bytes:
    """A complete response the server writes itself, always closing the connection."""
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"x-content-type-options: nosniff\r\ndate: %s\r\nconnection: close\r\n\r\n"
    ) % (status, _REASONS.get(status, b""), len(body), _date_header())
    return head + body


def _address(stream: anyio.abc.SocketStream, attribute: Any) -> tuple[str, int] | None:
    try:
        address = stream.extra(attribute)
    except (anyio.TypedAttributeLookupError, OSError):
        return None
    if isinstance(address, tuple):
        return (str(address[0]), int(address[1]))
    return None


def _format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def _close_quietly(stream: anyio.abc.SocketStream) -> None:
    with anyio.CancelScope(shield=True):
        with contextlib.suppress(anyio.BrokenResourceError, OSError):
            await stream.aclose()


def serve(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    install_signal_handlers: bool = True,
    backend: str = "asyncio",
    **options: Any,
) -> int:
    """Serve `app` until SIGINT/SIGTERM, then shut down gracefully; returns 0.

    server.serve(server.asgi(integration), port=8000, max_connections=200)

    `options` are those of `Server` (limits, timeouts, `on_bound`, `access_log`).
    """
    instance = Server(app, host, port, **options)
    anyio.run(
        partial(instance.serve, install_signal_handlers=install_signal_handlers), backend=backend
    )
    return 0


# ---- Entry point for `python -m connector serve` ----------------------------------


# A token no request could send: a header value holds no line break or control byte.
_BAD_TOKEN: Final = re.compile(r"[\x00-\x1f\x7f]")


def read_token(token: str | None = None, token_file: str | None = None) -> str | None:
    """The bearer token to require: `token`, else `token_file`'s text, else $CONNECTOR_TOKEN.

    token = server.read_token(args.token, args.token_file)   # None: no token anywhere

    The file is read as UTF-8 and stripped. A file that cannot be read, is not
    UTF-8 or holds only whitespace raises ValueError, and so does a token with a
    line break or control character inside, which no request could send: asked
    for authentication, the server must refuse to start rather than run without
    it. An empty `token` is returned as given (`run()` warns); an empty or blank
    variable means no token. Messages name the file, never the token.
    """
    if token is not None:
        source = "the token given"
    elif token_file is not None:
        source = f"token file {token_file}"
        try:
            # utf-8-sig: an editor's byte-order mark is no part of the token.
            with open(token_file, encoding="utf-8-sig") as file:
                text = file.read()
        except UnicodeDecodeError:
            raise ValueError(f"{source} is not UTF-8 text") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ValueError(f"cannot read {source}: {reason}") from None
        token = text.strip()
        if not token:
            raise ValueError(f"{source} is empty")
    else:
        source = f"${TOKEN_ENV}"
        token = os.environ.get(TOKEN_ENV, "").strip() or None
    if token is not None and _BAD_TOKEN.search(token) is not None:
        raise ValueError(f"{source} holds a line break or control character")
    return token


def run(
    integration: connector.Integration,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    max_body_size: int | None = None,
    *,
    http_status: bool = False,
    token_file: str | None = None,
) -> int:
    """Serve `integration` with the built-in server; the exit code when it stops.

    raise SystemExit(server.run(integration, port=8000))

    The token is `read_token(token, token_file)`: `token`, else the file's text,
    else $CONNECTOR_TOKEN (empty means none); a token file that cannot be used
    stops it before serving (exit 2). `http_status` is `asgi()`'s. Logs to stderr
    at INFO unless logging is already configured.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
        )
    try:
        token = read_token(token, token_file)
    except ValueError as exc:
        logger.error("Not serving: %s", exc)
        return 2
    if token == "":
        logger.warning("The token given is empty: serving without authentication")
    token = token or None
    limit = DEFAULT_MAX_BODY_SIZE if max_body_size is None else max_body_size
    app = asgi(integration, token=token, max_body_size=limit, http_status=http_status)
    logger.info(
        "Serving connector %s %s (%s)",
        integration.app_id,
        integration.version,
        "bearer token required" if token else "no token: bind to a trusted interface only",
    )
    try:
        return serve(app, host, port, max_body_bytes=limit)
    except OSError as exc:
        logger.error("Cannot serve on %s: %s", _format_address(host, port), exc)
        return 1
    except RuntimeError as exc:
        logger.error("%s", exc)
        return 1


if __name__ == "__main__":
    # `python -m server` used to import this module and exit 0, silently.
    sys.stderr.write(
        "server.py is a library module: serve a connector with\n"
        "  python -m connector serve path/to/connector.py [--port 8000]\n"
    )
    raise SystemExit(2)
