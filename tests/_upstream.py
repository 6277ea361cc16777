"""A local upstream API for the HTTP client's tests and benchmark: a stdlib
HTTP/1.1 server on 127.0.0.1 (keep-alive, optional self-signed TLS) that counts
the connections it accepts."""

from __future__ import annotations

import contextlib
import http.server
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# (method, path with query, headers, body) -> (status, headers, body)
Answer = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[str, str, dict[str, str], bytes], Answer]


def json_ok(method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
    return 200, [("Content-Type", "application/json")], b'{"id": "42", "name": "ada"}'


def self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """(cert.pem, key.pem) for 127.0.0.1 made with openssl, or None without openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class Upstream:
    """The running server: `.url`, `.connections` (accepted so far), `.requests`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()


@contextlib.contextmanager
def upstream(
    handler: Handler = json_ok, *, tls: tuple[Path, Path] | None = None
) -> Iterator[Upstream]:
    """Serves `handler` on 127.0.0.1 (HTTPS with `tls`) until the block ends."""
    state: Upstream

    class Handle(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out as two writes: without this, Nagle's
            # algorithm and the client's delayed ACK add 40 ms to each answer.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with state.lock:
                state.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            with state.lock:
                state.requests.append((self.command, self.path, headers))
            status, out_headers, out = handler(self.command, self.path, headers, body)
            self.send_response(status)
            for name, value in out_headers:
                self.send_header(name, value)
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            if out and self.command != "HEAD":
                self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    state = Upstream(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


if __name__ == "__main__":
    # `python tests/_upstream.py CERT KEY`: serve in a process of its own (the
    # benchmark's per-request timings then do not share a GIL with the server);
    # prints the URL, serves until standard input closes.
    import sys

    with upstream(tls=(Path(sys.argv[1]), Path(sys.argv[2]))) as api:
        print(api.url, flush=True)
        sys.stdin.read()
