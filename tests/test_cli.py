"""The command line: `python -m connector ...`, `connector.main` and `connector.run`."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import mock_connector  # examples/ is on sys.path (tests/conftest.py)
import msgspec
import pytest
from _payloads import PAYLOADS

import connector
from connector import ErrorResponse, InfoResponse, ListAccountsResponse

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/mock_connector.py"
EXAMPLE_PATH = str(REPO / EXAMPLE)
PASSWORD = "correct-horse"
GOOD = msgspec.json.encode(
    {"auth": {"basic": {"username": "admin", "password": PASSWORD}}, "request": {}}
).decode()
SECRET = "Sup3r-Secret-Passw0rd"
WRONG = msgspec.json.encode(
    {"auth": {"basic": {"username": "admin", "password": SECRET}}, "request": {}}
).decode()
MOCK_CAPABILITIES = sorted(mock_connector.integration.capabilities)

TINY_CONNECTOR = """\
import sys

import connector
from connector import (
    BasicCredential,
    Integration,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
)

{name} = Integration(app_id="tiny", version="9.8.7", auth=BasicCredential)


@{name}.capability
async def validate_credentials(
    request: ValidateCredentialsRequest,
) -> ValidateCredentialsResponse:
    if request.auth.basic.password != "pw":
        raise connector.ConnectorError("nobody home", connector.ErrorCode.NOT_FOUND)
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id=__name__)
    )


if __name__ == "__main__":
    connector.run({name})
"""


# A connector whose capability leaves a marker file: a test can tell whether it ran.
MARKER_CONNECTOR = """\
import pathlib

import connector
from connector import (
    BasicCredential,
    Integration,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
)

MARKER = pathlib.Path(__file__).with_name("capability-ran")

integration = Integration(app_id="marker", version="1.2.3", auth=BasicCredential)


@integration.capability
async def validate_credentials(
    request: ValidateCredentialsRequest,
) -> ValidateCredentialsResponse:
    MARKER.write_text("ran")
    if request.auth.basic.password != "pw":
        raise connector.ConnectorError("wrong password", connector.ErrorCode.UNAUTHORIZED)
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id="marker-tenant")
    )


if __name__ == "__main__":
    connector.run(integration)
