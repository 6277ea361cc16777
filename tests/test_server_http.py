"""server.Server: HTTP/1.1 behaviour with tiny inline ASGI apps over real sockets."""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from _srv_util import Running, ServerClosed, build_request, call, running, wait_until

import server
from server import Receive, Scope, Send

pytestmark = pytest.mark.anyio

# ---- Inline apps ----------------------------------------------------------------------


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers what it was asked: method, path, query, body, client port, header names."""
    if scope["type"] == "lifespan":
        return  # no lifespan support: the server must cope
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    answer = json.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "body": body.decode("latin-1"),
            "client_port": scope["client"][1],
            "headers": [name.decode() for name, _ in scope["headers"]],
            "http_version": scope["http_version"],
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(answer))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def echoed(response: Any) -> dict[str, Any]:
    assert response.status == 200, response
    result: dict[str, Any] = response.json()
    return result


class Gate:
    """An app that signals when a request has arrived, then waits to be released."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrived = threading.Event()
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.arrived.set()
        await anyio.sleep(self.delay)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


@pytest.fixture(scope="module")
def srv() -> Iterator[Running]:
    with running(echo, max_body_bytes=1000) as instance:
        yield instance


# ---- Keep-alive, pipelining, bodies -----------------------------------------------------


def test_keep_alive_reuses_one_connection(srv: Running) -> None:
    with srv.connect() as conn:
        ports = {
            echoed(conn.request("POST", f"/n/{i}", b"x" * i))["client_port"] for i in range(20)
        }
        assert len(ports) == 1
        assert echoed(conn.request("GET", "/last"))["path"] == "/last"


def test_pipelined_requests_answer_in_order(srv: Running) -> None:
    requests = [build_request("POST", f"/p/{i}?q={i}", b"b%d" % i) for i in range(10)]
    requests.insert(5, build_request("GET", "/get"))
    with srv.connect() as conn:
        conn.send(b"".join(requests))  # all at once: the server sees them in one read
        answers = [echoed(conn.response()) for _ in requests]
    paths = [answer["path"] for answer in answers]
    assert paths == [f"/p/{i}" for i in range(5)] + ["/get"] + [f"/p/{i}" for i in range(5, 10)]
    assert answers[3]["body"] == "b3" and answers[3]["query"] == "q=3"


def test_chunked_request_body(srv: Running) -> None:
    chunks = [b"hello ", b"chunked ", b"world"]
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    with srv.connect() as conn:
        head = b"POST /c HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        conn.send(head)
        time.sleep(0.02)  # the body arrives in a later read
        conn.send(body)
        assert echoed(conn.response())["body"] == "hello chunked world"
        assert echoed(conn.request("GET", "/again"))["path"] == "/again"  # still alive


def test_path_is_percent_decoded_raw_path_is_not(srv: Running) -> None:
    answer = echoed(call(srv.port, "GET", "/a%20b/%C3%A9?x=%20"))
    assert answer["path"] == "/a b/é"
    assert answer["raw_path"] == "/a%20b/%C3%A9"
    assert answer["query"] == "x=%20"


def test_expect_100_continue(srv: Running) -> None:
    with srv.connect() as conn:
        conn.send(
            b"POST /e HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\nexpect: 100-continue\r\n\r\n"
        )
        interim = conn.response()
        assert interim.status == 100
        conn.send(b"data")
        assert echoed(conn.response())["body"] == "data"


def test_http_1_0_closes_after_the_response(srv: Running) -> None:
    with srv.connect() as conn:
        conn.send(b"GET /old HTTP/1.0\r\n\r\n")
        line = conn.file.readline()
        assert line.startswith(b"HTTP/1.1 200")
        rest = conn.file.read()  # to EOF: the server closes
        assert b'"http_version": "1.0"' in rest


def test_client_connection_close_is_honoured(srv: Running) -> None:
    with srv.connect() as conn:
        response = conn.request("GET", "/bye", headers={"connection": "close"})
        assert response.headers["connection"] == "close"
        assert conn.at_eof()


def test_head_request_gets_headers_only() -> None:
    with running(echo) as srv, srv.connect() as conn:
        response = conn.request("HEAD", "/h")
        assert response.status == 200 and response.body == b""
        assert int(response.headers["content-length"]) > 0
        assert echoed(conn.request("GET", "/after"))["path"] == "/after"


