"""The server under concurrency, random input, and as `python -m connector serve`."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _srv_util import (
    AUTH,
    ROOT,
    CliServer,
    RawConn,
    Running,
    ServerClosed,
    call,
    envelope,
    load_mock,
    running,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import server

pytestmark = pytest.mark.anyio
mock = load_mock()


# ---- 200 concurrent clients ------------------------------------------------------------


async def _client(port: int, number: int) -> list[str]:
    """Five calls on one keep-alive connection; returns what was wrong, if anything."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    problems = []
    try:
        for call_number in range(5):
            size = 1 + (number + call_number) % 20
            if call_number == 4:
                path, body, want = "/validate-credentials", envelope(), None
            else:
                path, body, want = "/list_accounts", envelope(page={"size": size}), size
            writer.write(
                b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s"
                % (path.encode(), len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            answer = json.loads(await reader.readexactly(length))
            if not head.startswith(b"HTTP/1.1 200 "):
                problems.append(f"{number}/{call_number}: {head[:20]!r}")
            elif want is None:
                if answer["response"]["valid"] is not True:
                    problems.append(f"{number}/{call_number}: not valid")
            else:
                ids = [account["integration_specific_id"] for account in answer["response"]]
                if ids != [f"user-{i:04d}" for i in range(1, want + 1)]:
                    problems.append(f"{number}/{call_number}: {ids[:3]}")
    finally:
        writer.close()
        await writer.wait_closed()
    return problems


async def test_200_concurrent_clients_all_answered_correctly() -> None:
    with running(server.asgi(mock.integration), access_log=False) as srv:
        results = await asyncio.gather(*(_client(srv.port, n) for n in range(200)))
    assert [problem for problems in results for problem in problems] == []


# ---- Property: any path and body get an envelope ----------------------------------------

PATH_CHARS = "abcdefghijklmnopqrstuvwxyz_-./%0123456789"


@st.composite
def request_paths(draw: st.DrawFn) -> str:
    """Real capability names, near misses, and junk; percent escapes included."""
    name = draw(
        st.one_of(
            st.sampled_from(sorted(mock.integration.capabilities)),
            st.sampled_from(["info", "healthz", "openapi.json", "get_authorization_url"]),
            st.text(PATH_CHARS, max_size=30),
        )
    )
    if draw(st.booleans()):
        name = name.replace("_", "-")
    path = "/" + name
    if "%" in path:  # keep it a valid request-target: % must start an escape
        path = path.replace("%", "%25")
    return path


def request_bodies() -> st.SearchStrategy[bytes]:
    """Junk bytes, junk JSON, and envelopes that are almost right."""
    valid = envelope(page={"size": 2}).decode()
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=8,
    )
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.integers(0, len(valid)).map(lambda cut: valid[:cut].encode()),
        st.fixed_dictionaries(
            {"auth": st.just(AUTH), "request": json_values, "page": json_values}
        ).map(lambda value: json.dumps(value).encode()),
    )


@pytest.fixture(scope="module")
def srv() -> Iterator[Running]:
    app = server.asgi(mock.integration, max_body_size=200)
    with running(app, access_log=False) as instance:
        yield instance


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "HEAD"]),
    path=request_paths(),
    body=request_bodies(),
)
@example(method="POST", path="/list_accounts", body=b"\x00\xff")
@example(method="POST", path="/%2e%2e/info", body=b"{}")
@example(method="POST", path="/list_accounts", body=b"[" * 150)
def test_any_request_gets_an_envelope(srv: Running, method: str, path: str, body: bytes) -> None:
    """Whatever the path and body, the answer is JSON with a 2xx/4xx status, and the
    server keeps serving."""
    with RawConn(srv.port) as conn:
        response = conn.request(method, path, body)
    assert 200 <= response.status < 500 and not 300 <= response.status < 400, response
    assert response.headers["content-type"] == "application/json"
    if method == "HEAD":
        assert response.body == b""
        return
    data = response.json()
    assert isinstance(data, dict)
    if data.get("is_error") is True:
        # A bare code (the app is in app_id), at 200 by default or a routing status.
        code = data["error"]["error_code"]
        assert data["error"]["app_id"] == "mock"
        assert code.isidentifier() and code.islower(), code
    else:
        assert response.status == 200


def test_server_survives_the_property(srv: Running) -> None:
    assert call(srv.port, "GET", "/healthz").json() == {"status": "ok"}


# ---- The CLI: python -m connector serve --------------------------------------------------


def test_cli_serve_answers_and_exits_0_on_sigterm() -> None:
    cli = CliServer("examples/mock_connector.py")
    try:
        assert call(cli.port, "GET", "/healthz").status == 200
        response = call(cli.port, "POST", "/list_accounts", envelope(page={"size": 3}))
        assert response.status == 200 and len(response.json()["response"]) == 3
        assert call(cli.port, "POST", "/nope", b"{}").status == 404
    finally:
        code, log = cli.stop()
    assert code == 0, log
    assert "POST /list_accounts 200" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_signal_right_after_listening_exits_0(signum: int) -> None:
    """The handlers are in place before the server says it is listening."""
    code, log = CliServer("examples/mock_connector.py").stop(signum)
    assert code == 0, log