"""


def tiny_body(password: str) -> str:
    auth = {"basic": {"username": "u", "password": password}}
    return msgspec.json.encode({"auth": auth, "request": {}}).decode()


@pytest.fixture(autouse=True)
def _fresh_directory() -> Any:
    mock_connector.reset()
    yield
    mock_connector.reset()


# ---- helpers -------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop("CONNECTOR_TOKEN", None)
    return env


def cli(
    *args: str, input: str | bytes | None = None, cwd: Path = REPO, stdin: Any = None
) -> subprocess.CompletedProcess[bytes]:
    """Runs `python -m connector ARGS` (or `python ARGS` when args[0] is a .py file).

    stdin is empty (not a terminal) unless `input` or `stdin` says otherwise.
    """
    script = bool(args) and args[0].endswith(".py")
    command = [sys.executable, *args] if script else [sys.executable, "-m", "connector", *args]
    data = input.encode() if isinstance(input, str) else input
    if data is None and stdin is None:
        stdin = subprocess.DEVNULL
    return subprocess.run(
        command,
        input=data,
        stdin=stdin,
        capture_output=True,
        cwd=cwd,
        env=_env(),
        timeout=30,
        check=False,
    )


def shell(script: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["bash", "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=REPO,
        env=_env(),
        timeout=30,
        check=False,
    )


def assert_clean(proc: subprocess.CompletedProcess[bytes], *, json: bool = True) -> None:
    """No traceback, and stdout is one JSON document for exits 0 and 1."""
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    assert b"Exception ignored" not in proc.stderr, proc.stderr.decode()
    if json and proc.returncode in (0, 1):
        msgspec.json.decode(proc.stdout)
        assert proc.stdout.endswith(b"\n")


def error_of(out: bytes) -> connector.Error:
    envelope = msgspec.json.decode(out, type=ErrorResponse)
    assert envelope.is_error is True
    return envelope.error


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


# ---- python -m connector: success ----------------------------------------------


def test_version() -> None:
    proc = cli("--version")
    assert proc.returncode == 0
    assert connector.__version__ in proc.stdout.decode()
    assert_clean(proc, json=False)


def test_no_command_is_a_usage_error() -> None:
    proc = cli()
    assert proc.returncode == 2
    assert b"usage:" in proc.stderr
    assert_clean(proc)


@pytest.mark.parametrize("target", [EXAMPLE, f"{EXAMPLE}:integration", EXAMPLE_PATH])
def test_info_by_file(target: str) -> None:
    proc = cli("info", target)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    info = msgspec.json.decode(proc.stdout, type=InfoResponse).response
    assert info.app_id == "mock"
    assert sorted(info.capabilities) == MOCK_CAPABILITIES
    assert proc.stdout.count(b"\n") == 1


def test_info_pretty() -> None:
    plain = cli("info", EXAMPLE)
    pretty = cli("info", EXAMPLE, "--pretty")
    assert pretty.returncode == 0
    assert_clean(pretty)
    assert pretty.stdout.count(b"\n") > 50
    assert b'\n  "response": {' in pretty.stdout
    assert msgspec.json.decode(pretty.stdout) == msgspec.json.decode(plain.stdout)


def test_info_by_module_and_attr(tmp_path: Path) -> None:
    write(tmp_path / "acme_cli_pkg" / "__init__.py", "")
    write(tmp_path / "acme_cli_pkg" / "conn.py", TINY_CONNECTOR.format(name="my_integration"))
    write(tmp_path / "acme_cli_pkg" / "default.py", TINY_CONNECTOR.format(name="integration"))
    proc = cli("info", "acme_cli_pkg.conn:my_integration", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert msgspec.json.decode(proc.stdout, type=InfoResponse).response.version == "9.8.7"
    proc = cli("info", "acme_cli_pkg.default", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert msgspec.json.decode(proc.stdout, type=InfoResponse).response.app_id == "tiny"
    proc = cli(
        "call",
        "acme_cli_pkg.conn:my_integration",
        "validate_credentials",
        "--json",
        tiny_body("pw"),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert msgspec.json.decode(proc.stdout)["response"]["unique_tenant_id"] == "acme_cli_pkg.conn"


def test_call_with_json() -> None:
    proc = cli("call", EXAMPLE, "list_accounts", "--json", GOOD)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    result = msgspec.json.decode(proc.stdout, type=ListAccountsResponse)
    assert len(result.response) == 10
    assert result.page is not None


def test_call_hyphen_alias_and_pretty() -> None:
    proc = cli("call", EXAMPLE, "list-accounts", "--json", GOOD, "--pretty")
    assert proc.returncode == 0, proc.stderr
    assert b'\n  "response": [' in proc.stdout
    assert len(msgspec.json.decode(proc.stdout, type=ListAccountsResponse).response) == 10


def test_call_with_json_file(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(GOOD)
    proc = cli("call", EXAMPLE, "validate_credentials", "--json-file", str(request))
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    assert msgspec.json.decode(proc.stdout)["response"]["valid"] is True


def test_call_with_json_file_dash_reads_stdin() -> None:
    proc = cli("call", EXAMPLE, "validate_credentials", "--json-file", "-", input=GOOD)
    assert proc.returncode == 0, proc.stderr
    assert msgspec.json.decode(proc.stdout)["response"]["valid"] is True


def test_call_with_plain_stdin() -> None:
    proc = cli("call", EXAMPLE, "list-resources", input=GOOD)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    assert msgspec.json.decode(proc.stdout)["response"][0]["label"] == "acme workspace"


def test_each_cli_call_starts_from_the_seeded_directory() -> None:
    body = msgspec.json.encode(
        {
            "auth": {"basic": {"username": "admin", "password": PASSWORD}},
            "request": {"account_id": "user-0001"},
        }
    ).decode()
    assert cli("call", EXAMPLE, "delete_account", "--json", body).returncode == 0
    assert cli("call", EXAMPLE, "delete_account", "--json", body).returncode == 0


# ---- python -m connector: error envelopes (exit 1) -----------------------------


def test_wrong_password_is_exit_1_and_never_echoed() -> None:
    proc = cli("call", EXAMPLE, "validate_credentials", "--json", WRONG)
    assert proc.returncode == 1
    assert_clean(proc)
    assert error_of(proc.stdout).error_code == "unauthorized"
    assert SECRET.encode() not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "body",
    [
        WRONG[:-5],  # truncated JSON
        WRONG.replace('"request":{}', '"request":{},"page":{"size":"x"}'),
        WRONG.replace('"request":{}', f'"request":{{}},"page":{{"size":"{SECRET}"}}'),
        WRONG.replace('"request":{}', f'"request":{{}},"settings":{{"users":"{SECRET}"}}'),
        WRONG.replace('"request":{}', f'"request":{{}},"settings":{{"tenant":{{"x":"{SECRET}"}}}}'),
        WRONG.replace('"request":{}', '"request":[]'),
        WRONG.replace('"basic"', '"token"'),
        f'{{"auth":{{"token":{{"token":"{SECRET}"}}}},"request":{{}}}}',
        f'{{"auth":{{"basic":{{"username":"{SECRET}","password":"{SECRET}"}}}},"request":{{}}}}',
    ],
    ids=[
        "truncated",
        "wrong-type",
        "secret-as-wrong-type",
        "secret-in-bad-settings",
        "secret-nested-in-bad-settings",
        "request-not-object",
        "wrong-auth-kind",
        "token-auth",
        "wrong-username-and-password",
    ],
)
def test_secret_never_appears_for_a_failing_call(body: str) -> None:
    assert SECRET in body
    proc = cli("call", EXAMPLE, "list_accounts", "--json", body)
    assert proc.returncode == 1, proc.stderr
    assert_clean(proc)
    assert SECRET.encode() not in proc.stdout
    assert SECRET.encode() not in proc.stderr
    assert error_of(proc.stdout).error_code in {"bad_request", "unauthorized"}


@pytest.mark.parametrize("body", ["{", "", "[]", "null", "not json", '{"request": {}}'])
def test_bad_json_is_a_bad_request_envelope(body: str) -> None:
    proc = cli("call", EXAMPLE, "validate_credentials", "--json", body)
    assert proc.returncode == 1
    assert_clean(proc)
    error = error_of(proc.stdout)
    assert error.error_code == "bad_request"
    assert error.raised_by is None


def test_empty_stdin_says_no_request_was_given() -> None:
    proc = cli("call", EXAMPLE, "validate_credentials", input="")
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"no request given: standard input was empty" in proc.stderr


@pytest.mark.parametrize("name", ["get_authorization_url", "frobnicate", "list_accounts_"])
def test_unregistered_capability_is_not_implemented(name: str) -> None:
    proc = cli("call", EXAMPLE, name, "--json", GOOD)
    assert proc.returncode == 1
    assert_clean(proc)
    # 3.5's not_implemented is written as unsupported_operation on the 4.x wire.
    assert error_of(proc.stdout).error_code == "unsupported_operation"


# ---- python -m connector: usage errors (exit 2) --------------------------------


@pytest.fixture
def bad_targets(tmp_path: Path) -> Path:
    write(tmp_path / "boom_at_import.py", 'raise RuntimeError("boom at import")\n')
    write(tmp_path / "syntax_error.py", "def oops(:\n")
    write(tmp_path / "missing_dep.py", "import no_such_module_for_cli_tests\n")
    write(tmp_path / "not_an_integration.py", "integration = 42\n")
    write(tmp_path / "connector.py", "integration = None\n")  # shadows the library
    return tmp_path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bogus"], "unknown choice 'bogus'"),
        (["info"], "TARGET"),
        (["call", EXAMPLE], "CAPABILITY"),
        (["info", "examples/no_such_file.py"], "no such file"),
        (["info", "examples/no_such_file.py:integration"], "no such file"),
        (["info", "no_such_package_for_cli_tests.mod"], "cannot import"),
        (["info", f"{EXAMPLE}:nope"], "no Integration named 'nope'"),
        (["info", f"{EXAMPLE}:MockSettings"], "no Integration named 'MockSettings'"),
        (["info", "{tmp}/boom_at_import.py"], "RuntimeError: boom at import"),
        (["info", "{tmp}/syntax_error.py"], "SyntaxError"),
        (["info", "{tmp}/missing_dep.py"], "no_such_module_for_cli_tests"),
        (["info", "{tmp}/not_an_integration.py"], "it has none"),
        (["info", "{tmp}/connector.py"], "taken"),
        (["call", EXAMPLE, "list_accounts", "--json-file", "/no/such/request.json"], "cannot read"),
        (["call", EXAMPLE, "list_accounts", "--json-file", "{tmp}"], "cannot read"),
        (["call", EXAMPLE, "list_accounts", "--json", "{}", "--json-file", "x"], "not allowed"),
        (["call", EXAMPLE, "list_accounts", "--bogus"], "unrecognized"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    bad_targets: Path, argv: list[str], message: str
) -> None:
    proc = cli(*[a.replace("{tmp}", str(bad_targets)) for a in argv])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == b""
    assert_clean(proc)
    assert b"usage:" in proc.stderr
    assert message.encode() in proc.stderr, proc.stderr.decode()


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_no_input_with_a_terminal_on_stdin_is_a_usage_error() -> None:
    leader, follower = os.openpty()
    try:
        proc = cli("call", EXAMPLE, "list_accounts", stdin=follower)
    finally:
        os.close(leader)
        os.close(follower)
    assert proc.returncode == 2
    assert b"no request given" in proc.stderr
    assert_clean(proc)


def test_json_argument_that_is_not_utf8_is_a_bad_request_envelope() -> None:
    command = [sys.executable, "-m", "connector", "call", EXAMPLE, "list_accounts", "--json"]
    proc = subprocess.run(
        [*command, b"\xff{"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        cwd=REPO,
        env=_env(),
        timeout=30,
        check=False,
    )
    assert_clean(proc)
    assert proc.returncode == 1
    assert error_of(proc.stdout).error_code == "bad_request"


@pytest.mark.parametrize(
    "command",
    [
        "{py} -m connector call examples/mock_connector.py list_accounts --json-file - <&-",
        "{py} examples/mock_connector.py list_accounts --json-file - <&-",
    ],
    ids=["main", "run"],
)
def test_json_file_dash_with_stdin_closed_is_a_usage_error(command: str) -> None:
    proc = shell(command.format(py=sys.executable))
    assert_clean(proc)
    assert proc.returncode == 2


def test_info_accepts_and_ignores_a_request_without_echoing_it() -> None:
    proc = cli("info", EXAMPLE, "--json", '{"auth": {"basic": {"password": "hunter2-secret"}}}')
    assert proc.returncode == 0
    assert b"hunter2-secret" not in proc.stdout + proc.stderr


def test_no_input_with_stdin_closed_is_a_usage_error() -> None:
    proc = shell(f"{sys.executable} -m connector call examples/mock_connector.py list_accounts <&-")
    assert proc.returncode == 2
    assert b"no request given" in proc.stderr
    assert_clean(proc)


# ---- aliasing, scripts, broken pipes -------------------------------------------


def test_python_m_connector_aliases_itself_for_user_code(tmp_path: Path) -> None:
    target = write(tmp_path / "alias_target.py", TINY_CONNECTOR.format(name="integration"))
    proc = cli("call", str(target), "validate_credentials", "--json", tiny_body("wrong-one"))
    assert proc.returncode == 1, proc.stderr
    assert_clean(proc)
    error = error_of(proc.stdout)
    assert error.error_code == "not_found"  # not unexpected_error: same ConnectorError
    assert error.raised_by == "ConnectorError"
    assert error.message == "nobody home"


def test_connector_run_as_a_script(tmp_path: Path) -> None:
    script = write(tmp_path / "my_conn.py", TINY_CONNECTOR.format(name="integration"))
    proc = cli(str(script), "info", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert_clean(proc)
    info = msgspec.json.decode(proc.stdout, type=InfoResponse).response
    assert (info.app_id, info.capabilities) == (
        "tiny",
        ["app_info", "probe_integration", "validate_credentials"],
    )

    proc = cli(str(script), "validate-credentials", "--json", tiny_body("pw"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert msgspec.json.decode(proc.stdout)["response"]["unique_tenant_id"] == "__main__"

    proc = cli(str(script), "validate_credentials", input=tiny_body("nope"), cwd=tmp_path)
    assert proc.returncode == 1
    assert error_of(proc.stdout).error_code == "not_found"

    proc = cli(str(script), "list-accounts", "--json", GOOD, cwd=tmp_path)
    assert proc.returncode == 2
    assert_clean(proc)

    proc = cli(str(script), "--version", cwd=tmp_path)
    assert (proc.returncode, proc.stdout.strip()) == (0, b"9.8.7")


def test_example_runs_as_a_script() -> None:
    proc = cli(EXAMPLE, "list-entitlements", "--json", GOOD)
    assert proc.returncode == 0, proc.stderr
    assert len(msgspec.json.decode(proc.stdout)["response"]) == 6


@pytest.mark.parametrize(
    "pipeline",
    [
        "{py} -m connector info examples/mock_connector.py | head -c 10",
        "{py} -m connector info examples/mock_connector.py | true",
        "{py} -m connector info examples/mock_connector.py --pretty | true",
        "{py} -m connector call examples/mock_connector.py list_accounts --json '{good}' | true",
        "{py} examples/mock_connector.py info | true",
        "{py} examples/mock_connector.py list-accounts --json '{good}' | true",
    ],
)
def test_broken_pipe_exits_without_traceback(pipeline: str) -> None:
    proc = shell(
        "set -o pipefail; "
        + pipeline.format(py=sys.executable, good=GOOD)
        + '; echo "status=${PIPESTATUS[0]}"'
    )
    assert proc.stderr == b"", proc.stderr.decode()
    status = int(proc.stdout.rsplit(b"status=", 1)[1])
    assert status in (0, 1)
    if "head -c 10" in pipeline:
        assert proc.stdout.startswith(b'{"response')


# ---- connector.main in-process -------------------------------------------------


def test_main_info(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert connector.main(["info", EXAMPLE_PATH]) == 0
    out = capsysbinary.readouterr().out
    assert msgspec.json.decode(out, type=InfoResponse).response.app_id == "mock"


def test_main_call_json_and_exit_codes(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert connector.main(["call", EXAMPLE_PATH, "list-accounts", "--json", GOOD]) == 0
    result = msgspec.json.decode(capsysbinary.readouterr().out, type=ListAccountsResponse)
    assert len(result.response) == 10
    assert connector.main(["call", EXAMPLE_PATH, "validate_credentials", "--json", WRONG]) == 1
    out, err = capsysbinary.readouterr()
    assert error_of(out).error_code == "unauthorized"
    assert SECRET.encode() not in out + err


def test_main_call_stdin(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    assert connector.main(["call", EXAMPLE_PATH, "validate_credentials"]) == 0
    assert msgspec.json.decode(capsysbinary.readouterr().out)["response"]["valid"] is True


def test_main_stdin_tty_is_a_usage_error(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.TextIOWrapper):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(io.BytesIO(GOOD.encode())))
    with pytest.raises(SystemExit) as exc:
        connector.main(["call", EXAMPLE_PATH, "validate_credentials"])
    assert exc.value.code == 2
    assert b"no request given" in capsysbinary.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["bogus"], ["info", "examples/no_such_file.py"], ["info", f"{EXAMPLE_PATH}:nope"]],
)
def test_main_usage_errors_raise_system_exit_2(
    argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    with pytest.raises(SystemExit) as exc:
        connector.main(argv)
    assert exc.value.code == 2
    assert capsysbinary.readouterr().out == b""


def test_main_module_target_from_cwd(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    write(tmp_path / "cli_inproc_pkg" / "__init__.py", "")
    write(tmp_path / "cli_inproc_pkg" / "conn.py", TINY_CONNECTOR.format(name="custom"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    try:
        assert connector.main(["info", "cli_inproc_pkg.conn:custom"]) == 0
        out = capsysbinary.readouterr().out
        assert msgspec.json.decode(out, type=InfoResponse).response.app_id == "tiny"
    finally:
        for name in ("cli_inproc_pkg", "cli_inproc_pkg.conn"):
            sys.modules.pop(name, None)


# ---- connector.run in-process --------------------------------------------------


def run_mock(argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> tuple[Any, bytes]:
    with pytest.raises(SystemExit) as exc:
        connector.run(mock_connector.integration, argv)
    out, err = capsysbinary.readouterr()
    assert b"Traceback" not in err
    return exc.value.code, out


@pytest.mark.parametrize(
    "argv", [["info"], ["info", "--json", GOOD], ["info", "--json-file", "x"], ["info", "--pretty"]]
)
def test_run_info(argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out = run_mock(argv, capsysbinary)
    assert code == 0
    info = msgspec.json.decode(out, type=InfoResponse).response
    assert sorted(info.capabilities) == MOCK_CAPABILITIES


@pytest.mark.parametrize("name", MOCK_CAPABILITIES)
def test_run_every_capability_by_both_names(
    name: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    body = msgspec.json.encode(
        {"auth": {"basic": {"username": "admin", "password": PASSWORD}}, "request": PAYLOADS[name]}
    ).decode()
    for spelling in (name, name.replace("_", "-")):
        mock_connector.reset()
        code, out = run_mock([spelling, "--json", body], capsysbinary)
        assert code == 0, out
        decoded = msgspec.json.decode(
            out, type=mock_connector.integration.capabilities[name].response_type
        )
        assert decoded.response is not None


def test_run_error_envelope_is_exit_1(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    code, out = run_mock(["validate-credentials", "--json", WRONG], capsysbinary)
    assert code == 1
    assert error_of(out).error_code == "unauthorized"
    assert SECRET.encode() not in out


def test_run_json_file(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    request = tmp_path / "r.json"
    request.write_text(GOOD)
    code, out = run_mock(["list_accounts", "--json-file", str(request), "--pretty"], capsysbinary)
    assert code == 0
    assert b"\n  " in out
    assert len(msgspec.json.decode(out, type=ListAccountsResponse).response) == 10


@pytest.mark.parametrize("argv", [["list-resources"], ["list-resources", "--json-file", "-"]])
def test_run_stdin(
    argv: list[str],
    capsysbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(GOOD.encode())))
    code, out = run_mock(argv, capsysbinary)
    assert code == 0
    assert msgspec.json.decode(out)["response"][0]["resource_type"] == "workspace"


@pytest.mark.parametrize(
    "argv",
    [
        ["bogus"],
        ["get_authorization_url", "--json", GOOD],  # a capability the example lacks
        ["list_accounts", "--json-file", "/no/such/file.json"],
        [],
    ],
)
def test_run_usage_errors_exit_2(
    argv: list[str], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, out = run_mock(argv, capsysbinary)
    assert code == 2
    assert out == b""


# ---- --result-file-path: the result goes to a file (gzip for .gz), exit 0 ------


def read_result(path: Path) -> bytes:
    """The bytes of a result file: gunzipped for .gz (which must be gzip), else as is."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        assert data[:2] == b"\x1f\x8b", data[:20]  # gzip's magic number
        return gzip.decompress(data)
    assert data[:2] != b"\x1f\x8b"  # plain JSON unless asked
    return data