async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for part in (b"one,", b"two,", b"", b"three"):
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_streamed_response_is_chunked() -> None:
    with running(streaming) as srv, srv.connect() as conn:
        response = conn.request("GET", "/s")
        assert response.headers["transfer-encoding"] == "chunked"
        assert response.body == b"one,two,three"
        assert conn.request("GET", "/s").body == b"one,two,three"  # keep-alive intact


# ---- Malformed HTTP and limits ------------------------------------------------------------

MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: a\x00b\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET /\x7f HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\n",
    b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    b"\r\n\r\n\r\n",
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_request_is_400_and_server_survives(srv: Running, raw: bytes) -> None:
    with srv.connect() as conn:
        conn.send(raw)
        response = conn.response()
        assert response.status in (400, 501, 505), response
        assert "message" in response.json()["error"]
        assert response.headers["connection"] == "close"
        assert conn.at_eof()
    assert echoed(call(srv.port, "GET", "/still-here"))["path"] == "/still-here"


# Each is malformed where it quotes a secret; h11's message would quote it back.
ECHOING = [
    b"GET /x?token=secret123 Bearer secret123 HTTP/1.1\r\n\r\n",
    b"GET /x HTTP/1.1\r\nauthorization Bearer secret123\r\n\r\n",
    b"GET /x HTTP/1.1\r\nhost: x\r\nauthorization: Bearer secret123\x00\r\n\r\n",
    b"POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nsecret123\r\n",
]


