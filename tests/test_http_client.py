"""The HTTP client: every feature against MockTransport, failures against real sockets."""

from __future__ import annotations

import contextlib
import email.utils
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpcore
import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import connector
from connector import (
    ConnectorError,
    ErrorCode,
    HTTPClient,
    HTTPStatusError,
    MockTransport,
    Request,
    Response,
    TransportError,
    _classify_transport_exception,
)

pytestmark = pytest.mark.anyio


class Recorder:
    """A MockTransport handler that records requests and plays canned responses."""

    def __init__(self, *responses: Response) -> None:
        self.responses = list(responses) or [Response(200, json={"ok": True})]
        self.requests: list[Request] = []

    def __call__(self, request: Request) -> Response:
        self.requests.append(request)
        if len(self.responses) > 1:
            return self.responses.pop(0)
        return self.responses[0]


def mock_client(*responses: Response, **kwargs: Any) -> tuple[HTTPClient, Recorder]:
    recorder = Recorder(*responses)
    return HTTPClient(transport=MockTransport(recorder), **kwargs), recorder


# ---- URLs, params, bodies, headers ------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("https://api.example.com", "/users", "https://api.example.com/users"),
        ("https://api.example.com/v2", "/users", "https://api.example.com/v2/users"),
        ("https://api.example.com/v2/", "users/1", "https://api.example.com/v2/users/1"),
        ("https://api.example.com/v2", "", "https://api.example.com/v2"),
        ("https://api.example.com/v2", "https://other.example/x", "https://other.example/x"),
        ("", "https://other.example/a b", "https://other.example/a%20b"),
        ("https://h.example", "/caf\u00e9/%41", "https://h.example/caf%C3%A9/%41"),
    ],
)
async def test_base_url_joining(base: str, url: str, expected: str) -> None:
    client, rec = mock_client(base_url=base)
    await client.get(url)
    assert rec.requests[0].url == expected


async def test_query_params_encoding_and_repeats() -> None:
    client, rec = mock_client(base_url="https://h.example", params={"api": "v1"})
    await client.get(
        "/search?fixed=1",
        params={"q": "a b&c=d/e?#", "id": [1, 2], "flag": True, "skip": None, "u": "\u00e9"},
    )
    url = rec.requests[0].url
    assert url == (
        "https://h.example/search?fixed=1&api=v1&q=a%20b%26c%3Dd%2Fe%3F%23"
        "&id=1&id=2&flag=true&u=%C3%A9"
    )
    assert rec.requests[0].params == [
        ("fixed", "1"),
        ("api", "v1"),
        ("q", "a b&c=d/e?#"),
        ("id", "1"),
        ("id", "2"),
        ("flag", "true"),
        ("u", "\u00e9"),
    ]


async def test_params_as_list_of_pairs() -> None:
    client, rec = mock_client()
    await client.get("http://h.example/x", params=[("a", 1), ("a", "2"), ("b", 1.5)])
    assert rec.requests[0].params == [("a", "1"), ("a", "2"), ("b", "1.5")]


async def test_json_body() -> None:
    client, rec = mock_client()
    await client.post("http://h.example/users", json={"name": "x", "n": [1, None]})
    req = rec.requests[0]
    assert req.method == "POST"
    assert msgspec.json.decode(req.content) == {"name": "x", "n": [1, None]}
    assert req.headers["content-type"] == "application/json"
    assert req.headers["Content-Length"] == str(len(req.content))


async def test_form_body() -> None:
    client, rec = mock_client()
    await client.put("http://h.example/f", data={"a": "x y", "b": ["1", "2"], "c": "&="})
    req = rec.requests[0]
    assert req.content == b"a=x+y&b=1&b=2&c=%26%3D"
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"


async def test_raw_content_and_one_body_only() -> None:
    client, rec = mock_client()
    await client.patch("http://h.example/p", content="h\u00e9", headers={"Content-Type": "text/x"})
    assert rec.requests[0].content == "h\u00e9".encode()
    assert rec.requests[0].headers["content-type"] == "text/x"
    with pytest.raises(ValueError, match="at most one"):
        await client.post("http://h.example/p", json={}, data={"a": "b"})


async def test_post_without_body_sends_content_length_zero() -> None:
    client, rec = mock_client()
    await client.post("http://h.example/p")
    await client.get("http://h.example/g")
    assert rec.requests[0].headers["content-length"] == "0"
    assert "content-length" not in rec.requests[1].headers


