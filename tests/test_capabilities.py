"""The whole 4.x capability set: every standard capability registers, custom
capabilities, app_info, probe_integration, execution summaries."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import msgspec
import pytest
from _schemas import errors4
from _srv_util import call, running

import connector
import server
from connector import (
    BasicCredential,
    CustomRequest,
    CustomResponse,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    RegistrationError,
)

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parent.parent
AUTH = {"basic": {"username": "admin", "password": "correct-horse"}}


def fresh(**options: Any) -> Integration:
    options.setdefault("auth", BasicCredential)
    return Integration(app_id="acme", version="1", **options)


def register_standard(integration: Integration, spec: connector.CapabilitySpec) -> None:
    async def capability(request: Any) -> Any:
        raise connector.NotFoundError("nothing here")

    capability.__name__ = spec.name
    capability.__annotations__ = {"request": spec.request_type, "return": spec.response_type}
    integration._register(spec.name, capability)


async def test_every_standard_capability_registers_and_answers() -> None:
    integration = fresh()
    for spec in connector.CAPABILITIES.values():
        if spec.name not in integration.capabilities:
            register_standard(integration, spec)
    assert set(integration.capabilities) == set(connector.CAPABILITIES)
    assert {c.value for c in connector.CapabilityName} == set(connector.CAPABILITIES)
    info = json.loads(integration.info_json())
    assert errors4("InfoResponse", info) == []
    assert info["response"]["capabilities"] == sorted(connector.CAPABILITIES)
    body = json.dumps({"auth": AUTH, "request": {"account_id": "x"}}).encode()
    _out, code = await integration.dispatch_result("delete_account", body)
    assert code is connector.ErrorCode.NOT_FOUND


def test_levels_and_categories_are_available_to_code() -> None:
    specs = connector.CAPABILITIES
    assert specs["update_account"].level == "write" and specs["update_account"].category is None
    assert specs["list_accounts"].level == "read"
    assert specs["validate_credential_config"].level == "validation"
    assert specs["refresh_access_token"].category == "authorization"
    assert specs["app_info"].category == "specification"
    assert specs["get_account"].since == "4" and specs["list_accounts"].since == "3.5"


def test_35_mode_refuses_4x_capabilities_and_has_no_defaults() -> None:
    integration = fresh(api_version="3.5")
    assert "app_info" not in integration.capabilities

    async def update_account(
        request: connector.UpdateAccountRequest,
    ) -> connector.UpdateAccountResponse:
        raise NotImplementedError

    with pytest.raises(RegistrationError, match=r"not part of API 3\.5"):
        integration.capability(update_account)


def test_a_function_named_like_another_capability_is_refused() -> None:
    integration = fresh()

    async def assign_entitlement(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    with pytest.raises(RegistrationError, match="named like capability 'assign_entitlement'"):
        integration.capability(assign_entitlement)
    assert "list_accounts" not in integration.capabilities


def test_empty_parentheses_work_as_bare() -> None:
    integration = fresh()

    @integration.capability()
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        return ListAccountsResponse(response=[])

    assert integration.capabilities["list_accounts"].func is list_accounts


# ---- custom capabilities --------------------------------------------------------


class Groups(msgspec.Struct, kw_only=True):
    names: list[str]


class Synced(msgspec.Struct, kw_only=True):
    synced: int


def with_custom() -> Integration:
    integration = fresh()

    @integration.custom_capability("sync_groups", display_name="Sync groups")
    async def sync_groups(request: CustomRequest[Groups]) -> CustomResponse[Synced]:
        """Pushes groups upstream."""
        return CustomResponse(response=Synced(synced=len(request.request.names)))

    return integration


async def test_a_custom_capability_dispatches_validates_and_shows_in_info() -> None:
    integration = with_custom()
    body = json.dumps({"auth": AUTH, "request": {"names": ["a", "b"]}})
    out, code = await integration.dispatch_result("sync_groups", body)
    assert code is None and json.loads(out)["response"] == {"synced": 2}
    out, code = await integration.dispatch_result("sync_groups", '{"auth": {}, "request": {}}')
    assert code is connector.ErrorCode.BAD_REQUEST
    out, code = await integration.dispatch_result(
        "sync_groups", json.dumps({"request": {"names": [1]}})
    )
    assert code is connector.ErrorCode.BAD_REQUEST and "$.request.names[0]" in out.decode()
    info = json.loads(integration.info_json())["response"]
    assert "sync_groups" in info["capabilities"]
    schema = info["capability_schema"]["sync_groups"]
    assert schema["display_name"] == "Sync groups"
    assert schema["description"] == "Pushes groups upstream."
    assert "names" in json.dumps(schema["argument"])
    paths = json.loads(integration.openapi_json())["paths"]
    assert "/sync_groups" in paths


async def test_a_custom_capability_returning_the_wrong_payload_is_invalid_response() -> None:
    integration = fresh()

    @integration.register_custom_capability("count_things")
    async def count_things(request: CustomRequest[Groups]) -> CustomResponse[Synced]:
        return CustomResponse(response=Groups(names=[]))  # type: ignore[arg-type]

    _out, code = await integration.dispatch_result(
        "count_things", json.dumps({"auth": AUTH, "request": {"names": []}})
    )
    assert code is connector.ErrorCode.INVALID_RESPONSE


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("SyncGroups", "snake_case"),
        ("sync-groups", "snake_case"),
        ("sync_groups_2", "snake_case"),
        ("_sync", "snake_case"),
        ("", "snake_case"),
        ("list_accounts", "standard name"),
        ("info", "standard name"),
        ("connected_info", "standard name"),
    ],
)
def test_custom_capability_names_are_checked(name: str, match: str) -> None:
    integration = fresh()

    async def handler(request: CustomRequest[Groups]) -> CustomResponse[Synced]:
        raise NotImplementedError

    with pytest.raises(RegistrationError, match=match):
        integration.custom_capability(name)(handler)


def test_custom_capabilities_need_custom_envelopes() -> None:
    integration = fresh()

    async def handler(request: ListAccountsRequest) -> ListAccountsResponse:
        raise NotImplementedError

    with pytest.raises(RegistrationError, match="takes CustomRequest"):
        integration.custom_capability("sync_groups")(handler)
    with pytest.raises(RegistrationError, match="unknown capability 'sync_groups'"):
        integration.capability("sync_groups")(handler)


CUSTOM_CONNECTOR = """\
import msgspec
import connector
from connector import BasicCredential, CustomRequest, CustomResponse, Integration