@pytest.mark.parametrize("raw", ECHOING)
def test_malformed_http_is_answered_without_echo(
    srv: Running, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """400 with a fixed message: nothing of the request line or header line comes back,
    and nothing of it is logged."""
    caplog.set_level(logging.DEBUG)
    with srv.connect() as conn:
        conn.send(raw)
        response = conn.response()
        assert conn.at_eof()
    assert response.status == 400
    assert response.json()["error"]["message"] == "Malformed HTTP request"
    assert b"secret123" not in response.body
    assert "secret123" not in caplog.text


@pytest.mark.parametrize(
    "head",
    [
        b"POST /first HTTP/1.1\r\nhost: x\r\ncontent-length: 40\r\n"
        b"transfer-encoding: chunked\r\n\r\n",
        b"POST /first HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
        b"content-length: 40\r\n\r\n",
        b"POST /first HTTP/1.0\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n",
    ],
    ids=["cl-then-te", "te-then-cl", "te-in-http-1.0"],
)
def test_ambiguous_framing_is_refused_and_closed(head: bytes) -> None:
    """RFC 9112 section 6.1: Content-Length beside Transfer-Encoding (or TE in HTTP/1.0)
    is answered and the connection closed, so the request smuggled behind is not served."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await echo(scope, receive, send)

    smuggled = b"GET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n"
    with running(app) as srv:
        with srv.connect() as conn:
            conn.send(head + b"0\r\n\r\n" + smuggled)
            response = conn.response()
            assert response.status == 400
            assert response.headers["connection"] == "close"
            assert conn.at_eof()  # no second response: the smuggled request is dropped
        assert echoed(call(srv.port, "GET", "/next"))["path"] == "/next"
    assert seen == ["/next"]


def test_request_line_counts_toward_the_head_limit() -> None:
    """A 20 KB path or method is a 431 under the default 16 KB head limit, even when
    the head arrives whole (h11 bounds only a head still arriving)."""
    with running(echo) as srv:
        for method, path in (("GET", "/" + "a" * 20000), ("M" * 20000, "/")):
            with srv.connect() as conn:
                response = conn.request(method, path)
            assert response.status == 431
            assert len(response.body) < 200
        assert echoed(call(srv.port, "GET", "/" + "a" * 10000))["path"] == "/" + "a" * 10000


def test_headers_over_the_limit_are_431() -> None:
    with running(echo, max_header_bytes=4096) as srv:
        with srv.connect() as conn:
            response = conn.request("GET", "/", headers={"x-big": "a" * 5000})
            assert response.status == 431
        assert echoed(call(srv.port, "GET", "/", x_fits="a" * 3000))["path"] == "/"


def test_body_one_byte_over_the_limit(srv: Running) -> None:
    assert echoed(call(srv.port, "POST", "/b", b"x" * 1000))["body"] == "x" * 1000
    response = call(srv.port, "POST", "/b", b"x" * 1001)
    assert response.status == 413
    assert "1000" in response.json()["error"]["message"]


def _stream_until_answered(port: int, head: bytes, chunk: bytes, total: int) -> tuple[bytes, int]:
    """Send head and then `total` bytes of chunk as fast as the server takes them,
    stopping as soon as an answer arrives; returns (answer bytes, body bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 20
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                break
            if writable:
                try:
                    sent += sock.send(chunk)
                except (BlockingIOError, InterruptedError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
        sock.setblocking(True)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_50_mb_body_is_refused_without_buffering_it(chunked: bool) -> None:
    total = 50 * 1024 * 1024
    if chunked:
        head = b"POST /big HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
        chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
    else:
        head = b"POST /big HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n" % total
        chunk = b"x" * 65536
    tracemalloc.start()
    try:
        with running(echo, max_body_bytes=1024 * 1024) as srv:
            tracemalloc.reset_peak()
            answer, sent = _stream_until_answered(srv.port, head, chunk, total)
            _, peak = tracemalloc.get_traced_memory()
            assert echoed(call(srv.port, "GET", "/alive"))["path"] == "/alive"
    finally:
        tracemalloc.stop()
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:100]
    assert sent < total / 2  # the client stopped early: the answer came before the body
    assert peak < 8 * 1024 * 1024, f"server buffered {peak} bytes"


def test_too_many_connections_get_503() -> None:
    with running(echo, max_connections=2) as srv:
        first, second = srv.connect(), srv.connect()
        try:
            assert echoed(first.request("GET", "/1"))["path"] == "/1"
            assert echoed(second.request("GET", "/2"))["path"] == "/2"
            with srv.connect() as third:
                response = third.response()  # answered without asking
                assert response.status == 503
                assert third.at_eof()
        finally:
            first.close()
            second.close()
        assert wait_until(lambda: call(srv.port, "GET", "/3").status == 200)


def test_slow_heads_at_max_connections_lock_no_one_out() -> None:
    """Clients that send part of a head and stall fill every slot: a new client is
    refused with a 503 at once, and the slots free up after head_timeout, not after
    the much longer request_timeout."""
    defaults = server.Server(echo)
    assert defaults.head_timeout == 10.0 < defaults.request_timeout
    with running(echo, max_connections=4, head_timeout=0.5, request_timeout=30) as srv:
        slow = [srv.connect(timeout=5) for _ in range(4)]
        try:
            for conn in slow:
                conn.send(b"GET /slow HTTP/1.1\r\nhost: x\r\nx-more: ")
            assert wait_until(lambda: len(srv.server._connections) == 4)
            started = time.monotonic()
            with srv.connect(timeout=5) as extra:
                refused = extra.response()
                assert refused.status == 503 and "message" in refused.json()["error"]
                assert extra.at_eof()
            assert time.monotonic() - started < 2  # answered at once, not queued for 30 s
            for conn in slow:
                assert conn.response().status == 408
            assert time.monotonic() - started < 3
            assert echoed(call(srv.port, "GET", "/served"))["path"] == "/served"
        finally:
            for conn in slow:
                conn.close()


# ---- Timeouts ---------------------------------------------------------------------------


def test_slow_headers_are_cut_off() -> None:
    """A client dribbling header bytes (slowloris) is cut off at request_timeout."""
    with running(echo, request_timeout=0.5) as srv, srv.connect(timeout=5) as conn:
        started = time.monotonic()
        conn.send(b"GET / HTTP/1.1\r\n")
        with pytest.raises(OSError):  # the loop is the slow client
            for i in range(50):
                conn.send(b"x-slow-%d: y\r\n" % i)
                time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, elapsed


def test_slow_request_gets_408_once_its_headers_stall() -> None:
    with running(echo, request_timeout=0.4) as srv, srv.connect(timeout=5) as conn:
        conn.send(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly-part")
        started = time.monotonic()
        response = conn.response()
        assert response.status == 408
        assert time.monotonic() - started < 2.0
        assert conn.at_eof()


def test_idle_keep_alive_connection_is_closed() -> None:
    with running(echo, idle_timeout=0.3) as srv, srv.connect(timeout=5) as conn:
        assert echoed(conn.request("GET", "/"))["path"] == "/"
        started = time.monotonic()
        assert conn.at_eof()  # no 408 for a connection that asked nothing
        assert time.monotonic() - started < 2.0


def test_client_that_never_reads_is_dropped() -> None:
    """A response the client will not take is abandoned after write_timeout."""
    stopped = threading.Event()

    async def firehose(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/":
            await echo(scope, receive, send)
            return
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(2000):  # 128 MB, far beyond any socket buffer
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            stopped.set()

    with running(firehose, write_timeout=0.3) as srv, srv.connect() as conn:
        conn.send(build_request("GET", "/"))
        started = time.monotonic()
        assert stopped.wait(5)
        assert time.monotonic() - started < 3
        assert echoed(call(srv.port, "GET", "/other"))["path"] == "/other"  # others served


# ---- Errors from the app -------------------------------------------------------------------


async def crash(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope["path"] == "/crash":
        raise ValueError("boom")
    if scope["type"] == "http" and scope["path"] == "/silent":
        return
    if scope["type"] == "http" and scope["path"] == "/split":
        bad = [(b"x-evil", b"a\r\nset-cookie: injected=1")]
        await send({"type": "http.response.start", "status": 200, "headers": bad})
        await send({"type": "http.response.body", "body": b"no"})
        return
    if scope["type"] == "http" and scope["path"] == "/overrun":
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"abc"})
        return
    await echo(scope, receive, send)


@pytest.mark.parametrize("path", ["/crash", "/silent", "/split", "/overrun"])
def test_app_failures_are_500_and_server_survives(
    path: str, caplog: pytest.LogCaptureFixture
) -> None:
    with running(crash) as srv:
        response = call(srv.port, "GET", path)
        assert response.status == 500
        assert "set-cookie" not in response.headers
        assert echoed(call(srv.port, "GET", "/fine"))["path"] == "/fine"
    assert any(record.levelno >= logging.ERROR for record in caplog.records) or path == "/silent"


# ---- Lifespan, logging, binding -----------------------------------------------------------


def test_lifespan_state_reaches_requests() -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["greeting"] = "hello"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = scope["state"]["greeting"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    with running(app) as srv:
        assert call(srv.port, "GET", "/").body == b"hello"
    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_lifespan_startup_failure_stops_the_server() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(RuntimeError, match="no database"):
        await server.Server(app, port=0).serve()


def test_access_log_line_per_request(srv: Running, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="server.access")
    with srv.connect() as conn:
        conn.request("POST", "/logged?secret-query=1", b"secret-body", {"x-secret": "hdr-value"})
        conn.request("GET", "/second")
    assert wait_until(lambda: len(caplog.records) >= 2)
    lines = [r.getMessage() for r in caplog.records if r.name == "server.access"]
    assert len(lines) == 2
    assert lines[0].startswith("POST /logged 200 ")
    assert lines[1].startswith("GET /second 200 ")
    assert lines[0].endswith("ms")
    text = "\n".join(lines)
    for secret in ("secret-query", "secret-body", "hdr-value", "x-secret"):
        assert secret not in text


def test_port_zero_reports_the_bound_address(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="server")
    reported: list[tuple[str, int]] = []
    with running(echo, on_bound=lambda host, port: reported.append((host, port))) as srv:
        assert reported == [("127.0.0.1", srv.port)]
        assert srv.server.bound == reported[0]
    assert f"Listening on http://127.0.0.1:{srv.port}" in caplog.text


async def test_busy_port_raises_oserror() -> None:
    with running(echo) as srv, pytest.raises(OSError):
        await server.Server(echo, port=srv.port).serve()


# ---- Graceful shutdown ------------------------------------------------------------------


def test_shutdown_lets_a_slow_request_finish() -> None:
    gate = Gate(delay=0.5)
    with running(gate, graceful_timeout=5) as srv:
        idle = srv.connect()
        idle.request("GET", "/warm")
        gate.arrived.clear()
        answers: list[Any] = []
        client = threading.Thread(target=lambda: answers.append(call(srv.port, "GET", "/slow")))
        client.start()
        assert gate.arrived.wait(5)
        started = time.monotonic()
        srv.shutdown()
        assert idle.at_eof()  # idle keep-alive connections close at once
        idle.close()
        client.join(5)
        assert answers and answers[0].body == b"done"
        assert answers[0].headers["connection"] == "close"
        assert time.monotonic() - started < 3
    with pytest.raises(OSError):
        call(srv.port, "GET", "/after")  # nothing listens any more


def test_shutdown_grace_period_is_bounded() -> None:
    gate = Gate(delay=30)
    with running(gate, graceful_timeout=0.3) as srv:
        conn = srv.connect()
        conn.send(build_request("GET", "/forever"))
        assert gate.arrived.wait(5)
        started = time.monotonic()
        srv.shutdown()
        with pytest.raises((ServerClosed, OSError)):
            conn.response()
        conn.close()
    assert time.monotonic() - started < 3
