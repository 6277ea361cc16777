"""examples/multi_credential_connector.py, as the README shows it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import multi_credential_connector as example
import pytest
from _schemas import errors4

ROOT = Path(__file__).resolve().parent.parent
API = {"id": "api", "token": {"token": "tok-demo"}}
ADMIN = {"id": "admin", "basic": {"username": "admin", "password": "correct-horse"}}

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def seeded() -> None:
    example.reset()


async def call(name: str, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    out, code = await example.integration.dispatch_result(name, json.dumps(body))
    return json.loads(out), code


def test_info_validates_against_the_4x_file() -> None:
    data = json.loads(example.integration.info_json())
    assert errors4("InfoResponse", data) == []
    schemas = data["response"]["credentials_schema"]
    assert [(s["id"], s["x-optional"]) for s in schemas] == [("api", False), ("admin", True)]
    assert "validate_credential_config" in data["response"]["capabilities"]


async def test_list_accounts_takes_the_api_token_alone_or_with_admin() -> None:
    for credentials in ([API], [API, ADMIN]):
        data, code = await call("list_accounts", {"request": {}, "credentials": credentials})
        assert code is None and len(data["response"]) == 3
    data, code = await call("list_accounts", {"request": {}, "credentials": [ADMIN]})
    assert code == "bad_request" and "missing 'api'" in data["error"]["message"]
    wrong = {"id": "api", "token": {"token": "tok-wrong-1"}}
    data, code = await call("list_accounts", {"request": {}, "credentials": [wrong]})
    assert code == "unauthorized" and "tok-wrong-1" not in json.dumps(data)


async def test_delete_account_needs_the_admin_credential() -> None:
    body = {"request": {"account_id": "u1"}, "credentials": [API]}
    data, code = await call("delete_account", body)
    assert code == "bad_request" and "'admin'" in data["error"]["message"]
    data, code = await call("delete_account", {**body, "credentials": [API, ADMIN]})
    assert code is None and data["response"]["deleted"] is True
    data, code = await call("delete_account", {**body, "credentials": [API, ADMIN]})
    assert code == "not_found"


async def test_validate_credential_config_runs_the_tokens_own_check() -> None:
    async def check(credential: dict[str, Any]) -> dict[str, Any]:
        data, code = await call(
            "validate_credential_config", {"request": {"credential": credential}}
        )
        assert code is None
        response: dict[str, Any] = data["response"]
        return response

    assert await check(API) == {"valid": True, "validation_errors": None}
    assert (await check({"id": "api", "token": {"token": "demo"}}))["validation_errors"] == [
        'an API token starts with "tok-"'
    ]
    assert await check({"id": "admin", "basic": {"username": "admin", "password": ""}}) == {
        "valid": False,
        "validation_errors": ["`basic.password` is empty"],
    }


def test_the_docstring_commands_run() -> None:
    path = "examples/multi_credential_connector.py"
    listing = json.dumps({"credentials": [API], "request": {}})
    proc = subprocess.run(
        [sys.executable, "-m", "connector", "call", path, "list_accounts", "--json", listing],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["response"]) == 3
    check = json.dumps({"request": {"credential": {"id": "api", "token": {"token": "demo"}}}})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "connector",
            "call",
            path,
            "validate-credential-config",
            "--json",
            check,
        ],
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout)["response"]["valid"] is False