def assert_same_result(written: bytes, printed: bytes) -> None:
    """The file holds the document stdout would have printed (its trailing newline aside)."""
    assert printed.endswith(b"\n")
    assert written.rstrip(b"\n") == printed.rstrip(b"\n")
    msgspec.json.decode(written)


def assert_quiet(proc: subprocess.CompletedProcess[bytes]) -> None:
    """Exit 0, nothing on stdout (the result is in the file), no traceback."""
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    assert_clean(proc, json=False)


UNWRITABLE = ["no/such/dir/result.json", "no/such/dir/result.json.gz", "."]


@pytest.mark.parametrize("name", ["result.json", "result.json.gz"])
@pytest.mark.parametrize(
    "capability", ["list_accounts", "list-entitlements", "validate_credentials"]
)
def test_call_result_file_path(tmp_path: Path, name: str, capability: str) -> None:
    printed = cli("call", EXAMPLE, capability, "--json", GOOD)
    assert printed.returncode == 0, printed.stderr
    path = tmp_path / name
    path.write_bytes(b"stale content, longer than nothing at all")  # replaced, not appended to
    proc = cli("call", EXAMPLE, capability, "--json", GOOD, "--result-file-path", str(path))
    assert_quiet(proc)
    assert_same_result(read_result(path), printed.stdout)


