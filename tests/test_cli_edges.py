"""The CLI's edges: usage errors that say what to do, never echo a request,
and never end in a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import msgspec
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "examples/mock_connector.py"
REQUEST = '{"auth": {"basic": {"username": "admin", "password": "Sup3r-Secret-Pw"}}, "request": {}}'


def cli(
    *args: str, cwd: Path = ROOT, stdin: int | IO[bytes] | None = subprocess.DEVNULL, **options: Any
) -> subprocess.CompletedProcess[bytes]:
    proc: subprocess.CompletedProcess[bytes] = subprocess.run(
        [sys.executable, "-m", "connector", *args],
        cwd=cwd,
        capture_output=True,
        timeout=60,
        stdin=stdin,
        **options,
    )
    return proc


def usage_error(proc: subprocess.CompletedProcess[bytes], *fragments: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and proc.stdout == b""
    for fragment in fragments:
        assert fragment in err, err
    return err


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_a_bad_port_is_a_usage_error(port: str) -> None:
    usage_error(cli("serve", EXAMPLE, "--port", port), "a port is a number from 0 to 65535")


@pytest.mark.parametrize("size", ["-5", "0"])
def test_a_bad_max_body_size_is_a_usage_error(size: str) -> None:
    usage_error(cli("serve", EXAMPLE, "--max-body-size", size), "positive number of bytes")


def test_a_request_given_without_json_is_not_echoed() -> None:
    err = usage_error(cli("call", EXAMPLE, "list_accounts", REQUEST), "unrecognized arguments")
    assert "Sup3r-Secret-Pw" not in err and "--json" in err


def test_a_request_given_as_the_sub_command_is_not_echoed() -> None:
    proc = subprocess.run(
        [sys.executable, EXAMPLE, REQUEST], cwd=ROOT, capture_output=True, timeout=60
    )
    err = usage_error(proc, "unknown choice (not shown)")
    assert "Sup3r-Secret-Pw" not in err


def test_an_unknown_sub_command_suggests_the_closest() -> None:
    proc = subprocess.run(
        [sys.executable, EXAMPLE, "list-acounts"], cwd=ROOT, capture_output=True, timeout=60
    )
    usage_error(proc, "unknown choice 'list-acounts'", "did you mean 'list-accounts'?")


def test_an_unknown_capability_envelope_suggests_the_closest() -> None:
    proc = cli("call", EXAMPLE, "list_acounts", "--json", REQUEST)
    assert proc.returncode == 1
    assert b"did you mean 'list_accounts'?" in proc.stdout


def test_a_directory_target_says_so(tmp_path: Path) -> None:
    usage_error(cli("info", str(tmp_path)), "is a directory")


def test_a_misspelt_attribute_lists_the_integrations_found() -> None:
    usage_error(
        cli("info", f"{EXAMPLE}:intgration"),
        "no Integration named 'intgration'",
        "it has: integration",
    )


def test_a_target_named_like_a_stdlib_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("raise SystemExit('must not run')\n")
    usage_error(cli("info", "json.py", cwd=tmp_path), "taken by Python's standard library")


def test_a_target_that_prints_on_import_keeps_stdout_json(tmp_path: Path) -> None:
    target = tmp_path / "chatty.py"
    target.write_text(f"print('hello from import')\nexec(open({str(ROOT / EXAMPLE)!r}).read())\n")
    proc = cli("info", str(target), env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(b'{"response"') and b"hello from import" in proc.stderr


@pytest.mark.parametrize(
    "body", ["raise SystemExit(3)", "raise KeyboardInterrupt", "import sys; sys.exit(0)"]
)
def test_a_target_that_exits_on_import_is_a_usage_error(tmp_path: Path, body: str) -> None:
    target = tmp_path / "quits.py"
    target.write_text(body + "\n")
    usage_error(cli("info", str(target)), "stopped the program")


def test_unbounded_stdin_is_refused_not_read_whole() -> None:
    with open("/dev/zero", "rb") as zero:
        proc = cli("call", EXAMPLE, "list_accounts", stdin=zero)
    usage_error(proc, "larger than 16777216 bytes")


def test_a_full_stdout_is_a_clean_error() -> None:
    with open("/dev/full", "wb") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "connector", "info", EXAMPLE],
            cwd=ROOT,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert proc.returncode == 1
    assert b"cannot write the result to standard output" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_a_closed_stdout_is_a_clean_error() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m connector info {EXAMPLE} >&-",
        shell=True,
        cwd=ROOT,
        capture_output=False,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    assert proc.returncode == 1
    assert b"Traceback" not in proc.stderr and b"standard output" in proc.stderr


BIG_TARGET = """
from connector import FoundAccountData, Integration, ListAccountsRequest, ListAccountsResponse, run

integration = Integration(app_id="big", version="1")


@integration.capability
async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
    return ListAccountsResponse(
        response=[FoundAccountData(integration_specific_id=str(i)) for i in range(40_000)]
    )


if __name__ == "__main__":
    run(integration)
