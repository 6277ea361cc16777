"""Helpers for the server tests: run a server in a thread, speak raw HTTP/1.1 to it.

The client side is a deliberately small, independent parser (no h11), so the
server's framing is checked by something other than the library it is built on.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.from_thread

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # plain `pytest` does not put the project root on sys.path
    sys.path.insert(0, str(ROOT))

import server  # noqa: E402

MOCK_PATH = ROOT / "examples" / "mock_connector.py"
AUTH = {"basic": {"username": "admin", "password": "correct-horse"}}


def load_mock() -> Any:
    """The example connector's module (examples/ is not a package)."""
    name = "mock_connector"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, MOCK_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def envelope(request: dict[str, Any] | None = None, **extra: Any) -> bytes:
    """A request envelope for the mock connector, with valid basic auth."""
    body = {"auth": AUTH, "request": request or {}, **extra}
    return json.dumps(body).encode()


# ---- Running a server -----------------------------------------------------------


@dataclass
class Running:
    server: server.Server
    port: int
    portal: anyio.from_thread.BlockingPortal

    def shutdown(self) -> None:
        self.portal.call(self.server.shutdown)

    def connect(self, timeout: float = 10.0) -> RawConn:
        return RawConn(self.port, timeout)


@contextlib.contextmanager
def running(app: server.ASGIApp, **options: Any) -> Iterator[Running]:
    """Serve `app` on a free loopback port in a background event-loop thread."""
    with anyio.from_thread.start_blocking_portal() as portal:
        instance = server.Server(app, "127.0.0.1", 0, **options)
        future, (_, port) = portal.start_task(instance.serve)
        try:
            yield Running(instance, port, portal)
        finally:
            if not future.done():
                portal.call(instance.shutdown)
            future.result(timeout=30)


@contextlib.contextmanager
def running_uvicorn(
    app: server.ASGIApp, lifespan: Literal["auto", "on", "off"] = "on"
) -> Iterator[int]:
    """Serve `app` under uvicorn (h11 mode) in a thread; yields the port.

    The one place the tests start uvicorn. Outside the main thread uvicorn leaves the
    process's signal handlers alone.
    """
    import uvicorn

    # proto=IPPROTO_TCP, as uvicorn's own bind has it, so asyncio sets TCP_NODELAY.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="h11",
        loop="asyncio",
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not instance.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)
        yield port
    finally:
        instance.should_exit = True
        thread.join(10)
        sock.close()


class CliServer:
    """`python -m connector serve ... --port 0` in a subprocess; finds the port in stderr."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "connector", "serve", *args, "--port", "0"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stderr is not None
        self.lines: list[str] = []
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"Listening on http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                return
        raise AssertionError("no 'Listening on' line:\n" + "".join(self.lines))

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        _, rest = self.process.communicate(timeout=15)
        return self.process.returncode, "".join(self.lines) + rest


# ---- A raw HTTP/1.1 client --------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    header_list: list[tuple[str, str]]
    body: bytes
    headers: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.headers = {name: value for name, value in self.header_list}

    def json(self) -> Any:
        return json.loads(self.body)


class ServerClosed(Exception):
    """The server closed the connection before a response began."""


class RawConn:
    """One client connection: send any bytes, read responses one at a time."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def __enter__(self) -> RawConn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Response:
        self.send(build_request(method, path, body, headers))
        return self.response(head=method == "HEAD")

    def response(self, head: bool = False) -> Response:
        line = self.file.readline()
        if not line:
            raise ServerClosed
        version, status, reason = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        assert version == "HTTP/1.1", line
        header_list: list[tuple[str, str]] = []
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            header_list.append((name.strip().lower(), value.strip()))
        headers = dict(header_list)
        code = int(status)
        if head or code in (204, 304) or 100 <= code < 200:
            body = b""
        elif "content-length" in headers:
            body = self._read_exactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.file.read()
        return Response(code, reason, header_list, body)

    def _read_exactly(self, size: int) -> bytes:
        data = self.file.read(size)
        assert len(data) == size, f"short body: {len(data)} of {size}"
        return data

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.file.readline().split(b";")[0], 16)
            if size == 0:
                while self.file.readline() not in (b"\r\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(self._read_exactly(size))
            assert self.file.readline() == b"\r\n"

    def at_eof(self) -> bool:
        """True when the server has closed its side (read returns nothing)."""
        try:
            return self.file.read(1) == b""
        except (ConnectionResetError, TimeoutError):
            return True


def build_request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1"]
    given = {name.lower(): value for name, value in (headers or {}).items()}
    if (body or method in ("POST", "PUT")) and "transfer-encoding" not in given:
        given.setdefault("content-length", str(len(body)))
    lines += [f"{name}: {value}" for name, value in given.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def call(port: int, method: str, path: str, body: bytes = b"", **headers: str) -> Response:
    """One request on a fresh connection."""
    with RawConn(port) as conn:
        return conn.request(
            method, path, body, {k.replace("_", "-"): v for k, v in headers.items()}
        )


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll `predicate` every 10 ms for at most `timeout` seconds."""
    event = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        event.wait(0.01)
    return predicate()