class Groups(msgspec.Struct):
    names: list[str]

class Synced(msgspec.Struct):
    synced: int

integration = Integration(app_id="custom", version="1", auth=BasicCredential)

@integration.custom_capability("sync_groups")
async def sync_groups(request: CustomRequest[Groups]) -> CustomResponse[Synced]:
    return CustomResponse(response=Synced(synced=len(request.request.names)))

if __name__ == "__main__":
    connector.run(integration)
"""


def test_a_custom_capability_from_the_cli(tmp_path: Path) -> None:
    script = tmp_path / "custom_conn.py"
    script.write_text(textwrap.dedent(CUSTOM_CONNECTOR))
    body = json.dumps({"auth": AUTH, "request": {"names": ["a"]}})
    env_path = f"{ROOT}"
    for argv in (
        [sys.executable, "-m", "connector", "call", str(script), "sync-groups", "--json", body],
        [sys.executable, str(script), "sync_groups", "--json", body],
    ):
        proc = subprocess.run(
            argv, capture_output=True, cwd=tmp_path, env={"PYTHONPATH": env_path}, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["response"] == {"synced": 1}


def test_a_custom_capability_over_http() -> None:
    with running(server.asgi(with_custom())) as srv:
        body = json.dumps({"auth": AUTH, "request": {"names": ["a", "b", "c"]}}).encode()
        answer = call(srv.port, "POST", "/sync-groups", body)
        assert answer.status == 200 and answer.json()["response"] == {"synced": 3}
        document = call(srv.port, "GET", "/openapi.json").json()
        assert "/sync_groups" in document["paths"]


# ---- app_info and probe_integration ------------------------------------------------


async def test_app_info_needs_no_credentials_and_returns_the_openapi_document() -> None:
    from mock_connector import integration

    out, code = await integration.dispatch_result("app_info", b'{"request": {}, "settings": 7}')
    assert code is not None  # settings must still be an object on the wire
    out, code = await integration.dispatch_result("app_info", b'{"request": {}}')
    assert code is None
    data = json.loads(out)
    assert errors4("response:app_info", data) == []
    schema = data["response"]["app_schema"]
    assert data["response"]["app_id"] == "mock"
    assert errors4("OpenAPISpecification", schema) == []
    assert schema == json.loads(integration.openapi_json())
    assert schema["info"]["x-app-id"] == "mock"
    assert "list_accounts" in schema["info"]["x-capabilities"]
    assert schema["info"]["x-settings-schema"]["$ref"].endswith("/MockSettings")
    assert "BasicCredential" in schema["components"]["schemas"]


async def probe(integration: Integration, auth: Any = AUTH, **request: Any) -> dict[str, Any]:
    body = json.dumps({"auth": auth, "request": request})
    out, code = await integration.dispatch_result("probe_integration", body)
    assert code is None, out
    assert errors4("response:probe_integration", out) == []
    return json.loads(out)["response"]  # type: ignore[no-any-return]


async def test_probe_integration_passes_on_the_example() -> None:
    from mock_connector import integration

    results = await probe(integration)
    assert results["status"] == "passed"
    checks = {c["check"]: c for c in results["checks"]}
    assert set(checks) == {"accounts", "entitlements", "entitlement_associations"}
    for check in checks.values():
        assert check["status"] == "passed" and check["observed_count"] > 0
        assert check["samples"]
    assert checks["accounts"]["observed_count"] == 15  # three pages of five


async def test_probe_integration_reports_a_failing_list_and_never_raises() -> None:
    integration = fresh()

    @integration.capability
    async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
        raise RuntimeError("upstream exploded")

    results = await probe(integration)
    assert results["status"] == "failed"
    accounts = next(c for c in results["checks"] if c["check"] == "accounts")
    assert accounts["status"] == "failed"
    assert accounts["error"]["error_code"] == "internal_error"
    others = [c["status"] for c in results["checks"] if c["check"] != "accounts"]
    assert others == ["unsupported", "unsupported"]


async def test_probe_integration_reports_refused_credentials() -> None:
    from mock_connector import integration

    wrong = {"basic": {"username": "admin", "password": "not-the-horse"}}
    results = await probe(integration, auth=wrong, checks=["accounts"])
    assert results["status"] == "failed"
    assert results["checks"][0]["error"]["error_code"] == "unauthorized"
    assert "not-the-horse" not in json.dumps(results)


# ---- execution summaries ------------------------------------------------------------


def test_request_fingerprint_is_the_canonical_payload_hash() -> None:
    import hashlib

    one = msgspec.json.decode(
        b'{"request": {"account_id": "u1"}, "auth": {"token": {"token": "t1"}}}',
        type=connector.DeleteAccountRequest,
    )
    two = msgspec.json.decode(
        b'{"request": {"account_id": "u1"}, "auth": {"token": {"token": "t2"}}}',
        type=connector.DeleteAccountRequest,
    )
    assert connector.request_fingerprint(one) == connector.request_fingerprint(two)
    assert connector.request_fingerprint(one) == hashlib.sha256(b'{"account_id":"u1"}').hexdigest()
    other = msgspec.structs.replace(one, request=connector.DeleteAccount(account_id="u2"))
    assert connector.request_fingerprint(other) != connector.request_fingerprint(one)


async def test_a_write_capability_sets_its_execution_summary() -> None:
    integration = fresh()

    @integration.capability
    async def delete_account(
        request: connector.DeleteAccountRequest,
    ) -> connector.DeleteAccountResponse:
        summary = connector.execution_summary(
            request,
            connector.NoopEffect(reason=connector.NoopEffectReason.STATE_ALREADY_MATCHES),
            description="already gone",
        )
        deleted = connector.DeletedAccount(status=connector.AccountStatus.DELETED, deleted=True)
        return connector.DeleteAccountResponse(response=deleted, execution_summary=summary)

    body = json.dumps({"auth": AUTH, "request": {"account_id": "u1"}})
    data = json.loads(await integration.dispatch("delete_account", body))
    summary = data["execution_summary"]
    assert summary["effect"] == {"kind": "noop", "reason": "state_already_matches"}
    assert summary["is_idempotent"] is True and len(summary["request_fingerprint"]) == 64
    assert errors4("response:delete_account", data) == []