"""


@pytest.fixture
def big_target(tmp_path: Path) -> str:
    """A connector whose result (about 3 MB) is far larger than a pipe holds."""
    path = tmp_path / "big.py"
    path.write_text(BIG_TARGET)
    return str(path)


@pytest.mark.parametrize("unbuffered", ["1", ""])
@pytest.mark.parametrize("command", ["call", "script"])
def test_output_cut_by_head_exits_1_without_traceback(
    big_target: str, unbuffered: str, command: str
) -> None:
    """The reader leaves after one byte while most of the result is unwritten: the
    exit status says the output was cut (it used to be 0), stderr stays quiet."""
    if command == "call":
        words = f"{sys.executable} -m connector call {big_target} list_accounts"
    else:  # the connector's own CLI, as `run(integration)` gives it
        words = f"{sys.executable} {big_target} list-accounts"
    proc = subprocess.run(
        f"set -o pipefail; {words} --json '{{\"request\": {{}}}}' | head -c1 >/dev/null;"
        ' echo "status=${PIPESTATUS[0]}"',
        shell=True,
        executable="/bin/bash",
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONUNBUFFERED": unbuffered},
    )
    assert proc.stdout.strip() == b"status=1", (proc.stdout, proc.stderr)
    assert proc.stderr == b""


def test_a_non_blocking_stdout_with_a_slow_reader_gets_every_byte(big_target: str) -> None:
    """stdout is a non-blocking pipe and the reader waits before it reads: the CLI
    waits for room instead of dropping what did not fit (it used to exit 0 after
    64 KB)."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "connector",
            "call",
            big_target,
            "list_accounts",
            "--json",
            '{"request": {}}',
        ],
        stdin=subprocess.DEVNULL,
        stdout=write_end,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    os.close(write_end)
    try:
        with open(read_end, "rb", buffering=0) as reader:
            time.sleep(1.0)  # the pipe fills and the writer meets EAGAIN
            chunks = []
            while chunk := reader.read(65536):
                chunks.append(chunk)
                time.sleep(0.0005)
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert proc.stderr is not None and proc.stderr.read() == b""
    data = b"".join(chunks)
    assert data.endswith(b"\n")
    assert len(msgspec.json.decode(data)["response"]) == 40_000


def test_the_console_script_names_itself(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "microconnector"
    if not script.exists():
        pytest.skip("the console script is not installed in this environment")
    proc = subprocess.run([str(script), "--help"], capture_output=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith(b"usage: microconnector")


def a_foreign_connector_package(site: Path) -> None:
    """What connector-py puts in site-packages: a `connector` package whose first
    import fails here (it needs PyInstaller), and the metadata naming its owner."""
    package = site / "connector"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("import PyInstaller.__main__\n")
    info = site / "connector_py-4.280.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: connector-py\nVersion: 4.280.0\n")
    (info / "RECORD").write_text("connector/__init__.py,,\nconnector/main.py,,\n")


def test_python_m_microconnector_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "microconnector", "--help"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.startswith(b"usage: python -m microconnector")


@pytest.mark.parametrize("words", [["--help"], ["info", EXAMPLE], []])
def test_microconnector_beside_another_connector_package_says_what_to_do(
    tmp_path: Path, words: list[str]
) -> None:
    """Both in one folder, as in a venv's site-packages: the package wins the name.
    The entry point says which distribution took it and what to do; before, the
    console script died in connector-py's imports (`No module named 'PyInstaller'`)."""
    for module in ("connector.py", "microconnector.py"):
        (tmp_path / module).write_bytes((ROOT / module).read_bytes())
    a_foreign_connector_package(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "microconnector", *words],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and proc.stdout == b"", err
    assert "Traceback" not in err and "PyInstaller" not in err
    assert f"finds {tmp_path / 'connector' / '__init__.py'} (installed by connector-py)" in err
    assert f"not microconnector's {tmp_path / 'connector.py'}" in err
    assert "virtual environment without connector-py" in err


def test_microconnector_without_its_connector_py_says_to_reinstall(tmp_path: Path) -> None:
    """Only microconnector.py, and nothing named `connector` importable (-S: no site)."""
    (tmp_path / "microconnector.py").write_bytes((ROOT / "microconnector.py").read_bytes())
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "microconnector", "--help"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        env={key: value for key, value in os.environ.items() if key != "PYTHONPATH"},
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert f"finds nothing ({tmp_path / 'connector.py'} expected); reinstall" in err


def test_microconnector_beside_a_users_connector_py_says_to_rename_it(tmp_path: Path) -> None:
    (tmp_path / "connector.py").write_text("raise SystemExit('the user module ran')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "microconnector", "--help"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "the user module ran" not in err, err
    assert f"finds {tmp_path / 'connector.py'}, not microconnector's" in err
    assert "Rename or move it" in err


def test_python_m_server_says_what_to_run() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "server"], cwd=ROOT, capture_output=True, timeout=60
    )
    assert proc.returncode == 2 and b"python -m connector serve" in proc.stderr


def test_our_server_and_scaffold_are_used_not_a_users_namesakes(tmp_path: Path) -> None:
    """A user's own server.py or scaffold.py in the working directory is not ours."""
    for name in ("server", "scaffold"):
        (tmp_path / f"{name}.py").write_text(f"raise SystemExit('the user\\'s {name}.py ran')\n")
    target = str(ROOT / EXAMPLE)
    proc = cli("serve", target, "--token-file", str(tmp_path / "missing"), cwd=tmp_path)
    err = usage_error(proc, "missing")  # our server.py's read_token refused the file
    assert "ran" not in err
    proc = cli(
        "scaffold",
        "my-app",
        str(tmp_path / "out"),
        "--author",
        "A",
        "--email",
        "a@b.c",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "my_app" / "integration.py").exists()