async def test_default_and_request_headers() -> None:
    client, rec = mock_client(
        base_url="https://h.example:8443", headers={"X-Team": "a", "Accept": "text/csv"}
    )
    await client.delete("/u", headers={"x-team": "b", "X-Other": "c"})
    headers = rec.requests[0].headers
    assert headers["X-Team"] == "b"
    assert headers.get_list("x-team") == ["b"]
    assert headers["accept"] == "text/csv"
    assert headers["x-other"] == "c"
    assert headers["host"] == "h.example:8443"
    assert "user-agent" in headers
    assert rec.requests[0].method == "DELETE"


async def test_host_header_omits_default_port() -> None:
    client, rec = mock_client()
    await client.get("https://h.example:443/")
    await client.get("http://[::1]:8080/")
    assert rec.requests[0].headers["host"] == "h.example"
    assert rec.requests[1].headers["host"] == "[::1]:8080"


async def test_bearer_and_basic_auth() -> None:
    client, rec = mock_client(bearer_token="tok-123")
    await client.get("http://h.example/")
    assert rec.requests[0].headers["authorization"] == "Bearer tok-123"
    client, rec = mock_client(basic_auth=("al\u00ef", "p:w"))
    await client.get("http://h.example/")
    # base64("alï:p:w") in UTF-8 (RFC 7617 §2.1)
    assert rec.requests[0].headers["authorization"] == "Basic YWzDrzpwOnc="
    with pytest.raises(ValueError, match="not both"):
        HTTPClient(bearer_token="a", basic_auth=("b", "c"))


async def test_reprs_hide_secrets() -> None:
    client, rec = mock_client(bearer_token="supersecret")
    await client.get("http://h.example/p?token=supersecret")
    text = repr(rec.requests[0]) + repr(rec.requests[0].headers)
    assert "supersecret" not in text
    assert repr(rec.requests[0]) == "<Request GET /p>"


async def test_async_handler_and_context_manager() -> None:
    async def handler(request: Request) -> Response:
        await anyio.sleep(0)
        return Response(201, text="made")

    async with HTTPClient(transport=MockTransport(handler)) as client:
        response = await client.post("http://h.example/x", json=[])
    assert response.status_code == 201
    assert response.text == "made"
    assert response.request is not None
    assert response.request.path == "/x"


# ---- Responses ---------------------------------------------------------------


def test_response_accessors() -> None:
    response = Response(
        200,
        headers=[
            ("Content-Type", "text/plain; charset=latin-1"),
            ("Set-Cookie", "a"),
            ("set-cookie", "b"),
        ],
        content="caf\u00e9".encode("latin-1"),
    )
    assert response.text == "caf\u00e9"
    assert response.headers["SET-COOKIE"] == "a, b"
    assert response.headers.get_list("set-cookie") == ["a", "b"]
    assert response.is_success
    assert Response(200, json={"a": [1]}).json() == {"a": [1]}
    assert Response(200, json=None).content == b"null"
    assert not Response(302).is_success
    assert Response(302).raise_for_status().status_code == 302


def test_unknown_charset_falls_back_to_utf8() -> None:
    response = Response(200, headers={"content-type": "text/plain; charset=nope"}, content=b"ok")
    assert response.text == "ok"


async def test_invalid_json_is_invalid_response() -> None:
    client, _ = mock_client(Response(200, text="<html>secret-body</html>"))
    response = await client.get("http://h.example/users?key=hidden")
    with pytest.raises(ConnectorError) as info:
        response.json()
    assert info.value.error_code == ErrorCode.INVALID_RESPONSE
    assert str(info.value) == "Response to GET /users is not valid JSON"


@pytest.mark.parametrize(
    ("method", "status", "message"),
    [
        ("GET", 404, "Client error 404 for GET /users/42"),
        ("POST", 503, "Server error 503 for POST /token"),
        ("PATCH", 400, "Client error 400 for PATCH /token"),
    ],
)
async def test_raise_for_status_message(method: str, status: int, message: str) -> None:
    path = message.rsplit(" ", 1)[1]
    client, _ = mock_client(Response(status, text="body-secret"), retries=0)
    response = await client.request(
        method,
        f"https://h.example{path}?api_key=query-secret",
        headers={"Authorization": "Bearer header-secret"},
        json={"password": "body-secret"},
    )
    with pytest.raises(HTTPStatusError) as info:
        response.raise_for_status()
    assert str(info.value) == message
    assert info.value.response.status_code == status
    assert info.value.request is response.request


# ---- Retries -----------------------------------------------------------------


class FakeTime:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def timed_client(*responses: Response, **kwargs: Any) -> tuple[HTTPClient, Recorder, FakeTime]:
    fake = FakeTime()
    client, rec = mock_client(*responses, sleep=fake.sleep, clock=fake.clock, **kwargs)
    return client, rec, fake