def test_call_result_file_path_gz_of_a_large_result(tmp_path: Path) -> None:
    body = msgspec.json.encode(
        {
            "auth": {"basic": {"username": "admin", "password": PASSWORD}},
            "request": {},
            "page": {"size": 1000},
        }
    ).decode()
    printed = cli("call", EXAMPLE, "find_entitlement_associations", "--json", body)
    assert printed.returncode == 0, printed.stderr
    path = tmp_path / "associations.json.gz"
    proc = cli(
        "call", EXAMPLE, "find_entitlement_associations", "--json", body,
        "--result-file-path", str(path),
    )  # fmt: skip
    assert_quiet(proc)
    assert path.stat().st_size < len(printed.stdout)  # it really is compressed
    assert_same_result(read_result(path), printed.stdout)


@pytest.mark.parametrize("name", ["result.json", "result.json.gz"])
def test_call_result_file_path_honours_pretty(tmp_path: Path, name: str) -> None:
    printed = cli("call", EXAMPLE, "list_accounts", "--json", GOOD, "--pretty")
    assert b'\n  "response": [' in printed.stdout
    path = tmp_path / name
    proc = cli(
        "call", EXAMPLE, "list_accounts", "--json", GOOD, "--pretty",
        "--result-file-path", str(path),
    )  # fmt: skip
    assert_quiet(proc)
    assert_same_result(read_result(path), printed.stdout)