def test_cli_token_from_environment_and_sigint() -> None:
    token = "cli-token-abcdef123456"
    cli = CliServer("examples/mock_connector.py", env={"CONNECTOR_TOKEN": token})
    try:
        assert call(cli.port, "POST", "/list_accounts", envelope()).status == 401
        ok = call(cli.port, "POST", "/list_accounts", envelope(), authorization=f"Bearer {token}")
        assert ok.status == 200
        assert call(cli.port, "GET", "/healthz").status == 200
    finally:
        code, log = cli.stop(signal.SIGINT)
    assert code == 0, log
    assert token not in log


def test_cli_max_body_size() -> None:
    cli = CliServer("examples/mock_connector.py", "--max-body-size", "100")
    try:
        response = call(cli.port, "POST", "/list_accounts", envelope() + b" " * 100)
        assert response.status == 413
        assert response.json()["error"]["error_code"] == "bad_request"
    finally:
        code, _ = cli.stop()
    assert code == 0


def test_cli_busy_port_exits_1_without_traceback() -> None:
    with running(server.asgi(mock.integration)) as srv:
        command = [sys.executable, "-m", "connector", "serve", "examples/mock_connector.py"]
        result = subprocess.run(
            [*command, "--port", str(srv.port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(srv.port) in result.stderr


def test_run_returns_after_graceful_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """server.run() in-process: it serves, and a SIGTERM-style shutdown returns 0."""
    captured: dict[str, Any] = {}

    def fake_serve(app: Any, host: str, port: int, **options: Any) -> int:
        captured.update(app=app, host=host, port=port, **options)
        return 0

    monkeypatch.setattr(server, "serve", fake_serve)
    monkeypatch.setenv("CONNECTOR_TOKEN", "")
    assert server.run(mock.integration, port=0, max_body_size=123) == 0
    assert captured["max_body_bytes"] == 123 and captured["app"].max_body_size == 123
    assert captured["app"]._expected is None  # empty variable: no token
    assert captured["app"].http_status is False  # 200 for every dispatch envelope
    assert server.run(mock.integration, port=0, http_status=True) == 0
    assert captured["app"].http_status is True


# ---- Where the token comes from ----------------------------------------------------------

TOKEN = "file-token-0123456789"


@pytest.fixture
def no_env_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONNECTOR_TOKEN", raising=False)


@pytest.mark.usefixtures("no_env_token")
def test_read_token_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--token, else --token-file (UTF-8, stripped), else $CONNECTOR_TOKEN."""
    path = tmp_path / "token"
    path.write_bytes(b"\xef\xbb\xbf  " + TOKEN.encode() + b"\n")  # a BOM, spaces, a newline
    assert server.read_token(None, None) is None
    assert server.read_token(None, str(path)) == TOKEN
    assert server.read_token("given", str(path)) == "given"
    monkeypatch.setenv("CONNECTOR_TOKEN", "from-env-123")
    assert server.read_token(None, None) == "from-env-123"
    assert server.read_token(None, str(path)) == TOKEN
    monkeypatch.setenv("CONNECTOR_TOKEN", "  ")
    assert server.read_token(None, None) is None  # an empty variable means no token
    unicode = tmp_path / "unicode"
    unicode.write_text("jeton-\u00e9t\u00e9-42", encoding="utf-8")
    assert server.read_token(None, str(unicode)) == "jeton-\u00e9t\u00e9-42"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "cannot read"),
        (b"", "is empty"),
        (b"  \n\t\n", "is empty"),
        (b"\xff\xfe" + TOKEN.encode(), "not UTF-8"),
        (TOKEN.encode() + b"\nsecond-line", "line break"),
    ],
    ids=["missing", "empty", "blank", "not-utf8", "two-lines"],
)
@pytest.mark.usefixtures("no_env_token")
def test_read_token_refuses_a_file_it_cannot_use(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    """A ValueError naming the file, never the token: the server must not start
    without the authentication it was asked for."""
    path = tmp_path / "token"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=reason) as raised:
        server.read_token(None, str(path))
    assert str(path) in str(raised.value)
    assert TOKEN not in str(raised.value)
    if content is None:
        with pytest.raises(ValueError, match="cannot read"):
            server.read_token(None, str(tmp_path))  # a directory


@pytest.mark.usefixtures("no_env_token")
def test_run_reads_the_token_file_and_refuses_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    served: list[Any] = []

    def serve(app: Any, *args: Any, **options: Any) -> int:
        served.append(app)
        return 0

    monkeypatch.setattr(server, "serve", serve)
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    assert server.run(mock.integration, port=0, token_file=str(path)) == 0
    assert served[-1]._expected == b"Bearer " + TOKEN.encode()
    path.write_text("\n")
    assert server.run(mock.integration, port=0, token_file=str(path)) == 2
    assert len(served) == 1  # refused before serving
    assert "is empty" in caplog.text


def test_cli_server_closes_connection_on_stop() -> None:
    cli = CliServer("examples/mock_connector.py")
    conn = RawConn(cli.port)
    try:
        assert conn.request("GET", "/healthz").status == 200
        code, _ = cli.stop()
        assert code == 0
        with pytest.raises((ServerClosed, OSError)):
            conn.request("GET", "/healthz")
    finally:
        conn.close()