async def test_retry_after_seconds() -> None:
    client, rec, fake = timed_client(
        Response(429, headers={"Retry-After": "2"}),
        Response(503, headers={"Retry-After": "0"}),
        Response(200, json=[]),
    )
    response = await client.get("http://h.example/x")
    assert response.status_code == 200
    assert fake.sleeps == [2.0, 0.0]
    assert len(rec.requests) == 3


async def test_retry_after_http_date() -> None:
    fake = FakeTime()
    date = email.utils.formatdate(fake.now + 7, usegmt=True)
    rec = Recorder(Response(503, headers={"retry-after": date}), Response(200))
    client = HTTPClient(transport=MockTransport(rec), sleep=fake.sleep, clock=fake.clock)
    assert (await client.get("http://h.example/")).status_code == 200
    assert fake.sleeps == [7.0]


async def test_retry_after_date_in_the_past_retries_at_once() -> None:
    past = email.utils.formatdate(1_000_000_000, usegmt=True)
    client, _, fake = timed_client(Response(429, headers={"Retry-After": past}), Response(200))
    assert (await client.get("http://h.example/")).status_code == 200
    assert fake.sleeps == [0.0]


async def test_missing_or_bad_retry_after_backs_off() -> None:
    client, _, fake = timed_client(
        Response(503), Response(503, headers={"Retry-After": "soon"}), Response(200)
    )
    assert (await client.get("http://h.example/")).status_code == 200
    assert fake.sleeps == [0.5, 1.0]


async def test_retries_bounded_in_count() -> None:
    client, rec, fake = timed_client(Response(503, headers={"Retry-After": "1"}), retries=2)
    response = await client.put("http://h.example/x", json={})
    assert response.status_code == 503
    assert len(rec.requests) == 3
    assert fake.sleeps == [1.0, 1.0]


async def test_retries_bounded_in_total_wait() -> None:
    client, rec, fake = timed_client(
        Response(429, headers={"Retry-After": "20"}), max_retry_wait=30.0
    )
    response = await client.get("http://h.example/x")
    assert response.status_code == 429
    assert fake.sleeps == [20.0]
    assert len(rec.requests) == 2


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_non_idempotent_methods_are_not_retried(method: str) -> None:
    client, rec, fake = timed_client(Response(503, headers={"Retry-After": "1"}))
    assert (await client.request(method, "http://h.example/x")).status_code == 503
    assert len(rec.requests) == 1
    assert fake.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 404])
async def test_other_statuses_are_not_retried(status: int) -> None:
    client, rec, _ = timed_client(Response(status, headers={"Retry-After": "1"}))
    assert (await client.get("http://h.example/x")).status_code == status
    assert len(rec.requests) == 1


async def test_send_without_retry() -> None:
    client, rec, _ = timed_client(Response(503, headers={"Retry-After": "1"}))
    request = client.build_request("GET", "http://h.example/x")
    assert (await client.send(request, retry=False)).status_code == 503
    assert len(rec.requests) == 1


# ---- Transport failures ------------------------------------------------------


async def test_deadline_with_mock_transport() -> None:
    async def slow(request: Request) -> Response:
        await anyio.sleep(10)
        return Response(200)

    client = HTTPClient(transport=MockTransport(slow), deadline=0.05)
    with pytest.raises(TransportError) as info:
        await client.get("http://h.example/slow?x=secret")
    assert info.value.error_code == ErrorCode.REQUEST_TIMEOUT
    assert str(info.value) == "Deadline of 0.05s exceeded for GET http://h.example:80/slow"


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (
            httpcore.ConnectTimeout("x"),
            "connection_timeout",
            "Connection timed out for GET http://h.example:80/u",
        ),
        (
            httpcore.ConnectError("x"),
            "connection_rejected",
            "Connection failed for GET http://h.example:80/u",
        ),
        (
            httpcore.ReadTimeout("x"),
            "request_timeout",
            "Timed out reading the response for GET http://h.example:80/u",
        ),
        (
            httpcore.WriteTimeout("x"),
            "request_timeout",
            "Timed out sending the request for GET http://h.example:80/u",
        ),
        (
            httpcore.PoolTimeout("x"),
            "request_timeout",
            "Timed out waiting for a free connection for GET http://h.example:80/u",
        ),
        (
            httpcore.ReadError("x"),
            "connection_closed",
            "Connection closed while reading the response for GET http://h.example:80/u",
        ),
        (
            httpcore.RemoteProtocolError("x"),
            "connection_closed",
            "Connection closed or invalid response for GET http://h.example:80/u",
        ),
        (
            httpcore.UnsupportedProtocol("x"),
            "client_call_error",
            "Unsupported URL scheme for GET http://h.example:80/u",
        ),
    ],
)
async def test_httpcore_errors_are_translated(exc: Exception, code: str, message: str) -> None:
    def handler(request: Request) -> Response:
        raise exc

    client = HTTPClient(transport=MockTransport(handler))
    with pytest.raises(TransportError) as info:
        await client.get("http://h.example/u?secret=1")
    assert info.value.error_code == code
    assert str(info.value) == message
    assert info.value.__cause__ is exc
    assert _classify_transport_exception(exc) == code