@pytest.mark.parametrize("name", ["result.json", "result.json.gz"])
@pytest.mark.parametrize(
    ("capability", "body", "code"),
    [
        ("validate_credentials", WRONG, "unauthorized"),
        ("list_accounts", WRONG[:-5], "bad_request"),
        ("frobnicate", GOOD, "unsupported_operation"),
    ],
    ids=["wrong-password", "truncated-json", "unregistered"],
)
def test_call_result_file_path_error_envelope_is_exit_0(
    tmp_path: Path, name: str, capability: str, body: str, code: str
) -> None:
    printed = cli("call", EXAMPLE, capability, "--json", body)
    assert printed.returncode == 1  # without the option: exit 1, as before
    path = tmp_path / name
    proc = cli("call", EXAMPLE, capability, "--json", body, "--result-file-path", str(path))
    assert_quiet(proc)
    written = read_result(path)
    assert_same_result(written, printed.stdout)
    assert error_of(written).error_code == code
    assert SECRET.encode() not in written + proc.stderr


def test_main_result_file_path(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path = tmp_path / "out.json.gz"
    argv = ["call", EXAMPLE_PATH, "validate_credentials", "--json", WRONG]
    assert connector.main([*argv, "--result-file-path", str(path)]) == 0
    out, err = capsysbinary.readouterr()
    assert out == b""
    error = error_of(read_result(path))
    assert error.error_code == "unauthorized"
    assert error.error_metadata is not None and error.error_metadata.refreshable is True
    assert SECRET.encode() not in read_result(path) + err
    assert connector.main(argv) == 1
    assert_same_result(read_result(path), capsysbinary.readouterr().out)


@pytest.mark.parametrize("target", UNWRITABLE)
def test_call_unwritable_result_file_path_is_exit_2_before_the_capability(
    tmp_path: Path, target: str
) -> None:
    script = write(tmp_path / "marker_conn.py", MARKER_CONNECTOR)
    marker = tmp_path / "capability-ran"
    path = tmp_path / target
    proc = cli("call", str(script), "validate_credentials", "--json", tiny_body("pw"),
               "--result-file-path", str(path))  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == b""
    assert_clean(proc)
    assert b"usage:" in proc.stderr
    assert str(path).encode() in proc.stderr
    assert not marker.exists()  # the capability did not run
    assert not (tmp_path / "no").exists()
    # The same call with a writable path runs it (so the marker does tell).
    good = tmp_path / "result.json"
    proc = cli("call", str(script), "validate_credentials", "--json", tiny_body("pw"),
               "--result-file-path", str(good))  # fmt: skip
    assert_quiet(proc)
    assert marker.exists()
    assert msgspec.json.decode(good.read_bytes())["response"]["unique_tenant_id"] == "marker-tenant"


# ---- --result-file-path on a connector's own CLI (connector.run) -----------------


@pytest.mark.parametrize("name", ["result.json", "result.json.gz"])
@pytest.mark.parametrize("spelling", ["list_accounts", "list-accounts"])
def test_run_result_file_path(
    tmp_path: Path, name: str, spelling: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    code, printed = run_mock([spelling, "--json", GOOD], capsysbinary)
    assert code == 0
    path = tmp_path / name
    code, out = run_mock([spelling, "--json", GOOD, "--result-file-path", str(path)], capsysbinary)
    assert (code, out) == (0, b"")
    assert_same_result(read_result(path), printed)
    assert len(msgspec.json.decode(read_result(path), type=ListAccountsResponse).response) == 10


@pytest.mark.parametrize("name", ["result.json", "result.json.gz"])
@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["validate-credentials", "--json", WRONG], "unauthorized"),
        (["list_accounts", "--json", "{"], "bad_request"),
        (["activate-account", "--json", GOOD.replace('"request":{}', '"request":{"account_id":"user-9999"}')], "not_found"),
    ],
    ids=["wrong-password", "bad-json", "unknown-account"],
)  # fmt: skip
def test_run_result_file_path_error_envelope_is_exit_0(
    tmp_path: Path,
    name: str,
    argv: list[str],
    code: str,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    exit_code, printed = run_mock(argv, capsysbinary)
    assert exit_code == 1
    path = tmp_path / name
    exit_code, out = run_mock([*argv, "--result-file-path", str(path)], capsysbinary)
    assert (exit_code, out) == (0, b"")
    written = read_result(path)
    assert_same_result(written, printed)
    assert error_of(written).error_code == code
    assert SECRET.encode() not in written


@pytest.mark.parametrize("target", UNWRITABLE)
def test_run_unwritable_result_file_path_is_exit_2_before_the_capability(
    tmp_path: Path, target: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    body = GOOD.replace('"request":{}', '"request":{"account_id":"user-0001"}')
    path = tmp_path / target
    with pytest.raises(SystemExit) as exc:
        connector.run(
            mock_connector.integration,
            ["delete-account", "--json", body, "--result-file-path", str(path)],
        )
    out, err = capsysbinary.readouterr()
    assert (exc.value.code, out) == (2, b"")
    assert b"usage:" in err and str(path).encode() in err
    assert b"Traceback" not in err
    assert not (tmp_path / "no").exists()
    # user-0001 is still there: the first delete succeeds, the next is not_found.
    assert run_mock(["delete-account", "--json", body], capsysbinary)[0] == 0
    code, out = run_mock(["delete-account", "--json", body], capsysbinary)
    assert code == 1
    assert error_of(out).error_code == "not_found"


@pytest.mark.parametrize("target", UNWRITABLE)
def test_script_result_file_path(tmp_path: Path, target: str) -> None:
    script = write(tmp_path / "marker_script.py", MARKER_CONNECTOR)
    marker = tmp_path / "capability-ran"
    bad = tmp_path / target
    proc = cli(str(script), "validate-credentials", "--json", tiny_body("pw"),
               "--result-file-path", str(bad), cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert proc.stdout == b""
    assert_clean(proc)
    assert b"usage:" in proc.stderr
    assert not marker.exists()

    printed = cli(str(script), "validate-credentials", "--json", tiny_body("nope"), cwd=tmp_path)
    assert printed.returncode == 1
    marker.unlink()
    path = tmp_path / "result.json.gz"
    proc = cli(str(script), "validate-credentials", "--json", tiny_body("nope"),
               "--result-file-path", str(path), cwd=tmp_path)  # fmt: skip
    assert_quiet(proc)
    assert marker.exists()
    written = read_result(path)
    assert_same_result(written, printed.stdout)
    assert error_of(written).error_code == "unauthorized"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("target", ["main", "run"])
def test_result_file_that_cannot_be_written_is_no_traceback_and_not_exit_0(target: str) -> None:
    """/dev/full opens fine and fails on write (ENOSPC): no result was written."""
    args = (EXAMPLE,) if target == "run" else ("call", EXAMPLE)
    proc = cli(*args, "list_accounts", "--json", GOOD, "--result-file-path", "/dev/full")
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr)
    assert b"Traceback" not in proc.stderr, proc.stderr.decode()
    assert b"/dev/full" in proc.stderr
    assert PASSWORD.encode() not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"", "empty"), (b"  \n\t", "empty"), (b"\xff\xfe-not-utf8", "UTF-8")],
    ids=["empty", "blank", "not-utf8"],
)
def test_serve_refuses_a_token_file_it_cannot_use(
    tmp_path: Path, content: bytes, says: str
) -> None:
    """Never a server without authentication because the token file was blank."""
    token_file = tmp_path / "token"
    token_file.write_bytes(content)
    proc = cli("serve", EXAMPLE, "--port", "0", "--token-file", str(token_file))
    assert proc.returncode == 2
    assert says in proc.stderr.decode() and b"Traceback" not in proc.stderr
    assert b"Listening" not in proc.stderr