def test_classify_transport_exception() -> None:
    class Custom(httpcore.ReadTimeout):
        pass

    assert _classify_transport_exception(Custom()) == ErrorCode.REQUEST_TIMEOUT
    assert _classify_transport_exception(httpcore.WriteError()) == ErrorCode.CONNECTION_CLOSED
    assert _classify_transport_exception(httpcore.ProxyError()) == ErrorCode.CONNECTION_REJECTED
    assert _classify_transport_exception(TimeoutError()) is None
    assert _classify_transport_exception(ValueError()) is None

    # Classified by module and name alone, so no httpcore import is needed.
    fake = type("ConnectTimeout", (Exception,), {"__module__": "httpcore._exceptions"})
    assert _classify_transport_exception(fake()) == ErrorCode.CONNECTION_TIMEOUT
    fake = type("ConnectTimeout", (Exception,), {"__module__": "mylib"})
    assert _classify_transport_exception(fake()) is None


def test_import_is_light() -> None:
    module = HTTPClient.__module__
    heavy = "{'httpcore', 'h11', 'anyio', 'ssl'}"
    code = f"import sys, {module}; print(sorted({heavy} & set(sys.modules)))"
    root = Path(sys.modules[module].__file__ or "").parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"


@contextlib.contextmanager
def raw_server(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that runs `serve(conn)` per connection; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()
        for conn in conns:
            conn.close()


def read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


async def test_real_round_trip() -> None:
    seen: list[bytes] = []

    def serve(conn: socket.socket) -> None:
        seen.append(read_head(conn))
        body = b'{"id": 42}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Trace: t\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )

    with raw_server(serve) as port:
        async with HTTPClient(f"http://127.0.0.1:{port}/api", bearer_token="tok") as client:
            response = await client.get("/users", params={"q": "a b"})
    assert response.status_code == 200
    assert response.json() == {"id": 42}
    assert response.headers["x-trace"] == "t"
    head = seen[0].decode()
    assert head.startswith("GET /api/users?q=a%20b HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n" in head
    assert "Authorization: Bearer tok\r\n" in head


async def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HTTPClient(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError) as info:
        await client.get("/users?token=secret")
    assert info.value.error_code == ErrorCode.CONNECTION_REJECTED
    assert str(info.value) == f"Connection refused for GET http://127.0.0.1:{port}/users"


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs")
async def test_connect_timeout_when_backlog_is_full() -> None:
    # Linux drops SYNs to a listener whose accept queue is full, so connect hangs.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        for filler in fillers:
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
        try:
            client = HTTPClient(f"http://127.0.0.1:{port}", connect_timeout=0.2, read_timeout=0.2)
            with pytest.raises(TransportError) as info:
                await client.get("/x")
        finally:
            for filler in fillers:
                filler.close()
    assert info.value.error_code == ErrorCode.CONNECTION_TIMEOUT
    assert str(info.value) == f"Connection timed out for GET http://127.0.0.1:{port}/x"


async def test_closed_mid_response() -> None:
    def serve(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf a bo")
        conn.close()

    with raw_server(serve) as port:
        async with HTTPClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(TransportError) as info:
                await client.get("/users")
    assert info.value.error_code == ErrorCode.CONNECTION_CLOSED
    assert str(info.value).endswith(f" for GET http://127.0.0.1:{port}/users")


async def test_closed_before_any_response() -> None:
    def serve(conn: socket.socket) -> None:
        read_head(conn)
        conn.close()

    with raw_server(serve) as port:
        async with HTTPClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(TransportError) as info:
                await client.post("/token", data={"code": "c"})
    assert info.value.error_code == ErrorCode.CONNECTION_CLOSED


async def test_garbage_response_is_connection_closed() -> None:
    def serve(conn: socket.socket) -> None:
        read_head(conn)
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        conn.close()

    with raw_server(serve) as port:
        async with HTTPClient(f"http://127.0.0.1:{port}") as client:
            with pytest.raises(TransportError) as info:
                await client.get("/x")
    assert info.value.error_code == ErrorCode.CONNECTION_CLOSED


async def test_server_that_never_answers_hits_read_timeout() -> None:
    def serve(conn: socket.socket) -> None:
        read_head(conn)
        time.sleep(2)

    with raw_server(serve) as port:
        async with HTTPClient(f"http://127.0.0.1:{port}", read_timeout=0.2) as client:
            with pytest.raises(TransportError) as info:
                await client.get("/slow")
    assert info.value.error_code == ErrorCode.REQUEST_TIMEOUT
    assert str(info.value) == f"Timed out reading the response for GET http://127.0.0.1:{port}/slow"


async def test_trickling_server_hits_deadline() -> None:
    # Each byte arrives well within the read timeout; the whole never does.
    def serve(conn: socket.socket) -> None:
        read_head(conn)
        with contextlib.suppress(OSError):
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 1000:
                conn.sendall(bytes([byte]))
                time.sleep(0.02)

    with raw_server(serve) as port:
        client = HTTPClient(f"http://127.0.0.1:{port}", read_timeout=1.0, deadline=0.3)
        async with client:
            started = time.monotonic()
            with pytest.raises(TransportError) as info:
                await client.get("/trickle")
    assert time.monotonic() - started < 1.5
    assert info.value.error_code == ErrorCode.REQUEST_TIMEOUT
    assert str(info.value) == f"Deadline of 0.3s exceeded for GET http://127.0.0.1:{port}/trickle"


# ---- Properties --------------------------------------------------------------

param_text = st.text(st.characters(codec="utf-8"), max_size=12)


@given(st.lists(st.tuples(param_text.filter(bool), param_text), max_size=6))
@example([("a&b", "c=d"), ("+", " "), ("#", "?/%")])
def test_query_params_round_trip(pairs: list[tuple[str, str]]) -> None:
    """Whatever the keys and values, the server decodes exactly the pairs we were given."""
    request = HTTPClient("https://h.example/base").build_request("GET", "/p", params=pairs)
    assert request.params == pairs
    assert request.path == "/base/p"


@given(secret=st.text(min_size=8, max_size=20), status=st.integers(400, 599))
def test_status_error_message_never_has_query_headers_or_body(secret: str, status: int) -> None:
    """raise_for_status names method and path only, whatever the query, headers or body hold."""
    client = HTTPClient("https://h.example", bearer_token=secret)
    request = client.build_request("POST", "/v1/items", params={"k": secret}, json={"s": secret})
    response = Response(status, json={"error": secret}, request=request)
    with pytest.raises(HTTPStatusError) as info:
        response.raise_for_status()
    assert str(info.value).endswith(" for POST /v1/items")
    assert secret not in str(info.value)


# ---- Options added for real upstreams ----------------------------------------


def test_timeout_sets_connect_read_write_and_pool() -> None:
    client = HTTPClient(timeout=2.5)
    assert client._timeouts == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}
    client = HTTPClient(connect_timeout=1.0, read_timeout=4.0)
    assert client._timeouts == {"connect": 1.0, "read": 4.0, "write": 4.0, "pool": 1.0}
    assert HTTPClient(timeout=None)._timeouts["read"] is None


async def test_429_to_a_post_is_retried_503_is_not() -> None:
    client, rec, fake = timed_client(
        Response(429, headers={"Retry-After": "2"}), Response(201), Response(503)
    )
    assert (await client.post("http://h.example/x", json={})).status_code == 201
    assert (await client.post("http://h.example/x", json={})).status_code == 503
    assert len(rec.requests) == 3
    assert fake.sleeps == [2.0]


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://api.example.com/v2/x?q=1", "https://api.example.com:443"),
        ("http://u:p@127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("http://[::1]/x", "http://[::1]:80"),
        ("/relative", ""),
    ],
)
def test_url_origin_has_no_userinfo_or_query(url: str, origin: str) -> None:
    assert connector._url_origin(url) == origin


async def test_a_client_outside_any_integration_keeps_its_own_limiter() -> None:
    client, rec, fake = timed_client(
        Response(200, headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}),
        Response(200),
    )
    await client.get("http://h.example/a")
    await client.get("http://h.example/b")
    assert fake.sleeps == [5.0]
    assert len(rec.requests) == 2


def test_request_json_for_assertions() -> None:
    request = HTTPClient().build_request("POST", "http://h.example/", json={"a": [1]})
    assert request.json() == {"a": [1]}
    assert Request("GET", "http://h.example/").json() is None
